//! Operations of asymmetric keys: Sign, Verify, GetPublicKey, GenerateDataKeyPair
//! (+WithoutPlaintext) and DeriveSharedSecret.

use std::collections::BTreeMap;

use overcast_core::{Blob, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::data::symmetric_only;
use crate::error::KmsError;
use crate::state::Key;
use crate::{asym, crypto, Kms};

/// The private key of an asymmetric key usable for `usage`.
fn private_of(k: &Key, usage: &str) -> Result<(Vec<u8>, String, String), KmsError> {
    k.usable_for(usage)?;
    if !asym::is_asymmetric(&k.spec) {
        return Err(k.wrong_usage());
    }
    let (_, m) = k.current_material()?;
    Ok((m.to_vec(), k.arn.clone(), k.spec.clone()))
}

/// Sign / Verify input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignInput {
    key_id: String,
    message: Blob,
    message_type: Option<String>,
    signing_algorithm: String,
    signature: Option<Blob>,
    dry_run: Option<bool>,
}

fn dry_run(d: Option<bool>) -> Result<(), KmsError> {
    if d == Some(true) {
        return Err(KmsError::DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set.".into(),
        ));
    }
    Ok(())
}

fn prepare(
    svc: &Kms,
    ctx: &RequestContext,
    i: &SignInput,
) -> Result<(Vec<u8>, String, String, Vec<u8>), KmsError> {
    if i.message.0.is_empty() || i.message.0.len() > 4096 {
        return Err(KmsError::validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and 4096",
        ));
    }
    let (private, arn, spec) = svc.with_key(ctx, &i.key_id, |k| private_of(k, "SIGN_VERIFY"))?;
    if !asym::signing_algorithms(&spec).contains(&i.signing_algorithm.as_str()) {
        return Err(KmsError::InvalidKeyUsageException(format!(
            "Algorithm {} is incompatible with key spec {spec}.",
            i.signing_algorithm
        )));
    }
    let digest = asym::digest(
        &i.signing_algorithm,
        &i.message.0,
        i.message_type.as_deref().unwrap_or("RAW"),
    )?;
    Ok((private, arn, spec, digest))
}

/// Sign.
pub async fn sign(svc: &Kms, ctx: &RequestContext, i: SignInput) -> Result<Value, KmsError> {
    let (private, arn, spec, digest) = prepare(svc, ctx, &i)?;
    dry_run(i.dry_run)?;
    let sig = asym::sign(&spec, &private, &i.signing_algorithm, &digest)?;
    svc.record_use_arn(ctx, &arn);
    Ok(json!({"KeyId": arn, "Signature": Blob(sig), "SigningAlgorithm": i.signing_algorithm}))
}

/// Verify: an invalid signature is `KMSInvalidSignatureException`.
pub async fn verify(svc: &Kms, ctx: &RequestContext, i: SignInput) -> Result<Value, KmsError> {
    let (private, arn, spec, digest) = prepare(svc, ctx, &i)?;
    dry_run(i.dry_run)?;
    let sig = i
        .signature
        .as_ref()
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    if !asym::verify(&spec, &private, &i.signing_algorithm, &digest, sig)? {
        return Err(KmsError::KMSInvalidSignatureException(String::new()));
    }
    svc.record_use_arn(ctx, &arn);
    Ok(json!({"KeyId": arn, "SignatureValid": true, "SigningAlgorithm": i.signing_algorithm}))
}

/// GetPublicKey input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicKeyInput {
    key_id: String,
}

/// GetPublicKey: DER SubjectPublicKeyInfo and what the key may do.
pub async fn get_public_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: PublicKeyInput,
) -> Result<Value, KmsError> {
    svc.with_key(ctx, &i.key_id, |k| {
        k.usable()?;
        if crate::mlkem::is_ml_kem(&k.spec) {
            let (_, m) = k.current_material()?;
            return Ok(json!({
                "KeyId": k.arn,
                "PublicKey": Blob(crate::mlkem::public_der(&k.spec, m)?),
                "KeySpec": k.spec,
                "KeyUsage": k.usage,
                "EncapsulationAlgorithms": ["ML_KEM"],
            }));
        }
        if !asym::is_asymmetric(&k.spec) {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} key spec {} does not have a public key.",
                k.arn, k.spec
            )));
        }
        let (_, m) = k.current_material()?;
        let mut out = json!({
            "KeyId": k.arn,
            "PublicKey": Blob(asym::public_der(&k.spec, m)?),
            "CustomerMasterKeySpec": k.spec,
            "KeySpec": k.spec,
            "KeyUsage": k.usage,
        });
        match k.usage.as_str() {
            "ENCRYPT_DECRYPT" => out["EncryptionAlgorithms"] = json!(asym::RSA_ENCRYPTION),
            "SIGN_VERIFY" => out["SigningAlgorithms"] = json!(asym::signing_algorithms(&k.spec)),
            "KEY_AGREEMENT" => out["KeyAgreementAlgorithms"] = json!(["ECDH"]),
            _ => {}
        }
        Ok(out)
    })
}

/// GenerateDataKeyPair input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyPairInput {
    key_id: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    key_pair_spec: String,
    dry_run: Option<bool>,
}

/// Private key (PKCS#8 DER), public key (DER), encrypted private key, key ARN.
type DataKeyPair = (Vec<u8>, Vec<u8>, Vec<u8>, String);

fn data_key_pair(
    svc: &Kms,
    ctx: &RequestContext,
    i: &DataKeyPairInput,
) -> Result<DataKeyPair, KmsError> {
    if !asym::is_asymmetric(&i.key_pair_spec) {
        return Err(KmsError::UnsupportedOperationException(format!(
            "KeyPairSpec {} is not supported in this region.",
            i.key_pair_spec
        )));
    }
    symmetric_only(svc, ctx, &i.key_id)?;
    let (id, index, material, arn) = svc.with_key(ctx, &i.key_id, |k| {
        k.usable()?;
        let (idx, m) = k.current_material()?;
        Ok((k.id.clone(), idx, m.to_vec(), k.arn.clone()))
    })?;
    dry_run(i.dry_run)?;
    let private = asym::generate(&i.key_pair_spec)?;
    let public = asym::public_der(&i.key_pair_spec, &private)?;
    let blob = crypto::seal(&id, index, &material, &private, &i.encryption_context)
        .ok_or_else(|| KmsError::KMSInternalException("encryption failed".into()))?;
    svc.record_use(ctx, &id);
    Ok((private, public, blob, arn))
}

/// GenerateDataKeyPair.
pub async fn generate_data_key_pair(
    svc: &Kms,
    ctx: &RequestContext,
    i: DataKeyPairInput,
) -> Result<Value, KmsError> {
    let (private, public, blob, arn) = data_key_pair(svc, ctx, &i)?;
    Ok(json!({
        "PrivateKeyCiphertextBlob": Blob(blob),
        "PrivateKeyPlaintext": Blob(private),
        "PublicKey": Blob(public),
        "KeyId": arn,
        "KeyPairSpec": i.key_pair_spec,
    }))
}

/// GenerateDataKeyPairWithoutPlaintext.
pub async fn generate_data_key_pair_without_plaintext(
    svc: &Kms,
    ctx: &RequestContext,
    i: DataKeyPairInput,
) -> Result<Value, KmsError> {
    let (_, public, blob, arn) = data_key_pair(svc, ctx, &i)?;
    Ok(json!({
        "PrivateKeyCiphertextBlob": Blob(blob),
        "PublicKey": Blob(public),
        "KeyId": arn,
        "KeyPairSpec": i.key_pair_spec,
    }))
}

/// DeriveSharedSecret input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeriveInput {
    key_id: String,
    key_agreement_algorithm: String,
    public_key: Blob,
    dry_run: Option<bool>,
}

/// DeriveSharedSecret (ECDH).
pub async fn derive_shared_secret(
    svc: &Kms,
    ctx: &RequestContext,
    i: DeriveInput,
) -> Result<Value, KmsError> {
    if i.key_agreement_algorithm != "ECDH" {
        return Err(KmsError::validation(format!(
            "KeyAgreementAlgorithm {} is not supported.",
            i.key_agreement_algorithm
        )));
    }
    let (private, arn, spec) = svc.with_key(ctx, &i.key_id, |k| private_of(k, "KEY_AGREEMENT"))?;
    dry_run(i.dry_run)?;
    let secret = asym::derive_shared_secret(&spec, &private, &i.public_key.0)?;
    svc.record_use_arn(ctx, &arn);
    Ok(json!({
        "KeyId": arn,
        "SharedSecret": Blob(secret),
        "KeyAgreementAlgorithm": "ECDH",
        "KeyOrigin": "AWS_KMS",
    }))
}

/// Encapsulate / Decapsulate input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KemInput {
    key_id: String,
    encapsulation_algorithm: String,
    shared_secret_ciphertext_blob: Option<Blob>,
    dry_run: Option<bool>,
}

fn kem_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: &KemInput,
) -> Result<(Vec<u8>, String, String), KmsError> {
    if i.encapsulation_algorithm != "ML_KEM" {
        return Err(KmsError::validation(format!(
            "EncapsulationAlgorithm {} is not supported.",
            i.encapsulation_algorithm
        )));
    }
    svc.with_key(ctx, &i.key_id, |k| {
        k.usable_for("ENCAPSULATE_DECAPSULATE")?;
        let (_, m) = k.current_material()?;
        Ok((m.to_vec(), k.arn.clone(), k.spec.clone()))
    })
}

/// Encapsulate (ML-KEM): a shared secret and its ciphertext.
pub async fn encapsulate(svc: &Kms, ctx: &RequestContext, i: KemInput) -> Result<Value, KmsError> {
    let (dk, arn, spec) = kem_key(svc, ctx, &i)?;
    dry_run(i.dry_run)?;
    let (ss, ct) = crate::mlkem::encapsulate(&spec, &dk)?;
    svc.record_use_arn(ctx, &arn);
    Ok(json!({
        "KeyId": arn,
        "SharedSecret": Blob(ss),
        "SharedSecretCiphertextBlob": Blob(ct),
        "EncapsulationAlgorithm": "ML_KEM",
    }))
}

/// Decapsulate (ML-KEM).
pub async fn decapsulate(svc: &Kms, ctx: &RequestContext, i: KemInput) -> Result<Value, KmsError> {
    let (dk, arn, spec) = kem_key(svc, ctx, &i)?;
    dry_run(i.dry_run)?;
    let ct = i
        .shared_secret_ciphertext_blob
        .as_ref()
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    let ss = crate::mlkem::decapsulate(&spec, &dk, ct)?;
    svc.record_use_arn(ctx, &arn);
    Ok(json!({"KeyId": arn, "SharedSecret": Blob(ss), "EncapsulationAlgorithm": "ML_KEM"}))
}
