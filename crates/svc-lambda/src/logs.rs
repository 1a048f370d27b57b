//! Invocation logs to CloudWatch Logs, through the logs service's own API
//! (CreateLogGroup / CreateLogStream / PutLogEvents), in order, off the invocation's path.
//! A logs service that is not running (or not implemented yet) is silently skipped.

use std::sync::OnceLock;

use overcast_core::RequestContext;
use serde_json::json;
use tokio::sync::mpsc;

use crate::Lambda;

struct Batch {
    ctx: RequestContext,
    group: String,
    stream: String,
    create: bool,
    text: String,
    at_ms: i64,
}

static SENDER: OnceLock<mpsc::UnboundedSender<(Lambda, Batch)>> = OnceLock::new();

fn ignorable(code: &str) -> bool {
    matches!(
        code,
        "NotImplemented" | "ServiceUnavailable" | "ResourceAlreadyExistsException"
    )
}

/// Queues one invocation's log text for its group and stream.
pub fn ship(
    svc: &Lambda,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    create: bool,
    text: &str,
) {
    if !svc.core.services.has("logs") {
        return;
    }
    let tx = SENDER.get_or_init(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Lambda, Batch)>();
        tokio::spawn(async move {
            while let Some((svc, b)) = rx.recv().await {
                deliver(&svc, b).await;
            }
        });
        tx
    });
    let _ = tx.send((
        svc.clone(),
        Batch {
            ctx: ctx.clone(),
            group: group.to_string(),
            stream: stream.to_string(),
            create,
            text: text.to_string(),
            at_ms: (ctx.now * 1000.0) as i64,
        },
    ));
}

async fn deliver(svc: &Lambda, b: Batch) {
    let d = &svc.core.services;
    if b.create {
        for (op, input) in [
            ("CreateLogGroup", json!({"logGroupName": b.group})),
            (
                "CreateLogStream",
                json!({"logGroupName": b.group, "logStreamName": b.stream}),
            ),
        ] {
            if let Err(e) = d.call_value(&b.ctx, "logs", op, input).await {
                if !ignorable(&e.code) {
                    tracing::debug!(error = %e, "lambda: cannot prepare the log stream");
                }
                if e.code == "NotImplemented" || e.code == "ServiceUnavailable" {
                    return;
                }
            }
        }
    }
    let events: Vec<_> = b
        .text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| json!({"timestamp": b.at_ms, "message": l}))
        .collect();
    if events.is_empty() {
        return;
    }
    let input = json!({"logGroupName": b.group, "logStreamName": b.stream, "logEvents": events});
    if let Err(e) = d.call_value(&b.ctx, "logs", "PutLogEvents", input).await {
        if !ignorable(&e.code) {
            tracing::debug!(error = %e, "lambda: cannot write invocation logs");
        }
    }
}
