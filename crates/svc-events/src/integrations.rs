//! Service events: other services put events on an account's default bus by publishing on
//! the core fabric — topic [`TOPIC`], with `account_id`/`region` set and a `detail` of
//! `{"source": "aws.s3", "detail-type": "Object Created", "detail": {...},
//! "resources": [...], "time": <epoch secs, optional>}`. EventBridge wraps it in AWS's
//! envelope and routes it like any event (rules, archives). `aws.*` sources are allowed here
//! (only AWS services may use them, as in AWS).

use std::sync::Arc;

use overcast_core::fabric::Event as FabricEvent;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::put_events::{envelope, ingest};
use crate::state::DEFAULT_BUS;
use crate::Shared;

/// Fabric topic of service events for the default bus.
pub const TOPIC: &str = "events:put";

/// Starts listening for service events (needs a tokio runtime; a no-op without one).
pub fn listen(shared: &Arc<Shared>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let mut rx = shared.core.fabric.subscribe_topics(&[TOPIC]);
    let weak = Arc::downgrade(shared);
    handle.spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.topic == TOPIC => {
                    let Some(shared) = weak.upgrade() else { break };
                    service_event(&shared, ev).await;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
}

async fn service_event(shared: &Arc<Shared>, ev: FabricEvent) {
    let d = &ev.detail;
    let (Some(source), Some(detail_type)) = (
        d.get("source").and_then(Value::as_str),
        d.get("detail-type").and_then(Value::as_str),
    ) else {
        tracing::debug!("service event without source or detail-type ignored");
        return;
    };
    let resources: Vec<String> = d
        .get("resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let detail = d
        .get("detail")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let time = d
        .get("time")
        .and_then(Value::as_f64)
        .unwrap_or_else(|| shared.core.clock.now());
    let event = envelope(
        &overcast_core::ids::uuid(),
        source,
        detail_type,
        &ev.account_id,
        time,
        &ev.region,
        &resources,
        &detail,
        None,
    );
    if let Err(e) = ingest(shared, &ev.account_id, &ev.region, DEFAULT_BUS, event, None).await {
        tracing::warn!(error = %e, "service event not delivered");
    }
}

#[cfg(test)]
mod tests {
    use overcast_core::{Core, Input, RequestContext, Service};
    use serde_json::json;

    #[tokio::test]
    async fn service_events_reach_the_default_bus() {
        let core = Core::ephemeral();
        let events = crate::Events::new(&core);
        let ctx = RequestContext::test("events", "CreateArchive");
        let bus = events
            .call(
                &ctx,
                "DescribeEventBus",
                Input {
                    value: json!({}),
                    body: None,
                },
            )
            .await
            .unwrap();
        events
            .call(
                &ctx,
                "CreateArchive",
                Input {
                    value: json!({"ArchiveName": "all", "EventSourceArn": bus.value["Arn"],
                                  "EventPattern": "{\"source\": [\"aws.s3\"]}"}),
                    body: None,
                },
            )
            .await
            .unwrap();
        core.fabric.publish(overcast_core::fabric::Event {
            topic: super::TOPIC,
            account_id: ctx.account_id.clone(),
            region: ctx.region.clone(),
            detail: json!({"source": "aws.s3", "detail-type": "Object Created",
                           "detail": {"bucket": {"name": "b"}}, "resources": ["arn:aws:s3:::b"]}),
        });
        for _ in 0..100 {
            let d = events
                .call(
                    &ctx,
                    "DescribeArchive",
                    Input {
                        value: json!({"ArchiveName": "all"}),
                        body: None,
                    },
                )
                .await
                .unwrap();
            if d.value["EventCount"] == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the service event was not archived");
    }
}
