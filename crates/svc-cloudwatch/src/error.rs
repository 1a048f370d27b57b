//! CloudWatch errors, named after the model's error shapes (the wire layer answers their
//! query codes: `InvalidParameterValue`, `ResourceNotFound`, ...).

use overcast_core::AwsError;

overcast_core::errors! {
    /// CloudWatch errors.
    pub enum CwError {
        /// `InvalidParameterValue`.
        InvalidParameterValueException,
        /// `MissingParameter`.
        MissingRequiredParameterException,
        /// `InvalidParameterCombination`.
        InvalidParameterCombinationException,
        /// `ResourceNotFound` (alarms).
        ResourceNotFound,
        /// `ResourceNotFoundException` (tagging).
        ResourceNotFoundException,
        /// `InvalidParameterInput` (dashboard bodies).
        DashboardInvalidInputError,
        /// `ResourceNotFound` (dashboards).
        DashboardNotFoundError,
        /// `LimitExceeded`.
        LimitExceededFault,
        /// `InvalidNextToken`.
        InvalidNextToken,
        /// `InvalidFormat`.
        InvalidFormatFault,
        /// `LimitExceededException` (insight rules).
        LimitExceededException,
        /// `ConcurrentModificationException`.
        ConcurrentModificationException,
        /// `ConflictException` (query definition paths).
        ConflictException,
    }
}

impl CwError {
    /// InvalidParameterValue.
    pub fn invalid(m: impl Into<String>) -> CwError {
        CwError::InvalidParameterValueException(m.into())
    }
    /// InvalidParameterCombination.
    pub fn combination(m: impl Into<String>) -> CwError {
        CwError::InvalidParameterCombinationException(m.into())
    }
    /// MissingParameter.
    pub fn missing(m: impl Into<String>) -> CwError {
        CwError::MissingRequiredParameterException(m.into())
    }
    /// `ValidationError` (PutMetricAlarm / GetMetricData input checks).
    pub fn validation(m: impl Into<String>) -> CwError {
        CwError::Aws(AwsError::new("ValidationError", m).with_status(400))
    }
}
