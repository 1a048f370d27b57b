//! `overcast coverage`: implemented / total operations per service, counted from the
//! services' dispatch tables against the models.

use std::process::ExitCode;

use overcast_core::Core;
use overcast_wire::{model, registry};

/// Prints the coverage table (or JSON).
pub fn print(json: bool) -> ExitCode {
    let core = Core::ephemeral();
    let built = match crate::services::build(&core, None) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    let (mut done, mut total) = (0usize, 0usize);
    for info in registry::services() {
        let ops = info.operation_count;
        let implemented = built
            .get(info.name)
            .map(|s| {
                let m = model::model(info.name).expect("model");
                s.implemented()
                    .iter()
                    .filter(|op| m.operation(op).is_some())
                    .count()
            })
            .unwrap_or(0);
        done += implemented;
        total += ops;
        rows.push((info.name, implemented, ops));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, i, t)| serde_json::json!({"service": n, "implemented": i, "total": t}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"botocore": registry::botocore_version(), "services": v, "implemented": done, "total": total})
        );
    } else {
        println!(
            "{:<24} {:>11} {:>6} {:>7}",
            "service", "implemented", "total", "percent"
        );
        for (n, i, t) in &rows {
            println!(
                "{:<24} {:>11} {:>6} {:>6.1}%",
                n,
                i,
                t,
                100.0 * *i as f64 / (*t).max(1) as f64
            );
        }
        println!(
            "{:<24} {:>11} {:>6} {:>6.1}%",
            "all",
            done,
            total,
            100.0 * done as f64 / total.max(1) as f64
        );
    }
    ExitCode::SUCCESS
}
