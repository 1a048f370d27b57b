//! SelectObjectContent (S3 Select): runs a SQL expression over a CSV or JSON object (plain,
//! GZIP- or BZIP2-compressed, SSE objects decrypted) and answers an event stream of `Records`
//! (chunks of CSV or JSON output), `Progress` when asked, `Stats` and `End`.
//!
//! The object is read whole into memory (S3 Select's objects are records files, and the
//! response is computed before it is sent, so SQL errors are plain 400 errors).

pub mod bzip2;
pub mod sql;
pub mod value;

use std::io::Read;

use overcast_core::{AwsError, Input, Output, RequestContext};
use serde_json::{json, Value};

use crate::{bucket_name, error, owned, text, S3};
use sql::{select_error, AggState, Env, Projection, Query};
use value::V;

/// Records event payloads are cut at this size.
const CHUNK: usize = 64 * 1024;

/// Input options of a CSV object.
#[derive(Debug, Clone)]
pub struct CsvIn {
    /// USE, IGNORE or NONE.
    pub header: String,
    /// Record delimiter.
    pub record: String,
    /// Field delimiter.
    pub field: char,
    /// Quote character (none when empty).
    pub quote: Option<char>,
    /// Escape of a quote inside a quoted field.
    pub escape: Option<char>,
    /// Comment line prefix.
    pub comment: Option<char>,
}

/// Output options for CSV.
#[derive(Debug, Clone)]
pub struct CsvOut {
    always: bool,
    escape: char,
    record: String,
    field: String,
    quote: char,
}

enum Format {
    Csv(CsvIn),
    Json { lines: bool },
}

enum OutFormat {
    Csv(CsvOut),
    Json { record: String },
}

fn one_char(v: &Value, member: &str, default: Option<char>) -> Result<Option<char>, AwsError> {
    match text(v, member) {
        None => Ok(default),
        Some("") => Ok(None),
        Some(s) => {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => Err(select_error(
                    "InvalidRequestParameter",
                    format!("The value of {member} must be a single character."),
                )),
            }
        }
    }
}

fn input_format(v: &Value) -> Result<(Format, String), AwsError> {
    let ser = v.get("InputSerialization").cloned().unwrap_or(json!({}));
    let compression = text(&ser, "CompressionType").unwrap_or("NONE").to_string();
    if !["NONE", "GZIP", "BZIP2"].contains(&compression.as_str()) {
        return Err(select_error(
            "InvalidCompressionFormat",
            "The file is not in a supported compression format. Only GZIP and BZIP2 are supported.",
        ));
    }
    let kinds = ["CSV", "JSON", "Parquet"]
        .into_iter()
        .filter(|k| ser.get(*k).is_some())
        .collect::<Vec<_>>();
    if kinds.len() > 1 {
        return Err(select_error(
            "MultipleDataSourcesUnsupported",
            "Multiple data sources are not supported.",
        ));
    }
    let fmt = match kinds.first() {
        Some(&"CSV") => {
            let c = &ser["CSV"];
            let header = text(c, "FileHeaderInfo").unwrap_or("NONE").to_ascii_uppercase();
            if !["USE", "IGNORE", "NONE"].contains(&header.as_str()) {
                return Err(select_error(
                    "InvalidFileHeaderInfo",
                    "The FileHeaderInfo is invalid. Only NONE, USE, and IGNORE are supported.",
                ));
            }
            let quote = one_char(c, "QuoteCharacter", Some('"'))?;
            Format::Csv(CsvIn {
                header,
                record: match text(c, "RecordDelimiter") {
                    None | Some("") => "\n".to_string(),
                    Some(s) => s.to_string(),
                },
                field: one_char(c, "FieldDelimiter", Some(','))?.unwrap_or(','),
                quote,
                escape: one_char(c, "QuoteEscapeCharacter", quote)?,
                comment: one_char(c, "Comments", Some('#'))?,
            })
        }
        Some(&"JSON") => {
            let t = ser["JSON"]
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("DOCUMENT");
            match t {
                "DOCUMENT" => Format::Json { lines: false },
                "LINES" => Format::Json { lines: true },
                _ => {
                    return Err(select_error(
                        "InvalidJsonType",
                        "The JsonType is invalid. Only DOCUMENT and LINES are supported.",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(AwsError::new(
                "NotImplemented",
                "Parquet input is not implemented by Overcast's S3 Select.",
            )
            .with_status(501))
        }
        None => {
            return Err(select_error(
                "MissingRequiredParameter",
                "The SelectRequest entity is missing a required parameter: InputSerialization format (CSV, JSON or Parquet).",
            ))
        }
    };
    Ok((fmt, compression))
}

fn output_format(v: &Value) -> Result<OutFormat, AwsError> {
    let ser = v.get("OutputSerialization").cloned().unwrap_or(json!({}));
    if let Some(j) = ser.get("JSON") {
        return Ok(OutFormat::Json {
            record: text(j, "RecordDelimiter").unwrap_or("\n").to_string(),
        });
    }
    let Some(c) = ser.get("CSV") else {
        return Err(select_error(
            "MissingRequiredParameter",
            "The SelectRequest entity is missing a required parameter: OutputSerialization format (CSV or JSON).",
        ));
    };
    let always = match text(c, "QuoteFields").unwrap_or("ASNEEDED") {
        "ALWAYS" => true,
        "ASNEEDED" => false,
        _ => {
            return Err(select_error(
                "InvalidQuoteFields",
                "The QuoteFields is invalid. Only ALWAYS and ASNEEDED are supported.",
            ))
        }
    };
    let quote = one_char(c, "QuoteCharacter", Some('"'))?.unwrap_or('"');
    Ok(OutFormat::Csv(CsvOut {
        always,
        escape: one_char(c, "QuoteEscapeCharacter", Some(quote))?.unwrap_or(quote),
        record: text(c, "RecordDelimiter").unwrap_or("\n").to_string(),
        field: text(c, "FieldDelimiter").unwrap_or(",").to_string(),
        quote,
    }))
}

/// Splits CSV text into records (byte offset of each record, its fields).
pub fn parse_csv(text: &str, o: &CsvIn) -> Result<Vec<(usize, Vec<String>)>, AwsError> {
    let mut out = Vec::new();
    for_each_csv(text, o, &mut |off, fields| {
        out.push((off, fields));
        Ok(true)
    })?;
    Ok(out)
}

/// Calls `f` with each CSV record (its byte offset and fields) until it answers false.
pub fn for_each_csv(
    text: &str,
    o: &CsvIn,
    f: &mut dyn FnMut(usize, Vec<String>) -> Result<bool, AwsError>,
) -> Result<(), AwsError> {
    let bytes = text.as_bytes();
    let rd = o.record.as_bytes();
    let mut i = 0;
    let crlf = o.record == "\n";
    while i < bytes.len() {
        let start = i;
        if let Some(c) = o.comment {
            if text[i..].starts_with(c) {
                match find(bytes, rd, i) {
                    Some(p) => i = p + rd.len(),
                    None => i = bytes.len(),
                }
                continue;
            }
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_any = false;
        let mut chars = text[i..].char_indices().peekable();
        let mut end = bytes.len();
        let mut in_quotes = false;
        while let Some((off, c)) = chars.next() {
            let at = i + off;
            if in_quotes {
                if Some(c) == o.escape && o.escape != o.quote {
                    if let Some(&(_, n)) = chars.peek() {
                        if Some(n) == o.quote || Some(n) == o.escape {
                            field.push(n);
                            chars.next();
                            continue;
                        }
                    }
                    field.push(c);
                } else if Some(c) == o.quote {
                    if chars.peek().map(|&(_, n)| n) == o.quote {
                        field.push(c);
                        chars.next();
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            if bytes[at..].starts_with(rd) {
                end = at;
                break;
            }
            if c == o.field {
                fields.push(std::mem::take(&mut field));
                continue;
            }
            if Some(c) == o.quote && field.is_empty() {
                in_quotes = true;
                quoted_any = true;
                continue;
            }
            field.push(c);
        }
        if in_quotes {
            return Err(select_error(
                "CSVParsingError",
                "Encountered an error parsing the CSV file: unterminated quoted field.",
            ));
        }
        if crlf && field.ends_with('\r') {
            field.pop();
        }
        fields.push(field);
        i = if end >= bytes.len() {
            bytes.len()
        } else {
            end + rd.len()
        };
        if fields.len() == 1 && fields[0].is_empty() && !quoted_any {
            continue;
        }
        if !f(start, fields)? {
            break;
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn csv_field(s: &str, o: &CsvOut) -> String {
    let needs = o.always
        || s.contains(o.quote)
        || s.contains(o.field.as_str())
        || (!o.record.is_empty() && s.contains(o.record.as_str()))
        || s.contains('\n')
        || s.contains('\r');
    if !needs {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push(o.quote);
    for c in s.chars() {
        if c == o.quote {
            out.push(o.escape);
        }
        out.push(c);
    }
    out.push(o.quote);
    out
}

fn write_record(items: &[(String, V)], fmt: &OutFormat, out: &mut String) {
    match fmt {
        OutFormat::Json { record } => {
            V::Struct(items.to_vec()).write_json(out);
            out.push_str(record);
        }
        OutFormat::Csv(o) => {
            for (i, (_, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.field);
                }
                if let Some(t) = v.text() {
                    out.push_str(&csv_field(&t, o));
                }
            }
            out.push_str(&o.record);
        }
    }
}

fn decompress(data: Vec<u8>, compression: &str) -> Result<Vec<u8>, AwsError> {
    match compression {
        "GZIP" => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&data[..])
                .read_to_end(&mut out)
                .map_err(|_| {
                    select_error(
                        "TruncatedInput",
                        "Object decompression failed. Check that the object is properly compressed using the format specified in the request.",
                    )
                })?;
            Ok(out)
        }
        "BZIP2" => bzip2::decompress(&data).map_err(|e| {
            select_error(
                "TruncatedInput",
                format!("Object decompression failed ({e}). Check that the object is properly compressed using the format specified in the request."),
            )
        }),
        _ => Ok(data),
    }
}

/// The byte window a ScanRange asks for, over an object of `size` bytes.
fn scan_window(v: &Value, size: usize) -> Result<Option<(usize, usize)>, AwsError> {
    let Some(r) = v.get("ScanRange") else {
        return Ok(None);
    };
    let start = r.get("Start").and_then(Value::as_u64);
    let end = r.get("End").and_then(Value::as_u64);
    let size64 = size as u64;
    let (a, b) = match (start, end) {
        (None, None) => return Ok(None),
        (Some(s), None) => (s, size64.saturating_sub(1)),
        (None, Some(e)) => (size64.saturating_sub(e), size64.saturating_sub(1)),
        (Some(s), Some(e)) => {
            if e < s {
                return Err(select_error(
                    "InvalidScanRange",
                    "The ScanRange is invalid: End must not be less than Start.",
                ));
            }
            (s, e)
        }
    };
    Ok(Some((a as usize, b.min(size64.saturating_sub(1)) as usize)))
}

/// Moves `start` to the beginning of the first record at or after it.
fn record_start(data: &[u8], start: usize, delim: &[u8]) -> usize {
    if start == 0 || start >= data.len() {
        return start.min(data.len());
    }
    if data[..start].ends_with(delim) {
        return start;
    }
    match find(data, delim, start) {
        Some(p) => p + delim.len(),
        None => data.len(),
    }
}

/// Runs a parsed query over decompressed object bytes: the output text.
fn run(
    q: &Query,
    data: &[u8],
    fmt: &Format,
    out_fmt: &OutFormat,
    window: Option<(usize, usize)>,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, AwsError> {
    let text = std::str::from_utf8(data).map_err(|_| {
        select_error(
            "InvalidTextEncoding",
            "Invalid encoding type. Only UTF-8 encoding is supported.",
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let offset_base = data.len() - text.len();
    let alias = q.alias.as_deref();
    let mut out = String::new();
    let mut states: Vec<AggState> = q.aggs.iter().map(|(k, _)| AggState::new(*k)).collect();
    let mut emitted = 0u64;
    // Evaluates one record; false once LIMIT is reached (reading stops there).
    let mut process = |r: V| -> Result<bool, AwsError> {
        if states.is_empty() && q.limit.is_some_and(|l| emitted >= l) {
            return Ok(false);
        }
        let env = Env {
            record: &r,
            alias,
            now,
            aggs: &[],
        };
        if let Some(f) = &q.filter {
            if !sql::matches(f, &env)? {
                return Ok(true);
            }
        }
        if !states.is_empty() {
            for (s, (_, arg)) in states.iter_mut().zip(&q.aggs) {
                match arg {
                    Some(e) => s.add(Some(sql::eval(e, &env)?))?,
                    None => s.add(None)?,
                }
            }
            return Ok(true);
        }
        let row: Vec<(String, V)> = match &q.projection {
            Projection::Star => match &r {
                V::Struct(m) => m.clone(),
                other => vec![("_1".to_string(), other.clone())],
            },
            Projection::Items(items) => {
                let mut row = Vec::with_capacity(items.len());
                for (e, name) in items {
                    row.push((name.clone(), sql::eval(e, &env)?));
                }
                row
            }
        };
        write_record(&row, out_fmt, &mut out);
        emitted += 1;
        Ok(q.limit.is_none_or(|l| emitted < l))
    };
    match fmt {
        Format::Csv(o) => {
            let (from, upto) = match window {
                Some((a, b)) => (record_start(text.as_bytes(), a, o.record.as_bytes()), b),
                None => (0, usize::MAX),
            };
            let mut names: Option<Vec<String>> = (from != 0 || o.header == "NONE").then(Vec::new);
            for_each_csv(&text[from.min(text.len())..], o, &mut |off, fields| {
                let Some(names) = names.as_ref() else {
                    names = Some(if o.header == "USE" {
                        fields
                    } else {
                        Vec::new()
                    });
                    return Ok(true);
                };
                if from + off + offset_base > upto {
                    return Ok(false);
                }
                process(V::Struct(
                    fields
                        .into_iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let name = names
                                .get(i)
                                .cloned()
                                .unwrap_or_else(|| format!("_{}", i + 1));
                            (name, V::Str(f))
                        })
                        .collect(),
                ))
            })?;
        }
        Format::Json { lines } => {
            let (from, upto) = match window {
                Some((a, b)) if *lines => (record_start(text.as_bytes(), a, b"\n"), b),
                Some(_) => return Err(select_error(
                    "UnsupportedScanRangeInput",
                    "Scan range queries are not supported on this type of object: JSON DOCUMENT.",
                )),
                None => (0, usize::MAX),
            };
            let slice = &text[from.min(text.len())..];
            let mut it = serde_json::Deserializer::from_str(slice).into_iter::<V>();
            'read: loop {
                let rest = &slice[it.byte_offset()..];
                let skipped = rest.len() - rest.trim_start().len();
                if from + it.byte_offset() + skipped + offset_base > upto {
                    break;
                }
                match it.next() {
                    None => break,
                    Some(Ok(v)) => {
                        for r in sql::unnest(v, &q.from) {
                            if !process(r)? {
                                break 'read;
                            }
                        }
                    }
                    Some(Err(e)) => {
                        return Err(select_error(
                            "JSONParsingError",
                            format!("Encountered an error parsing the JSON file: {e}."),
                        ))
                    }
                }
            }
        }
    }
    if !states.is_empty() {
        let finals: Vec<V> = states.iter().map(AggState::finish).collect();
        let env = Env {
            record: &V::Missing,
            alias,
            now,
            aggs: &finals,
        };
        if let Projection::Items(items) = &q.projection {
            let mut row = Vec::new();
            for (e, name) in items {
                row.push((name.clone(), sql::eval(e, &env)?));
            }
            if q.limit != Some(0) {
                write_record(&row, out_fmt, &mut out);
            }
        }
    }
    Ok(out.into_bytes())
}

/// A Stats or Progress event, encoded by the wire layer from the model.
fn stats_event(name: &str, scanned: u64, processed: u64, returned: u64) -> bytes::Bytes {
    overcast_wire::eventstream::model_event(
        "s3",
        "SelectObjectContent",
        name,
        &json!({"Details": {
            "BytesScanned": scanned,
            "BytesProcessed": processed,
            "BytesReturned": returned,
        }}),
    )
    .unwrap_or_default()
}

/// SelectObjectContent.
pub async fn select_object_content(
    svc: &S3,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    match text(&v, "ExpressionType") {
        Some("SQL") => {}
        _ => {
            return Err(select_error(
                "InvalidExpressionType",
                "The ExpressionType is invalid. Only SQL expressions are supported.",
            ))
        }
    }
    let expression = text(&v, "Expression").unwrap_or_default();
    if expression.trim().is_empty() {
        return Err(select_error(
            "MissingRequiredParameter",
            "The SelectRequest entity is missing a required parameter: Expression.",
        ));
    }
    if expression.len() > 256 * 1024 {
        return Err(select_error(
            "ExpressionTooLong",
            "The SQL expression is too long: The maximum byte-length for the SQL expression is 256 KB.",
        ));
    }
    let (fmt, compression) = input_format(&v)?;
    let out_fmt = output_format(&v)?;
    let query = sql::parse(expression)?;
    let (rec, blob) = {
        let st = svc.read();
        let b = owned(&st, ctx, bucket_name(&v))?;
        let key = text(&v, "Key").unwrap_or_default();
        let rec = crate::versions::lookup(b, key, None)?;
        (rec.clone(), st.blob(&b.record, rec))
    };
    crate::restore::readable(&rec, ctx.now)?;
    let key = crate::sse::for_read(svc, ctx, rec.headers.sse.as_deref(), &v, "").await?;
    let mut data = crate::stream::read_all(&blob)
        .await
        .map_err(|_| error::no_such_key(&rec.key))?;
    if let (Some(k), Some(s)) = (key, &rec.headers.sse) {
        s.decryptor(&k, 0)?.apply(&mut data);
    }
    let scanned_total = data.len();
    let window = scan_window(&v, data.len())?;
    if window.is_some() && compression != "NONE" {
        return Err(select_error(
            "UnsupportedScanRangeInput",
            "Scan range queries are not supported on compressed objects.",
        ));
    }
    let now = time::OffsetDateTime::from_unix_timestamp_nanos((ctx.now * 1e9) as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Decompression and evaluation are CPU work: off the async workers.
    let gzip_or_bzip2 = compression != "NONE";
    let (records, decompressed) = tokio::task::spawn_blocking(move || {
        let data = decompress(data, &compression)?;
        let records = run(&query, &data, &fmt, &out_fmt, window, now)?;
        Ok::<_, AwsError>((records, data.len()))
    })
    .await
    .map_err(|e| AwsError::internal(format!("S3 Select stopped: {e}")))??;
    let processed = match window {
        Some((a, b)) => b.saturating_sub(a) + 1,
        None => decompressed,
    } as u64;
    let scanned = if gzip_or_bzip2 {
        scanned_total as u64
    } else {
        processed
    };
    let mut stream = Vec::with_capacity(records.len() + 512);
    for chunk in records.chunks(CHUNK) {
        stream.extend_from_slice(&overcast_wire::eventstream::event(
            "Records",
            "application/octet-stream",
            chunk,
        ));
    }
    let returned = records.len() as u64;
    if v.get("RequestProgress")
        .and_then(|p| p.get("Enabled"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        stream.extend_from_slice(&stats_event("Progress", scanned, processed, returned));
    }
    stream.extend_from_slice(&stats_event("Stats", scanned, processed, returned));
    stream.extend_from_slice(&overcast_wire::eventstream::event(
        "End",
        "application/octet-stream",
        b"",
    ));
    Ok(Output {
        value: json!({}),
        body: Some(overcast_wire::body::full(bytes::Bytes::from(stream))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_opts(header: &str) -> CsvIn {
        CsvIn {
            header: header.into(),
            record: "\n".into(),
            field: ',',
            quote: Some('"'),
            escape: Some('"'),
            comment: Some('#'),
        }
    }

    fn select(q: &str, data: &str, fmt: Format, out: OutFormat) -> String {
        let q = sql::parse(q).unwrap();
        String::from_utf8(
            run(
                &q,
                data.as_bytes(),
                &fmt,
                &out,
                None,
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .unwrap(),
        )
        .unwrap()
    }

    fn csv_out() -> OutFormat {
        OutFormat::Csv(CsvOut {
            always: false,
            escape: '"',
            record: "\n".into(),
            field: ",".into(),
            quote: '"',
        })
    }

    #[test]
    fn csv_parsing_handles_quotes_comments_and_crlf() {
        let rows = parse_csv(
            "a,b\r\n# note\n\"x, y\",\"say \"\"hi\"\"\"\n\nlast,\n",
            &csv_opts("USE"),
        )
        .unwrap();
        let fields: Vec<Vec<String>> = rows.into_iter().map(|(_, f)| f).collect();
        assert_eq!(
            fields,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["x, y".into(), "say \"hi\"".into()],
                vec!["last".into(), "".into()],
            ]
        );
    }

    #[test]
    fn csv_queries() {
        let data = "name,age,city\nAnn,31,Paris\nBob,25,\"Rome, IT\"\nCid,40,Oslo\n";
        let csv = || Format::Csv(csv_opts("USE"));
        assert_eq!(
            select(
                "SELECT s.name, s.city FROM S3Object s WHERE CAST(s.age AS INT) > 30",
                data,
                csv(),
                csv_out()
            ),
            "Ann,Paris\nCid,Oslo\n"
        );
        assert_eq!(
            select("SELECT * FROM S3Object LIMIT 2", data, csv(), csv_out()),
            "Ann,31,Paris\nBob,25,\"Rome, IT\"\n"
        );
        assert_eq!(
            select(
                "SELECT COUNT(*), SUM(CAST(age AS INT)), AVG(CAST(age AS INT)), MIN(name), MAX(age) FROM S3Object",
                data,
                csv(),
                csv_out()
            ),
            "3,96,32.0,Ann,40\n"
        );
        assert_eq!(
            select(
                "SELECT s.name AS n, UPPER(s.city) FROM S3Object s WHERE s.name LIKE 'B%'",
                data,
                csv(),
                OutFormat::Json {
                    record: "\n".into()
                }
            ),
            "{\"n\":\"Bob\",\"_2\":\"ROME, IT\"}\n"
        );
        assert_eq!(
            select(
                "SELECT _1 FROM S3Object WHERE _2 = '25'",
                data,
                Format::Csv(csv_opts("IGNORE")),
                csv_out()
            ),
            "Bob\n"
        );
    }

    #[test]
    fn json_queries() {
        let lines =
            "{\"id\":1,\"tags\":[\"a\"],\"o\":{\"k\":\"v\"}}\n{\"id\":2,\"o\":{\"k\":\"w\"}}\n";
        let json_out = || OutFormat::Json {
            record: "\n".into(),
        };
        assert_eq!(
            select(
                "SELECT * FROM S3Object s WHERE s.o.k = 'w'",
                lines,
                Format::Json { lines: true },
                json_out()
            ),
            "{\"id\":2,\"o\":{\"k\":\"w\"}}\n"
        );
        let doc = "{\"items\":[{\"n\":1},{\"n\":2},{\"n\":3}]}";
        assert_eq!(
            select(
                "SELECT i.n FROM S3Object[*].items[*] i WHERE i.n >= 2",
                doc,
                Format::Json { lines: false },
                csv_out()
            ),
            "2\n3\n"
        );
    }

    #[test]
    fn scan_ranges_start_at_whole_records() {
        let data = b"aa\nbb\ncc\ndd\n";
        assert_eq!(record_start(data, 0, b"\n"), 0);
        assert_eq!(record_start(data, 1, b"\n"), 3);
        assert_eq!(record_start(data, 3, b"\n"), 3);
        let q = sql::parse("SELECT * FROM S3Object").unwrap();
        let out = run(
            &q,
            data,
            &Format::Csv(csv_opts("NONE")),
            &csv_out(),
            Some((1, 6)),
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(out, b"bb\ncc\n");
    }
}
