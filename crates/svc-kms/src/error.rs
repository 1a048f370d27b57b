//! KMS errors, named after the model's error shapes.

overcast_core::errors! {
    /// KMS errors.
    pub enum KmsError {
        /// No such key, alias or grant.
        NotFoundException,
        /// The key is disabled.
        DisabledException,
        /// The key's state does not allow the operation (pending deletion, pending import).
        KMSInvalidStateException,
        /// The ciphertext is not one KMS made, or its encryption context differs.
        InvalidCiphertextException,
        /// The key in the request is not the one that encrypted the ciphertext.
        IncorrectKeyException,
        /// The key's usage or spec does not allow the operation.
        InvalidKeyUsageException,
        /// An alias of that name exists.
        AlreadyExistsException,
        /// Bad alias name.
        InvalidAliasNameException,
        /// Bad ARN.
        InvalidArnException,
        /// Policy is not JSON.
        MalformedPolicyDocumentException,
        /// Not supported for this key.
        UnsupportedOperationException,
        /// Bad tags.
        TagException,
        /// Bad grant token.
        InvalidGrantTokenException,
        /// Bad grant id.
        InvalidGrantIdException,
        /// Marker not issued by the operation.
        InvalidMarkerException,
        /// The MAC does not verify.
        KMSInvalidMacException,
        /// The signature does not verify.
        KMSInvalidSignatureException,
        /// Too many of something.
        LimitExceededException,
        /// The request would have succeeded (DryRun).
        DryRunOperationException,
        /// An internal failure.
        KMSInternalException,
    }
}

impl KmsError {
    /// `ValidationException` (400).
    pub fn validation(msg: impl Into<String>) -> KmsError {
        KmsError::Aws(overcast_core::AwsError::validation(msg))
    }
}
