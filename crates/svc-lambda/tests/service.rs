//! Lambda through its Service interface: a python function runs, and its START / output /
//! END / REPORT lines reach CloudWatch Logs through the logs service's API (a stand-in logs
//! service records the calls); a logs service that answers NotImplemented is tolerated.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use overcast_core::{AwsError, BoxFuture, Core, Input, Output, RequestContext, Service};
use serde_json::{json, Value};

#[derive(Default)]
struct FakeLogs {
    calls: Mutex<Vec<(String, Value)>>,
}

impl Service for FakeLogs {
    fn name(&self) -> &'static str {
        "logs"
    }
    fn implemented(&self) -> &'static [&'static str] {
        &["CreateLogGroup", "CreateLogStream", "PutLogEvents"]
    }
    fn call<'a>(
        &'a self,
        _: &'a RequestContext,
        op: &'a str,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push((op.to_string(), input.value));
            Ok(Output::empty())
        })
    }
}

fn zip_with(name: &str, text: &str) -> Vec<u8> {
    // A stored (uncompressed) single-file zip.
    let mut out = Vec::new();
    let crc = 0u32;
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.write_all(text.as_bytes()).unwrap();
    let cd = out.len() as u32;
    let mut c = Vec::new();
    c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    c.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    c.extend_from_slice(&crc.to_le_bytes());
    c.extend_from_slice(&(text.len() as u32).to_le_bytes());
    c.extend_from_slice(&(text.len() as u32).to_le_bytes());
    c.extend_from_slice(&(name.len() as u16).to_le_bytes());
    c.extend_from_slice(&[0; 8]);
    c.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    c.extend_from_slice(&0u32.to_le_bytes());
    c.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&c);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

async fn call(svc: &Arc<dyn Service>, op: &'static str, v: Value) -> Result<Value, AwsError> {
    let ctx = RequestContext::test("lambda", op);
    svc.call(
        &ctx,
        op,
        Input {
            value: v,
            body: None,
        },
    )
    .await
    .map(|o| o.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_logs_reach_cloudwatch_logs() {
    let core = Core::ephemeral();
    let lambda = svc_lambda::service(&core);
    let logs = Arc::new(FakeLogs::default());
    let logs_dyn: Arc<dyn Service> = logs.clone();
    core.services.install(&HashMap::from([
        ("lambda", lambda.clone()),
        ("logs", logs_dyn),
    ]));
    let code =
        "def handler(event, context):\n    print('hello', event['n'])\n    return event['n'] + 1\n";
    let zip = overcast_wire::value::encode_base64(&zip_with("app.py", code));
    let created = call(
        &lambda,
        "CreateFunction",
        json!({"FunctionName": "logged", "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
               "Handler": "app.handler", "Code": {"ZipFile": zip}}),
    )
    .await
    .unwrap();
    assert_eq!(created["State"], "Pending");
    let mut bus = core.fabric.subscribe();
    let out = call(
        &lambda,
        "Invoke",
        json!({"FunctionName": "logged", "Payload": overcast_wire::value::encode_base64(b"{\"n\": 41}")}),
    )
    .await
    .unwrap();
    let payload = overcast_wire::value::decode_base64(out["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, b"42");
    assert_eq!(out["StatusCode"], 200);
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = logs.calls.lock().unwrap().clone();
        if seen.iter().any(|(op, _)| op == "PutLogEvents") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen[0].0, "CreateLogGroup");
    assert_eq!(seen[0].1["logGroupName"], "/aws/lambda/logged");
    assert_eq!(seen[1].0, "CreateLogStream");
    let stream = seen[1].1["logStreamName"].as_str().unwrap().to_string();
    assert!(stream.contains("[$LATEST]"), "{stream}");
    let (op, put) = &seen[2];
    assert_eq!(op, "PutLogEvents");
    assert_eq!(put["logStreamName"], stream.as_str());
    let lines: Vec<&str> = put["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(lines[0].starts_with("START RequestId: "), "{lines:?}");
    assert!(lines.contains(&"hello 41"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("END RequestId: ")));
    assert!(lines.last().unwrap().starts_with("REPORT RequestId: "));

    // Metrics and usage go out on the fabric.
    let mut topics = Vec::new();
    while let Ok(e) = bus.try_recv() {
        topics.push((e.topic, e.detail));
    }
    let metrics = topics.iter().find(|(t, _)| *t == "metrics").unwrap();
    assert_eq!(metrics.1["Namespace"], "AWS/Lambda");
    assert_eq!(metrics.1["MetricData"][0]["MetricName"], "Invocations");
    let usage = topics.iter().find(|(t, _)| *t == "metering").unwrap();
    assert_eq!(usage.1["usage"][1]["type"], "Lambda-GB-Second");

    // A malformed durable execution ARN is refused; unknown operations are not faked.
    let e = call(
        &lambda,
        "GetDurableExecution",
        json!({"DurableExecutionArn": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValueException");
    let e = call(&lambda, "NoSuchOperation", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "NotImplemented");
}
