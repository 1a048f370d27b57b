//! Scheduler errors, named after the model's error shapes.

overcast_core::errors! {
    /// EventBridge Scheduler errors.
    pub enum SchedulerError {
        /// Bad input.
        ValidationException,
        /// No such schedule or group.
        ResourceNotFoundException,
        /// Already exists / in use.
        ConflictException,
        /// Quota.
        ServiceQuotaExceededException,
        /// Internal failure.
        InternalServerException,
    }
}

/// Result alias.
pub type SchedulerResult<T> = Result<T, SchedulerError>;
