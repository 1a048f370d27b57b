//! In-process tests of the SQS service through the `Service` trait: persistence reload from a
//! real log store, long-polling wake-ups and dead-letter moves, without HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use overcast_core::store::LogStore;
use overcast_core::{Clock, Core, Input, RequestContext, Service, Store};
use serde_json::{json, Value};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("svc-sqs-{tag}-{}", uuid_like()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), Instant::now())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

fn core_on(dir: &Path, clock: &Clock) -> Core {
    let store: Arc<dyn Store> = Arc::new(LogStore::open(dir).unwrap());
    Core {
        clock: clock.clone(),
        ..Core::new(store, None)
    }
}

async fn call(svc: &dyn Service, op: &'static str, input: Value) -> Result<Value, String> {
    let ctx = RequestContext::test("sqs", op);
    svc.call(
        &ctx,
        op,
        Input {
            value: input,
            body: None,
        },
    )
    .await
    .map(|o| o.value)
    .map_err(|e| e.code.to_string())
}

async fn counts(svc: &dyn Service, url: &str) -> (String, String) {
    let a = call(
        svc,
        "GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["All"]}),
    )
    .await
    .unwrap();
    (
        a["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .unwrap()
            .to_string(),
        a["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[tokio::test]
async fn state_reloads_from_the_log() {
    let dir = tmpdir("reload");
    let clock = Clock::new();
    let svc = svc_sqs::service(&core_on(&dir, &clock));
    let url = call(
        &*svc,
        "CreateQueue",
        json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "100"}}),
    )
    .await
    .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    for b in ["a", "b", "c"] {
        call(
            &*svc,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": b}),
        )
        .await
        .unwrap();
    }
    let got = call(
        &*svc,
        "ReceiveMessage",
        json!({"QueueUrl": url, "MaxNumberOfMessages": 2}),
    )
    .await
    .unwrap();
    let msgs = got["Messages"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 2);
    call(
        &*svc,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": msgs[0]["ReceiptHandle"]}),
    )
    .await
    .unwrap();
    let fifo = call(&*svc, "CreateQueue", json!({"QueueName": "f.fifo", "Attributes": {"FifoQueue": "true", "ContentBasedDeduplication": "true"}}))
        .await
        .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let first = call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": fifo, "MessageBody": "x", "MessageGroupId": "g"}),
    )
    .await
    .unwrap();
    drop(svc);

    let svc = svc_sqs::service(&core_on(&dir, &clock));
    assert_eq!(
        counts(&*svc, &url).await,
        ("1".to_string(), "1".to_string())
    );
    // The in-flight message's handle from before the reload still deletes it.
    call(
        &*svc,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": msgs[1]["ReceiptHandle"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        counts(&*svc, &url).await,
        ("1".to_string(), "0".to_string())
    );
    let dup = call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": fifo, "MessageBody": "x", "MessageGroupId": "g"}),
    )
    .await
    .unwrap();
    assert_eq!(dup["MessageId"], first["MessageId"]);
    let next = call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": fifo, "MessageBody": "y", "MessageGroupId": "g"}),
    )
    .await
    .unwrap();
    assert!(next["SequenceNumber"].as_str().unwrap() > first["SequenceNumber"].as_str().unwrap());
    // Deleted queues do not come back.
    call(&*svc, "DeleteQueue", json!({"QueueUrl": fifo}))
        .await
        .unwrap();
    drop(svc);
    let svc = svc_sqs::service(&core_on(&dir, &clock));
    assert_eq!(
        call(&*svc, "GetQueueUrl", json!({"QueueName": "f.fifo"}))
            .await
            .unwrap_err(),
        "QueueDoesNotExist"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_on_send_and_on_clock_moves() {
    let clock = Clock::new();
    let core = Core {
        clock: clock.clone(),
        ..Core::ephemeral()
    };
    let svc: Arc<dyn Service> = svc_sqs::service(&core);
    let url = call(&*svc, "CreateQueue", json!({"QueueName": "poll"}))
        .await
        .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();

    let (s2, u2) = (svc.clone(), url.clone());
    let start = Instant::now();
    let waiter = tokio::spawn(async move {
        call(
            &*s2,
            "ReceiveMessage",
            json!({"QueueUrl": u2, "WaitTimeSeconds": 5}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "now"}),
    )
    .await
    .unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got["Messages"][0]["Body"], "now");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    call(
        &*svc,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": got["Messages"][0]["ReceiptHandle"]}),
    )
    .await
    .unwrap();

    // A delayed message becomes receivable when the virtual clock passes its delay.
    call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "later", "DelaySeconds": 600}),
    )
    .await
    .unwrap();
    let (s2, u2) = (svc.clone(), url.clone());
    let start = Instant::now();
    let waiter = tokio::spawn(async move {
        call(
            &*s2,
            "ReceiveMessage",
            json!({"QueueUrl": u2, "WaitTimeSeconds": 5}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    clock.advance(601.0);
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got["Messages"][0]["Body"], "later");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );

    // Nothing arrives: the full wait, then an empty answer.
    let start = Instant::now();
    let got = call(
        &*svc,
        "ReceiveMessage",
        json!({"QueueUrl": url, "WaitTimeSeconds": 1}),
    )
    .await
    .unwrap();
    assert!(got.get("Messages").is_none());
    assert!(start.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn exhausted_messages_move_to_the_dead_letter_queue() {
    let svc = svc_sqs::service(&Core::ephemeral());
    let dlq = call(&*svc, "CreateQueue", json!({"QueueName": "dlq"}))
        .await
        .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 1}).to_string();
    let src = call(
        &*svc,
        "CreateQueue",
        json!({"QueueName": "src", "Attributes": {"RedrivePolicy": policy}}),
    )
    .await
    .unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = call(
        &*svc,
        "SendMessage",
        json!({"QueueUrl": src, "MessageBody": "p"}),
    )
    .await
    .unwrap();
    let r = call(
        &*svc,
        "ReceiveMessage",
        json!({"QueueUrl": src, "VisibilityTimeout": 0}),
    )
    .await
    .unwrap();
    assert_eq!(r["Messages"][0]["MessageId"], sent["MessageId"]);
    let r = call(
        &*svc,
        "ReceiveMessage",
        json!({"QueueUrl": src, "VisibilityTimeout": 0}),
    )
    .await
    .unwrap();
    assert!(r.get("Messages").is_none());
    let r = call(
        &*svc,
        "ReceiveMessage",
        json!({"QueueUrl": dlq, "AttributeNames": ["All"]}),
    )
    .await
    .unwrap();
    assert_eq!(r["Messages"][0]["MessageId"], sent["MessageId"]);
    assert_eq!(
        r["Messages"][0]["Attributes"]["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:000000000000:src"
    );
    let l = call(
        &*svc,
        "ListDeadLetterSourceQueues",
        json!({"QueueUrl": dlq}),
    )
    .await
    .unwrap();
    assert_eq!(l["queueUrls"], json!([src]));
    svc.reset();
    assert_eq!(
        call(&*svc, "GetQueueUrl", json!({"QueueName": "src"}))
            .await
            .unwrap_err(),
        "QueueDoesNotExist"
    );
}
