//! SNS errors, named after the model's error shapes (the wire layer answers their codes:
//! `InvalidParameter`, `NotFound`, ...).

overcast_core::errors! {
    /// SNS errors.
    pub enum SnsError {
        /// Bad parameter.
        InvalidParameterException,
        /// Bad parameter value.
        InvalidParameterValueException,
        /// No such topic, subscription or endpoint.
        NotFoundException,
        /// No such resource (tags, data protection).
        ResourceNotFoundException,
        /// Not allowed.
        AuthorizationErrorException,
        /// Filter policy too complex.
        FilterPolicyLimitExceededException,
        /// Tag limit.
        TagLimitExceededException,
        /// Bad state.
        InvalidStateException,
        /// Verification failed.
        VerificationException,
        /// Platform endpoint disabled.
        EndpointDisabledException,
        /// Opted out.
        OptedOutException,
        /// Batch ids repeat.
        BatchEntryIdsNotDistinctException,
        /// Batch too large.
        BatchRequestTooLongException,
        /// Empty batch.
        EmptyBatchRequestException,
        /// Bad batch id.
        InvalidBatchEntryIdException,
        /// More than 10 entries.
        TooManyEntriesInBatchRequestException,
        /// Internal failure.
        InternalErrorException,
        /// Validation.
        ValidationException,
    }
}

/// Result alias.
pub type SnsResult<T> = Result<T, SnsError>;

impl SnsError {
    /// `Invalid parameter: {what}`.
    pub fn invalid(what: impl std::fmt::Display) -> Self {
        SnsError::InvalidParameterException(format!("Invalid parameter: {what}"))
    }

    /// Topic does not exist.
    pub fn no_topic() -> Self {
        SnsError::NotFoundException("Topic does not exist".into())
    }

    /// Subscription does not exist.
    pub fn no_subscription() -> Self {
        SnsError::NotFoundException("Subscription does not exist".into())
    }
}
