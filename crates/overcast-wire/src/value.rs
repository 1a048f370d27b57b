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

    /// `Tue, 02 Jan 2024 03:04:05 GMT`.
    pub fn rfc822(secs: f64) -> String {
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
            assert_eq!(parse("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
            assert_eq!(
                parse("Tue, 14 Nov 2023 22:13:20 GMT"),
                Some(1_700_000_000.0)
            );
            assert_eq!(parse("1700000000"), Some(1_700_000_000.0));
        }
    }
}
