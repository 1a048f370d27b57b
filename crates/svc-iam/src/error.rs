//! IAM errors, named after the model's error shapes (the wire code comes from the model:
//! `NoSuchEntityException` answers `NoSuchEntity`, 404).

overcast_core::errors! {
    /// IAM errors.
    pub enum IamError {
        /// No such user, role, policy...
        NoSuchEntityException,
        /// The name is taken.
        EntityAlreadyExistsException,
        /// Still attached, still has members, still has keys.
        DeleteConflictException,
        /// Quota (5 versions, 2 access keys, 10 attached policies...).
        LimitExceededException,
        /// Invalid policy document.
        MalformedPolicyDocumentException,
        /// Invalid input.
        InvalidInputException,
        /// Bad MFA codes.
        InvalidAuthenticationCodeException,
        /// Password does not meet the account password policy.
        PasswordPolicyViolationException,
        /// Credential report not generated yet.
        CredentialReportNotPresentException,
        /// The entity cannot be changed (service-linked roles).
        UnmodifiableEntityException,
        /// Simulation failed.
        PolicyEvaluationException,
        /// Service-specific credentials for a service that has none.
        ServiceNotSupportedException,
        /// Outbound web identity federation is off.
        FeatureDisabledException,
        /// Outbound web identity federation is already on.
        FeatureEnabledException,
        /// The account is not in an organization (Overcast has no Organizations).
        OrganizationNotFoundException,
    }
}

/// `NoSuchEntity` for `kind` named `name` (AWS's wording).
pub fn no_such(kind: &str, name: &str) -> IamError {
    IamError::NoSuchEntityException(format!("The {kind} with name {name} cannot be found."))
}

/// `EntityAlreadyExists` for `kind` named `name`.
pub fn exists(kind: &str, name: &str) -> IamError {
    IamError::EntityAlreadyExistsException(format!("{kind} with name {name} already exists."))
}

/// `ValidationError` (400).
pub fn validation(msg: impl Into<String>) -> IamError {
    IamError::Aws(overcast_core::AwsError::new("ValidationError", msg).with_status(400))
}
