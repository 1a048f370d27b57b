//! SQS errors, named after the model's error shapes, and the generic parameter errors SQS
//! answers with (`InvalidParameterValue`, `MissingParameter`).

use overcast_core::AwsError;

overcast_core::errors! {
    /// Errors of the SQS API (the wire layer maps each to its status and query code).
    pub enum SqsError {
        /// The model's `BatchEntryIdsNotDistinct` error shape.
        BatchEntryIdsNotDistinct,
        /// The model's `BatchRequestTooLong` error shape.
        BatchRequestTooLong,
        /// The model's `EmptyBatchRequest` error shape.
        EmptyBatchRequest,
        /// The model's `InvalidAddress` error shape.
        InvalidAddress,
        /// The model's `InvalidAttributeName` error shape.
        InvalidAttributeName,
        /// The model's `InvalidAttributeValue` error shape.
        InvalidAttributeValue,
        /// The model's `InvalidBatchEntryId` error shape.
        InvalidBatchEntryId,
        /// The model's `InvalidIdFormat` error shape.
        InvalidIdFormat,
        /// The model's `InvalidMessageContents` error shape.
        InvalidMessageContents,
        /// The model's `InvalidSecurity` error shape.
        InvalidSecurity,
        /// The model's `KmsAccessDenied` error shape.
        KmsAccessDenied,
        /// The model's `KmsDisabled` error shape.
        KmsDisabled,
        /// The model's `KmsInvalidKeyUsage` error shape.
        KmsInvalidKeyUsage,
        /// The model's `KmsInvalidState` error shape.
        KmsInvalidState,
        /// The model's `KmsNotFound` error shape.
        KmsNotFound,
        /// The model's `KmsOptInRequired` error shape.
        KmsOptInRequired,
        /// The model's `KmsThrottled` error shape.
        KmsThrottled,
        /// The model's `MessageNotInflight` error shape.
        MessageNotInflight,
        /// The model's `OverLimit` error shape.
        OverLimit,
        /// The model's `PurgeQueueInProgress` error shape.
        PurgeQueueInProgress,
        /// The model's `QueueDeletedRecently` error shape.
        QueueDeletedRecently,
        /// The model's `QueueDoesNotExist` error shape.
        QueueDoesNotExist,
        /// The model's `QueueNameExists` error shape.
        QueueNameExists,
        /// The model's `ReceiptHandleIsInvalid` error shape.
        ReceiptHandleIsInvalid,
        /// The model's `RequestThrottled` error shape.
        RequestThrottled,
        /// The model's `ResourceNotFoundException` error shape.
        ResourceNotFoundException,
        /// The model's `TooManyEntriesInBatchRequest` error shape.
        TooManyEntriesInBatchRequest,
        /// The model's `UnsupportedOperation` error shape.
        UnsupportedOperation,
    }
}

/// Result of an SQS operation.
pub type SqsResult<T> = Result<T, SqsError>;

impl SqsError {
    /// `QueueDoesNotExist` with AWS's message.
    pub fn no_queue() -> SqsError {
        SqsError::QueueDoesNotExist("The specified queue does not exist.".into())
    }

    /// `InvalidParameterValue` with a free message.
    pub fn invalid(message: impl Into<String>) -> SqsError {
        SqsError::Aws(AwsError::invalid_parameter_value(message))
    }

    /// `InvalidParameterValue`: `Value {value} for parameter {param} is invalid. Reason: {reason}`.
    pub fn invalid_value(value: impl std::fmt::Display, param: &str, reason: &str) -> SqsError {
        SqsError::invalid(format!(
            "Value {value} for parameter {param} is invalid. Reason: {reason}"
        ))
    }

    /// `MissingParameter`: `The request must contain the parameter {param}.`
    pub fn missing(param: &str) -> SqsError {
        SqsError::Aws(AwsError::missing_parameter(format!(
            "The request must contain the parameter {param}."
        )))
    }

    /// `InvalidAttributeName`: `Unknown Attribute {name}.`
    pub fn unknown_attribute(name: &str) -> SqsError {
        SqsError::InvalidAttributeName(format!("Unknown Attribute {name}."))
    }

    /// `InvalidAttributeValue`: `Invalid value for the parameter {name}.`
    pub fn bad_attribute(name: &str) -> SqsError {
        SqsError::InvalidAttributeValue(format!("Invalid value for the parameter {name}."))
    }

    /// Code and message, as a batch result's `Failed` entry shows them.
    pub fn into_parts(self) -> (String, String) {
        let e: AwsError = self.into();
        (e.code.into_owned(), e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let (c, m) = SqsError::no_queue().into_parts();
        assert_eq!(
            (c.as_str(), m.as_str()),
            ("QueueDoesNotExist", "The specified queue does not exist.")
        );
        let (c, m) = SqsError::invalid_value(5, "MaxResults", "bad").into_parts();
        assert_eq!(c, "InvalidParameterValue");
        assert_eq!(
            m,
            "Value 5 for parameter MaxResults is invalid. Reason: bad"
        );
        assert_eq!(
            SqsError::missing("MessageBody").into_parts().0,
            "MissingParameter"
        );
        assert_eq!(
            SqsError::MessageNotInflight(String::new()).into_parts().0,
            "MessageNotInflight"
        );
    }
}
