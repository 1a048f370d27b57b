//! Trace, group, policy, tag and configuration operations.

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::traces::{self, Trace};
use crate::{filter, Data, Group, Policy, Region, Tag, XRay, XrayError};

pub(crate) fn invalid(m: impl Into<String>) -> XrayError {
    XrayError::InvalidRequestException(m.into())
}

pub(crate) fn opt_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

pub(crate) fn req_str<'a>(v: &'a Value, k: &str) -> Result<&'a str, XrayError> {
    opt_str(v, k).ok_or_else(|| invalid(format!("{k} is required.")))
}

fn num(v: &Value, k: &str) -> Result<f64, XrayError> {
    v.get(k)
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid(format!("{k} is required.")))
}

pub(crate) fn offset(v: &Value) -> Result<usize, XrayError> {
    match opt_str(v, "NextToken") {
        None => Ok(0),
        Some(t) => t.parse().map_err(|_| invalid("Invalid NextToken.")),
    }
}

/// (page, next token) of `all` from offset `start`.
pub(crate) fn page<T: Clone>(all: &[T], start: usize, size: usize) -> (Vec<T>, Option<String>) {
    let page: Vec<T> = all.iter().skip(start).take(size).cloned().collect();
    let next = (start + page.len() < all.len()).then(|| (start + page.len()).to_string());
    (page, next)
}

fn with_next(mut v: Value, next: Option<String>) -> Value {
    if let Some(n) = next {
        v["NextToken"] = json!(n);
    }
    v
}

/// Runs `f` on the region's state (and its tables) under the region's lock.
fn with_region<R>(
    svc: &XRay,
    ctx: &RequestContext,
    f: impl FnOnce(&Region, &mut Data) -> Result<R, XrayError>,
) -> Result<R, XrayError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    f(&region, &mut d)
}

/// Writes the configuration document `key` through, then keeps it in memory.
fn put_config(region: &Region, d: &mut Data, key: String, v: Value) -> Result<(), XrayError> {
    region.config.put(&key, &v)?;
    d.config.insert(key, v);
    Ok(())
}

/// The configuration document `key`, or `default` when it was never set.
fn config_or(
    svc: &XRay,
    ctx: &RequestContext,
    key: &str,
    default: impl FnOnce() -> Value,
) -> Value {
    let region = svc.region(ctx);
    let d = region.lock();
    d.config.get(key).cloned().unwrap_or_else(default)
}

/// Writes the tags of `arn` through, then keeps them in memory.
fn put_tags(region: &Region, d: &mut Data, arn: &str, tags: Vec<Tag>) -> Result<(), XrayError> {
    region.tags.put(arn, &tags)?;
    d.tags.insert(arn.to_string(), tags);
    Ok(())
}

// ---------------------------------------------------------------- segments

pub(crate) async fn put_trace_segments(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let docs = i
        .get("TraceSegmentDocuments")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("TraceSegmentDocuments is required."))?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    let mut unprocessed = Vec::new();
    for doc in docs {
        let Some(doc) = doc.as_str() else { continue };
        if doc.len() > 64 * 1024 {
            unprocessed.push(json!({"ErrorCode": "SegmentTooLarge", "Message": "Segment document exceeds 64 KB."}));
            continue;
        }
        match traces::validate(doc) {
            Ok((v, trace, id)) => {
                region
                    .segments
                    .put(&format!("{trace}/{id}"), &doc.to_string())?;
                d.traces.entry(trace.clone()).or_default().insert(
                    id,
                    traces::Seg {
                        doc: doc.to_string(),
                        v,
                    },
                );
                *d.revisions.entry(trace).or_default() += 1;
            }
            Err((id, code, msg)) => {
                let mut u = json!({"ErrorCode": code, "Message": msg});
                if let Some(id) = id {
                    u["Id"] = json!(id);
                }
                unprocessed.push(u);
            }
        }
    }
    Ok(json!({"UnprocessedTraceSegments": unprocessed}))
}

fn trace_ids(i: &Value) -> Result<Vec<String>, XrayError> {
    Ok(i.get("TraceIds")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("TraceIds is required."))?
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect())
}

pub(crate) async fn batch_get_traces(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let ids = trace_ids(&i)?;
    let region = svc.region(ctx);
    let d = region.lock();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for id in &ids {
        match d.traces.get(id).filter(|t| !crate::expired(id, t, ctx.now)) {
            Some(t) => out.push(json!({
                "Id": id,
                "Duration": duration(t),
                "LimitExceeded": false,
                "Segments": documents(t),
            })),
            None => missing.push(json!(id)),
        }
    }
    Ok(json!({"Traces": out, "UnprocessedTraceIds": missing}))
}

/// A trace's duration (first segment start to last segment end).
fn duration(t: &Trace) -> f64 {
    (traces::end_time(t) - traces::start_time(t)).max(0.0)
}

/// A trace's segment documents as `{Id, Document}` (BatchGetTraces' Segments,
/// ListRetrievedTraces' Spans).
fn documents(t: &Trace) -> Vec<Value> {
    traces::documents(t)
        .into_iter()
        .map(|(sid, doc)| json!({"Id": sid, "Document": doc}))
        .collect()
}

fn parse_filter(s: Option<&str>) -> Result<Option<filter::Expr>, XrayError> {
    match s {
        None => Ok(None),
        Some(x) if x.trim().is_empty() => Ok(None),
        Some(x) => filter::parse(x)
            .map(Some)
            .map_err(|e| invalid(format!("Invalid filter expression: {e}"))),
    }
}

/// Traces of `d` in [start, end] (by `range`: `TraceId` uses the id's time, `Event` and
/// `Service` the segments' times) matching `expr`, sorted by id.
fn matching<'a>(
    d: &'a Data,
    start: f64,
    end: f64,
    range: &str,
    expr: Option<&filter::Expr>,
    now: f64,
) -> (Vec<(&'a String, &'a Trace)>, usize) {
    let mut scanned = 0;
    let mut out: Vec<(&String, &Trace)> = d
        .traces
        .iter()
        .filter(|(id, t)| !crate::expired(id, t, now))
        .filter(|(id, t)| {
            if range == "TraceId" {
                let at = traces::trace_id_time(id);
                at >= start.floor() && at <= end
            } else {
                traces::start_time(t) <= end && traces::end_time(t) >= start
            }
        })
        .inspect(|_| scanned += 1)
        .filter(|(_, t)| expr.is_none_or(|e| filter::eval(e, &traces::facts(t))))
        .collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    (out, scanned)
}

fn time_range(i: &Value) -> Result<(f64, f64), XrayError> {
    let start = num(i, "StartTime")?;
    let end = num(i, "EndTime")?;
    if end < start {
        return Err(invalid("EndTime must be after StartTime."));
    }
    Ok((start, end))
}

pub(crate) async fn get_trace_summaries(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let (start, end) = time_range(&i)?;
    if end - start > 24.0 * 3600.0 {
        return Err(invalid(
            "Time range must be no more than 24 hours. Please specify a smaller time range.",
        ));
    }
    let range = opt_str(&i, "TimeRangeType").unwrap_or("TraceId");
    if !matches!(range, "TraceId" | "Event" | "Service") {
        return Err(invalid(format!("Invalid TimeRangeType {range}.")));
    }
    let expr = parse_filter(opt_str(&i, "FilterExpression"))?;
    let region = svc.region(ctx);
    let d = region.lock();
    let (found, scanned) = matching(&d, start, end, range, expr.as_ref(), ctx.now);
    let all: Vec<Value> = found
        .iter()
        .map(|(id, t)| {
            let mut s = traces::summary(id, t, d.revisions.get(*id).copied().unwrap_or(1));
            s["MatchedEventTime"] = json!(traces::start_time(t));
            s
        })
        .collect();
    let (list, next) = page(&all, offset(&i)?, 100);
    Ok(with_next(
        json!({
            "TraceSummaries": list,
            "ApproximateTime": ctx.now,
            "TracesProcessedCount": scanned,
        }),
        next,
    ))
}

fn find_group(d: &Data, i: &Value, ctx: &RequestContext) -> Result<Group, XrayError> {
    let name = opt_str(i, "GroupName");
    let arn = opt_str(i, "GroupARN");
    if name.is_none() && arn.is_none() {
        return Err(invalid("Either GroupName or GroupARN must be specified."));
    }
    let default = default_group(ctx);
    if name == Some("Default") || arn == Some(default.arn.as_str()) {
        return Ok(default);
    }
    d.groups
        .values()
        .find(|g| name.is_none_or(|n| g.name == n) && arn.is_none_or(|a| g.arn == a))
        .cloned()
        .ok_or_else(|| invalid("Group not found"))
}

/// The traces whose segments overlap [start, end], filtered by the group that `i` names
/// (GroupName or GroupARN), if it names one.
fn group_traces<'a>(
    d: &'a Data,
    i: &Value,
    ctx: &RequestContext,
    (start, end): (f64, f64),
) -> Result<Vec<&'a Trace>, XrayError> {
    let expr = if opt_str(i, "GroupName").is_some() || opt_str(i, "GroupARN").is_some() {
        let g = find_group(d, i, ctx)?;
        parse_filter(g.filter.as_deref())?
    } else {
        None
    };
    let (found, _) = matching(d, start, end, "Event", expr.as_ref(), ctx.now);
    Ok(found.into_iter().map(|x| x.1).collect())
}

pub(crate) async fn get_service_graph(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let (start, end) = time_range(&i)?;
    let region = svc.region(ctx);
    let d = region.lock();
    let found = group_traces(&d, &i, ctx, (start, end))?;
    let services = traces::graph(found.into_iter(), &ctx.account_id);
    Ok(json!({
        "StartTime": start,
        "EndTime": end,
        "Services": services,
        "ContainsOldGroupVersions": false,
    }))
}

pub(crate) async fn get_trace_graph(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let ids = trace_ids(&i)?;
    with_region(svc, ctx, |_, d| {
        let found = ids
            .iter()
            .filter_map(|id| d.traces.get(id).filter(|t| !crate::expired(id, t, ctx.now)));
        Ok(json!({"Services": traces::graph(found, &ctx.account_id)}))
    })
}

pub(crate) async fn get_time_series_service_statistics(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let (start, end) = time_range(&i)?;
    let period = i.get("Period").and_then(Value::as_i64).unwrap_or(60);
    if period < 60 || period % 60 != 0 {
        return Err(invalid("Period must be a multiple of 60 seconds."));
    }
    if i.get("ForecastStatistics").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "Forecast statistics are only available for groups with insights enabled.",
        ));
    }
    // The selector names one service: `service("name")`.
    let service = match opt_str(&i, "EntitySelectorExpression") {
        None => None,
        Some(e) => match filter::parse(e) {
            Ok(filter::Expr::Service(name, None)) if !name.is_empty() => Some(name),
            _ => {
                return Err(invalid(
                    "EntitySelectorExpression must select one service: service(\"name\").",
                ))
            }
        },
    };
    let region = svc.region(ctx);
    let d = region.lock();
    let found = group_traces(&d, &i, ctx, (start, end))?;
    let points = traces::time_series(found.into_iter(), service.as_deref(), period, start, end);
    Ok(json!({"TimeSeriesServiceStatistics": points, "ContainsOldGroupVersions": false}))
}

// ------------------------------------------------------------------ groups

fn default_group(ctx: &RequestContext) -> Group {
    Group {
        name: "Default".into(),
        arn: ctx.arn("xray", "group/Default"),
        filter: None,
        insights: json!({"InsightsEnabled": false, "NotificationsEnabled": false}),
    }
}

fn group_json(g: &Group) -> Value {
    let mut v = json!({
        "GroupName": g.name,
        "GroupARN": g.arn,
        "InsightsConfiguration": g.insights,
    });
    if let Some(f) = &g.filter {
        v["FilterExpression"] = json!(f);
    }
    v
}

fn insights(v: Option<&Value>, old: Option<&Value>) -> Result<Value, XrayError> {
    let get = |k: &str| {
        v.and_then(|x| x.get(k))
            .or_else(|| old.and_then(|x| x.get(k)))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let (ins, notif) = (get("InsightsEnabled"), get("NotificationsEnabled"));
    if notif && !ins {
        return Err(invalid(
            "Notifications can only be enabled when insights are enabled.",
        ));
    }
    Ok(json!({"InsightsEnabled": ins, "NotificationsEnabled": notif}))
}

pub(crate) fn validate_tags(tags: &[Tag]) -> Result<(), XrayError> {
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(invalid(format!("Invalid tag {}.", t.key)));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Tag keys starting with aws: are reserved."));
        }
    }
    if tags.len() > 50 {
        return Err(XrayError::TooManyTagsException(
            "A resource can have at most 50 tags.".into(),
        ));
    }
    Ok(())
}

pub(crate) fn tags_of(i: &Value) -> Result<Vec<Tag>, XrayError> {
    match i.get("Tags") {
        None => Ok(Vec::new()),
        Some(t) => {
            serde_json::from_value(t.clone()).map_err(|e| invalid(format!("Invalid Tags: {e}")))
        }
    }
}

pub(crate) async fn create_group(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let name = req_str(&i, "GroupName")?;
    if name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "Group name must be 1 to 32 alphanumeric characters, dashes or underscores.",
        ));
    }
    let filter = opt_str(&i, "FilterExpression").map(str::to_string);
    parse_filter(filter.as_deref())?;
    let tags = tags_of(&i)?;
    validate_tags(&tags)?;
    let ins = insights(i.get("InsightsConfiguration"), None)?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    if name == "Default" || d.groups.contains_key(name) {
        return Err(invalid(format!("Group {name} already exists.")));
    }
    if d.groups.len() >= 25 {
        return Err(invalid(
            "You have reached the maximum number of groups (25).",
        ));
    }
    let g = Group {
        name: name.to_string(),
        arn: ctx.arn(
            "xray",
            &format!(
                "group/{name}/{}",
                overcast_core::ids::random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 52)
            ),
        ),
        filter,
        insights: ins,
    };
    region.groups.put(name, &g)?;
    if !tags.is_empty() {
        put_tags(&region, &mut d, &g.arn, tags)?;
    }
    let out = group_json(&g);
    d.groups.insert(g.name.clone(), g);
    Ok(json!({"Group": out}))
}

pub(crate) async fn get_group(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    with_region(svc, ctx, |_, d| {
        Ok(json!({"Group": group_json(&find_group(d, &i, ctx)?)}))
    })
}

pub(crate) async fn get_groups(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let mut all = vec![group_json(&default_group(ctx))];
    with_region(svc, ctx, |_, d| {
        all.extend(d.groups.values().map(group_json));
        Ok(())
    })?;
    let (list, next) = page(&all, offset(&i)?, 100);
    Ok(with_next(json!({"Groups": list}), next))
}

/// The group `i` names, which must not be the Default group (that cannot be `changed`).
fn custom_group(
    d: &Data,
    i: &Value,
    ctx: &RequestContext,
    changed: &str,
) -> Result<Group, XrayError> {
    let g = find_group(d, i, ctx)?;
    if g.name == "Default" {
        return Err(invalid(format!("The Default group cannot be {changed}.")));
    }
    Ok(g)
}

pub(crate) async fn update_group(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    let mut g = custom_group(&d, &i, ctx, "updated")?;
    if let Some(f) = opt_str(&i, "FilterExpression") {
        parse_filter(Some(f))?;
        g.filter = Some(f.to_string()).filter(|x| !x.trim().is_empty());
    }
    g.insights = insights(i.get("InsightsConfiguration"), Some(&g.insights))?;
    region.groups.put(&g.name, &g)?;
    let out = group_json(&g);
    d.groups.insert(g.name.clone(), g);
    Ok(json!({"Group": out}))
}

pub(crate) async fn delete_group(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    with_region(svc, ctx, |region, d| {
        let g = custom_group(d, &i, ctx, "deleted")?;
        region.groups.delete(&g.name)?;
        region.tags.delete(&g.arn)?;
        d.groups.remove(&g.name);
        d.tags.remove(&g.arn);
        Ok(json!({}))
    })
}

// -------------------------------------------------------------- encryption

pub(crate) async fn put_encryption_config(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let ty = req_str(&i, "Type")?;
    let key = opt_str(&i, "KeyId");
    let cfg = match (ty, key) {
        ("NONE", None) => json!({"Type": "NONE", "Status": "ACTIVE"}),
        ("NONE", Some(_)) => return Err(invalid("KeyId must not be set when Type is NONE.")),
        ("KMS", k) => {
            let k = k.unwrap_or("alias/aws/xray");
            let arn = if k.starts_with("arn:") {
                k.to_string()
            } else {
                match svc
                    .core
                    .services
                    .call_value(ctx, "kms", "DescribeKey", json!({"KeyId": k}))
                    .await
                {
                    Ok(v) => v["KeyMetadata"]["Arn"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| k.to_string()),
                    Err(e) if e.code == "NotFoundException" => {
                        return Err(invalid(format!("KMS key {k} not found.")))
                    }
                    Err(_) => ctx.arn(
                        "kms",
                        &if k.starts_with("alias/") {
                            k.to_string()
                        } else {
                            format!("key/{k}")
                        },
                    ),
                }
            };
            json!({"Type": "KMS", "KeyId": arn, "Status": "ACTIVE"})
        }
        (other, _) => return Err(invalid(format!("Invalid encryption type {other}."))),
    };
    with_region(svc, ctx, |region, d| {
        put_config(region, d, "encryption".into(), cfg.clone())
    })?;
    let mut out = cfg;
    out["Status"] = json!("UPDATING");
    Ok(json!({"EncryptionConfig": out}))
}

pub(crate) async fn get_encryption_config(
    svc: &XRay,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, XrayError> {
    let cfg = config_or(
        svc,
        ctx,
        "encryption",
        || json!({"Type": "NONE", "Status": "ACTIVE"}),
    );
    Ok(json!({"EncryptionConfig": cfg}))
}

// --------------------------------------------------------------- policies

/// InvalidPolicyRevisionId when `i` gives a PolicyRevisionId that is not `current`'s.
fn check_revision(current: Option<&Policy>, i: &Value) -> Result<(), XrayError> {
    if let Some(rev) = opt_str(i, "PolicyRevisionId") {
        if current.is_none_or(|p| p.revision != rev) {
            return Err(XrayError::InvalidPolicyRevisionIdException(
                "The policy revision id does not match the latest revision.".into(),
            ));
        }
    }
    Ok(())
}

fn policy_json(p: &Policy) -> Value {
    json!({
        "PolicyName": p.name,
        "PolicyDocument": p.document,
        "PolicyRevisionId": p.revision,
        "LastUpdatedTime": p.updated,
    })
}

pub(crate) async fn put_resource_policy(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let name = req_str(&i, "PolicyName")?;
    let doc = req_str(&i, "PolicyDocument")?;
    if name.is_empty() || name.len() > 128 {
        return Err(invalid("PolicyName must be 1 to 128 characters."));
    }
    if doc.len() > 5120 {
        return Err(XrayError::PolicySizeLimitExceededException(
            "Policy document exceeds 5 KB.".into(),
        ));
    }
    let parsed: Value = serde_json::from_str(doc).map_err(|e| {
        XrayError::MalformedPolicyDocumentException(format!("Invalid policy document: {e}"))
    })?;
    if !parsed
        .get("Statement")
        .is_some_and(|s| s.is_array() || s.is_object())
    {
        return Err(XrayError::MalformedPolicyDocumentException(
            "Policy document must have a Statement.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    let old = d.policies.get(name);
    check_revision(old, &i)?;
    if old.is_none() && d.policies.len() >= 5 {
        return Err(XrayError::PolicyCountLimitExceededException(
            "An account can have at most 5 resource policies.".into(),
        ));
    }
    let revision = old
        .and_then(|p| p.revision.parse::<u64>().ok())
        .map_or(1, |r| r + 1)
        .to_string();
    let p = Policy {
        name: name.to_string(),
        document: doc.to_string(),
        revision,
        updated: ctx.now,
    };
    region.policies.put(name, &p)?;
    let out = policy_json(&p);
    d.policies.insert(p.name.clone(), p);
    Ok(json!({"ResourcePolicy": out}))
}

pub(crate) async fn delete_resource_policy(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let name = req_str(&i, "PolicyName")?;
    with_region(svc, ctx, |region, d| {
        check_revision(d.policies.get(name), &i)?;
        region.policies.delete(name)?;
        d.policies.remove(name);
        Ok(json!({}))
    })
}

pub(crate) async fn list_resource_policies(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let all = with_region(svc, ctx, |_, d| {
        Ok(d.policies.values().map(policy_json).collect::<Vec<_>>())
    })?;
    let (list, next) = page(&all, offset(&i)?, 100);
    Ok(with_next(json!({"ResourcePolicies": list}), next))
}

// ------------------------------------------------------------------- tags

/// The tags of the group or sampling rule `arn`; ResourceNotFound when there is none.
fn resource_tags(d: &Data, arn: &str) -> Result<Vec<Tag>, XrayError> {
    let exists = d.groups.values().any(|g| g.arn == arn)
        || d.rules
            .values()
            .any(|r| r.rule.get("RuleARN").and_then(Value::as_str) == Some(arn));
    if !exists {
        return Err(XrayError::ResourceNotFoundException(format!(
            "Resource {arn} not found."
        )));
    }
    Ok(d.tags.get(arn).cloned().unwrap_or_default())
}

/// Changes the tags of the resource `arn` with `f` and writes them through.
fn change_tags(
    svc: &XRay,
    ctx: &RequestContext,
    arn: &str,
    f: impl FnOnce(&mut Vec<Tag>) -> Result<(), XrayError>,
) -> Result<Value, XrayError> {
    with_region(svc, ctx, |region, d| {
        let mut tags = resource_tags(d, arn)?;
        f(&mut tags)?;
        put_tags(region, d, arn, tags)?;
        Ok(json!({}))
    })
}

pub(crate) async fn tag_resource(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let arn = req_str(&i, "ResourceARN")?;
    let new = tags_of(&i)?;
    change_tags(svc, ctx, arn, |tags| {
        for t in new {
            tags.retain(|x| x.key != t.key);
            tags.push(t);
        }
        validate_tags(tags)
    })
}

pub(crate) async fn untag_resource(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let arn = req_str(&i, "ResourceARN")?;
    let keys: Vec<String> = i
        .get("TagKeys")
        .and_then(|k| serde_json::from_value(k.clone()).ok())
        .unwrap_or_default();
    change_tags(svc, ctx, arn, |tags| {
        tags.retain(|t| !keys.contains(&t.key));
        Ok(())
    })
}

pub(crate) async fn list_tags_for_resource(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let arn = req_str(&i, "ResourceARN")?;
    let tags = with_region(svc, ctx, |_, d| resource_tags(d, arn))?;
    let (list, next) = page(&tags, offset(&i)?, 100);
    Ok(with_next(json!({"Tags": list}), next))
}

// --------------------------------------------------------- configuration

pub(crate) async fn put_telemetry_records(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let recs = i
        .get("TelemetryRecords")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("TelemetryRecords is required."))?;
    if recs.iter().any(|r| r.get("Timestamp").is_none()) {
        return Err(invalid("Each telemetry record needs a Timestamp."));
    }
    let region = svc.region(ctx);
    region.lock().telemetry += recs.len() as u64;
    Ok(json!({}))
}

pub(crate) async fn get_trace_segment_destination(
    svc: &XRay,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, XrayError> {
    Ok(config_or(
        svc,
        ctx,
        "destination",
        || json!({"Destination": "XRay", "Status": "ACTIVE"}),
    ))
}

pub(crate) async fn update_trace_segment_destination(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let dest = opt_str(&i, "Destination").unwrap_or("XRay");
    if !matches!(dest, "XRay" | "CloudWatchLogs") {
        return Err(invalid(format!("Invalid destination {dest}.")));
    }
    let cfg = json!({"Destination": dest, "Status": "ACTIVE"});
    with_region(svc, ctx, |region, d| {
        put_config(region, d, "destination".into(), cfg.clone())
    })?;
    Ok(cfg)
}

fn default_indexing(ctx: &RequestContext) -> Value {
    json!({"Name": "Default", "ModifiedAt": ctx.now, "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 1.0, "ActualSamplingPercentage": 1.0}}})
}

pub(crate) async fn get_indexing_rules(
    svc: &XRay,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, XrayError> {
    let rule = config_or(svc, ctx, "indexing/Default", || default_indexing(ctx));
    Ok(json!({"IndexingRules": [rule]}))
}

pub(crate) async fn update_indexing_rule(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let name = req_str(&i, "Name")?;
    if name != "Default" {
        return Err(XrayError::ResourceNotFoundException(format!(
            "Indexing rule {name} not found."
        )));
    }
    let pct = i["Rule"]["Probabilistic"]["DesiredSamplingPercentage"]
        .as_f64()
        .ok_or_else(|| invalid("Rule.Probabilistic.DesiredSamplingPercentage is required."))?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(invalid(
            "DesiredSamplingPercentage must be between 0 and 100.",
        ));
    }
    let rule = json!({"Name": "Default", "ModifiedAt": ctx.now, "Rule": {"Probabilistic": {"DesiredSamplingPercentage": pct, "ActualSamplingPercentage": pct}}});
    with_region(svc, ctx, |region, d| {
        put_config(region, d, "indexing/Default".into(), rule.clone())
    })?;
    Ok(json!({"IndexingRule": rule}))
}

// --------------------------------------------------------------- retrieval

pub(crate) async fn start_trace_retrieval(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let ids = trace_ids(&i)?;
    let (start, end) = time_range(&i)?;
    let token = overcast_core::ids::uuid();
    let rec = json!({"TraceIds": ids, "StartTime": start, "EndTime": end, "Status": "COMPLETE"});
    with_region(svc, ctx, |region, d| {
        put_config(region, d, format!("retrieval/{token}"), rec)
    })?;
    Ok(json!({"RetrievalToken": token}))
}

fn retrieval(d: &Data, i: &Value) -> Result<Value, XrayError> {
    let t = req_str(i, "RetrievalToken")?;
    d.config
        .get(&format!("retrieval/{t}"))
        .cloned()
        .ok_or_else(|| XrayError::ResourceNotFoundException(format!("Retrieval {t} not found.")))
}

fn retrieved<'a>(d: &'a Data, rec: &Value) -> Vec<(String, &'a Trace)> {
    rec["TraceIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str())
        .filter_map(|id| Some((id.to_string(), d.traces.get(id)?)))
        .collect()
}

/// Answers with `f` given the retrieval `i` names (ResourceNotFound when there is none).
fn read_retrieval(
    svc: &XRay,
    ctx: &RequestContext,
    i: &Value,
    f: impl FnOnce(&Data, &Value) -> Result<Value, XrayError>,
) -> Result<Value, XrayError> {
    with_region(svc, ctx, |_, d| f(d, &retrieval(d, i)?))
}

pub(crate) async fn list_retrieved_traces(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    read_retrieval(svc, ctx, &i, |d, rec| {
        let format = opt_str(&i, "TraceFormat").unwrap_or("XRAY");
        if format != "XRAY" {
            return Err(invalid("Only the XRAY trace format is supported."));
        }
        let traces: Vec<Value> = retrieved(d, rec)
            .into_iter()
            .map(|(id, t)| json!({"Id": id, "Duration": duration(t), "Spans": documents(t)}))
            .collect();
        Ok(json!({"RetrievalStatus": rec["Status"], "TraceFormat": format, "Traces": traces}))
    })
}

pub(crate) async fn get_retrieved_traces_graph(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    read_retrieval(svc, ctx, &i, |d, rec| {
        let list = retrieved(d, rec);
        let services: Vec<Value> = traces::graph(list.iter().map(|x| x.1), &ctx.account_id)
            .into_iter()
            .map(|s| json!({"Service": s, "Links": []}))
            .collect();
        Ok(json!({"RetrievalStatus": rec["Status"], "Services": services}))
    })
}

pub(crate) async fn cancel_trace_retrieval(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    with_region(svc, ctx, |region, d| {
        let mut rec = retrieval(d, &i)?;
        rec["Status"] = json!("CANCELLED");
        let key = format!("retrieval/{}", req_str(&i, "RetrievalToken")?);
        put_config(region, d, key, rec)?;
        Ok(json!({}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_revision_must_be_the_current_one() {
        let p = Policy {
            name: "p".into(),
            document: "{}".into(),
            revision: "2".into(),
            updated: 0.0,
        };
        assert!(check_revision(Some(&p), &json!({})).is_ok());
        assert!(check_revision(None, &json!({})).is_ok());
        assert!(check_revision(Some(&p), &json!({"PolicyRevisionId": "2"})).is_ok());
        for (current, rev) in [(Some(&p), "1"), (None, "2")] {
            assert!(matches!(
                check_revision(current, &json!({"PolicyRevisionId": rev})),
                Err(XrayError::InvalidPolicyRevisionIdException(_))
            ));
        }
    }
}
