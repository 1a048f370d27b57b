//! Rotation: RotateSecret runs the rotation Lambda through the four steps (`createSecret`,
//! `setSecret`, `testSecret`, `finishSecret`) with the version's ClientRequestToken, checks
//! that AWSCURRENT moved to the new version, and schedules the next rotation on the virtual
//! clock (`AutomaticallyAfterDays`, or `rate(...)` / `cron(...)` schedule expressions).
//! CancelRotateSecret turns automatic rotation off.

use overcast_core::{AwsError, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SmError;
use crate::secrets::{lookup, modify, not_replica};
use crate::state::{Secret, DAY};
use crate::SecretsManager;

/// The four steps of the rotation protocol, in order.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// RotationRules.
#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Rules {
    automatically_after_days: Option<i64>,
    duration: Option<String>,
    schedule_expression: Option<String>,
}

impl Rules {
    fn to_value(&self) -> Value {
        let mut v = json!({});
        if let Some(d) = self.automatically_after_days {
            v["AutomaticallyAfterDays"] = json!(d);
        }
        if let Some(d) = &self.duration {
            v["Duration"] = json!(d);
        }
        if let Some(s) = &self.schedule_expression {
            v["ScheduleExpression"] = json!(s);
        }
        v
    }
}

/// Seconds between rotations a rule set asks for, or the next instant for cron schedules.
pub fn next_rotation(rules: &Value, now: f64) -> Result<Option<f64>, SmError> {
    if let Some(days) = rules.get("AutomaticallyAfterDays").and_then(Value::as_i64) {
        if !(1..=1000).contains(&days) {
            return Err(SmError::InvalidParameterException(
                "AutomaticallyAfterDays must be between 1 and 1000.".into(),
            ));
        }
        return Ok(Some(now + days as f64 * DAY));
    }
    let Some(expr) = rules.get("ScheduleExpression").and_then(Value::as_str) else {
        return Ok(None);
    };
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let n: i64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let unit = parts.next().unwrap_or("");
        let secs = match unit {
            "day" | "days" => n as f64 * DAY,
            "hour" | "hours" => n as f64 * 3600.0,
            _ => 0.0,
        };
        if n < 1 || !(4.0 * 3600.0..=1000.0 * DAY).contains(&secs) {
            return Err(SmError::InvalidParameterException(format!(
                "Invalid schedule expression: {expr}"
            )));
        }
        return Ok(Some(now + secs));
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return cron_next(inner, now).map(Some).ok_or_else(|| {
            SmError::InvalidParameterException(format!("Invalid schedule expression: {expr}"))
        });
    }
    Err(SmError::InvalidParameterException(format!(
        "Invalid schedule expression: {expr}"
    )))
}

fn field_matches(field: &str, v: u32) -> Option<bool> {
    if field == "*" || field == "?" {
        return Some(true);
    }
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok()?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, u32::MAX)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let a: u32 = range.parse().ok()?;
            (a, if step > 1 { u32::MAX } else { a })
        };
        if (lo..=hi).contains(&v) && (v - lo).is_multiple_of(step.max(1)) {
            return Some(true);
        }
    }
    Some(false)
}

/// Civil date of a day number since the epoch (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Next instant after `now` an AWS cron expression (`min hour dom month dow year`) matches,
/// searched hour by hour over two years (numbers, lists, ranges, steps, `*` and `?`).
pub fn cron_next(expr: &str, now: f64) -> Option<f64> {
    let f: Vec<&str> = expr.split_whitespace().collect();
    if f.len() != 6 {
        return None;
    }
    let minute: u32 = match f[0] {
        "*" | "?" => 0,
        m => m.split(',').next()?.parse().ok()?,
    };
    let start = (now / 3600.0).floor() as i64;
    for h in start..start + 2 * 366 * 24 {
        let t = h * 3600 + i64::from(minute) * 60;
        if (t as f64) <= now {
            continue;
        }
        let days = h.div_euclid(24);
        let hour = h.rem_euclid(24) as u32;
        let (y, mo, d) = civil(days);
        let dow = ((days + 4).rem_euclid(7) + 1) as u32; // 1 = Sunday
        if field_matches(f[1], hour)?
            && field_matches(f[2], d)?
            && field_matches(f[3], mo)?
            && field_matches(f[4], dow)?
            && field_matches(f[5], y as u32)?
        {
            return Some(t as f64);
        }
    }
    None
}

/// RotateSecret input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateInput {
    secret_id: String,
    client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<Rules>,
    rotate_immediately: Option<bool>,
}

/// RotateSecret.
pub async fn rotate_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: RotateInput,
) -> Result<Value, SmError> {
    let s = lookup(svc, ctx, &i.secret_id)?;
    not_replica(&s)?;
    s.not_deleted("")?;
    let lambda = i
        .rotation_lambda_arn
        .clone()
        .or(s.rotation_lambda.clone())
        .ok_or_else(|| {
            SmError::InvalidRequestException(
                "No Lambda rotation function ARN is associated with this secret.".into(),
            )
        })?;
    if let Some(d) = i
        .rotation_rules
        .as_ref()
        .and_then(|r| r.duration.as_deref())
    {
        let hours = d.strip_suffix('h').and_then(|h| h.parse::<u32>().ok());
        if !hours.is_some_and(|h| (1..=24).contains(&h)) {
            return Err(SmError::InvalidParameterException(format!(
                "Invalid Duration {d}: use a number of hours from 1h to 24h."
            )));
        }
    }
    let rules = match &i.rotation_rules {
        Some(r) => {
            if r.automatically_after_days.is_some() && r.schedule_expression.is_some() {
                return Err(SmError::InvalidParameterException(
                    "You can't specify both AutomaticallyAfterDays and ScheduleExpression.".into(),
                ));
            }
            Some(r.to_value())
        }
        None => s.rotation_rules.clone(),
    };
    let next = match &rules {
        Some(r) => next_rotation(r, ctx.now)?,
        None => None,
    };
    let s = modify(svc, ctx, &s.arn, |s| {
        s.rotation_enabled = true;
        s.rotation_lambda = Some(lambda.clone());
        s.rotation_rules = rules.clone();
        s.next_rotation = next;
        Ok(())
    })?;
    svc.note_rotating(ctx)?;
    svc.arm(ctx, &s);
    if i.rotate_immediately == Some(false) {
        return Ok(json!({"ARN": s.arn, "Name": s.name}));
    }
    let version = run_rotation(svc, ctx, &s, &lambda, i.client_request_token).await?;
    Ok(json!({"ARN": s.arn, "Name": s.name, "VersionId": version}))
}

/// Runs the four steps; returns the new version id.
pub(crate) async fn run_rotation(
    svc: &SecretsManager,
    ctx: &RequestContext,
    s: &Secret,
    lambda: &str,
    token: Option<String>,
) -> Result<String, SmError> {
    // A rotation left incomplete is re-attempted with its token.
    let pending = s
        .staged("AWSPENDING")
        .filter(|v| !v.stages.iter().any(|x| x == "AWSCURRENT"))
        .map(|v| v.id.clone());
    let token = token.or(pending).unwrap_or_else(overcast_core::ids::uuid);
    for step in STEPS {
        invoke_step(svc, ctx, lambda, step, &s.arn, &token).await?;
    }
    let now = svc.core.clock.now();
    modify(svc, ctx, &s.arn, |s| {
        let current = s.staged("AWSCURRENT").map(|v| v.id.clone());
        if current.as_deref() != Some(token.as_str()) {
            return Err(SmError::InvalidRequestException(format!(
                "Rotation failed: finishSecret did not move AWSCURRENT to version {token}."
            )));
        }
        s.remove_stage("AWSPENDING", &token);
        s.last_rotated = Some(now);
        if let Some(r) = &s.rotation_rules {
            s.next_rotation = next_rotation(r, now).ok().flatten();
        }
        Ok(())
    })
    .map(|s| svc.arm(ctx, &s))?;
    Ok(token)
}

/// The event a rotation function receives.
pub fn step_event(step: &str, arn: &str, token: &str) -> Value {
    json!({"Step": step, "SecretId": arn, "ClientRequestToken": token, "RotationToken": token})
}

async fn invoke_step(
    svc: &SecretsManager,
    ctx: &RequestContext,
    lambda: &str,
    step: &str,
    arn: &str,
    token: &str,
) -> Result<(), SmError> {
    let payload = serde_json::to_vec(&step_event(step, arn, token)).unwrap_or_default();
    let out = svc
        .core
        .services
        .call_value(
            ctx,
            "lambda",
            "Invoke",
            json!({
                "FunctionName": lambda,
                "InvocationType": "RequestResponse",
                "Payload": overcast_wire::value::encode_base64(&payload),
            }),
        )
        .await
        .map_err(|e: AwsError| match e.code.as_ref() {
            "NotImplemented" | "ServiceUnavailable" => SmError::Aws(e),
            _ => SmError::Aws(AwsError::new(
                "AccessDeniedException",
                format!(
                    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com. ({}: {})",
                    e.code, e.message
                ),
            )),
        })?;
    if let Some(fe) = out.get("FunctionError").and_then(Value::as_str) {
        let body = out
            .get("Payload")
            .and_then(Value::as_str)
            .and_then(|p| overcast_wire::value::decode_base64(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        tracing::warn!(secret = %arn, step, error = %body, "rotation step failed");
        return Err(SmError::InvalidRequestException(format!(
            "Rotation failed at step {step}: the rotation function returned {fe}: {body}"
        )));
    }
    Ok(())
}

/// SecretId only.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: String,
}

/// CancelRotateSecret: automatic rotation off (staging labels are left as they are).
pub async fn cancel_rotate_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    let s = modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.not_deleted("")?;
        s.rotation_enabled = false;
        s.next_rotation = None;
        Ok(())
    })?;
    let mut out = json!({"ARN": s.arn, "Name": s.name});
    if let Some(v) = s
        .staged("AWSPENDING")
        .filter(|v| !v.stages.iter().any(|x| x == "AWSCURRENT"))
    {
        out["VersionId"] = json!(v.id);
    }
    Ok(out)
}

impl SecretsManager {
    /// Schedules `s`'s next rotation on the virtual clock.
    pub(crate) fn arm(&self, ctx: &RequestContext, s: &Secret) {
        // Replicas follow their primary's rotations.
        let (Some(at), true, None) = (s.next_rotation, s.rotation_enabled, &s.primary_region)
        else {
            return;
        };
        let me = self.me.clone();
        let account = ctx.account_id.clone();
        let region = ctx.region.clone();
        let name = s.name.clone();
        self.core.scheduler.at(at, move || {
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            rt.spawn(async move {
                if let Some(svc) = me.upgrade() {
                    svc.scheduled_rotation(&account, &region, &name).await;
                }
            });
        });
    }

    /// Rotates `name` if its rotation is (still) due.
    async fn scheduled_rotation(&self, account: &str, region: &str, name: &str) {
        let ctx = RequestContext::background(
            "secretsmanager",
            "RotateSecret",
            account,
            region,
            self.core.clock.now(),
        );
        let Ok(s) = lookup(self, &ctx, name) else {
            return;
        };
        let due = s.rotation_enabled
            && s.deleted.is_none()
            && s.next_rotation.is_some_and(|t| t <= ctx.now + 1e-3);
        let Some(lambda) = s.rotation_lambda.clone().filter(|_| due) else {
            return;
        };
        if let Err(e) = run_rotation(self, &ctx, &s, &lambda, None).await {
            let e: AwsError = e.into();
            tracing::warn!(secret = %s.arn, code = %e.code, "scheduled rotation failed");
            // Retry at the next interval, as AWS does after a failed rotation.
            let now = ctx.now;
            if let Ok(s) = modify(self, &ctx, &s.arn, |s| {
                if let Some(r) = &s.rotation_rules {
                    s.next_rotation = next_rotation(r, now).ok().flatten();
                }
                Ok(())
            }) {
                self.arm(&ctx, &s);
            }
        }
    }

    /// Re-arms the rotation schedules of a region loaded from the store.
    pub(crate) fn arm_region(&self, ctx: &RequestContext, r: &crate::state::Region) {
        let secrets: Vec<Secret> = r
            .read(ctx.now)
            .values()
            .filter(|s| s.rotation_enabled && s.next_rotation.is_some())
            .cloned()
            .collect();
        for s in secrets {
            self.arm(ctx, &s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let now = 1_700_000_000.0; // 2023-11-14T22:13:20Z, a Tuesday
        let r = json!({"AutomaticallyAfterDays": 30});
        assert_eq!(next_rotation(&r, now).unwrap(), Some(now + 30.0 * DAY));
        let r = json!({"ScheduleExpression": "rate(10 days)"});
        assert_eq!(next_rotation(&r, now).unwrap(), Some(now + 10.0 * DAY));
        assert!(next_rotation(&json!({"ScheduleExpression": "rate(1 hours)"}), now).is_err());
        assert!(next_rotation(&json!({"ScheduleExpression": "every day"}), now).is_err());
        // Every day at 16:00 UTC -> 2023-11-15T16:00:00Z.
        assert_eq!(cron_next("0 16 * * ? *", now), Some(1_700_064_000.0));
        // First Sunday-ish: day-of-week 1 (Sunday) at 00:00 -> 2023-11-19.
        assert_eq!(cron_next("0 0 ? * 1 *", now), Some(1_700_352_000.0));
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(next_rotation(&json!({}), now).unwrap(), None);
    }

    #[test]
    fn step_events_carry_the_token() {
        let e = step_event("createSecret", "arn:x", "tok");
        assert_eq!(e["Step"], "createSecret");
        assert_eq!(e["ClientRequestToken"], "tok");
        assert_eq!(e["SecretId"], "arn:x");
    }
}
