//! GetMetricWidgetImage: renders a metric widget definition (the dashboard widget JSON) into a
//! real PNG line chart — white background, grid, axes, one coloured line per metric — drawn
//! from the same data GetMetricData answers. Labels and legends are not drawn.

use std::io::Write;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CwError;
use crate::metrics::{self, Dimension, Metric, MetricDataQuery, MetricStat};
use crate::CloudWatch;

const PALETTE: &[[u8; 3]] = &[
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

/// An RGB canvas.
pub struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 3;
        self.px[i..i + 3].copy_from_slice(&c);
    }

    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.set(x0, y0, c);
            self.set(x0, y0 + 1, c);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    /// PNG bytes (8-bit RGB, zlib-compressed scanlines).
    pub fn png(&self) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(self.w as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.h as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        for row in self.px.chunks(self.w * 3) {
            let _ = z.write_all(&[0]);
            let _ = z.write_all(row);
        }
        let data = z.finish().unwrap_or_default();
        chunk(&mut out, b"IDAT", &data);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// Seconds of an ISO 8601 duration like `-PT3H`, `P1D`, `-PT15M` (sign kept).
pub fn duration_secs(s: &str) -> Option<f64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0.0;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let (_, mult) = units.iter().find(|(u, _)| *u == c)?;
                total += num.parse::<f64>().ok()? * mult;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    read(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    read(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(if neg { -total } else { total })
}

fn instant(v: Option<&Value>, now: f64, default: f64) -> Result<f64, CwError> {
    match v.and_then(Value::as_str) {
        None => Ok(default),
        Some(s) => duration_secs(s)
            .map(|d| now + d)
            .or_else(|| overcast_wire::value::time_format::parse(s))
            .ok_or_else(|| CwError::invalid(format!("The value {s} is not a valid time."))),
    }
}

/// The MetricStat queries of a widget's `metrics` rows (`"."` repeats the row above).
fn queries(w: &Value) -> Result<Vec<MetricDataQuery>, CwError> {
    let rows = w
        .get("metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| CwError::invalid("The widget must have a metrics array."))?;
    let period = w.get("period").and_then(Value::as_i64).unwrap_or(300);
    let stat = w.get("stat").and_then(Value::as_str).unwrap_or("Average");
    let mut prev: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        let items = row
            .as_array()
            .ok_or_else(|| CwError::invalid("Each metrics entry must be an array."))?;
        let mut fields = Vec::new();
        let mut opts = &Value::Null;
        for (k, x) in items.iter().enumerate() {
            match x {
                Value::String(s) if s == "." => {
                    fields.push(prev.get(k).cloned().unwrap_or_default())
                }
                Value::String(s) => fields.push(s.clone()),
                Value::Object(_) => opts = x,
                _ => return Err(CwError::invalid("Invalid metrics entry.")),
            }
        }
        if fields.len() < 2 || fields.len() % 2 != 0 {
            return Err(CwError::invalid(
                "A metrics entry is [Namespace, MetricName, DimensionName, DimensionValue, ..., {options}].",
            ));
        }
        let dims = fields[2..]
            .chunks(2)
            .map(|c| Dimension {
                name: c[0].clone(),
                value: c[1].clone(),
            })
            .collect();
        out.push(MetricDataQuery {
            id: format!("m{n}"),
            metric_stat: Some(MetricStat {
                metric: Metric {
                    namespace: Some(fields[0].clone()),
                    metric_name: Some(fields[1].clone()),
                    dimensions: Some(dims),
                },
                period: opts.get("period").and_then(Value::as_i64).unwrap_or(period),
                stat: opts
                    .get("stat")
                    .and_then(Value::as_str)
                    .unwrap_or(stat)
                    .to_string(),
                unit: None,
            }),
            expression: None,
            label: opts
                .get("label")
                .and_then(Value::as_str)
                .map(str::to_string),
            return_data: Some(true),
            period: None,
        });
        prev = fields;
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricWidgetImageIn {
    metric_widget: String,
    output_format: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricWidgetImageOut {
    metric_widget_image: String,
}

pub(crate) async fn get_metric_widget_image(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: GetMetricWidgetImageIn,
) -> Result<GetMetricWidgetImageOut, CwError> {
    match i.output_format.as_deref() {
        None | Some("png") | Some("image/png") => {}
        Some(f) => {
            return Err(CwError::invalid(format!(
                "The output format {f} is not supported by Overcast (png only)."
            )))
        }
    }
    let w: Value = serde_json::from_str(&i.metric_widget)
        .map_err(|_| CwError::invalid("The MetricWidget is not valid JSON."))?;
    let width = w.get("width").and_then(Value::as_u64).unwrap_or(600);
    let height = w.get("height").and_then(Value::as_u64).unwrap_or(395);
    if !(1..=2000).contains(&width) || !(1..=2000).contains(&height) {
        return Err(CwError::invalid(
            "The width and height must be between 1 and 2000.",
        ));
    }
    let end = instant(w.get("end"), ctx.now, ctx.now)?;
    let start = instant(w.get("start"), ctx.now, ctx.now - 3.0 * 3600.0)?;
    if start >= end {
        return Err(CwError::invalid("The start must be before the end."));
    }
    let qs = queries(&w)?;
    metrics::validate_queries(&qs)?;
    let period = metrics::grid_period(&qs);
    let (grid, results) = {
        let region = svc.region(ctx);
        let d = region.lock();
        metrics::compute(&d, None, &qs, start, end, period)?
    };
    let (w, h) = (width as usize, height as usize);
    let mut c = Canvas::new(w, h);
    let (left, right, top, bottom) = (40i64, w as i64 - 10, 10i64, h as i64 - 25);
    let values: Vec<f64> = results
        .iter()
        .flat_map(|r| r.values.iter().flatten().copied())
        .collect();
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    lo = lo.min(0.0);
    if hi <= lo {
        hi = lo + 1.0;
    }
    for k in 0..=4 {
        let y = bottom - (bottom - top) * k / 4;
        c.line((left, y), (right, y), [225, 225, 225]);
    }
    c.line((left, top), (left, bottom), [0, 0, 0]);
    c.line((left, bottom), (right, bottom), [0, 0, 0]);
    let span = (end - start).max(1.0);
    let x_of = |t: f64| left + (((t - start) / span) * (right - left) as f64) as i64;
    let y_of = |v: f64| bottom - (((v - lo) / (hi - lo)) * (bottom - top) as f64) as i64;
    for (n, r) in results.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let mut last: Option<(i64, i64)> = None;
        for (t, v) in grid.iter().zip(&r.values) {
            match v {
                Some(v) => {
                    let p = (x_of(*t), y_of(*v));
                    match last {
                        Some(q) => c.line(q, p, color),
                        None => {
                            c.set(p.0, p.1, color);
                            c.set(p.0 + 1, p.1, color);
                        }
                    }
                    last = Some(p);
                }
                None => last = None,
            }
        }
    }
    Ok(GetMetricWidgetImageOut {
        metric_widget_image: overcast_wire::value::encode_base64(&c.png()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_png_shape() {
        assert_eq!(duration_secs("-PT3H"), Some(-10_800.0));
        assert_eq!(duration_secs("P1DT30M"), Some(88_200.0));
        assert_eq!(duration_secs("PT15M"), Some(900.0));
        assert_eq!(duration_secs("3H"), None);
        let mut c = Canvas::new(4, 3);
        c.line((0, 0), (3, 2), [255, 0, 0]);
        let png = c.png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 4);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn widget_rows_repeat_with_dots() {
        let w: Value = serde_json::from_str(
            r#"{"metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"], [".", ".", ".", "i-2", {"stat": "Maximum"}]], "period": 60}"#,
        )
        .unwrap();
        let q = queries(&w).unwrap();
        let ms = q[1].metric_stat.as_ref().unwrap();
        assert_eq!(ms.metric.metric_name.as_deref(), Some("CPUUtilization"));
        assert_eq!(ms.metric.dimensions.as_ref().unwrap()[0].value, "i-2");
        assert_eq!(ms.stat, "Maximum");
        assert_eq!(ms.period, 60);
    }
}
