//! EventBridge errors, named after the model's error shapes.

overcast_core::errors! {
    /// EventBridge errors.
    pub enum EventsError {
        /// Bad input.
        ValidationException,
        /// No such bus, rule, archive or replay.
        ResourceNotFoundException,
        /// The name is taken.
        ResourceAlreadyExistsException,
        /// The event pattern does not parse.
        InvalidEventPatternException,
        /// Too many of something.
        LimitExceededException,
        /// The resource is in the wrong state.
        IllegalStatusException,
        /// The resource is in the wrong state.
        InvalidStateException,
        /// A rule managed by a service.
        ManagedRuleException,
        /// Internal failure.
        InternalException,
    }
}

/// Result alias.
pub type EventsResult<T> = Result<T, EventsError>;

impl EventsError {
    /// `Rule X does not exist on EventBus Y.`
    pub fn no_rule(rule: &str, bus: &str) -> Self {
        EventsError::ResourceNotFoundException(format!(
            "Rule {rule} does not exist on EventBus {bus}."
        ))
    }

    /// `Event bus X does not exist.`
    pub fn no_bus(bus: &str) -> Self {
        EventsError::ResourceNotFoundException(format!("Event bus {bus} does not exist."))
    }
}
