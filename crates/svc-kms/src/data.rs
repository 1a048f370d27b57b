//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext),
//! GenerateRandom, GenerateMac, VerifyMac.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use overcast_core::{Blob, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::KmsError;
use crate::state::Key;
use crate::{asym, crypto};
use crate::{key_not_found, Kms};

type Context = BTreeMap<String, String>;

const MAX_PLAINTEXT: usize = 4096;

fn dry_run(d: Option<bool>) -> Result<(), KmsError> {
    if d == Some(true) {
        return Err(KmsError::DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set.".into(),
        ));
    }
    Ok(())
}

fn for_encryption(k: &Key, algorithm: Option<&str>) -> Result<(), KmsError> {
    k.usable_for("ENCRYPT_DECRYPT")?;
    let ok = match (k.is_symmetric(), algorithm) {
        (true, None | Some("SYMMETRIC_DEFAULT")) => true,
        (false, Some(a)) => asym::RSA_ENCRYPTION.contains(&a),
        _ => false,
    };
    if !ok {
        return Err(KmsError::InvalidKeyUsageException(format!(
            "Algorithm {} is incompatible with key spec {}.",
            algorithm.unwrap_or("SYMMETRIC_DEFAULT"),
            k.spec
        )));
    }
    Ok(())
}

/// Seals `plaintext` with the current material of the key `key_id` names; returns the blob
/// and the key's ARN.
fn seal_with(
    svc: &Kms,
    ctx: &RequestContext,
    key_id: &str,
    algorithm: Option<&str>,
    plaintext: &[u8],
    context: &Context,
) -> Result<(Vec<u8>, String), KmsError> {
    let (id, index, material, arn, spec) = svc.with_key(ctx, key_id, |k| {
        for_encryption(k, algorithm)?;
        let (i, m) = k.current_material()?;
        Ok((k.id.clone(), i, m.to_vec(), k.arn.clone(), k.spec.clone()))
    })?;
    if let Some(alg) = algorithm.filter(|a| *a != "SYMMETRIC_DEFAULT") {
        let out = asym::rsa_encrypt(&spec, &material, alg, plaintext)?;
        svc.record_use(ctx, &id);
        return Ok((out, arn));
    }
    let blob = crypto::seal(&id, index, &material, plaintext, context)
        .ok_or_else(|| KmsError::KMSInternalException("encryption failed".into()))?;
    svc.record_use(ctx, &id);
    Ok((blob, arn))
}

/// Opens a blob; `key_id`, when given, must name the key that sealed it. Returns the
/// plaintext and the key's ARN.
fn open_with(
    svc: &Kms,
    ctx: &RequestContext,
    key_id: Option<&str>,
    algorithm: Option<&str>,
    blob: &[u8],
    context: &Context,
) -> Result<(Vec<u8>, String), KmsError> {
    let invalid = || KmsError::InvalidCiphertextException(String::new());
    if let Some(alg) = algorithm.filter(|a| *a != "SYMMETRIC_DEFAULT") {
        let Some(k) = key_id else {
            return Err(KmsError::validation(
                "KeyId is required to decrypt with an asymmetric KMS key.",
            ));
        };
        let (material, arn, spec, id) = svc.with_key(ctx, k, |k| {
            for_encryption(k, Some(alg))?;
            let (_, m) = k.current().ok_or_else(invalid)?;
            Ok((m.to_vec(), k.arn.clone(), k.spec.clone(), k.id.clone()))
        })?;
        let out = asym::rsa_decrypt(&spec, &material, alg, blob)?;
        svc.record_use(ctx, &id);
        return Ok((out, arn));
    }
    let (blob_key, index) = crypto::header(blob).ok_or_else(invalid)?;
    if let Some(k) = key_id {
        let id = svc.key_id(ctx, k)?;
        if id != blob_key {
            return Err(KmsError::IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can perform this operation.".into(),
            ));
        }
    }
    let r = svc.region(ctx);
    let (material, arn) = {
        let d = r.read(ctx.now);
        let k = d
            .keys
            .get(&blob_key)
            .ok_or_else(|| key_not_found(ctx, &blob_key))?;
        for_encryption(k, algorithm)?;
        let arn = k.arn.clone();
        let material = match (k.material(index), &k.primary_region) {
            (Some(m), _) => m.to_vec(),
            // A replica meets material its primary rotated in since: fetch it.
            (None, Some(primary)) => {
                let primary = primary.clone();
                drop(d);
                crate::multiregion::pull_material(svc, ctx, &blob_key, &primary)?;
                let d = r.read(ctx.now);
                d.keys
                    .get(&blob_key)
                    .and_then(|k| k.material(index))
                    .ok_or_else(invalid)?
                    .to_vec()
            }
            (None, None) => return Err(invalid()),
        };
        (material, arn)
    };
    let plain = crypto::open(&material, blob, context).ok_or_else(invalid)?;
    svc.record_use(ctx, &blob_key);
    Ok((plain, arn))
}

/// Encrypt input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    key_id: String,
    plaintext: Blob,
    #[serde(default)]
    encryption_context: Context,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

/// Encrypt.
pub async fn encrypt(svc: &Kms, ctx: &RequestContext, i: EncryptInput) -> Result<Value, KmsError> {
    if i.plaintext.0.is_empty() || i.plaintext.0.len() > MAX_PLAINTEXT {
        return Err(KmsError::validation(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096",
        ));
    }
    let alg = i.encryption_algorithm.as_deref();
    let (blob, arn) = seal_with(
        svc,
        ctx,
        &i.key_id,
        alg,
        &i.plaintext.0,
        &i.encryption_context,
    )?;
    dry_run(i.dry_run)?;
    Ok(json!({
        "CiphertextBlob": Blob(blob),
        "KeyId": arn,
        "EncryptionAlgorithm": alg.unwrap_or("SYMMETRIC_DEFAULT"),
    }))
}

/// Decrypt input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    ciphertext_blob: Blob,
    #[serde(default)]
    encryption_context: Context,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

/// Decrypt: the blob names its key, so KeyId is optional.
pub async fn decrypt(svc: &Kms, ctx: &RequestContext, i: DecryptInput) -> Result<Value, KmsError> {
    let (plain, arn) = open_with(
        svc,
        ctx,
        i.key_id.as_deref(),
        i.encryption_algorithm.as_deref(),
        &i.ciphertext_blob.0,
        &i.encryption_context,
    )?;
    dry_run(i.dry_run)?;
    Ok(json!({
        "KeyId": arn,
        "Plaintext": Blob(plain),
        "EncryptionAlgorithm": i.encryption_algorithm.as_deref().unwrap_or("SYMMETRIC_DEFAULT"),
    }))
}

/// ReEncrypt input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    ciphertext_blob: Blob,
    #[serde(default)]
    source_encryption_context: Context,
    source_key_id: Option<String>,
    destination_key_id: String,
    #[serde(default)]
    destination_encryption_context: Context,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

/// ReEncrypt: decrypts and encrypts again, under another key or context.
pub async fn re_encrypt(
    svc: &Kms,
    ctx: &RequestContext,
    i: ReEncryptInput,
) -> Result<Value, KmsError> {
    let (plain, source) = open_with(
        svc,
        ctx,
        i.source_key_id.as_deref(),
        i.source_encryption_algorithm.as_deref(),
        &i.ciphertext_blob.0,
        &i.source_encryption_context,
    )?;
    let (blob, dest) = seal_with(
        svc,
        ctx,
        &i.destination_key_id,
        i.destination_encryption_algorithm.as_deref(),
        &plain,
        &i.destination_encryption_context,
    )?;
    dry_run(i.dry_run)?;
    Ok(json!({
        "CiphertextBlob": Blob(blob),
        "SourceKeyId": source,
        "KeyId": dest,
        "SourceEncryptionAlgorithm": i.source_encryption_algorithm.as_deref().unwrap_or("SYMMETRIC_DEFAULT"),
        "DestinationEncryptionAlgorithm": i.destination_encryption_algorithm.as_deref().unwrap_or("SYMMETRIC_DEFAULT"),
    }))
}

/// GenerateDataKey(+WithoutPlaintext) input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyInput {
    key_id: String,
    #[serde(default)]
    encryption_context: Context,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    dry_run: Option<bool>,
}

fn data_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: &DataKeyInput,
) -> Result<(Vec<u8>, Vec<u8>, String), KmsError> {
    let len = match (&i.key_spec, i.number_of_bytes) {
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "Please specify either number of bytes or key spec.",
            ))
        }
        (None, None) => {
            return Err(KmsError::validation(
                "Please specify either number of bytes or key spec.",
            ))
        }
        (Some(s), None) => match s.as_str() {
            "AES_256" => 32,
            "AES_128" => 16,
            other => {
                return Err(KmsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )))
            }
        },
        (None, Some(n)) if (1..=1024).contains(&n) => n as usize,
        (None, Some(n)) => {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )))
        }
    };
    symmetric_only(svc, ctx, &i.key_id)?;
    let plain = crypto::random(len);
    let (blob, arn) = seal_with(svc, ctx, &i.key_id, None, &plain, &i.encryption_context)?;
    dry_run(i.dry_run)?;
    Ok((plain, blob, arn))
}

/// Data keys are made under symmetric encryption keys only.
pub(crate) fn symmetric_only(svc: &Kms, ctx: &RequestContext, key: &str) -> Result<(), KmsError> {
    svc.with_key(ctx, key, |k| {
        if !k.is_symmetric() {
            return Err(KmsError::InvalidKeyUsageException(format!(
                "{} key usage is {} and key spec is {}; data keys need a symmetric encryption KMS key.",
                k.arn, k.usage, k.spec
            )));
        }
        Ok(())
    })
}

/// GenerateDataKey.
pub async fn generate_data_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: DataKeyInput,
) -> Result<Value, KmsError> {
    let (plain, blob, arn) = data_key(svc, ctx, &i)?;
    Ok(json!({"CiphertextBlob": Blob(blob), "Plaintext": Blob(plain), "KeyId": arn}))
}

/// GenerateDataKeyWithoutPlaintext.
pub async fn generate_data_key_without_plaintext(
    svc: &Kms,
    ctx: &RequestContext,
    i: DataKeyInput,
) -> Result<Value, KmsError> {
    let (_, blob, arn) = data_key(svc, ctx, &i)?;
    Ok(json!({"CiphertextBlob": Blob(blob), "KeyId": arn}))
}

/// GenerateRandom input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
}

/// GenerateRandom.
pub async fn generate_random(
    _svc: &Kms,
    _ctx: &RequestContext,
    i: RandomInput,
) -> Result<Value, KmsError> {
    if i.custom_key_store_id.is_some() {
        return Err(KmsError::Aws(overcast_core::AwsError::new(
            "CustomKeyStoreNotFoundException",
            "Custom key stores are not available.",
        )));
    }
    let n = i.number_of_bytes.unwrap_or(0);
    if !(1..=1024).contains(&n) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
        )));
    }
    Ok(json!({"Plaintext": Blob(crypto::random(n as usize))}))
}

/// GenerateMac / VerifyMac input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MacInput {
    message: Blob,
    key_id: String,
    mac_algorithm: String,
    mac: Option<Blob>,
    dry_run: Option<bool>,
}

fn compute_mac(
    svc: &Kms,
    ctx: &RequestContext,
    i: &MacInput,
) -> Result<(Vec<u8>, String), KmsError> {
    if i.message.0.is_empty() || i.message.0.len() > MAX_PLAINTEXT {
        return Err(KmsError::validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and 4096",
        ));
    }
    let (material, arn) = svc.with_key(ctx, &i.key_id, |k| {
        k.usable()?;
        let expected = k.spec.replace("HMAC_", "HMAC_SHA_");
        if k.usage != "GENERATE_VERIFY_MAC" || expected != i.mac_algorithm {
            return Err(KmsError::InvalidKeyUsageException(format!(
                "{} cannot be used with MAC algorithm {}.",
                k.arn, i.mac_algorithm
            )));
        }
        let (_, m) = k.current_material()?;
        Ok((m.to_vec(), k.arn.clone()))
    })?;
    let msg = &i.message.0;
    macro_rules! mac {
        ($h:ty) => {{
            let mut m = <Hmac<$h> as Mac>::new_from_slice(&material)
                .map_err(|_| KmsError::KMSInternalException("bad key".into()))?;
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }};
    }
    let out = match i.mac_algorithm.as_str() {
        "HMAC_SHA_224" => mac!(sha2::Sha224),
        "HMAC_SHA_256" => mac!(sha2::Sha256),
        "HMAC_SHA_384" => mac!(sha2::Sha384),
        "HMAC_SHA_512" => mac!(sha2::Sha512),
        other => {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'macAlgorithm' failed to satisfy constraint"
            )))
        }
    };
    dry_run(i.dry_run)?;
    svc.record_use_arn(ctx, &arn);
    Ok((out, arn))
}

/// GenerateMac.
pub async fn generate_mac(svc: &Kms, ctx: &RequestContext, i: MacInput) -> Result<Value, KmsError> {
    let (mac, arn) = compute_mac(svc, ctx, &i)?;
    Ok(json!({"Mac": Blob(mac), "MacAlgorithm": i.mac_algorithm, "KeyId": arn}))
}

/// VerifyMac: a MAC that does not match is `KMSInvalidMacException`.
pub async fn verify_mac(svc: &Kms, ctx: &RequestContext, i: MacInput) -> Result<Value, KmsError> {
    let (mac, arn) = compute_mac(svc, ctx, &i)?;
    let given = i.mac.as_ref().map(|b| b.0.as_slice()).unwrap_or_default();
    let equal = given.len() == mac.len()
        && given
            .iter()
            .zip(&mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !equal {
        return Err(KmsError::KMSInvalidMacException(String::new()));
    }
    Ok(json!({"KeyId": arn, "MacValid": true, "MacAlgorithm": i.mac_algorithm}))
}
