//! Conventions of the model-shaped value passed between codecs and services.
//!
//! Every codec decodes a request into a `serde_json::Value` laid out like the operation's input
//! shape — member names as keys — and encodes the output from one laid out like the output
//! shape. Services (de)serialize their typed inputs and outputs from/into it with serde. Types:
//!
//! | model type            | in the value                                    |
//! |-----------------------|-------------------------------------------------|
//! | structure, map        | object                                          |
//! | list                  | array                                           |
//! | string, enum          | string                                          |
//! | integer, long         | integer number                                  |
//! | float, double         | number                                          |
//! | boolean               | bool                                            |
//! | timestamp             | number: seconds since the epoch (fractional)    |
//! | blob (non-streaming)  | string: standard base64                         |
//! | document              | any JSON                                        |
//!
//! Absent members are absent keys (never `null`).

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Binary data, carried in values as base64.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        decode_base64(&s)
            .map(Blob)
            .map_err(serde::de::Error::custom)
    }
}

/// Decodes standard base64, tolerating missing padding.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let e = &base64::engine::general_purpose::STANDARD;
    e.decode(s.trim())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim().trim_end_matches('='))
        })
        .map_err(|_| "Invalid base64 encoding".to_string())
}

/// Encodes standard base64.
pub fn encode_base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A point in time, carried in values as epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// From epoch milliseconds.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms as f64 / 1000.0)
    }

    /// Epoch milliseconds.
    pub fn millis(self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }
}

/// Formats a timestamp per the model's formats.
pub mod time_format {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    use time::OffsetDateTime;

    fn dt(secs: f64) -> OffsetDateTime {
        let nanos = (secs * 1e9).round() as i128;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `2024-01-02T03:04:05.123Z` (milliseconds only when non-zero).
    pub fn iso8601(secs: f64) -> String {
        let d = dt(secs);
        let ms = d.millisecond();
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        );
        if ms == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{ms:03}Z")
        }
    }

    /// `2024-01-02T03:04:05.000Z` (always milliseconds, as S3 and SQS query send).
    pub fn iso8601_millis(secs: f64) -> String {
        let d = dt(secs);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.millisecond()
        )
    }

    /// `Tue, 02 Jan 2024 03:04:05 GMT`. (Formatted by hand for years 1970–9999: it is on
    /// every object read's `Last-Modified`.)
    pub fn rfc822(secs: f64) -> String {
        const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let t = secs.floor();
        if !(0.0..253_402_300_800.0).contains(&t) {
            return rfc822_general(t);
        }
        let t = t as u64;
        let (days, rem) = (t / 86_400, t % 86_400);
        // 1970-01-01 is Julian day 2440588.
        let Some(date) = i32::try_from(days)
            .ok()
            .and_then(|d| time::Date::from_julian_day(d + 2_440_588).ok())
        else {
            return rfc822_general(t as f64);
        };
        let (year, month, day) = (
            date.year() as u64,
            u64::from(u8::from(date.month())),
            u64::from(date.day()),
        );
        let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        let mut out = Vec::with_capacity(29);
        out.extend_from_slice(DAYS[(days % 7) as usize]);
        out.extend_from_slice(b", ");
        out.extend_from_slice(&two(day));
        out.push(b' ');
        out.extend_from_slice(MONTHS[(month - 1) as usize]);
        out.push(b' ');
        out.extend_from_slice(&two(year / 100));
        out.extend_from_slice(&two(year));
        out.push(b' ');
        out.extend_from_slice(&two(rem / 3600));
        out.push(b':');
        out.extend_from_slice(&two(rem / 60 % 60));
        out.push(b':');
        out.extend_from_slice(&two(rem % 60));
        out.extend_from_slice(b" GMT");
        String::from_utf8(out).unwrap_or_default()
    }

    fn rfc822_general(secs: f64) -> String {
        let d = dt(secs.floor());
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[d.weekday().number_days_from_monday() as usize],
            d.day(),
            MONTHS[u8::from(d.month()) as usize - 1],
            d.year(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }

    /// Parses any timestamp form clients send: epoch seconds, ISO 8601 or RFC 822.
    pub fn parse(s: &str) -> Option<f64> {
        let s = s.trim();
        if let Ok(n) = s.parse::<f64>() {
            return Some(n);
        }
        if let Ok(d) = OffsetDateTime::parse(s, &Rfc3339) {
            return Some(d.unix_timestamp_nanos() as f64 / 1e9);
        }
        // ISO 8601 without zone or with basic format variants.
        let z = format!("{}Z", s.trim_end_matches('Z'));
        if let Ok(d) = OffsetDateTime::parse(&z, &Rfc3339) {
            return Some(d.unix_timestamp_nanos() as f64 / 1e9);
        }
        if let Ok(d) = OffsetDateTime::parse(&s.replace("GMT", "+0000"), &Rfc2822) {
            return Some(d.unix_timestamp() as f64);
        }
        None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formats() {
            assert_eq!(iso8601(0.0), "1970-01-01T00:00:00Z");
            assert_eq!(iso8601(1.5), "1970-01-01T00:00:01.500Z");
            assert_eq!(iso8601_millis(1.0), "1970-01-01T00:00:01.000Z");
            assert_eq!(rfc822(1_700_000_000.0), "Tue, 14 Nov 2023 22:13:20 GMT");
            assert_eq!(rfc822(-1.0), "Wed, 31 Dec 1969 23:59:59 GMT");
            // The hand-made formatter agrees with the general one, leap days included (up to
            // 2115: beyond, the general one's nanosecond arithmetic is no longer exact).
            let mut t = 0.0;
            while t < 4_600_000_000.0 {
                assert_eq!(rfc822(t), rfc822_general(t), "{t}");
                t += 86_399.7 * 3.0 + 3_607.0;
            }
            assert_eq!(rfc822(951_782_400.0), "Tue, 29 Feb 2000 00:00:00 GMT");
            assert_eq!(rfc822(253_402_300_799.0), "Fri, 31 Dec 9999 23:59:59 GMT");
            assert_eq!(parse("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
            assert_eq!(
                parse("Tue, 14 Nov 2023 22:13:20 GMT"),
                Some(1_700_000_000.0)
            );
            assert_eq!(parse("1700000000"), Some(1_700_000_000.0));
        }
    }
}
