//! Embeds every vendored model (models/<service>/service-2.json.gz) and overlay into the binary.
use std::{env, fs, path::PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../models");
    let root = root.canonicalize().expect("models/ directory");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut services: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("service-2.json.gz").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    services.sort();
    let mut out =
        String::from("/// (service, gzip model, overlay json) for every vendored model.\n");
    out.push_str("pub static EMBEDDED: &[(&str, &[u8], Option<&str>)] = &[\n");
    for s in &services {
        let model = root.join(s).join("service-2.json.gz");
        let overlay = root.join("overlays").join(format!("{s}.json"));
        println!("cargo:rerun-if-changed={}", model.display());
        println!("cargo:rerun-if-changed={}", overlay.display());
        let overlay = if overlay.exists() {
            format!("Some(include_str!({:?}))", overlay.display().to_string())
        } else {
            "None".to_string()
        };
        out.push_str(&format!(
            "    ({s:?}, include_bytes!({:?}), {overlay}),\n",
            model.display().to_string()
        ));
    }
    out.push_str("];\n");
    out.push_str(&format!(
        "/// models/index.json\npub static INDEX: &str = include_str!({:?});\n",
        root.join("index.json").display().to_string()
    ));
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).unwrap();
}
