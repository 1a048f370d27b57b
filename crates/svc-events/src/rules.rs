//! Rules and their targets; TestEventPattern.

use overcast_core::RequestContext;
use overcast_patterns::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::buses::page;
use crate::error::{EventsError, EventsResult};
use crate::state::{key, rule_arn, Rule, Target, DEFAULT_BUS};
use crate::tags::{Tag, Tags};
use crate::{bus_name, schedule, Events};

/// Targets a rule may have.
const MAX_TARGETS: usize = 5;

fn valid_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn rule_key(ctx: &RequestContext, bus: &str, name: &str) -> String {
    key(&ctx.account_id, &ctx.region, &format!("{bus}/{name}"))
}

/// Parses a pattern the way PutRule and TestEventPattern do.
pub fn compile_pattern(text: &str) -> EventsResult<Pattern> {
    Pattern::parse(text)
        .map_err(|e| EventsError::InvalidEventPatternException(e.event_pattern_message()))
}

/// PutRule input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleInput {
    name: String,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    event_bus_name: Option<String>,
}

/// PutRule output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleOutput {
    rule_arn: String,
}

/// PutRule: creates or updates a rule (targets are kept on update).
pub async fn put_rule(
    svc: &Events,
    ctx: &RequestContext,
    i: PutRuleInput,
) -> EventsResult<PutRuleOutput> {
    if !valid_rule_name(&i.name) {
        return Err(EventsError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
            i.name
        )));
    }
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let pattern = i.event_pattern.as_deref().filter(|p| !p.is_empty());
    let schedule = i.schedule_expression.as_deref().filter(|p| !p.is_empty());
    if pattern.is_none() && schedule.is_none() {
        return Err(EventsError::ValidationException(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.".into(),
        ));
    }
    if let Some(p) = pattern {
        compile_pattern(p)?;
    }
    if let Some(s) = schedule {
        if bus != DEFAULT_BUS {
            return Err(EventsError::ValidationException(
                "ScheduleExpression is supported only on the default event bus.".into(),
            ));
        }
        schedule::Schedule::parse(s).ok_or_else(|| {
            EventsError::ValidationException("Parameter ScheduleExpression is not valid.".into())
        })?;
    }
    let state = i.state.unwrap_or_else(|| "ENABLED".to_string());
    if !matches!(
        state.as_str(),
        "ENABLED" | "DISABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    ) {
        return Err(EventsError::ValidationException(format!(
            "1 validation error detected: Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"
        )));
    }
    let region = svc.region(ctx);
    let arn = {
        let mut w = region.write();
        let Some(bus_arn) = w.buses.get(&bus).map(|b| b.arn.clone()) else {
            return Err(EventsError::no_bus(&bus));
        };
        let k = (bus.clone(), i.name.clone());
        let targets = w
            .rules
            .get(&k)
            .map(|r| r.targets.clone())
            .unwrap_or_default();
        let rule = Rule {
            arn: rule_arn(&ctx.region, &ctx.account_id, &bus, &i.name),
            name: i.name.clone(),
            bus: bus.clone(),
            event_pattern: pattern.map(str::to_string),
            schedule_expression: schedule.map(str::to_string),
            state,
            description: i.description,
            role_arn: i.role_arn,
            created_by: ctx.account_id.clone(),
            targets,
        };
        svc.persist
            .rules
            .put(&rule_key(ctx, &bus, &i.name), &rule)?;
        if !i.tags.is_empty() {
            let mut tags: Tags = w.tags.get(&rule.arn).cloned().unwrap_or_default();
            tags.extend(i.tags.into_iter().map(|t| (t.key, t.value)));
            svc.persist
                .tags
                .put(&key(&ctx.account_id, &ctx.region, &rule.arn), &tags)?;
            w.tags.insert(rule.arn.clone(), tags);
        }
        let arn = rule.arn.clone();
        w.rules.insert(k, rule);
        w.reindex(&bus, &bus_arn);
        arn
    };
    schedule::arm(&svc.shared, &ctx.account_id, &ctx.region, &bus, &i.name);
    Ok(PutRuleOutput { rule_arn: arn })
}

/// Input naming one rule.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleRef {
    name: String,
    event_bus_name: Option<String>,
}

/// DescribeRule output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleView {
    name: String,
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_expression: Option<String>,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    event_bus_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
}

fn view(r: &Rule, with_creator: bool) -> RuleView {
    RuleView {
        name: r.name.clone(),
        arn: r.arn.clone(),
        event_pattern: r.event_pattern.clone(),
        schedule_expression: r.schedule_expression.clone(),
        state: r.state.clone(),
        description: r.description.clone(),
        role_arn: r.role_arn.clone(),
        event_bus_name: r.bus.clone(),
        created_by: with_creator.then(|| r.created_by.clone()),
    }
}

/// DescribeRule.
pub async fn describe_rule(
    svc: &Events,
    ctx: &RequestContext,
    i: RuleRef,
) -> EventsResult<RuleView> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    r.rules
        .get(&(bus.clone(), i.name.clone()))
        .map(|r| view(r, true))
        .ok_or_else(|| EventsError::no_rule(&i.name, &bus))
}

/// ListRules input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRulesInput {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListRules output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRulesOutput {
    rules: Vec<RuleView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListRules.
pub async fn list_rules(
    svc: &Events,
    ctx: &RequestContext,
    i: ListRulesInput,
) -> EventsResult<ListRulesOutput> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    if !r.buses.contains_key(&bus) {
        return Err(EventsError::no_bus(&bus));
    }
    let all: Vec<RuleView> = r
        .rules
        .values()
        .filter(|x| x.bus == bus)
        .filter(|x| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| x.name.starts_with(p))
        })
        .map(|x| view(x, false))
        .collect();
    let (rules, next_token) = page(all, i.next_token.as_deref(), i.limit)?;
    Ok(ListRulesOutput { rules, next_token })
}

fn set_state(svc: &Events, ctx: &RequestContext, i: RuleRef, state: &str) -> EventsResult<Value> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    {
        let mut w = region.write();
        let bus_arn = w.buses.get(&bus).map(|b| b.arn.clone()).unwrap_or_default();
        let k = (bus.clone(), i.name.clone());
        let rule = w
            .rules
            .get_mut(&k)
            .ok_or_else(|| EventsError::no_rule(&i.name, &bus))?;
        let mut updated = rule.clone();
        updated.state = state.to_string();
        svc.persist
            .rules
            .put(&rule_key(ctx, &bus, &i.name), &updated)?;
        *rule = updated;
        w.reindex(&bus, &bus_arn);
    }
    schedule::arm(&svc.shared, &ctx.account_id, &ctx.region, &bus, &i.name);
    Ok(json!({}))
}

/// EnableRule.
pub async fn enable_rule(svc: &Events, ctx: &RequestContext, i: RuleRef) -> EventsResult<Value> {
    set_state(svc, ctx, i, "ENABLED")
}

/// DisableRule.
pub async fn disable_rule(svc: &Events, ctx: &RequestContext, i: RuleRef) -> EventsResult<Value> {
    set_state(svc, ctx, i, "DISABLED")
}

/// DeleteRule input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRuleInput {
    name: String,
    event_bus_name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    force: bool,
}

/// DeleteRule: refuses while targets remain (as AWS); a missing rule is not an error.
pub async fn delete_rule(
    svc: &Events,
    ctx: &RequestContext,
    i: DeleteRuleInput,
) -> EventsResult<Value> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let k = (bus.clone(), i.name.clone());
    let Some(rule) = w.rules.get(&k) else {
        return Ok(json!({}));
    };
    if !rule.targets.is_empty() {
        return Err(EventsError::ValidationException(
            "Rule can't be deleted since it has targets.".into(),
        ));
    }
    let arn = rule.arn.clone();
    svc.persist.rules.delete(&rule_key(ctx, &bus, &i.name))?;
    svc.persist
        .tags
        .delete(&key(&ctx.account_id, &ctx.region, &arn))?;
    w.rules.remove(&k);
    w.tags.remove(&arn);
    if let Some(job) = w.schedules.remove(&arn) {
        svc.core.scheduler.cancel(job);
    }
    let bus_arn = w.buses.get(&bus).map(|b| b.arn.clone()).unwrap_or_default();
    w.reindex(&bus, &bus_arn);
    Ok(json!({}))
}

/// PutTargets input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsInput {
    rule: String,
    event_bus_name: Option<String>,
    targets: Vec<Target>,
}

/// A failed entry of PutTargets / RemoveTargets.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedTarget {
    target_id: String,
    error_code: String,
    error_message: String,
}

/// PutTargets / RemoveTargets output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetsOutput {
    failed_entry_count: usize,
    failed_entries: Vec<FailedTarget>,
}

fn check_target(t: &Target) -> Result<(), String> {
    let parts: Vec<&str> = t.arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2].is_empty() {
        return Err(format!("Parameter {} is not valid.", t.arn));
    }
    if parts[2] == "sqs"
        && parts[5].ends_with(".fifo")
        && t.sqs_parameters
            .as_ref()
            .and_then(|p| p.message_group_id.as_ref())
            .is_none()
    {
        return Err(format!(
            "Parameter(s) SqsParameters must be specified for target: {}.",
            t.id
        ));
    }
    if let Some(p) = &t.input_path {
        crate::transform::JsonPath::parse(p).ok_or_else(|| "Invalid InputPath".to_string())?;
    }
    Ok(())
}

/// PutTargets: adds or updates targets; bad entries are reported, not applied.
pub async fn put_targets(
    svc: &Events,
    ctx: &RequestContext,
    i: PutTargetsInput,
) -> EventsResult<TargetsOutput> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    for t in &i.targets {
        let given = [
            t.input.is_some(),
            t.input_path.is_some(),
            t.input_transformer.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given > 1 {
            return Err(EventsError::ValidationException(format!(
                "Only one of Input, InputPath, or InputTransformer must be provided for target {}.",
                t.id
            )));
        }
        if let Some(input) = &t.input {
            if serde_json::from_str::<Value>(input).is_err() {
                return Err(EventsError::ValidationException(format!(
                    "Input for target {} is not valid JSON text.",
                    t.id
                )));
            }
        }
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    let bus_arn = w.buses.get(&bus).map(|b| b.arn.clone()).unwrap_or_default();
    let k = (bus.clone(), i.rule.clone());
    let rule = w
        .rules
        .get_mut(&k)
        .ok_or_else(|| EventsError::no_rule(&i.rule, &bus))?;
    let mut updated = rule.clone();
    let mut failed = Vec::new();
    for t in i.targets {
        if let Err(m) = check_target(&t) {
            failed.push(FailedTarget {
                target_id: t.id.clone(),
                error_code: "ValidationException".into(),
                error_message: m,
            });
            continue;
        }
        match updated.targets.iter_mut().find(|x| x.id == t.id) {
            Some(x) => *x = t,
            None => updated.targets.push(t),
        }
    }
    if updated.targets.len() > MAX_TARGETS {
        return Err(EventsError::LimitExceededException(
            "The requested resource exceeds the maximum number allowed.".into(),
        ));
    }
    svc.persist
        .rules
        .put(&rule_key(ctx, &bus, &i.rule), &updated)?;
    *rule = updated;
    w.reindex(&bus, &bus_arn);
    Ok(TargetsOutput {
        failed_entry_count: failed.len(),
        failed_entries: failed,
    })
}

/// RemoveTargets input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTargetsInput {
    rule: String,
    event_bus_name: Option<String>,
    ids: Vec<String>,
}

/// RemoveTargets.
pub async fn remove_targets(
    svc: &Events,
    ctx: &RequestContext,
    i: RemoveTargetsInput,
) -> EventsResult<TargetsOutput> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let bus_arn = w.buses.get(&bus).map(|b| b.arn.clone()).unwrap_or_default();
    let k = (bus.clone(), i.rule.clone());
    let rule = w
        .rules
        .get_mut(&k)
        .ok_or_else(|| EventsError::no_rule(&i.rule, &bus))?;
    let mut updated = rule.clone();
    updated.targets.retain(|t| !i.ids.contains(&t.id));
    svc.persist
        .rules
        .put(&rule_key(ctx, &bus, &i.rule), &updated)?;
    *rule = updated;
    w.reindex(&bus, &bus_arn);
    Ok(TargetsOutput {
        failed_entry_count: 0,
        failed_entries: Vec::new(),
    })
}

/// ListTargetsByRule input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsInput {
    rule: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListTargetsByRule output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsOutput {
    targets: Vec<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListTargetsByRule.
pub async fn list_targets_by_rule(
    svc: &Events,
    ctx: &RequestContext,
    i: ListTargetsInput,
) -> EventsResult<ListTargetsOutput> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    let rule = r
        .rules
        .get(&(bus.clone(), i.rule.clone()))
        .ok_or_else(|| EventsError::no_rule(&i.rule, &bus))?;
    let (targets, next_token) = page(rule.targets.clone(), i.next_token.as_deref(), i.limit)?;
    Ok(ListTargetsOutput {
        targets,
        next_token,
    })
}

/// ListRuleNamesByTarget input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListByTargetInput {
    target_arn: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListRuleNamesByTarget output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListByTargetOutput {
    rule_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListRuleNamesByTarget.
pub async fn list_rule_names_by_target(
    svc: &Events,
    ctx: &RequestContext,
    i: ListByTargetInput,
) -> EventsResult<ListByTargetOutput> {
    let bus = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let names: Vec<String> = region
        .read()
        .rules
        .values()
        .filter(|r| r.bus == bus && r.targets.iter().any(|t| t.arn == i.target_arn))
        .map(|r| r.name.clone())
        .collect();
    let (rule_names, next_token) = page(names, i.next_token.as_deref(), i.limit)?;
    Ok(ListByTargetOutput {
        rule_names,
        next_token,
    })
}

/// TestEventPattern input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternInput {
    event_pattern: String,
    event: String,
}

/// TestEventPattern output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternOutput {
    result: bool,
}

/// Envelope fields TestEventPattern requires of the event.
const REQUIRED: &[&str] = &["id", "account", "source", "time", "region", "detail-type"];

/// TestEventPattern.
pub async fn test_event_pattern(
    _svc: &Events,
    _ctx: &RequestContext,
    i: TestEventPatternInput,
) -> EventsResult<TestEventPatternOutput> {
    let pattern = compile_pattern(&i.event_pattern)?;
    let event: Value = serde_json::from_str(&i.event)
        .ok()
        .filter(|v: &Value| REQUIRED.iter().all(|k| v.get(*k).is_some()))
        .ok_or_else(|| EventsError::ValidationException("Parameter Event is not valid.".into()))?;
    Ok(TestEventPatternOutput {
        result: pattern.matches(&event),
    })
}
