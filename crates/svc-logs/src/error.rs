//! CloudWatch Logs errors, named after the model's error shapes.

overcast_core::errors! {
    /// Logs errors.
    pub enum LogsError {
        /// Bad parameter.
        InvalidParameterException,
        /// Name taken.
        ResourceAlreadyExistsException,
        /// No such group, stream, filter, query or policy.
        ResourceNotFoundException,
        /// Too many of something.
        LimitExceededException,
        /// Too many tags.
        TooManyTagsException,
        /// Insights query does not parse.
        MalformedQueryException,
        /// Concurrent change.
        OperationAbortedException,
        /// Not allowed in this state.
        InvalidOperationException,
        /// Wrong sequence token (never raised: tokens are ignored like AWS today).
        InvalidSequenceTokenException,
        /// Bad input (the newer operations: deliveries, integrations, ...).
        ValidationException,
        /// In use or changed concurrently.
        ConflictException,
        /// Quota reached.
        ServiceQuotaExceededException,
        /// Not allowed (cross-account policies).
        AccessDeniedException,
    }
}

impl LogsError {
    /// InvalidParameterException.
    pub fn invalid(m: impl Into<String>) -> LogsError {
        LogsError::InvalidParameterException(m.into())
    }
    /// The group does not exist.
    pub fn no_group() -> LogsError {
        LogsError::ResourceNotFoundException("The specified log group does not exist.".into())
    }
    /// The stream does not exist.
    pub fn no_stream() -> LogsError {
        LogsError::ResourceNotFoundException("The specified log stream does not exist.".into())
    }
}
