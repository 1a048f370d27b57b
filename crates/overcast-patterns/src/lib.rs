//! Overcast event patterns: the EventBridge pattern language, shared with SNS filter policies.
