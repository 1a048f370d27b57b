//! Export tasks: CreateExportTask writes a group's events of a time range to S3 (one gzip
//! object per stream, `<prefix>/<task id>/<stream>/000000.gz`, lines `<ISO time> <message>`,
//! as AWS lays them out) through S3's own PutObject; DescribeExportTasks, CancelExportTask.

use std::io::Write;

use overcast_core::{Input, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::LogsError;
use crate::groups::{now_ms, Empty};
use crate::state::{lock, ExportTask};
use crate::Logs;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateExportTaskIn {
    task_name: Option<String>,
    log_group_name: String,
    log_stream_name_prefix: Option<String>,
    from: i64,
    to: i64,
    destination: String,
    destination_prefix: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateExportTaskOut {
    task_id: String,
}

/// The gzip object of one stream's exported events.
pub fn export_object(events: &[(i64, &str)]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for (t, m) in events {
        let ts = overcast_wire::value::time_format::iso8601_millis(*t as f64 / 1000.0);
        let _ = writeln!(gz, "{ts} {m}");
    }
    gz.finish().unwrap_or_default()
}

pub(crate) async fn create_export_task(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateExportTaskIn,
) -> Result<CreateExportTaskOut, LogsError> {
    if i.to < i.from {
        return Err(LogsError::invalid(
            "The value of 'to' must be greater than or equal to the value of 'from'.",
        ));
    }
    let prefix = i
        .destination_prefix
        .clone()
        .unwrap_or_else(|| "exportedlogs".into());
    let task_id = overcast_core::ids::uuid();
    let region = svc.region(ctx);
    let objects: Vec<(String, Vec<u8>)> = {
        let r = region.read();
        let g = r.get(&i.log_group_name).ok_or_else(LogsError::no_group)?;
        g.streams
            .values()
            .filter(|s| {
                i.log_stream_name_prefix
                    .as_deref()
                    .is_none_or(|p| s.name.starts_with(p))
            })
            .filter_map(|s| {
                let a = s.events.partition_point(|e| e.timestamp < i.from);
                let b = s.events.partition_point(|e| e.timestamp <= i.to);
                let events: Vec<(i64, &str)> = s.events[a..b.max(a)]
                    .iter()
                    .map(|e| (e.timestamp, e.message.as_str()))
                    .collect();
                (!events.is_empty()).then(|| {
                    (
                        format!("{prefix}/{task_id}/{}/000000.gz", s.name),
                        export_object(&events),
                    )
                })
            })
            .collect()
    };
    // AWS checks the bucket when the task is created.
    let check = svc
        .core
        .services
        .invoke(
            ctx,
            "s3",
            "PutObject",
            Input {
                value: json!({"Bucket": i.destination, "Key": format!("{prefix}/aws-logs-write-test")}),
                body: Some(overcast_wire::body::full("Permission Check Successful")),
            },
        )
        .await;
    if let Err(e) = check {
        return Err(LogsError::invalid(format!(
            "The given bucket {} could not be written to: {}",
            i.destination, e.message
        )));
    }
    let mut status = (
        "COMPLETED".to_string(),
        "Completed successfully".to_string(),
    );
    for (key, bytes) in objects {
        let r = svc
            .core
            .services
            .invoke(
                ctx,
                "s3",
                "PutObject",
                Input {
                    value: json!({"Bucket": i.destination, "Key": key, "ContentType": "application/octet-stream",
                                  "ContentEncoding": "gzip"}),
                    body: Some(overcast_wire::body::full(bytes)),
                },
            )
            .await;
        if let Err(e) = r {
            status = (
                "FAILED".into(),
                format!("Could not write {key}: {}", e.message),
            );
            break;
        }
    }
    let task = ExportTask {
        task_id: task_id.clone(),
        task_name: i.task_name,
        log_group_name: i.log_group_name,
        from: i.from,
        to: i.to,
        destination: i.destination,
        destination_prefix: prefix,
        status_code: status.0,
        status_message: status.1,
        creation_time: now_ms(ctx),
        completion_time: now_ms(ctx),
    };
    region.tables.exports.put(&task_id, &task)?;
    lock(&region.exports).insert(task_id.clone(), task);
    Ok(CreateExportTaskOut { task_id })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeExportTasksIn {
    task_id: Option<String>,
    status_code: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportTaskOut {
    task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_name: Option<String>,
    log_group_name: String,
    from: i64,
    to: i64,
    destination: String,
    destination_prefix: String,
    status: serde_json::Value,
    execution_info: serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeExportTasksOut {
    export_tasks: Vec<ExportTaskOut>,
}

pub(crate) async fn describe_export_tasks(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeExportTasksIn,
) -> Result<DescribeExportTasksOut, LogsError> {
    let region = svc.region(ctx);
    let m = lock(&region.exports);
    let mut tasks: Vec<&ExportTask> = m
        .values()
        .filter(|t| i.task_id.as_ref().is_none_or(|x| &t.task_id == x))
        .filter(|t| i.status_code.as_ref().is_none_or(|x| &t.status_code == x))
        .collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.creation_time));
    Ok(DescribeExportTasksOut {
        export_tasks: tasks
            .into_iter()
            .take(i.limit.unwrap_or(50).clamp(1, 50))
            .map(|t| ExportTaskOut {
                task_id: t.task_id.clone(),
                task_name: t.task_name.clone(),
                log_group_name: t.log_group_name.clone(),
                from: t.from,
                to: t.to,
                destination: t.destination.clone(),
                destination_prefix: t.destination_prefix.clone(),
                status: json!({"code": t.status_code, "message": t.status_message}),
                execution_info: json!({"creationTime": t.creation_time, "completionTime": t.completion_time}),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CancelExportTaskIn {
    task_id: String,
}

pub(crate) async fn cancel_export_task(
    svc: &Logs,
    ctx: &RequestContext,
    i: CancelExportTaskIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let m = lock(&region.exports);
    let t = m.get(&i.task_id).ok_or_else(|| {
        LogsError::ResourceNotFoundException("The specified export task does not exist.".into())
    })?;
    Err(LogsError::InvalidOperationException(format!(
        "The specified export task has already finished with status {}.",
        t.status_code
    )))
}
