//! CloudWatch Logs logging of execution history, as `loggingConfiguration` asks (level
//! ALL / ERROR / FATAL, `includeExecutionData`), through the `logs` service. Events are
//! written when the execution ends, in one stream per execution named
//! `states/{machine}/{yyyy-mm-dd-HH-MM}/{execution id}`.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::Shared;

/// True when an event of `ty` is logged at `level`.
pub fn logged(level: &str, ty: &str) -> bool {
    match level {
        "ALL" => true,
        "ERROR" => {
            ty.ends_with("Failed")
                || ty.ends_with("TimedOut")
                || ty.ends_with("Aborted")
                || ty.ends_with("ScheduleFailed")
        }
        "FATAL" => matches!(
            ty,
            "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut"
        ),
        _ => false,
    }
}

/// The CloudWatch Logs record of one history event.
pub fn record(ev: &Value, execution: &str, redrives: u32, include_data: bool) -> Value {
    let ty = ev["type"].as_str().unwrap_or_default();
    let mut details = ev
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
        .map(|(_, v)| v.clone())
        .unwrap_or(json!({}));
    if !include_data {
        if let Some(d) = details.as_object_mut() {
            for k in ["input", "output", "parameters"] {
                d.remove(k);
            }
        }
    }
    json!({
        "id": ev["id"].to_string(),
        "type": ty,
        "details": details,
        "previous_event_id": ev["previousEventId"].to_string(),
        "event_timestamp": ((ev["timestamp"].as_f64().unwrap_or(0.0)) * 1000.0).round().to_string(),
        "execution_arn": execution,
        "redrive_count": redrives.to_string(),
    })
}

/// Writes a finished execution's history to its machine's log group, if configured.
pub fn flush(shared: &Arc<Shared>, account: &str, region: &str, arn: &str) {
    let r = shared.regions.get(account, region);
    let (e, config) = {
        let g = r.read();
        let Some(e) = g.executions.get(arn).cloned() else {
            return;
        };
        let config = e
            .version_arn
            .as_ref()
            .and_then(|v| g.versions.get(v).map(|v| v.logging.clone()))
            .or_else(|| g.machines.get(&e.machine_arn).map(|m| m.logging.clone()))
            .unwrap_or(Value::Null);
        (e, config)
    };
    let level = config["level"].as_str().unwrap_or("OFF").to_string();
    if level == "OFF" {
        return;
    }
    let Some(group_arn) = config
        .pointer("/destinations/0/cloudWatchLogsLogGroup/logGroupArn")
        .and_then(Value::as_str)
    else {
        return;
    };
    let Some(group) = group_arn
        .split(":log-group:")
        .nth(1)
        .map(|g| g.trim_end_matches(":*").to_string())
    else {
        return;
    };
    let include = config["includeExecutionData"].as_bool().unwrap_or(false);
    let events: Vec<Value> = e
        .history
        .iter()
        .filter(|ev| logged(&level, ev["type"].as_str().unwrap_or_default()))
        .map(|ev| {
            json!({
                "timestamp": ((ev["timestamp"].as_f64().unwrap_or(0.0)) * 1000.0) as i64,
                "message": record(ev, &e.arn, e.redrive_count, include).to_string(),
            })
        })
        .collect();
    if events.is_empty() {
        return;
    }
    let machine = e
        .machine_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let minute = overcast_wire::value::time_format::iso8601_millis(e.start_date);
    let minute = minute
        .get(..16)
        .unwrap_or_default()
        .replace(['T', ':'], "-");
    let stream = format!("states/{machine}/{minute}/{}", overcast_core::ids::hex(4));
    let ctx = shared.background_ctx(account, region);
    let services = shared.core.services.clone();
    tokio::spawn(async move {
        let created = services
            .call_value(
                &ctx,
                "logs",
                "CreateLogStream",
                json!({"logGroupName": group, "logStreamName": stream}),
            )
            .await;
        if let Err(err) = created {
            if err.code != "ResourceAlreadyExistsException" {
                tracing::debug!("Step Functions logging to {group}: {err}");
                return;
            }
        }
        let _ = services
            .call_value(
                &ctx,
                "logs",
                "PutLogEvents",
                json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}),
            )
            .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_records() {
        assert!(logged("ALL", "PassStateEntered"));
        assert!(logged("ERROR", "TaskFailed"));
        assert!(!logged("ERROR", "TaskSucceeded"));
        assert!(logged("FATAL", "ExecutionFailed"));
        assert!(!logged("FATAL", "TaskFailed"));
        assert!(!logged("OFF", "ExecutionFailed"));
        let ev = json!({"id": 2, "previousEventId": 1, "timestamp": 1.5, "type": "PassStateEntered",
                        "stateEnteredEventDetails": {"name": "P", "input": "{}"}});
        let r = record(&ev, "arn:e", 0, false);
        assert_eq!(r["id"], "2");
        assert_eq!(r["event_timestamp"], "1500");
        assert_eq!(r["details"], json!({"name": "P"}));
        assert_eq!(record(&ev, "arn:e", 0, true)["details"]["input"], "{}");
    }
}
