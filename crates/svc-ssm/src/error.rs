//! SSM errors, named after the model's error shapes.

overcast_core::errors! {
    /// Parameter Store errors.
    pub enum SsmError {
        /// Bad input the model cannot express (names, values, combinations).
        ValidationException,
        /// Reserved names (`aws...`).
        AccessDeniedException,
        /// PutParameter without Overwrite on an existing name.
        ParameterAlreadyExists,
        /// No such parameter.
        ParameterNotFound,
        /// No such version or label.
        ParameterVersionNotFound,
        /// More than 15 levels.
        HierarchyLevelLimitExceededException,
        /// Type change not allowed.
        HierarchyTypeMismatchException,
        /// AllowedPattern is not a regular expression.
        InvalidAllowedPatternException,
        /// The oldest of 100 versions carries a label.
        ParameterMaxVersionLimitExceeded,
        /// Value does not match AllowedPattern.
        ParameterPatternMismatchException,
        /// Unknown parameter type.
        UnsupportedParameterType,
        /// Too many policies.
        PoliciesLimitExceededException,
        /// Unknown policy type.
        InvalidPolicyTypeException,
        /// Bad policy attribute.
        InvalidPolicyAttributeException,
        /// Conflicting policies.
        IncompatiblePolicyException,
        /// Unusable KMS key id.
        InvalidKeyId,
        /// Filter key not valid for the operation.
        InvalidFilterKey,
        /// Filter option not valid for the key.
        InvalidFilterOption,
        /// Filter value not valid for the key.
        InvalidFilterValue,
        /// NextToken not issued by this operation.
        InvalidNextToken,
        /// More than 10 labels on one version.
        ParameterVersionLabelLimitExceeded,
        /// Tagging a resource type Overcast does not manage.
        InvalidResourceType,
        /// Tagging a resource that does not exist.
        InvalidResourceId,
        /// Too many standard parameters in the region.
        ParameterLimitExceeded,
        /// More than 50 tags.
        TooManyTagsError,
        /// Sealing or opening a SecureString failed.
        InternalServerError,
    }
}
