//! Distributed Map: items from the input or an S3 `ItemReader` (JSON, JSONL, CSV objects,
//! or `listObjectsV2`), `ItemSelector`, `ItemBatcher`, child executions (listed with
//! `ListExecutions(mapRunArn)`), tolerated failures, an S3 `ResultWriter`, and the map-run
//! API (DescribeMapRun, ListMapRuns, UpdateMapRun).
//!
//! Restart: child executions of a map run that was in flight are marked ABORTED when the
//! service loads, and the parent re-runs its Map state as a new map run.

use std::sync::Arc;

use http_body_util::BodyExt;
use overcast_core::{Input, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::asl::payload::{self, Failure};
use crate::error::{SfnError, SfnResult};
use crate::machines::page;
use crate::runtime::{self, Exec, Fut, StateCx};
use crate::state::{Execution, MapRun};
use crate::StepFunctions;

/// True for a Map state in DISTRIBUTED mode.
pub fn is_distributed(st: &Value) -> bool {
    st.pointer("/ItemProcessor/ProcessorConfig/Mode")
        .and_then(Value::as_str)
        == Some("DISTRIBUTED")
}

/// Parses CSV text (RFC 4180 quoting) into rows.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Items of an object's text per `ReaderConfig`.
pub fn parse_items(text: &str, config: &Value) -> Result<Vec<Value>, Failure> {
    let kind = config["InputType"].as_str().unwrap_or("JSON");
    let mut items = match kind {
        "JSON" => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            _ => {
                return Err(Failure::new(
                    "States.ItemReaderFailed",
                    "Attempting to map over non-iterable node.",
                ))
            }
        },
        "JSONL" => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| Failure::new("States.ItemReaderFailed", e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        "CSV" => {
            let mut rows = csv_rows(text).into_iter();
            let headers: Vec<String> = match config["CSVHeaderLocation"].as_str() {
                Some("GIVEN") => config["CSVHeaders"]
                    .as_array()
                    .map(|h| {
                        h.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => rows.next().unwrap_or_default(),
            };
            rows.map(|r| {
                let mut o = serde_json::Map::new();
                for (i, h) in headers.iter().enumerate() {
                    o.insert(
                        h.clone(),
                        Value::String(r.get(i).cloned().unwrap_or_default()),
                    );
                }
                Value::Object(o)
            })
            .collect()
        }
        other => {
            return Err(Failure::new(
                "States.ItemReaderFailed",
                format!("Unsupported InputType {other}"),
            ))
        }
    };
    if let Some(max) = config["MaxItems"].as_u64() {
        items.truncate(max as usize);
    }
    Ok(items)
}

async fn read_items(
    cx: &StateCx,
    reader: &Value,
    effective: &Value,
    c: &Value,
) -> Result<Vec<Value>, Failure> {
    let params = if cx.jsonata() {
        let env = cx.env(effective, c, None, None);
        cx.field(reader.get("Arguments"), &env, effective)?
            .unwrap_or_else(|| json!({}))
    } else {
        match reader.get("Parameters") {
            Some(t) => payload::template(t, effective, c)?,
            None => json!({}),
        }
    };
    let resource = reader["Resource"].as_str().unwrap_or_default();
    let services = &cx.ex.shared.core.services;
    let ctx = &cx.ex.ctx;
    let s3err =
        |e: overcast_core::AwsError| Failure::new(format!("S3.{}", e.code), e.message.to_string());
    match resource {
        "arn:aws:states:::s3:getObject" => {
            let out = services
                .invoke(
                    ctx,
                    "s3",
                    "GetObject",
                    Input {
                        value: json!({"Bucket": params["Bucket"], "Key": params["Key"]}),
                        body: None,
                    },
                )
                .await
                .map_err(s3err)?;
            let bytes = match out.body {
                Some(b) => b
                    .collect()
                    .await
                    .map_err(|e| Failure::new("States.ItemReaderFailed", e.to_string()))?
                    .to_bytes()
                    .to_vec(),
                None => Vec::new(),
            };
            parse_items(&String::from_utf8_lossy(&bytes), &reader["ReaderConfig"])
        }
        "arn:aws:states:::s3:listObjectsV2" => {
            let mut items = Vec::new();
            let mut token: Option<Value> = None;
            loop {
                let mut input = json!({"Bucket": params["Bucket"]});
                if let Some(p) = params.get("Prefix") {
                    input["Prefix"] = p.clone();
                }
                if let Some(t) = &token {
                    input["ContinuationToken"] = t.clone();
                }
                let out = services
                    .call_value(ctx, "s3", "ListObjectsV2", input)
                    .await
                    .map_err(s3err)?;
                for o in out["Contents"].as_array().into_iter().flatten() {
                    items.push(json!({
                        "Etag": o["ETag"], "Key": o["Key"], "Size": o["Size"],
                        "StorageClass": o["StorageClass"],
                        "LastModified": o["LastModified"].as_f64().map(overcast_wire::value::time_format::iso8601),
                    }));
                }
                match out.get("NextContinuationToken").filter(|t| !t.is_null()) {
                    Some(t) => token = Some(t.clone()),
                    None => break,
                }
            }
            if let Some(max) = reader
                .pointer("/ReaderConfig/MaxItems")
                .and_then(Value::as_u64)
            {
                items.truncate(max as usize);
            }
            Ok(items)
        }
        other => Err(Failure::runtime(format!(
            "Unsupported ItemReader resource: {other}"
        ))),
    }
}

fn save_run(ex: &Exec, run: &MapRun) {
    let r = ex.shared.regions.get(&ex.account, &ex.region);
    r.write().map_runs.insert(run.arn.clone(), run.clone());
    if let Err(e) = ex.shared.persist.map_runs.put(&run.arn, run) {
        tracing::warn!("cannot save map run: {e}");
    }
}

/// True when the run's failures exceed the tolerated thresholds (either one, when both are
/// set; no failure is tolerated when neither is).
pub fn exceeded(st: &Value, run: &MapRun, total_items: u64) -> bool {
    let count_set = st.get("ToleratedFailureCount").is_some();
    let pct_set = st.get("ToleratedFailurePercentage").is_some();
    let pct = 100.0 * run.items_failed as f64 / total_items.max(1) as f64;
    match (count_set, pct_set) {
        (false, false) => run.items_failed > 0,
        (c, p) => {
            (c && run.items_failed > run.tolerated_failure_count)
                || (p && pct > run.tolerated_failure_percentage)
        }
    }
}

/// Runs a distributed Map state's attempt.
pub fn run(
    cx: Arc<StateCx>,
    effective: Value,
    retry: u32,
    prev: i64,
) -> Fut<(Result<Value, Failure>, i64)> {
    Box::pin(async move {
        let c = cx.context_with(retry, None);
        let items = match cx.st.get("ItemReader") {
            Some(reader) => read_items(&cx, reader, &effective, &c).await,
            None if cx.jsonata() => {
                let env = cx.env(&effective, &c, None, None);
                match cx.field(cx.st.get("Items"), &env, &effective) {
                    Ok(Some(Value::Array(a))) => Ok(a),
                    Ok(None) => match &effective {
                        Value::Array(a) => Ok(a.clone()),
                        other => Err(Failure::runtime(format!(
                            "Items must be a JSON array, but was: {other}"
                        ))),
                    },
                    Ok(Some(other)) => Err(Failure::runtime(format!(
                        "Items must be a JSON array, but was: {other}"
                    ))),
                    Err(f) => Err(f),
                }
            }
            None => {
                match payload::apply_path("ItemsPath", cx.st.get("ItemsPath"), &effective, &c) {
                    Ok(Value::Array(a)) => Ok(a),
                    Ok(other) => Err(Failure::runtime(format!(
                        "Item selector result must be a JSON array, but was: {other}"
                    ))),
                    Err(f) => Err(f),
                }
            }
        };
        let items = match items {
            Ok(i) => i,
            Err(f) => return (Err(f), prev),
        };
        // ItemSelector per item, then batches.
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut ic = c.clone();
            ic["Map"] = json!({"Item": {"Index": i, "Value": item}});
            let selector = cx.st.get("ItemSelector").or(cx.st.get("Parameters"));
            match runtime::select_item(&cx, selector, &effective, &ic) {
                Ok(Some(x)) => inputs.push(x),
                Ok(None) => inputs.push(item.clone()),
                Err(f) => return (Err(f), prev),
            }
        }
        let total_items = inputs.len() as u64;
        let batches: Vec<(Value, u64)> = match cx.st.get("ItemBatcher") {
            Some(b) => {
                let size = b["MaxItemsPerBatch"].as_u64().unwrap_or(u64::MAX).max(1) as usize;
                let batch_input = match b.get("BatchInput") {
                    Some(t) => match payload::template(t, &effective, &c) {
                        Ok(x) => Some(x),
                        Err(f) => return (Err(f), prev),
                    },
                    None => None,
                };
                inputs
                    .chunks(size.min(inputs.len().max(1)))
                    .map(|chunk| {
                        let mut v = json!({"Items": chunk});
                        if let Some(bi) = &batch_input {
                            v["BatchInput"] = bi.clone();
                        }
                        (v, chunk.len() as u64)
                    })
                    .collect()
            }
            None => inputs.into_iter().map(|v| (v, 1)).collect(),
        };
        let ex = cx.ex.clone();
        let machine_name = ex
            .with_record(|e| {
                e.machine_arn
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default();
        let label: String = cx.st["Label"]
            .as_str()
            .unwrap_or(&cx.name)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let run_id = overcast_core::ids::uuid();
        let run_arn = ex
            .ctx
            .arn("states", &format!("mapRun:{machine_name}/{label}:{run_id}"));
        let max = cx.st["MaxConcurrency"].as_u64().unwrap_or(0);
        let mut run = MapRun {
            arn: run_arn.clone(),
            execution_arn: ex.arn.clone(),
            status: "RUNNING".into(),
            start_date: ex.shared.core.clock.now(),
            stop_date: None,
            max_concurrency: max,
            tolerated_failure_percentage: cx.st["ToleratedFailurePercentage"]
                .as_f64()
                .unwrap_or(0.0),
            tolerated_failure_count: cx.st["ToleratedFailureCount"].as_u64().unwrap_or(0),
            items_total: total_items,
            items_succeeded: 0,
            items_failed: 0,
            executions_total: batches.len() as u64,
            executions_succeeded: 0,
            executions_failed: 0,
            executions_aborted: 0,
        };
        save_run(&ex, &run);
        let started = ex.event(
            "MapStateStarted",
            prev,
            Some((
                "mapStateStartedEventDetails",
                json!({"length": total_items}),
            )),
        );
        let started = ex.event(
            "MapRunStarted",
            started,
            Some(("mapRunStartedEventDetails", json!({"mapRunArn": run_arn}))),
        );
        let processor = cx.st["ItemProcessor"].clone();
        let definition =
            json!({"StartAt": processor["StartAt"], "States": processor["States"]}).to_string();
        let sem = Arc::new(tokio::sync::Semaphore::new(if max == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            max as usize
        }));
        let (role, machine_arn) = ex
            .with_record(|e| (e.role_arn.clone(), e.machine_arn.clone()))
            .unwrap_or_default();
        let mut set = tokio::task::JoinSet::new();
        let mut children = Vec::new();
        for (i, (input, count)) in batches.into_iter().enumerate() {
            let name = overcast_core::ids::uuid();
            let child_arn = ex.ctx.arn(
                "states",
                &format!("execution:{machine_name}/{label}:{name}"),
            );
            let now = ex.shared.core.clock.now();
            let record = Execution {
                arn: child_arn.clone(),
                machine_arn: machine_arn.clone(),
                name,
                status: "RUNNING".into(),
                start_date: now,
                stop_date: None,
                input: input.to_string(),
                output: None,
                error: None,
                cause: None,
                version_arn: None,
                alias_arn: None,
                definition: definition.clone(),
                role_arn: role.clone(),
                kind: "STANDARD".into(),
                revision_id: String::new(),
                trace_header: None,
                history: Vec::new(),
                resume: None,
                redrive_count: 0,
                redrive_date: None,
                map_run: Some(run_arn.clone()),
            };
            children.push(child_arn.clone());
            let shared = ex.shared.clone();
            let (account, region) = (ex.account.clone(), ex.region.clone());
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                shared
                    .regions
                    .get(&account, &region)
                    .write()
                    .executions
                    .insert(child_arn.clone(), record.clone());
                let _ = shared.persist.put_execution(&record, 0);
                if let Some(child) = Exec::load(&shared, &account, &region, &child_arn) {
                    runtime::run(child).await;
                }
                let e = shared
                    .regions
                    .get(&account, &region)
                    .read()
                    .executions
                    .get(&child_arn)
                    .cloned();
                (i, count, e)
            });
        }
        let n = children.len();
        let mut results = vec![Value::Null; n];
        let mut failure: Option<Failure> = None;
        while let Some(joined) = set.join_next().await {
            let Ok((i, count, Some(e))) = joined else {
                continue;
            };
            if e.status == "SUCCEEDED" {
                run.items_succeeded += count;
                run.executions_succeeded += 1;
                results[i] = e
                    .output
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or(Value::Null);
            } else {
                run.items_failed += count;
                run.executions_failed += 1;
                results[i] = json!({"Error": e.error, "Cause": e.cause});
                if exceeded(&cx.st, &run, total_items) {
                    failure = Some(Failure::new(
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was exceeded",
                    ));
                    set.abort_all();
                    break;
                }
            }
            save_run(&ex, &run);
        }
        // Children left running when the run failed are aborted.
        if failure.is_some() {
            let now = ex.shared.core.clock.now();
            let r = ex.shared.regions.get(&ex.account, &ex.region);
            for a in &children {
                let saved = {
                    let mut w = r.write();
                    match w.executions.get_mut(a) {
                        Some(e) if e.status == "RUNNING" => {
                            e.status = "ABORTED".into();
                            e.stop_date = Some(now);
                            run.executions_aborted += 1;
                            Some(e.clone())
                        }
                        _ => None,
                    }
                };
                if let Some(e) = saved {
                    let _ = ex.shared.persist.put_execution(&e, usize::MAX);
                }
            }
        }
        run.stop_date = Some(ex.shared.core.clock.now());
        run.status = if failure.is_some() {
            "FAILED"
        } else {
            "SUCCEEDED"
        }
        .into();
        save_run(&ex, &run);
        if let Some(f) = failure {
            let p = ex.event(
                "MapRunFailed",
                started,
                Some((
                    "mapRunFailedEventDetails",
                    json!({"error": f.error, "cause": f.cause}),
                )),
            );
            let p = ex.event("MapStateFailed", p, None);
            return (Err(f), p);
        }
        let p = ex.event("MapRunSucceeded", started, None);
        let result = match cx.st.get("ResultWriter") {
            Some(w) => match write_results(&cx, w, &effective, &c, &run, &children, &results).await
            {
                Ok(v) => v,
                Err(f) => return (Err(f), p),
            },
            None => Value::Array(results),
        };
        let p = ex.event("MapStateSucceeded", p, None);
        (Ok(result), p)
    })
}

/// ResultWriter (`arn:aws:states:::s3:putObject`): writes `manifest.json` and
/// `SUCCEEDED_0.json` / `FAILED_0.json` under `{Prefix}/{map run id}/`.
async fn write_results(
    cx: &StateCx,
    writer: &Value,
    effective: &Value,
    c: &Value,
    run: &MapRun,
    children: &[String],
    results: &[Value],
) -> Result<Value, Failure> {
    let params = match writer.get("Parameters") {
        Some(t) => payload::template(t, effective, c)?,
        None => json!({}),
    };
    let bucket = params["Bucket"].as_str().unwrap_or_default().to_string();
    let prefix = params["Prefix"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let id = run.arn.rsplit(':').next().unwrap_or_default();
    let base = if prefix.is_empty() {
        id.to_string()
    } else {
        format!("{prefix}/{id}")
    };
    let r = cx.ex.shared.regions.get(&cx.ex.account, &cx.ex.region);
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    {
        let g = r.read();
        for (i, a) in children.iter().enumerate() {
            let Some(e) = g.executions.get(a) else {
                continue;
            };
            let mut entry = json!({
                "ExecutionArn": e.arn, "Input": e.input, "Name": e.name, "Status": e.status,
                "StartDate": overcast_wire::value::time_format::iso8601_millis(e.start_date),
                "StopDate": e.stop_date.map(overcast_wire::value::time_format::iso8601_millis),
                "StateMachineArn": e.machine_arn,
            });
            if e.status == "SUCCEEDED" {
                entry["Output"] = json!(e.output);
                ok.push(entry);
            } else {
                entry["Error"] = json!(e.error);
                entry["Cause"] = json!(e.cause);
                failed.push(entry);
            }
            let _ = results.get(i);
        }
    }
    let mut files = Vec::new();
    for (name, list) in [("SUCCEEDED_0.json", &ok), ("FAILED_0.json", &failed)] {
        if !list.is_empty() {
            files.push((format!("{base}/{name}"), list.len()));
            put(
                cx,
                &bucket,
                &format!("{base}/{name}"),
                Value::Array(list.clone()).to_string(),
            )
            .await?;
        }
    }
    let manifest_key = format!("{base}/manifest.json");
    let manifest = json!({
        "DestinationBucket": bucket, "MapRunArn": run.arn,
        "ResultFiles": {
            "SUCCEEDED": files.iter().filter(|f| f.0.ends_with("SUCCEEDED_0.json")).map(|f| json!({"Key": f.0, "Size": f.1})).collect::<Vec<_>>(),
            "FAILED": files.iter().filter(|f| f.0.ends_with("FAILED_0.json")).map(|f| json!({"Key": f.0, "Size": f.1})).collect::<Vec<_>>(),
            "PENDING": [],
        },
    });
    put(cx, &bucket, &manifest_key, manifest.to_string()).await?;
    Ok(
        json!({"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}),
    )
}

async fn put(cx: &StateCx, bucket: &str, key: &str, body: String) -> Result<(), Failure> {
    cx.ex
        .shared
        .core
        .services
        .invoke(
            &cx.ex.ctx,
            "s3",
            "PutObject",
            Input {
                value: json!({"Bucket": bucket, "Key": key, "ContentType": "application/json"}),
                body: Some(overcast_wire::body::full(body.into_bytes())),
            },
        )
        .await
        .map(drop)
        .map_err(|e| {
            Failure::new(
                "States.ResultWriterFailed",
                format!("{}: {}", e.code, e.message),
            )
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MapRunIn {
    map_run_arn: Option<String>,
    execution_arn: Option<String>,
    max_concurrency: Option<u64>,
    tolerated_failure_percentage: Option<f64>,
    tolerated_failure_count: Option<u64>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

fn get_run(svc: &StepFunctions, ctx: &RequestContext, arn: &str) -> SfnResult<MapRun> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 8 || parts[2] != "states" || parts[5] != "mapRun" {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Invalid ARN prefix: {arn}'"
        )));
    }
    svc.region(ctx)
        .read()
        .map_runs
        .get(arn)
        .cloned()
        .ok_or_else(|| SfnError::ResourceNotFound(format!("Resource not found: '{arn}'")))
}

pub(crate) async fn describe_map_run(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: MapRunIn,
) -> SfnResult<Value> {
    let r = get_run(svc, ctx, i.map_run_arn.as_deref().unwrap_or_default())?;
    let running_items = r.items_total - r.items_succeeded - r.items_failed;
    let running_execs =
        r.executions_total - r.executions_succeeded - r.executions_failed - r.executions_aborted;
    Ok(json!({
        "mapRunArn": r.arn, "executionArn": r.execution_arn, "status": r.status,
        "startDate": r.start_date, "stopDate": r.stop_date, "maxConcurrency": r.max_concurrency,
        "toleratedFailurePercentage": r.tolerated_failure_percentage,
        "toleratedFailureCount": r.tolerated_failure_count,
        "itemCounts": {"pending": 0, "running": running_items, "succeeded": r.items_succeeded,
            "failed": r.items_failed, "timedOut": 0, "aborted": 0, "total": r.items_total,
            "resultsWritten": r.items_succeeded + r.items_failed},
        "executionCounts": {"pending": 0, "running": running_execs, "succeeded": r.executions_succeeded,
            "failed": r.executions_failed, "timedOut": 0, "aborted": r.executions_aborted,
            "total": r.executions_total, "resultsWritten": r.executions_succeeded + r.executions_failed},
        "redriveCount": 0,
    }))
}

pub(crate) async fn list_map_runs(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: MapRunIn,
) -> SfnResult<Value> {
    let arn = i.execution_arn.unwrap_or_default();
    let region = svc.region(ctx);
    let g = region.read();
    if !g.executions.contains_key(&arn) {
        return Err(SfnError::ExecutionDoesNotExist(format!(
            "Execution Does Not Exist: '{arn}'"
        )));
    }
    let mut runs: Vec<&MapRun> = g
        .map_runs
        .values()
        .filter(|r| r.execution_arn == arn)
        .collect();
    runs.sort_by(|a, b| b.start_date.total_cmp(&a.start_date));
    let all: Vec<Value> = runs
        .into_iter()
        .map(|r| json!({"executionArn": r.execution_arn, "mapRunArn": r.arn, "stateMachineArn": r.execution_arn, "startDate": r.start_date, "stopDate": r.stop_date}))
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"mapRuns": items, "nextToken": next}))
}

pub(crate) async fn update_map_run(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: MapRunIn,
) -> SfnResult<Value> {
    let mut r = get_run(svc, ctx, i.map_run_arn.as_deref().unwrap_or_default())?;
    if let Some(m) = i.max_concurrency {
        r.max_concurrency = m;
    }
    if let Some(p) = i.tolerated_failure_percentage {
        if !(0.0..=100.0).contains(&p) {
            return Err(SfnError::ValidationException(
                "toleratedFailurePercentage must be between 0 and 100".into(),
            ));
        }
        r.tolerated_failure_percentage = p;
    }
    if let Some(c) = i.tolerated_failure_count {
        r.tolerated_failure_count = c;
    }
    svc.persist.map_runs.put(&r.arn, &r)?;
    svc.region(ctx).write().map_runs.insert(r.arn.clone(), r);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers() {
        assert_eq!(
            csv_rows("a,b\n1,\"x, \"\"y\"\"\"\n2,z\n"),
            vec![vec!["a", "b"], vec!["1", "x, \"y\""], vec!["2", "z"]]
        );
        let items = parse_items(
            "id,name\n1,ada\n2,bob\n",
            &json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        )
        .unwrap();
        assert_eq!(
            items,
            vec![
                json!({"id": "1", "name": "ada"}),
                json!({"id": "2", "name": "bob"})
            ]
        );
        let items = parse_items(
            "1,ada\n",
            &json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["n", "who"]}),
        )
        .unwrap();
        assert_eq!(items, vec![json!({"n": "1", "who": "ada"})]);
        assert_eq!(
            parse_items("[1,2,3]", &json!({"MaxItems": 2})).unwrap(),
            vec![json!(1), json!(2)]
        );
        assert_eq!(
            parse_items("{\"a\":1}\n{\"a\":2}\n", &json!({"InputType": "JSONL"}))
                .unwrap()
                .len(),
            2
        );
        assert!(parse_items("{}", &json!({})).is_err());
        assert!(is_distributed(
            &json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}}})
        ));
    }
}
