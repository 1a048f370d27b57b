//! One page of a List* output: the items after the marker, under their output member, with
//! the `NextMarker` to go on with when there are more.

use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::page;

/// One page of `items` after `marker` (at most `max`) as the output member `member`.
pub(crate) fn page_json(
    member: &str,
    items: Vec<Value>,
    marker: Option<&str>,
    max: Option<i64>,
) -> Result<Value, LambdaError> {
    let (items, next) = page(items, marker, max)?;
    let mut out = json!({});
    out[member] = Value::Array(items);
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}
