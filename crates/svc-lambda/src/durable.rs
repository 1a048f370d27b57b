//! Durable functions: a function's `DurableConfig` (execution timeout, retention).

use serde_json::{json, Value};

use crate::error::LambdaError;

/// Checks a `DurableConfig` and returns it as stored (AWS's defaults filled in).
pub(crate) fn check_config(c: Option<&Value>) -> Result<Option<Value>, LambdaError> {
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let mut out = c.clone();
    if out.get("RetentionPeriodInDays").is_none() {
        out["RetentionPeriodInDays"] = json!(14);
    }
    if out.get("ExecutionTimeout").is_none() {
        out["ExecutionTimeout"] = json!(86400);
    }
    Ok(Some(out))
}
