//! Message move tasks (dead-letter queue redrive): StartMessageMoveTask moves the visible
//! messages of a dead-letter queue back to their source queues (or to DestinationArn) in
//! the background, at MaxNumberOfMessagesPerSecond when given; ListMessageMoveTasks and
//! CancelMessageMoveTask observe and stop it. Tasks persist (`sqs/move-tasks`): their
//! progress is saved after every batch and their status on every change, a task that was
//! running when Overcast stopped resumes when it starts again, and ListMessageMoveTasks
//! shows the last [`HISTORY`] tasks of a source queue across restarts.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overcast_core::{RequestContext, Store, Table};
use overcast_wire::value::{decode_base64, encode_base64};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{SqsError, SqsResult};
use crate::state::{Message, Queue};
use crate::{Shared, Sqs};

/// Tasks kept per source queue (ListMessageMoveTasks shows at most 10).
pub const HISTORY: usize = 10;

/// Persistence namespace of move tasks.
pub const TASKS_NS: &str = "sqs/move-tasks";

/// The persisted form of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    key: String,
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    rate: Option<u32>,
    started_ms: i64,
    to_move: u64,
    moved: u64,
    status: String,
    failure_reason: Option<String>,
}

fn static_status(s: &str) -> &'static str {
    match s {
        "RUNNING" => "RUNNING",
        "COMPLETED" => "COMPLETED",
        "CANCELLING" => "CANCELLING",
        "CANCELLED" => "CANCELLED",
        _ => "FAILED",
    }
}

/// One move task.
#[derive(Debug)]
pub struct Task {
    /// Persistence key.
    key: String,
    /// TaskHandle.
    pub handle: String,
    /// SourceArn.
    pub source_arn: String,
    /// DestinationArn.
    pub destination_arn: Option<String>,
    /// MaxNumberOfMessagesPerSecond.
    pub rate: Option<u32>,
    /// StartedTimestamp (epoch ms).
    pub started_ms: i64,
    /// ApproximateNumberOfMessagesToMove.
    pub to_move: u64,
    /// ApproximateNumberOfMessagesMoved.
    pub moved: AtomicU64,
    status: Mutex<(&'static str, Option<String>)>,
    cancel: AtomicBool,
}

impl Task {
    /// Status and failure reason.
    pub fn status(&self) -> (&'static str, Option<String>) {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_status(&self, s: &'static str, reason: Option<String>) {
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 == "RUNNING" || st.0 == "CANCELLING" {
            *st = (s, reason);
        }
    }

    fn record(&self) -> TaskRecord {
        let (status, failure_reason) = self.status();
        TaskRecord {
            key: self.key.clone(),
            handle: self.handle.clone(),
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            rate: self.rate,
            started_ms: self.started_ms,
            to_move: self.to_move,
            moved: self.moved.load(Ordering::Relaxed),
            status: status.to_string(),
            failure_reason,
        }
    }

    fn from_record(r: TaskRecord) -> Task {
        Task {
            key: r.key,
            handle: r.handle,
            source_arn: r.source_arn,
            destination_arn: r.destination_arn,
            rate: r.rate,
            started_ms: r.started_ms,
            to_move: r.to_move,
            moved: AtomicU64::new(r.moved),
            status: Mutex::new((static_status(&r.status), r.failure_reason)),
            cancel: AtomicBool::new(false),
        }
    }
}

/// Every move task, by source ARN (newest last), written through to the store.
pub struct Tasks {
    by_source: Mutex<HashMap<String, Vec<Arc<Task>>>>,
    table: Table<TaskRecord>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

impl Tasks {
    /// The tasks persisted in `store` (none running yet: see [`resume`]).
    pub fn new(store: Arc<dyn Store>) -> Tasks {
        let table: Table<TaskRecord> = Table::new(store, TASKS_NS);
        let mut by_source: HashMap<String, Vec<Arc<Task>>> = HashMap::new();
        for (_, r) in table.load() {
            by_source
                .entry(r.source_arn.clone())
                .or_default()
                .push(Arc::new(Task::from_record(r)));
        }
        for list in by_source.values_mut() {
            list.sort_by(|a, b| a.started_ms.cmp(&b.started_ms).then(a.key.cmp(&b.key)));
        }
        Tasks {
            by_source: Mutex::new(by_source),
            table,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Task>>>> {
        self.by_source.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True while the task is listed (not forgotten with its deleted source queue).
    fn knows(&self, t: &Task) -> bool {
        self.lock()
            .get(&t.source_arn)
            .is_some_and(|l| l.iter().any(|x| x.key == t.key))
    }

    /// Writes a task's progress and status through.
    pub fn save(&self, t: &Task) {
        if let Err(e) = self.table.put(&t.key, &t.record()) {
            tracing::warn!(error = %e, "cannot persist a message move task");
        }
    }

    /// Stops every task and forgets them.
    pub fn cancel_all(&self) {
        let mut m = self.lock();
        for t in m.values().flatten() {
            t.cancel.store(true, Ordering::Release);
        }
        m.clear();
    }

    /// Stops the tasks reading from or writing to `arn` (queue deleted); the tasks of a
    /// deleted source queue are forgotten.
    pub fn cancel_for(&self, arn: &str) {
        let mut m = self.lock();
        for t in m.values().flatten() {
            if t.source_arn == arn || t.destination_arn.as_deref() == Some(arn) {
                t.cancel.store(true, Ordering::Release);
                if t.status().0 == "RUNNING" {
                    t.set_status("FAILED", Some("The queue was deleted.".into()));
                    self.save(t);
                }
            }
        }
        if let Some(gone) = m.remove(arn) {
            for t in gone {
                let _ = self.table.delete(&t.key);
            }
        }
    }
}

/// Restarts the tasks that were running when Overcast stopped (on the scheduler, once the
/// runtime runs).
pub fn resume(svc: &Arc<Shared>) {
    let running: Vec<Arc<Task>> = svc
        .tasks
        .lock()
        .values()
        .flatten()
        .filter(|t| t.status().0 == "RUNNING")
        .cloned()
        .collect();
    for task in running {
        let shared = svc.clone();
        let now = svc.core.clock.now();
        svc.core.scheduler.at(now, move || {
            let Some(source) = shared.queue_by_arn(&task.source_arn) else {
                task.set_status("FAILED", Some("The source queue was deleted.".into()));
                shared.tasks.save(&task);
                return;
            };
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(run(shared, source, task));
            }
        });
    }
}

/// StartMessageMoveTask input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskInput {
    /// SourceArn.
    pub source_arn: String,
    /// DestinationArn.
    pub destination_arn: Option<String>,
    /// MaxNumberOfMessagesPerSecond.
    pub max_number_of_messages_per_second: Option<i64>,
}

/// StartMessageMoveTask output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskOutput {
    /// TaskHandle.
    pub task_handle: String,
}

/// CancelMessageMoveTask input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskInput {
    /// TaskHandle.
    pub task_handle: String,
}

/// CancelMessageMoveTask output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskOutput {
    /// ApproximateNumberOfMessagesMoved.
    pub approximate_number_of_messages_moved: u64,
}

/// ListMessageMoveTasks input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksInput {
    /// SourceArn.
    pub source_arn: String,
    /// MaxResults.
    pub max_results: Option<i64>,
}

/// One listed task.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResultEntry {
    /// TaskHandle (running tasks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_handle: Option<String>,
    /// Status.
    pub status: String,
    /// SourceArn.
    pub source_arn: String,
    /// DestinationArn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    /// MaxNumberOfMessagesPerSecond.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_number_of_messages_per_second: Option<u32>,
    /// ApproximateNumberOfMessagesMoved.
    pub approximate_number_of_messages_moved: u64,
    /// ApproximateNumberOfMessagesToMove.
    pub approximate_number_of_messages_to_move: u64,
    /// FailureReason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// StartedTimestamp.
    pub started_timestamp: i64,
}

/// ListMessageMoveTasks output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksOutput {
    /// Results.
    pub results: Vec<ListMessageMoveTasksResultEntry>,
}

fn source_missing() -> SqsError {
    SqsError::ResourceNotFoundException(
        "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
    )
}

fn is_dead_letter_queue(svc: &Shared, q: &Queue) -> bool {
    svc.regions
        .existing(&q.account, &q.region)
        .is_some_and(|r| {
            r.all().iter().any(|s| {
                s.lock()
                    .config
                    .redrive_policy
                    .as_ref()
                    .is_some_and(|p| p.dead_letter_target_arn == q.arn)
            })
        })
}

/// StartMessageMoveTask.
pub async fn start_message_move_task(
    svc: &Sqs,
    ctx: &RequestContext,
    input: StartMessageMoveTaskInput,
) -> SqsResult<StartMessageMoveTaskOutput> {
    let _ = ctx;
    let rate = match input.max_number_of_messages_per_second {
        None => None,
        Some(n @ 1..=500) => Some(n as u32),
        Some(n) => {
            return Err(SqsError::invalid_value(
                n,
                "MaxNumberOfMessagesPerSecond",
                "Must be between 1 and 500.",
            ))
        }
    };
    let source = svc
        .queue_by_arn(&input.source_arn)
        .ok_or_else(source_missing)?;
    if !is_dead_letter_queue(svc, &source) {
        return Err(SqsError::invalid(
            "Source queue must be configured as a Dead Letter Queue.",
        ));
    }
    if let Some(dest) = &input.destination_arn {
        let d = svc.queue_by_arn(dest).ok_or_else(|| {
            SqsError::ResourceNotFoundException(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
                    .into(),
            )
        })?;
        if d.fifo != source.fifo {
            return Err(SqsError::invalid(
                "The source queue and the destination queue must be of the same type.",
            ));
        }
    }
    let now = svc.now_ms();
    let task = {
        let mut tasks = svc.tasks.lock();
        let list = tasks.entry(source.arn.clone()).or_default();
        if list.iter().any(|t| t.status().0 == "RUNNING") {
            return Err(SqsError::invalid(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let handle = encode_base64(
            json!({"taskId": overcast_core::ids::uuid(), "sourceArn": source.arn})
                .to_string()
                .as_bytes(),
        );
        let to_move = source.lock().counts(now).visible;
        let task = Arc::new(Task {
            key: format!("{now:016x}-{}", overcast_core::ids::hex(8)),
            handle,
            source_arn: source.arn.clone(),
            destination_arn: input.destination_arn,
            rate,
            started_ms: now,
            to_move,
            moved: AtomicU64::new(0),
            status: Mutex::new(("RUNNING", None)),
            cancel: AtomicBool::new(false),
        });
        list.push(task.clone());
        svc.tasks.save(&task);
        // Keep the last HISTORY tasks of the queue.
        let excess = list.len().saturating_sub(HISTORY);
        for old in list.drain(..excess) {
            let _ = svc.tasks.table.delete(&old.key);
        }
        task
    };
    let shared = svc.shared();
    let handle = task.handle.clone();
    tokio::spawn(async move { run(shared, source, task).await });
    Ok(StartMessageMoveTaskOutput {
        task_handle: handle,
    })
}

/// Takes up to `n` visible messages out of the source.
fn take_visible(q: &Queue, n: usize, now: i64) -> Vec<Message> {
    let mut inner = q.lock();
    let seqs: Vec<u64> = inner
        .ready
        .range((Bound::Unbounded, Bound::Included((now, u64::MAX))))
        .map(|&(_, s)| s)
        .take(n)
        .collect();
    seqs.into_iter().filter_map(|s| inner.remove(s)).collect()
}

async fn run(svc: Arc<Shared>, source: Arc<Queue>, task: Arc<Task>) {
    step(&svc, &source, &task).await;
    if svc.tasks.knows(&task) {
        svc.tasks.save(&task);
    }
}

async fn step(svc: &Shared, source: &Arc<Queue>, task: &Task) {
    loop {
        if task.cancel.load(Ordering::Acquire) {
            task.set_status("CANCELLED", None);
            return;
        }
        if source.is_deleted() {
            task.set_status("FAILED", Some("The source queue was deleted.".into()));
            return;
        }
        let moved = task.moved.load(Ordering::Relaxed);
        let remaining = task.to_move.saturating_sub(moved) as usize;
        let batch = task.rate.map_or(100, |r| r as usize).min(remaining);
        if batch == 0 {
            task.set_status("COMPLETED", None);
            return;
        }
        let now = svc.now_ms();
        let messages = take_visible(source, batch, now);
        if messages.is_empty() {
            task.set_status("COMPLETED", None);
            return;
        }
        for m in messages {
            let target = task
                .destination_arn
                .as_deref()
                .or(m.data.dlq_source_arn().map(String::as_str))
                .and_then(|arn| svc.queue_by_arn(arn));
            match target.filter(|t| !t.is_deleted()) {
                Some(t) => {
                    if let Err(e) = svc.transfer(source, &t, m, now, false) {
                        task.set_status("FAILED", Some(format!("{e}")));
                        return;
                    }
                    task.moved.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    source.lock().insert(m);
                    task.set_status(
                        "FAILED",
                        Some("The destination queue of a message does not exist.".into()),
                    );
                    return;
                }
            }
        }
        if svc.tasks.knows(task) {
            svc.tasks.save(task);
        }
        if task.rate.is_some() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// CancelMessageMoveTask.
pub async fn cancel_message_move_task(
    svc: &Sqs,
    ctx: &RequestContext,
    input: CancelMessageMoveTaskInput,
) -> SqsResult<CancelMessageMoveTaskOutput> {
    let _ = ctx;
    let not_found = || SqsError::ResourceNotFoundException("Task does not exist.".into());
    let source = decode_base64(&input.task_handle)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("sourceArn")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        })
        .ok_or_else(not_found)?;
    let task = svc
        .tasks
        .lock()
        .get(&source)
        .and_then(|l| l.iter().find(|t| t.handle == input.task_handle).cloned())
        .ok_or_else(not_found)?;
    if task.status().0 != "RUNNING" {
        return Err(SqsError::invalid("Only active tasks can be cancelled."));
    }
    task.cancel.store(true, Ordering::Release);
    task.set_status("CANCELLED", None);
    svc.tasks.save(&task);
    Ok(CancelMessageMoveTaskOutput {
        approximate_number_of_messages_moved: task.moved.load(Ordering::Relaxed),
    })
}

/// ListMessageMoveTasks: the most recent tasks of a source queue, newest first.
pub async fn list_message_move_tasks(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ListMessageMoveTasksInput,
) -> SqsResult<ListMessageMoveTasksOutput> {
    let _ = ctx;
    let max = match input.max_results {
        None => 1,
        Some(n @ 1..=10) => n as usize,
        Some(n) => {
            return Err(SqsError::invalid_value(
                n,
                "MaxResults",
                "Must be between 1 and 10.",
            ))
        }
    };
    let source = svc
        .queue_by_arn(&input.source_arn)
        .ok_or_else(source_missing)?;
    let tasks: Vec<Arc<Task>> = svc
        .tasks
        .lock()
        .get(&source.arn)
        .map(|l| l.iter().rev().take(max).cloned().collect())
        .unwrap_or_default();
    let results = tasks
        .into_iter()
        .map(|t| {
            let (status, reason) = t.status();
            ListMessageMoveTasksResultEntry {
                task_handle: (status == "RUNNING").then(|| t.handle.clone()),
                status: status.to_string(),
                source_arn: t.source_arn.clone(),
                destination_arn: t.destination_arn.clone(),
                max_number_of_messages_per_second: t.rate,
                approximate_number_of_messages_moved: t.moved.load(Ordering::Relaxed),
                approximate_number_of_messages_to_move: t.to_move,
                failure_reason: reason,
                started_timestamp: t.started_ms,
            }
        })
        .collect();
    Ok(ListMessageMoveTasksOutput { results })
}
