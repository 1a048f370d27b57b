//! Schedule expressions — `rate(n unit)` and `cron(min hour dom month dow year)` — and rules
//! that fire on the virtual clock with AWS's "Scheduled Event".

use std::sync::{Arc, Weak};

use serde_json::json;
use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use crate::deliver;
use crate::put_events::envelope;
use crate::Shared;

/// One cron field: allowed values as a bit set, plus the day specials.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    bits: u128,
    any: bool,
}

impl Field {
    fn has(&self, v: u32) -> bool {
        self.any || (v < 128 && self.bits & (1u128 << v) != 0)
    }
}

/// Day-of-month specials.
#[derive(Debug, Clone, PartialEq)]
enum Dom {
    Any,
    Days(Field),
    Last,
    /// Nearest weekday to this day.
    Weekday(u32),
}

/// Day-of-week specials (1 = Sunday).
#[derive(Debug, Clone, PartialEq)]
enum Dow {
    Any,
    Days(Field),
    /// Last given weekday of the month.
    Last(u32),
    /// nth given weekday of the month: (weekday, n).
    Nth(u32, u32),
}

/// A cron expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Field,
    hours: Field,
    dom: Dom,
    months: Field,
    dow: Dow,
    years: Field,
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every so many seconds.
    Rate(i64),
    /// Cron.
    Cron(Cron),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, names: &[&str], base: u32) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Some(i as u32 + base);
    }
    s.parse().ok()
}

fn field(s: &str, lo: u32, hi: u32, names: &[&str]) -> Option<Field> {
    if s == "*" || s == "?" {
        return Some(Field { bits: 0, any: true });
    }
    let mut bits = 0u128;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().ok().filter(|x| *x > 0)?),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, lo)?, value(b, names, lo)?)
        } else {
            let a = value(range, names, lo)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return None;
        }
        let mut v = a;
        while v <= b {
            bits |= 1u128 << v;
            v += step;
        }
    }
    Some(Field { bits, any: false })
}

impl Cron {
    /// Parses the six fields of `cron(...)`.
    pub fn parse(s: &str) -> Option<Cron> {
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 6 {
            return None;
        }
        // Exactly one of day-of-month and day-of-week is `?`.
        if (f[2] == "?") == (f[4] == "?") {
            return None;
        }
        let dom = match f[2] {
            "?" | "*" => Dom::Any,
            "L" => Dom::Last,
            d if d.ends_with('W') => Dom::Weekday(
                d[..d.len() - 1]
                    .parse()
                    .ok()
                    .filter(|x| (1..=31).contains(x))?,
            ),
            d => Dom::Days(field(d, 1, 31, &[])?),
        };
        let dow = match f[4] {
            "?" | "*" => Dow::Any,
            d if d.contains('#') => {
                let (w, n) = d.split_once('#')?;
                let w = value(w, &DAYS, 1).filter(|x| (1..=7).contains(x))?;
                Dow::Nth(w, n.parse().ok().filter(|x| (1..=5).contains(x))?)
            }
            "L" => Dow::Last(7),
            d if d.ends_with('L') => {
                Dow::Last(value(&d[..d.len() - 1], &DAYS, 1).filter(|x| (1..=7).contains(x))?)
            }
            d => Dow::Days(field(d, 1, 7, &DAYS)?),
        };
        Some(Cron {
            minutes: field(f[0], 0, 59, &[])?,
            hours: field(f[1], 0, 23, &[])?,
            dom,
            months: field(f[3], 1, 12, &MONTHS)?,
            dow,
            years: if f[5] == "*" {
                Field { bits: 0, any: true }
            } else {
                // Years are stored as offsets from 1970.
                let shifted: Vec<String> = f[5]
                    .split(',')
                    .map(|p| {
                        p.split('/')
                            .enumerate()
                            .map(|(i, x)| {
                                if i == 0 {
                                    x.split('-')
                                        .map(|y| {
                                            y.parse::<u32>().map_or("x".into(), |y| {
                                                y.saturating_sub(1970).to_string()
                                            })
                                        })
                                        .collect::<Vec<_>>()
                                        .join("-")
                                } else {
                                    x.to_string()
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect();
                field(&shifted.join(","), 0, 127, &[])?
            },
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        let last = days_in_month(d.year(), d.month());
        let dow = d.weekday().number_from_sunday() as u32;
        let dom_ok = match &self.dom {
            Dom::Any => true,
            Dom::Days(f) => f.has(d.day() as u32),
            Dom::Last => d.day() == last,
            Dom::Weekday(n) => {
                let target = (*n).min(last as u32) as u8;
                let Ok(t) = Date::from_calendar_date(d.year(), d.month(), target) else {
                    return false;
                };
                let nearest = match t.weekday() {
                    Weekday::Saturday if target == 1 => t + Duration::days(2),
                    Weekday::Saturday => t - Duration::days(1),
                    Weekday::Sunday if target == last => t - Duration::days(2),
                    Weekday::Sunday => t + Duration::days(1),
                    _ => t,
                };
                nearest == d
            }
        };
        let dow_ok = match &self.dow {
            Dow::Any => true,
            Dow::Days(f) => f.has(dow),
            Dow::Last(w) => dow == *w && d.day() + 7 > last,
            Dow::Nth(w, n) => dow == *w && (d.day() as u32 - 1) / 7 + 1 == *n,
        };
        dom_ok && dow_ok
    }

    /// First firing strictly after `after` (epoch seconds, UTC).
    pub fn next(&self, after: i64) -> Option<i64> {
        let start = OffsetDateTime::from_unix_timestamp((after.div_euclid(60) + 1) * 60).ok()?;
        let mut day = start.date();
        let mut first = true;
        for _ in 0..(366 * 30) {
            let year_ok = day.year() >= 1970 && self.years.has((day.year() - 1970) as u32);
            if year_ok && self.months.has(day.month() as u32) && self.day_matches(day) {
                let (h0, m0) = if first {
                    (start.hour() as u32, start.minute() as u32)
                } else {
                    (0, 0)
                };
                for h in h0..24 {
                    if !self.hours.has(h) {
                        continue;
                    }
                    let mstart = if h == h0 { m0 } else { 0 };
                    for m in mstart..60 {
                        if self.minutes.has(m) {
                            let t = day.midnight().assume_utc().unix_timestamp();
                            return Some(t + (h as i64) * 3600 + (m as i64) * 60);
                        }
                    }
                }
            }
            first = false;
            day = day.next_day()?;
        }
        None
    }
}

fn days_in_month(year: i32, month: Month) -> u8 {
    month.length(year)
}

impl Schedule {
    /// Parses `rate(...)` or `cron(...)`; None when not valid.
    pub fn parse(s: &str) -> Option<Schedule> {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix("rate(").and_then(|x| x.strip_suffix(')')) {
            let (n, unit) = inner.trim().split_once(' ')?;
            let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
            let secs = match (unit.trim(), n == 1) {
                ("minute", true) | ("minutes", false) => 60,
                ("hour", true) | ("hours", false) => 3600,
                ("day", true) | ("days", false) => 86_400,
                _ => return None,
            };
            return Some(Schedule::Rate(n * secs));
        }
        if let Some(inner) = s.strip_prefix("cron(").and_then(|x| x.strip_suffix(')')) {
            return Cron::parse(inner).map(Schedule::Cron);
        }
        None
    }

    /// Next firing strictly after `after` (rates count from `anchor`).
    pub fn next(&self, after: f64, anchor: f64) -> Option<f64> {
        match self {
            Schedule::Rate(p) => {
                let p = *p as f64;
                let n = ((after - anchor) / p).floor() + 1.0;
                Some(anchor + n.max(1.0) * p)
            }
            Schedule::Cron(c) => c.next(after.floor() as i64).map(|t| t as f64),
        }
    }
}

/// (Re-)arms the schedule of a rule: cancels the armed job and, when the rule is enabled and
/// has a schedule expression, arms its next firing.
pub fn arm(shared: &Arc<Shared>, account: &str, region: &str, bus: &str, name: &str) {
    arm_from(shared, account, region, bus, name, shared.core.clock.now());
}

fn arm_from(shared: &Arc<Shared>, account: &str, region: &str, bus: &str, name: &str, anchor: f64) {
    let Some(state) = shared.regions.existing(account, region) else {
        return;
    };
    let mut w = state.write();
    let Some(rule) = w.rules.get(&(bus.to_string(), name.to_string())) else {
        return;
    };
    let arn = rule.arn.clone();
    let next = rule
        .schedule_expression
        .as_deref()
        .filter(|_| rule.enabled())
        .and_then(Schedule::parse)
        .and_then(|s| {
            let now = shared.core.clock.now();
            s.next(now, anchor)
        });
    if let Some(job) = w.schedules.remove(&arn) {
        shared.core.scheduler.cancel(job);
    }
    let Some(at) = next else { return };
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let (a, r, b, n) = (
        account.to_string(),
        region.to_string(),
        bus.to_string(),
        name.to_string(),
    );
    let job = shared.core.scheduler.at(at, move || {
        let Some(shared) = weak.upgrade() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            fire(&shared, &a, &r, &b, &n, at).await;
            arm_from(&shared, &a, &r, &b, &n, at);
        });
    });
    w.schedules.insert(arn, job);
}

async fn fire(shared: &Arc<Shared>, account: &str, region: &str, bus: &str, name: &str, at: f64) {
    let Some(state) = shared.regions.existing(account, region) else {
        return;
    };
    let Some(rule) = state
        .read()
        .rules
        .get(&(bus.to_string(), name.to_string()))
        .cloned()
    else {
        return;
    };
    if !rule.enabled() {
        return;
    }
    let event = Arc::new(envelope(
        &overcast_core::ids::uuid(),
        "aws.events",
        "Scheduled Event",
        account,
        at,
        region,
        std::slice::from_ref(&rule.arn),
        &json!({}),
        None,
    ));
    for t in rule.targets {
        deliver::start(
            shared.clone(),
            deliver::Job {
                account: account.to_string(),
                region: region.to_string(),
                rule_name: rule.name.clone(),
                rule_arn: rule.arn.clone(),
                target: t,
                event: event.clone(),
                attempt: 0,
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    fn next(expr: &str, after: &str) -> i64 {
        match Schedule::parse(expr).unwrap() {
            Schedule::Cron(c) => c.next(at(after)).unwrap(),
            _ => panic!(),
        }
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(5 minutes)"),
            Some(Schedule::Rate(300))
        );
        assert_eq!(Schedule::parse("rate(1 hour)"), Some(Schedule::Rate(3600)));
        assert_eq!(Schedule::parse("rate(1 hours)"), None);
        assert_eq!(Schedule::parse("rate(2 day)"), None);
        assert_eq!(Schedule::parse("rate(0 minutes)"), None);
        assert_eq!(Schedule::Rate(60).next(130.0, 100.0), Some(160.0));
    }

    #[test]
    fn crons() {
        assert!(Schedule::parse("cron(0 12 * * ? *)").is_some());
        assert!(Schedule::parse("cron(0 12 * * * *)").is_none());
        assert!(Schedule::parse("cron(0 12 * *)").is_none());
        assert_eq!(
            next("cron(0 12 * * ? *)", "2024-01-01T10:00:00Z"),
            at("2024-01-01T12:00:00Z")
        );
        assert_eq!(
            next("cron(0 12 * * ? *)", "2024-01-01T12:00:00Z"),
            at("2024-01-02T12:00:00Z")
        );
        assert_eq!(
            next("cron(0/15 * * * ? *)", "2024-01-01T10:01:00Z"),
            at("2024-01-01T10:15:00Z")
        );
        // 2024-01-01 is a Monday; MON-FRI at 8:00.
        assert_eq!(
            next("cron(0 8 ? * MON-FRI *)", "2024-01-05T09:00:00Z"),
            at("2024-01-08T08:00:00Z")
        );
        assert_eq!(
            next("cron(0 0 L * ? *)", "2024-02-10T00:00:00Z"),
            at("2024-02-29T00:00:00Z")
        );
        assert_eq!(
            next("cron(0 10 ? * 6L *)", "2024-01-01T00:00:00Z"),
            at("2024-01-26T10:00:00Z")
        );
        assert_eq!(
            next("cron(0 10 ? * 2#1 *)", "2024-01-02T00:00:00Z"),
            at("2024-02-05T10:00:00Z")
        );
        assert_eq!(
            next("cron(30 9 1 JAN ? 2030)", "2024-01-02T00:00:00Z"),
            at("2030-01-01T09:30:00Z")
        );
    }
}
