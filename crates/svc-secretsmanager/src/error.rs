//! Secrets Manager errors, named after the model's error shapes.

overcast_core::errors! {
    /// Secrets Manager errors.
    pub enum SmError {
        /// No such secret or version.
        ResourceNotFoundException,
        /// A secret of that name, or a version with that token and another value, exists.
        ResourceExistsException,
        /// A parameter value is not valid.
        InvalidParameterException,
        /// The request is not valid in the secret's state.
        InvalidRequestException,
        /// NextToken not issued by the operation.
        InvalidNextTokenException,
        /// Too many of something.
        LimitExceededException,
        /// The policy is not valid JSON.
        MalformedPolicyDocumentException,
        /// The policy grants public access and BlockPublicPolicy is set.
        PublicPolicyException,
        /// KMS could not encrypt.
        EncryptionFailure,
        /// KMS could not decrypt.
        DecryptionFailure,
        /// A precondition failed.
        PreconditionNotMetException,
        /// An internal failure.
        InternalServiceError,
    }
}

impl SmError {
    /// The secret does not exist.
    pub fn not_found() -> SmError {
        SmError::ResourceNotFoundException(
            "Secrets Manager can't find the specified secret.".into(),
        )
    }
}
