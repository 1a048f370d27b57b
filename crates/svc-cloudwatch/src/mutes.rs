//! Alarm mute rules (Put/Get/List/DeleteAlarmMuteRule): `cron(m h dom mon dow)` recurring
//! windows and `at(yyyy-MM-ddThh:mm)` one-time windows of an ISO 8601 duration (PT1M to
//! P15D), in a time zone (UTC, `Etc/GMT±N` and common IANA zones at their standard offsets,
//! as EventBridge Scheduler reads them), between StartDate and ExpireDate. While a rule is
//! ACTIVE its target alarms still evaluate and change state, but their actions are not run.

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::error::CwError;
use crate::state::Data;
use crate::streams::Stored;
use crate::CloudWatch;

/// Parses an ISO 8601 duration (`P2DT12H`, `PT30M`, `P1W`) into seconds.
pub fn duration(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0i64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let mul = units.iter().find(|u| u.0 == c)?.1;
                let part = num.parse::<i64>().ok()?.checked_mul(mul)?;
                total = total.checked_add(part)?;
                num.clear();
                any = true;
            }
        }
        num.is_empty().then_some(())
    };
    take(date, &[('W', 7 * 86400), ('D', 86400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    any.then_some(total)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (minute, hour, day of month, month, day of week with Sunday = 0) of epoch seconds.
fn fields(t: i64) -> (u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let dow = (days + 4).rem_euclid(7);
    (
        (secs / 60 % 60) as u32,
        (secs / 3600) as u32,
        d as u32,
        m as u32,
        dow as u32,
    )
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One cron field: the allowed values.
fn cron_field(s: &str, lo: u32, hi: u32, names: &[&str], base: u32) -> Option<Vec<u32>> {
    let val = |x: &str| -> Option<u32> {
        let up = x.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == up) {
            return Some(i as u32 + base);
        }
        x.parse().ok().filter(|v| (lo..=hi).contains(v))
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().ok().filter(|x| *x > 0)?),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (val(a)?, val(b)?)
        } else {
            let v = val(range)?;
            (v, if part.contains('/') { hi } else { v })
        };
        if a > b {
            return None;
        }
        out.extend((a..=b).step_by(step as usize));
    }
    Some(out)
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// One time, local epoch seconds.
    At(i64),
    /// minute, hour, day of month, month, day of week.
    Cron([Vec<u32>; 5], bool, bool),
}

/// Parses a mute rule schedule expression.
pub fn parse_schedule(s: &str) -> Option<Schedule> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("at(").and_then(|x| x.strip_suffix(')')) {
        let (date, time) = inner.split_once('T')?;
        let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
        let (h, mi) = (t.next()??, t.next()??);
        if !(1970..=9999).contains(&y)
            || !(1..=12).contains(&m)
            || !(1..=31).contains(&day)
            || !(0..=23).contains(&h)
            || !(0..=59).contains(&mi)
        {
            return None;
        }
        return Some(Schedule::At(
            days_from_civil(y, m, day) * 86400 + h * 3600 + mi * 60,
        ));
    }
    let inner = s.strip_prefix("cron(")?.strip_suffix(')')?;
    let f: Vec<&str> = inner.split_whitespace().collect();
    if f.len() != 5 {
        return None;
    }
    Some(Schedule::Cron(
        [
            cron_field(f[0], 0, 59, &[], 0)?,
            cron_field(f[1], 0, 23, &[], 0)?,
            cron_field(f[2], 1, 31, &[], 0)?,
            cron_field(f[3], 1, 12, &MONTHS, 1)?,
            cron_field(f[4], 0, 7, &DAYS, 0)?
                .into_iter()
                .map(|d| d % 7)
                .collect(),
        ],
        f[2] == "*",
        f[4] == "*",
    ))
}

fn cron_matches(c: &[Vec<u32>; 5], dom_any: bool, dow_any: bool, local: i64) -> bool {
    let (mi, h, d, m, w) = fields(local);
    let day = match (dom_any, dow_any) {
        (true, true) => true,
        (false, true) => c[2].contains(&d),
        (true, false) => c[4].contains(&w),
        // Standard cron: either day field matching is enough when both are restricted.
        (false, false) => c[2].contains(&d) || c[4].contains(&w),
    };
    day && c[0].contains(&mi) && c[1].contains(&h) && c[3].contains(&m)
}

/// The status of a mute rule at `now` (epoch seconds): `SCHEDULED`, `ACTIVE` or `EXPIRED`.
pub fn status(v: &Value, now: f64) -> &'static str {
    let sched = &v["Rule"]["Schedule"];
    let (Some(expr), Some(dur)) = (
        sched["Expression"].as_str().and_then(parse_schedule),
        sched["Duration"].as_str().and_then(duration),
    ) else {
        return "EXPIRED";
    };
    // The zone's UTC offset now (daylight saving time included).
    let off = svc_scheduler::timing::Zone::parse(sched["Timezone"].as_str())
        .map_or(0, |z| z.offset_at(now.floor() as i64));
    let start = v["StartDate"].as_f64();
    let expire = v["ExpireDate"].as_f64();
    if expire.is_some_and(|e| now >= e) {
        return "EXPIRED";
    }
    let now_i = now.floor() as i64;
    let begun = |occ_utc: i64| start.is_none_or(|s| occ_utc as f64 >= s);
    match expr {
        Schedule::At(local) => {
            let at = local - off;
            if now_i >= at + dur {
                "EXPIRED"
            } else if now_i >= at && begun(at) {
                "ACTIVE"
            } else {
                "SCHEDULED"
            }
        }
        Schedule::Cron(c, dom_any, dow_any) => {
            // An occurrence in (now - duration, now] makes the rule active.
            let now_min = now_i.div_euclid(60) * 60;
            let mut t = now_min;
            while t > now_i - dur {
                if cron_matches(&c, dom_any, dow_any, t + off) && begun(t) {
                    return "ACTIVE";
                }
                t -= 60;
            }
            "SCHEDULED"
        }
    }
}

/// True when an ACTIVE mute rule targets alarm `name` at `now`.
pub fn muted(d: &Data, name: &str, now: f64) -> bool {
    d.mute_rules.values().any(|r| {
        r.v["MuteTargets"]["AlarmNames"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(name)))
            && status(&r.v, now) == "ACTIVE"
    })
}

fn out_of(v: &Value, now: f64) -> Value {
    let mut o = v.clone();
    o["Status"] = json!(status(v, now));
    o
}

pub(crate) async fn put_alarm_mute_rule(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = i["Name"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter Name is required."))?;
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(CwError::invalid(
            "The value for the parameter Name is invalid.",
        ));
    }
    let sched = &i["Rule"]["Schedule"];
    let expr = sched["Expression"].as_str().unwrap_or("");
    let parsed = parse_schedule(expr).ok_or_else(|| {
        CwError::invalid(format!(
            "The schedule expression {expr} is invalid. Use cron(Minutes Hours Day-of-month Month Day-of-week) or at(yyyy-MM-ddThh:mm)."
        ))
    })?;
    let dur = sched["Duration"].as_str().unwrap_or("");
    match duration(dur) {
        Some(d) if (60..=15 * 86400).contains(&d) => {}
        _ => {
            return Err(CwError::invalid(format!(
                "The duration {dur} is invalid. Use an ISO 8601 duration between PT1M and P15D."
            )))
        }
    }
    if let Some(z) = sched["Timezone"].as_str() {
        if svc_scheduler::timing::Zone::parse(Some(z)).is_none() {
            return Err(CwError::invalid(format!("The time zone {z} is not valid.")));
        }
    }
    if let (Some(s), Some(e)) = (i["StartDate"].as_f64(), i["ExpireDate"].as_f64()) {
        if e <= s {
            return Err(CwError::invalid("ExpireDate must be after StartDate."));
        }
    }
    let targets: Vec<&str> = i["MuteTargets"]["AlarmNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if targets.len() > 100 {
        return Err(CwError::invalid(
            "A mute rule can target at most 100 alarms.",
        ));
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for t in i["Tags"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (t["Key"].as_str(), t["Value"].as_str()) {
            tags.retain(|x| x.0 != k);
            tags.push((k.to_string(), v.to_string()));
        }
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    if !d.mute_rules.contains_key(name) && d.mute_rules.len() >= 1000 {
        return Err(CwError::LimitExceededFault(
            "You have reached the maximum number of alarm mute rules.".into(),
        ));
    }
    let mut v = json!({
        "Name": name,
        "AlarmMuteRuleArn": ctx.arn("cloudwatch", &format!("alarm-mute-rule:{name}")),
        "Rule": i["Rule"],
        "LastUpdatedTimestamp": ctx.now,
        "MuteType": if matches!(parsed, Schedule::At(_)) { "ONE_TIME" } else { "RECURRING" },
    });
    for k in ["Description", "MuteTargets", "StartDate", "ExpireDate"] {
        if !i[k].is_null() {
            v[k] = i[k].clone();
        }
    }
    let mut all = d
        .mute_rules
        .get(name)
        .map(|x| x.tags.clone())
        .unwrap_or_default();
    for (k, val) in tags {
        all.retain(|x| x.0 != k);
        all.push((k, val));
    }
    let st = Stored { v, tags: all };
    region.mute_rules.put(name, &st)?;
    d.mute_rules.insert(name.to_string(), st);
    Ok(json!({}))
}

pub(crate) async fn get_alarm_mute_rule(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = i["AlarmMuteRuleName"].as_str().unwrap_or("");
    let region = svc.region(ctx);
    let d = region.lock();
    d.mute_rules
        .get(name)
        .map(|r| out_of(&r.v, ctx.now))
        .ok_or_else(|| {
            CwError::ResourceNotFoundException(format!("Alarm mute rule {name} does not exist."))
        })
}

pub(crate) async fn list_alarm_mute_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let start: usize = match i["NextToken"].as_str() {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let size = i["MaxRecords"]
        .as_u64()
        .map_or(100, |m| (m as usize).clamp(1, 100));
    let statuses: Vec<&str> = i["Statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let alarm = i["AlarmName"].as_str();
    let region = svc.region(ctx);
    let d = region.lock();
    if let Some(a) = alarm {
        if !d.alarms.contains_key(a) {
            return Err(CwError::ResourceNotFoundException(format!(
                "Alarm {a} does not exist."
            )));
        }
    }
    let all: Vec<Value> = d
        .mute_rules
        .values()
        .filter(|r| {
            alarm.is_none_or(|a| {
                r.v["MuteTargets"]["AlarmNames"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(a)))
            })
        })
        .map(|r| {
            let st = status(&r.v, ctx.now);
            let mut o = json!({
                "AlarmMuteRuleArn": r.v["AlarmMuteRuleArn"],
                "Status": st,
                "MuteType": r.v["MuteType"],
                "LastUpdatedTimestamp": r.v["LastUpdatedTimestamp"],
            });
            if !r.v["ExpireDate"].is_null() {
                o["ExpireDate"] = r.v["ExpireDate"].clone();
            }
            o
        })
        .filter(|o| statuses.is_empty() || statuses.contains(&o["Status"].as_str().unwrap_or("")))
        .collect();
    let list: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
    let mut out = json!({"AlarmMuteRuleSummaries": list});
    if start + size < all.len() {
        out["NextToken"] = json!((start + size).to_string());
    }
    Ok(out)
}

pub(crate) async fn delete_alarm_mute_rule(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = i["AlarmMuteRuleName"].as_str().unwrap_or("");
    let region = svc.region(ctx);
    let mut d = region.lock();
    if d.mute_rules.remove(name).is_some() {
        region.mute_rules.delete(name)?;
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("PT4H"), Some(14_400));
        assert_eq!(duration("P2DT12H"), Some(216_000));
        assert_eq!(duration("PT1M"), Some(60));
        assert_eq!(duration("P7D"), Some(604_800));
        assert_eq!(duration("P"), None);
        assert_eq!(duration("PT"), None);
        assert_eq!(duration("4H"), None);
        assert_eq!(duration("PT4X"), None);
        assert_eq!(duration("P999999999999999999D"), None);
    }

    #[test]
    fn schedules() {
        // 2024-05-10T14:00Z
        assert_eq!(
            parse_schedule("at(2024-05-10T14:00)"),
            Some(Schedule::At(1_715_349_600))
        );
        assert!(parse_schedule("cron(0 2 * * SUN)").is_some());
        assert!(parse_schedule("cron(0 1 1 JAN-MAR *)").is_some());
        assert!(parse_schedule("cron(0 2 * *)").is_none());
        assert!(parse_schedule("cron(61 2 * * *)").is_none());
        assert!(parse_schedule("rate(5 minutes)").is_none());
        assert!(parse_schedule("at(99999999999999-01-01T00:00)").is_none());
        let rule = |expr: &str, dur: &str| json!({"Rule": {"Schedule": {"Expression": expr, "Duration": dur}}});
        let t = 1_715_349_600.0; // Friday 2024-05-10 14:00 UTC
        let at = rule("at(2024-05-10T14:00)", "PT1H");
        assert_eq!(status(&at, t - 60.0), "SCHEDULED");
        assert_eq!(status(&at, t + 60.0), "ACTIVE");
        assert_eq!(status(&at, t + 3600.0), "EXPIRED");
        let daily = rule("cron(0 14 * * *)", "PT30M");
        assert_eq!(status(&daily, t + 600.0), "ACTIVE");
        assert_eq!(status(&daily, t + 1800.0), "SCHEDULED");
        assert_eq!(
            status(&rule("cron(0 14 * * FRI)", "PT1H"), t + 60.0),
            "ACTIVE"
        );
        assert_eq!(
            status(&rule("cron(0 14 * * MON)", "PT1H"), t + 60.0),
            "SCHEDULED"
        );
        let mut tz = rule("cron(0 16 * * *)", "PT1H");
        tz["Rule"]["Schedule"]["Timezone"] = json!("Europe/Paris"); // UTC+2 in May (summer time)
        assert_eq!(status(&tz, t + 60.0), "ACTIVE");
        assert_eq!(status(&tz, t + 3600.0 + 60.0), "SCHEDULED");
        let mut exp = daily.clone();
        exp["ExpireDate"] = json!(t);
        assert_eq!(status(&exp, t + 60.0), "EXPIRED");
    }
}
