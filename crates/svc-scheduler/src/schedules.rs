//! Schedules: create, update (replaces every field, as AWS), get, list, delete.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SchedulerError, SchedulerResult};
use crate::groups::page;
use crate::state::{key, schedule_arn, Schedule, DEFAULT_GROUP};
use crate::timing::{Expression, Zone};
use crate::{fire, Scheduler};

/// CreateSchedule / UpdateSchedule input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    name: String,
    group_name: Option<String>,
    schedule_expression: String,
    start_date: Option<f64>,
    end_date: Option<f64>,
    description: Option<String>,
    schedule_expression_timezone: Option<String>,
    state: Option<String>,
    kms_key_arn: Option<String>,
    target: Value,
    flexible_time_window: Value,
    #[allow(dead_code)]
    client_token: Option<String>,
    action_after_completion: Option<String>,
}

/// CreateSchedule / UpdateSchedule output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleArnOutput {
    schedule_arn: String,
}

fn invalid(m: impl Into<String>) -> SchedulerError {
    SchedulerError::ValidationException(m.into())
}

fn validate(i: &ScheduleInput) -> SchedulerResult<()> {
    if i.name.is_empty()
        || i.name.len() > 64
        || !i
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(invalid(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
            i.name
        )));
    }
    if Expression::parse(&i.schedule_expression).is_none() {
        return Err(invalid(format!(
            "Invalid Schedule Expression {}.",
            i.schedule_expression
        )));
    }
    if Zone::parse(i.schedule_expression_timezone.as_deref()).is_none() {
        return Err(invalid(format!(
            "Invalid ScheduleExpressionTimezone {}.",
            i.schedule_expression_timezone
                .as_deref()
                .unwrap_or_default()
        )));
    }
    if let (Some(s), Some(e)) = (i.start_date, i.end_date) {
        if s >= e {
            return Err(invalid("The StartDate must be before the EndDate."));
        }
    }
    match i.flexible_time_window.get("Mode").and_then(Value::as_str) {
        Some("OFF") => {}
        Some("FLEXIBLE") => {
            let m = i
                .flexible_time_window
                .get("MaximumWindowInMinutes")
                .and_then(Value::as_i64);
            if !m.is_some_and(|m| (1..=1440).contains(&m)) {
                return Err(invalid(
                    "MaximumWindowInMinutes must be provided between 1 and 1440 when Mode is FLEXIBLE.",
                ));
            }
        }
        _ => return Err(invalid("FlexibleTimeWindow Mode must be OFF or FLEXIBLE.")),
    }
    if let Some(s) = &i.state {
        if s != "ENABLED" && s != "DISABLED" {
            return Err(invalid(format!(
                "1 validation error detected: Value '{s}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
            )));
        }
    }
    if let Some(a) = &i.action_after_completion {
        if a != "NONE" && a != "DELETE" {
            return Err(invalid(format!(
                "1 validation error detected: Value '{a}' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]"
            )));
        }
    }
    let arn = i
        .target
        .get("Arn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !arn.starts_with("arn:") {
        return Err(invalid("Invalid target ARN."));
    }
    Ok(())
}

fn no_schedule(name: &str) -> SchedulerError {
    SchedulerError::ResourceNotFoundException(format!("Schedule {name} does not exist."))
}

fn save(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ScheduleInput,
    create: bool,
) -> SchedulerResult<ScheduleArnOutput> {
    validate(&i)?;
    let group = i
        .group_name
        .clone()
        .unwrap_or_else(|| DEFAULT_GROUP.to_string());
    let region = svc.region(ctx);
    let arn = {
        let mut w = region.write();
        if !w.groups.contains_key(&group) {
            return Err(SchedulerError::ResourceNotFoundException(format!(
                "Schedule group {group} does not exist."
            )));
        }
        let k = (group.clone(), i.name.clone());
        let existing = w.schedules.get(&k).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(SchedulerError::ConflictException(format!(
                    "Schedule {} already exists.",
                    i.name
                )))
            }
            (None, false) => return Err(no_schedule(&i.name)),
            _ => {}
        }
        let s = Schedule {
            arn: schedule_arn(&ctx.region, &ctx.account_id, &group, &i.name),
            name: i.name.clone(),
            group: group.clone(),
            schedule_expression: i.schedule_expression,
            schedule_expression_timezone: i.schedule_expression_timezone,
            start_date: i.start_date,
            end_date: i.end_date,
            description: i.description,
            state: i.state.unwrap_or_else(|| "ENABLED".into()),
            kms_key_arn: i.kms_key_arn,
            target: i.target,
            flexible_time_window: i.flexible_time_window,
            action_after_completion: i.action_after_completion,
            creation_date: existing.as_ref().map_or(ctx.now, |e| e.creation_date),
            last_modification_date: ctx.now,
        };
        svc.persist.schedules.put(
            &key(&ctx.account_id, &ctx.region, &format!("{group}/{}", s.name)),
            &s,
        )?;
        let arn = s.arn.clone();
        w.schedules.insert(k, s);
        arn
    };
    fire::arm(&svc.shared, &ctx.account_id, &ctx.region, &group, &i.name);
    Ok(ScheduleArnOutput { schedule_arn: arn })
}

/// CreateSchedule.
pub async fn create_schedule(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ScheduleInput,
) -> SchedulerResult<ScheduleArnOutput> {
    save(svc, ctx, i, true)
}

/// UpdateSchedule.
pub async fn update_schedule(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ScheduleInput,
) -> SchedulerResult<ScheduleArnOutput> {
    save(svc, ctx, i, false)
}

/// Input naming a schedule.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRef {
    name: String,
    group_name: Option<String>,
    #[allow(dead_code)]
    client_token: Option<String>,
}

/// GetSchedule output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleView {
    arn: String,
    group_name: String,
    name: String,
    schedule_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_expression_timezone: Option<String>,
    state: String,
    creation_date: f64,
    last_modification_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_arn: Option<String>,
    target: Value,
    flexible_time_window: Value,
    action_after_completion: String,
}

/// GetSchedule.
pub async fn get_schedule(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ScheduleRef,
) -> SchedulerResult<ScheduleView> {
    let group = i.group_name.unwrap_or_else(|| DEFAULT_GROUP.to_string());
    let region = svc.region(ctx);
    let r = region.read();
    let s = r
        .schedules
        .get(&(group, i.name.clone()))
        .ok_or_else(|| no_schedule(&i.name))?;
    Ok(ScheduleView {
        arn: s.arn.clone(),
        group_name: s.group.clone(),
        name: s.name.clone(),
        schedule_expression: s.schedule_expression.clone(),
        start_date: s.start_date,
        end_date: s.end_date,
        description: s.description.clone(),
        schedule_expression_timezone: s.schedule_expression_timezone.clone(),
        state: s.state.clone(),
        creation_date: s.creation_date,
        last_modification_date: s.last_modification_date,
        kms_key_arn: s.kms_key_arn.clone(),
        target: s.target.clone(),
        flexible_time_window: s.flexible_time_window.clone(),
        action_after_completion: s
            .action_after_completion
            .clone()
            .unwrap_or_else(|| "NONE".into()),
    })
}

/// ListSchedules input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSchedulesInput {
    group_name: Option<String>,
    name_prefix: Option<String>,
    state: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

/// A schedule in ListSchedules.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleSummary {
    arn: String,
    name: String,
    group_name: String,
    state: String,
    creation_date: f64,
    last_modification_date: f64,
    target: Value,
}

/// ListSchedules output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSchedulesOutput {
    schedules: Vec<ScheduleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListSchedules.
pub async fn list_schedules(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ListSchedulesInput,
) -> SchedulerResult<ListSchedulesOutput> {
    let all: Vec<ScheduleSummary> = svc
        .region(ctx)
        .read()
        .schedules
        .values()
        .filter(|s| i.group_name.as_deref().is_none_or(|g| s.group == g))
        .filter(|s| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| s.name.starts_with(p))
        })
        .filter(|s| i.state.as_deref().is_none_or(|st| s.state == st))
        .map(|s| ScheduleSummary {
            arn: s.arn.clone(),
            name: s.name.clone(),
            group_name: s.group.clone(),
            state: s.state.clone(),
            creation_date: s.creation_date,
            last_modification_date: s.last_modification_date,
            target: json!({"Arn": s.target.get("Arn").cloned().unwrap_or(Value::Null)}),
        })
        .collect();
    let (schedules, next_token) = page(all, i.next_token.as_deref(), i.max_results)?;
    Ok(ListSchedulesOutput {
        schedules,
        next_token,
    })
}

/// Removes a schedule (DeleteSchedule, ActionAfterCompletion DELETE).
pub fn remove(
    svc: &crate::Shared,
    account: &str,
    region: &str,
    group: &str,
    name: &str,
) -> SchedulerResult<bool> {
    let Some(state) = svc.regions.existing(account, region) else {
        return Ok(false);
    };
    let mut w = state.write();
    let Some(s) = w
        .schedules
        .get(&(group.to_string(), name.to_string()))
        .cloned()
    else {
        return Ok(false);
    };
    svc.persist
        .schedules
        .delete(&key(account, region, &format!("{group}/{name}")))?;
    w.schedules.remove(&(group.to_string(), name.to_string()));
    if let Some(job) = w.jobs.remove(&s.arn) {
        svc.core.scheduler.cancel(job);
    }
    Ok(true)
}

/// DeleteSchedule.
pub async fn delete_schedule(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ScheduleRef,
) -> SchedulerResult<Value> {
    let group = i.group_name.unwrap_or_else(|| DEFAULT_GROUP.to_string());
    if !remove(&svc.shared, &ctx.account_id, &ctx.region, &group, &i.name)? {
        return Err(no_schedule(&i.name));
    }
    Ok(json!({}))
}
