//! Imported key material (origin EXTERNAL): GetParametersForImport hands out an RSA wrapping
//! public key and an import token (valid 24 hours); ImportKeyMaterial unwraps the material
//! (RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256 or RSAES_PKCS1_V1_5), optionally with an expiry on the
//! virtual clock; DeleteImportedKeyMaterial makes the key pending import again. Re-imports must
//! bring the same material, so older ciphertexts keep decrypting.

use overcast_core::{Blob, RequestContext};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::KmsError;
use crate::state::{material_len, ImportParams, Key};
use crate::{asym, Kms};

const TOKEN_MAGIC: &[u8; 4] = b"OCIT";
const DAY: f64 = 86_400.0;

fn external(k: &Key) -> Result<(), KmsError> {
    if k.origin != "EXTERNAL" {
        return Err(KmsError::UnsupportedOperationException(format!(
            "{} origin is {}, which is not valid for this operation.",
            k.arn, k.origin
        )));
    }
    k.not_pending_deletion()
}

/// GetParametersForImport input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParamsInput {
    key_id: String,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
}

/// GetParametersForImport.
pub async fn get_parameters_for_import(
    svc: &Kms,
    ctx: &RequestContext,
    i: ParamsInput,
) -> Result<Value, KmsError> {
    if !["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSAES_PKCS1_V1_5"]
        .contains(&i.wrapping_algorithm.as_str())
    {
        return Err(KmsError::UnsupportedOperationException(format!(
            "WrappingAlgorithm {} is not supported by this KMS.",
            i.wrapping_algorithm
        )));
    }
    if !["RSA_2048", "RSA_3072", "RSA_4096"].contains(&i.wrapping_key_spec.as_str()) {
        return Err(KmsError::UnsupportedOperationException(format!(
            "WrappingKeySpec {} is not supported in this region.",
            i.wrapping_key_spec
        )));
    }
    svc.with_key(ctx, &i.key_id, external)?;
    let private = asym::generate(&i.wrapping_key_spec)?;
    let public = asym::public_der(&i.wrapping_key_spec, &private)?;
    let valid_to = ctx.now + DAY;
    svc.update_key(ctx, &i.key_id, |k, w| {
        external(k)?;
        let token = overcast_core::ids::hex(32);
        let mut import_token = TOKEN_MAGIC.to_vec();
        import_token.extend_from_slice(token.as_bytes());
        k.import = Some(ImportParams {
            token,
            wrapping: Blob(w.wrap_secret(k, "import", &private)),
            wrapping_spec: i.wrapping_key_spec.clone(),
            algorithm: i.wrapping_algorithm.clone(),
            valid_to,
        });
        Ok(json!({
            "KeyId": k.arn,
            "ImportToken": Blob(import_token),
            "PublicKey": Blob(public),
            "ParametersValidTo": valid_to,
        }))
    })
}

/// ImportKeyMaterial input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportInput {
    key_id: String,
    import_token: Blob,
    encrypted_key_material: Blob,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
}

/// ImportKeyMaterial.
pub async fn import_key_material(
    svc: &Kms,
    ctx: &RequestContext,
    i: ImportInput,
) -> Result<Value, KmsError> {
    let expires = match (i.expiration_model.as_deref(), i.valid_to) {
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
            return Err(KmsError::validation(
                "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
            ))
        }
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) | (None, None) => None,
        (_, Some(t)) if t <= ctx.now => {
            return Err(KmsError::validation("ValidTo must be in the future."))
        }
        (_, Some(t)) => Some(t),
        (Some(_), None) => {
            return Err(KmsError::validation(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.",
            ))
        }
    };
    svc.update_key(ctx, &i.key_id, |k, w| {
        external(k)?;
        let token = i
            .import_token
            .0
            .strip_prefix(TOKEN_MAGIC.as_slice())
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(|| {
                KmsError::Aws(overcast_core::AwsError::new(
                    "InvalidImportTokenException",
                    "The import token is not valid.",
                ))
            })?;
        let params = k
            .import
            .clone()
            .filter(|p| p.token == token)
            .ok_or_else(|| {
                KmsError::Aws(overcast_core::AwsError::new(
                    "InvalidImportTokenException",
                    "The import token is not valid for this key.",
                ))
            })?;
        if ctx.now > params.valid_to {
            return Err(KmsError::Aws(overcast_core::AwsError::new(
                "ExpiredImportTokenException",
                "The import token has expired. Call GetParametersForImport again.",
            )));
        }
        let private = w
            .unwrap_secret(k, "import", &params.wrapping.0)
            .and_then(|der| RsaPrivateKey::from_pkcs8_der(&der).ok())
            .ok_or_else(|| KmsError::KMSInternalException("wrapping key unavailable".into()))?;
        let data = &i.encrypted_key_material.0;
        let material = match params.algorithm.as_str() {
            "RSAES_OAEP_SHA_1" => private.decrypt(Oaep::new::<sha1::Sha1>(), data),
            "RSAES_OAEP_SHA_256" => private.decrypt(Oaep::new::<Sha256>(), data),
            _ => private.decrypt(Pkcs1v15Encrypt, data),
        }
        .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
        if material.len() != material_len(&k.spec) {
            return Err(KmsError::Aws(overcast_core::AwsError::new(
                "IncorrectKeyMaterialException",
                format!(
                    "Key material for {} must be {} bytes.",
                    k.spec,
                    material_len(&k.spec)
                ),
            )));
        }
        let digest = hex::encode(Sha256::digest(&material));
        if k.imported_digest.as_ref().is_some_and(|d| d != &digest) {
            return Err(KmsError::Aws(overcast_core::AwsError::new(
                "IncorrectKeyMaterialException",
                "The key material is not the material previously imported into this KMS key.",
            )));
        }
        k.imported_digest = Some(digest);
        if k.materials.is_empty() {
            w.push_material(k, material, ctx.now, None);
        }
        k.material_expires = expires;
        k.import = None;
        if k.state == "PendingImport" {
            k.state = "Enabled".into();
        }
        let id = k.materials.last().map(|m| m.id.clone()).unwrap_or_default();
        Ok(json!({"KeyId": k.arn, "KeyMaterialId": id}))
    })
}

/// DeleteImportedKeyMaterial input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    key_id: String,
}

/// DeleteImportedKeyMaterial: the key is unusable (PendingImport) until the same material is
/// imported again.
pub async fn delete_imported_key_material(
    svc: &Kms,
    ctx: &RequestContext,
    i: DeleteInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        external(k)?;
        let id = k.materials.last().map(|m| m.id.clone()).unwrap_or_default();
        k.materials.clear();
        k.material_expires = None;
        k.state = "PendingImport".into();
        Ok(json!({"KeyId": k.arn, "KeyMaterialId": id}))
    })
}
