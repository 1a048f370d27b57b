//! Step Functions errors, named after the model's error shapes.

overcast_core::errors! {
    /// Step Functions errors.
    pub enum SfnError {
        /// Activity does not exist.
        ActivityDoesNotExist,
        /// Too many activities.
        ActivityLimitExceeded,
        /// Activity already exists with another configuration.
        ActivityAlreadyExists,
        /// Too many workers polling.
        ActivityWorkerLimitExceeded,
        /// Conflict (version/alias in use).
        ConflictException,
        /// Same name, different input.
        ExecutionAlreadyExists,
        /// No such execution.
        ExecutionDoesNotExist,
        /// Too many executions.
        ExecutionLimitExceeded,
        /// Not redrivable.
        ExecutionNotRedrivable,
        /// Bad ARN.
        InvalidArn,
        /// Bad definition.
        InvalidDefinition,
        /// Bad execution input.
        InvalidExecutionInput,
        /// Bad logging configuration.
        InvalidLoggingConfiguration,
        /// Bad name.
        InvalidName,
        /// Bad output.
        InvalidOutput,
        /// Bad task token.
        InvalidToken,
        /// Bad tracing configuration.
        InvalidTracingConfiguration,
        /// No such map run / alias / version.
        ResourceNotFound,
        /// Quota.
        ServiceQuotaExceededException,
        /// Same name, different definition.
        StateMachineAlreadyExists,
        /// Deleting.
        StateMachineDeleting,
        /// No such state machine.
        StateMachineDoesNotExist,
        /// Too many state machines.
        StateMachineLimitExceeded,
        /// Operation not supported for this type (EXPRESS/STANDARD).
        StateMachineTypeNotSupported,
        /// Task token no longer valid.
        TaskDoesNotExist,
        /// Task timed out.
        TaskTimedOut,
        /// Too many tags.
        TooManyTags,
        /// Bad input.
        ValidationException,
    }
}

/// Result alias.
pub type SfnResult<T> = Result<T, SfnError>;
