//! Lambda errors, named after the model's error shapes (their HTTP status comes from the
//! model: 404 not found, 409 conflict, 400 invalid parameter, 429 throttled, 413 too large).

overcast_core::errors! {
    /// Lambda errors.
    pub enum LambdaError {
        /// No such function, version, alias, layer, policy or statement.
        ResourceNotFoundException,
        /// Already exists, or the resource is busy.
        ResourceConflictException,
        /// Bad parameter value.
        InvalidParameterValueException,
        /// Request shape is wrong (payload is not JSON, ...).
        InvalidRequestContentException,
        /// Throttled (reserved concurrency, account concurrency).
        TooManyRequestsException,
        /// Payload over the limit.
        RequestTooLargeException,
        /// The deployment package is not a zip.
        InvalidZipFileException,
        /// The runtime cannot run here.
        InvalidRuntimeException,
        /// RevisionId does not match.
        PreconditionFailedException,
        /// Lambda itself failed.
        ServiceException,
        /// The function is not ready.
        ResourceNotReadyException,
        /// Policy too large.
        PolicyLengthExceededException,
        /// Code storage limit.
        CodeStorageExceededException,
        /// A deployment refused by an `Enforce` code signing policy.
        CodeVerificationFailedException,
    }
}

impl LambdaError {
    /// `Function not found: <arn>`.
    pub fn function_not_found(arn: &str) -> LambdaError {
        LambdaError::ResourceNotFoundException(format!("Function not found: {arn}"))
    }
}
