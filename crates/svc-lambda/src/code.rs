//! Deployment packages and layer archives as files: `<blob dir>/lambda/zips/<sha256>.zip`
//! (content-addressed, written before the API call is acknowledged), unpacked on first use to
//! `<blob dir>/lambda/tasks/<sha256>/` and layer sets merged to `<blob dir>/lambda/opt/<id>/`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http_body_util::BodyExt;
use overcast_core::{Input, RequestContext};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::LambdaError;

/// A stored zip.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Hex SHA-256 (blob name).
    pub hex: String,
    /// Base64 SHA-256 (`CodeSha256`).
    pub sha256: String,
    /// Bytes.
    pub size: i64,
}

/// Largest zip accepted directly in a request (AWS: 50 MB).
pub const MAX_ZIP: usize = 50 * 1024 * 1024;
/// Largest unzipped deployment package or layer (AWS: 250 MB).
pub const MAX_UNZIPPED: u64 = 262_144_000;

fn zips(blob_dir: &Path) -> PathBuf {
    blob_dir.join("lambda/zips")
}

/// The path of a stored zip.
pub fn zip_path(blob_dir: &Path, hex: &str) -> PathBuf {
    zips(blob_dir).join(format!("{hex}.zip"))
}

/// Validates and stores `bytes` as a zip.
pub fn store(blob_dir: &Path, bytes: &[u8]) -> Result<Stored, LambdaError> {
    let unzipped = overcast_runtime::zip::validate(bytes).map_err(|_| {
        LambdaError::InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
                .into(),
        )
    })?;
    if unzipped > MAX_UNZIPPED {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
        )));
    }
    let digest = Sha256::digest(bytes);
    let hex = hex::encode(digest);
    let path = zip_path(blob_dir, &hex);
    if !path.exists() {
        std::fs::create_dir_all(zips(blob_dir))?;
        let tmp = path.with_extension(format!("tmp{}", overcast_core::ids::alnum(6)));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(Stored {
        hex,
        sha256: base64::engine::general_purpose::STANDARD.encode(digest),
        size: bytes.len() as i64,
    })
}

/// Reads the zip of a code source: inline bytes or an S3 object (read through S3's API).
pub async fn fetch(
    core: &overcast_core::Core,
    ctx: &RequestContext,
    zip: Option<&overcast_core::Blob>,
    bucket: Option<&str>,
    key: Option<&str>,
    version: Option<&str>,
) -> Result<Vec<u8>, LambdaError> {
    if let Some(z) = zip {
        if z.0.len() > MAX_ZIP {
            return Err(LambdaError::RequestTooLargeException(format!(
                "Zipped size must be smaller than {MAX_ZIP} bytes"
            )));
        }
        return Ok(z.0.clone());
    }
    let (Some(bucket), Some(key)) = (bucket, key) else {
        return Err(LambdaError::InvalidParameterValueException(
            "Please provide a source for function code.".into(),
        ));
    };
    let mut input = json!({"Bucket": bucket, "Key": key});
    if let Some(v) = version {
        input["VersionId"] = json!(v);
    }
    let out = core
        .services
        .invoke(
            ctx,
            "s3",
            "GetObject",
            Input {
                value: input,
                body: None,
            },
        )
        .await
        .map_err(|e| {
            LambdaError::InvalidParameterValueException(format!(
                "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                e.code, e.message
            ))
        })?;
    let body = match out.body {
        Some(b) => b
            .collect()
            .await
            .map_err(|e| LambdaError::ServiceException(format!("cannot read the S3 object: {e}")))?
            .to_bytes()
            .to_vec(),
        None => match out.value.get("Body").and_then(|b| b.as_str()) {
            Some(b64) => overcast_wire::value::decode_base64(b64).unwrap_or_default(),
            None => Vec::new(),
        },
    };
    Ok(body)
}

/// The unpacked deployment package (unpacked now if needed).
pub fn task_dir(blob_dir: &Path, hex: &str) -> Result<PathBuf, String> {
    let dir = blob_dir.join("lambda/tasks").join(hex);
    if !dir.exists() {
        let bytes = std::fs::read(zip_path(blob_dir, hex))
            .map_err(|e| format!("the deployment package is missing: {e}"))?;
        overcast_runtime::zip::extract(&bytes, &dir)?;
    }
    Ok(dir)
}

/// The merged layers (`/opt`), later layers over earlier ones; None without layers.
pub fn opt_dir(blob_dir: &Path, layers: &[String]) -> Result<Option<PathBuf>, String> {
    if layers.is_empty() {
        return Ok(None);
    }
    let id = hex::encode(Sha256::digest(layers.join(",").as_bytes()));
    let dir = blob_dir.join("lambda/opt").join(&id[..32]);
    if dir.exists() {
        return Ok(Some(dir));
    }
    let tmp = blob_dir
        .join("lambda/opt")
        .join(format!(".tmp-{}", overcast_core::ids::alnum(8)));
    for l in layers {
        let bytes = std::fs::read(zip_path(blob_dir, l))
            .map_err(|e| format!("a layer archive is missing: {e}"))?;
        overcast_runtime::zip::extract_over(&bytes, &tmp)?;
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(Some(dir))
}
