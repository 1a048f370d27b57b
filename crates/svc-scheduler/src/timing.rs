//! When a schedule fires: `at()`, `rate()` and `cron()` expressions in a time zone, within
//! start and end dates. Time zones: UTC and its aliases, `Etc/GMT±N`, and a table of common
//! IANA zones at their standard offsets (daylight saving time is not applied — the build
//! carries no tz database).

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

/// Standard UTC offsets (seconds) of common zones.
const ZONES: &[(&str, i64)] = &[
    ("America/New_York", -5 * 3600),
    ("America/Chicago", -6 * 3600),
    ("America/Denver", -7 * 3600),
    ("America/Phoenix", -7 * 3600),
    ("America/Los_Angeles", -8 * 3600),
    ("America/Anchorage", -9 * 3600),
    ("America/Sao_Paulo", -3 * 3600),
    ("America/Santiago", -4 * 3600),
    ("America/Mexico_City", -6 * 3600),
    ("America/Toronto", -5 * 3600),
    ("America/Bogota", -5 * 3600),
    ("America/Lima", -5 * 3600),
    ("America/Argentina/Buenos_Aires", -3 * 3600),
    ("Pacific/Honolulu", -10 * 3600),
    ("Europe/London", 0),
    ("Europe/Dublin", 0),
    ("Europe/Lisbon", 0),
    ("Europe/Paris", 3600),
    ("Europe/Berlin", 3600),
    ("Europe/Madrid", 3600),
    ("Europe/Rome", 3600),
    ("Europe/Amsterdam", 3600),
    ("Europe/Stockholm", 3600),
    ("Europe/Warsaw", 3600),
    ("Europe/Athens", 2 * 3600),
    ("Europe/Helsinki", 2 * 3600),
    ("Europe/Istanbul", 3 * 3600),
    ("Europe/Moscow", 3 * 3600),
    ("Africa/Cairo", 2 * 3600),
    ("Africa/Johannesburg", 2 * 3600),
    ("Africa/Lagos", 3600),
    ("Asia/Dubai", 4 * 3600),
    ("Asia/Karachi", 5 * 3600),
    ("Asia/Kolkata", 5 * 3600 + 1800),
    ("Asia/Dhaka", 6 * 3600),
    ("Asia/Bangkok", 7 * 3600),
    ("Asia/Jakarta", 7 * 3600),
    ("Asia/Singapore", 8 * 3600),
    ("Asia/Shanghai", 8 * 3600),
    ("Asia/Hong_Kong", 8 * 3600),
    ("Asia/Taipei", 8 * 3600),
    ("Asia/Manila", 8 * 3600),
    ("Asia/Seoul", 9 * 3600),
    ("Asia/Tokyo", 9 * 3600),
    ("Australia/Perth", 8 * 3600),
    ("Australia/Brisbane", 10 * 3600),
    ("Australia/Sydney", 10 * 3600),
    ("Australia/Melbourne", 10 * 3600),
    ("Pacific/Auckland", 12 * 3600),
];

/// UTC offset of a zone name (seconds east of UTC); None when unknown.
pub fn offset(zone: Option<&str>) -> Option<i64> {
    let Some(z) = zone else { return Some(0) };
    if matches!(
        z,
        "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Etc/Universal" | "Universal" | "Zulu" | "Etc/Zulu"
    ) {
        return Some(0);
    }
    if let Some(n) = z.strip_prefix("Etc/GMT") {
        // POSIX style: Etc/GMT+5 is five hours *behind* UTC.
        let h: i64 = n.parse().ok().filter(|h: &i64| (-14..=12).contains(h))?;
        return Some(-h * 3600);
    }
    ZONES.iter().find(|(n, _)| *n == z).map(|(_, o)| *o)
}

/// The first firing strictly after `after` (UTC epoch seconds), honouring the zone offset and
/// the start/end dates; None when the schedule will not fire again.
pub fn next_fire(
    expr: &Expression,
    zone_offset: i64,
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
            let t = (*local - zone_offset) as f64;
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
        Expression::Recurring(r @ Recurrence::Cron(_)) => {
            r.next(after + zone_offset as f64, 0.0)? - zone_offset as f64
        }
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

    #[test]
    fn expressions_and_zones() {
        let at = Expression::parse("at(2030-01-01T10:00:00)").unwrap();
        let utc10 = 1_893_492_000.0;
        assert_eq!(next_fire(&at, 0, 0.0, 0.0, None, None), Some(utc10));
        assert_eq!(
            next_fire(
                &at,
                offset(Some("Asia/Tokyo")).unwrap(),
                0.0,
                0.0,
                None,
                None
            ),
            Some(utc10 - 9.0 * 3600.0)
        );
        assert_eq!(next_fire(&at, 0, utc10, 0.0, None, None), None);
        assert_eq!(offset(Some("Etc/GMT+5")), Some(-5 * 3600));
        assert_eq!(offset(Some("Mars/Olympus")), None);
        let cron = Expression::parse("cron(0 9 * * ? *)").unwrap();
        // 09:00 in UTC-5 is 14:00 UTC.
        let day = 1_893_456_000.0; // 2030-01-01T00:00:00Z
        assert_eq!(
            next_fire(&cron, -5 * 3600, day, 0.0, None, None),
            Some(day + 14.0 * 3600.0)
        );
        let rate = Expression::parse("rate(10 minutes)").unwrap();
        assert_eq!(next_fire(&rate, 0, 100.0, 0.0, None, None), Some(600.0));
        assert_eq!(
            next_fire(&rate, 0, 100.0, 0.0, Some(5000.0), None),
            Some(5000.0)
        );
        assert_eq!(next_fire(&rate, 0, 100.0, 0.0, None, Some(500.0)), None);
        assert!(Expression::parse("at(2030-13-01T10:00:00)").is_none());
        assert!(Expression::parse("every day").is_none());
    }
}
