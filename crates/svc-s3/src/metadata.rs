//! S3 Metadata configurations (V2 CreateBucketMetadataConfiguration with its journal,
//! inventory and annotation tables, and the V1 metadata table configuration) and the bucket
//! ABAC switch. These are stored configurations with AWS's validation and not-found errors:
//! no S3 Tables table is created or fed with records, and ABAC does not change how
//! authorization is evaluated.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::{bucket_name, config, error, owned, text, S3};

const KEY: &str = "metadata";
const ABAC: &str = "abac";

fn not_found() -> AwsError {
    AwsError::new(
        "MetadataConfigurationNotFound",
        "The specified bucket does not have a metadata configuration.",
    )
    .with_status(404)
}

fn stored(svc: &S3, ctx: &RequestContext, bucket: &str) -> Result<Option<Value>, AwsError> {
    let st = svc.read();
    Ok(owned(&st, ctx, bucket)?.record.configs.get(KEY).cloned())
}

fn check_encryption(v: Option<&Value>) -> Result<(), AwsError> {
    let Some(e) = v else {
        return Ok(());
    };
    match (text(e, "SseAlgorithm"), text(e, "KmsKeyArn")) {
        (Some("aws:kms"), Some(k)) if k.starts_with("arn:") => Ok(()),
        (Some("aws:kms"), _) => Err(error::invalid_request(
            "A KMS key ARN is required when the SSE algorithm is aws:kms.",
        )),
        (Some("AES256"), None) => Ok(()),
        (Some("AES256"), Some(_)) => Err(error::invalid_request(
            "A KMS key ARN can only be specified when the SSE algorithm is aws:kms.",
        )),
        _ => Err(error::malformed_xml()),
    }
}

fn check_expiration(r: Option<&Value>) -> Result<Value, AwsError> {
    let Some(r) = r else {
        return Err(error::malformed_xml());
    };
    let days = r.get("Days").and_then(Value::as_i64);
    match (text(r, "Expiration"), days) {
        (Some("ENABLED"), Some(d)) if (7..=2_147_483_647).contains(&d) => {
            Ok(json!({"Expiration": "ENABLED", "Days": d}))
        }
        (Some("ENABLED"), _) => Err(error::invalid_argument(
            "Days must be between 7 and 2147483647 when record expiration is ENABLED.",
        )),
        (Some("DISABLED"), None) => Ok(json!({"Expiration": "DISABLED"})),
        (Some("DISABLED"), Some(_)) => Err(error::invalid_argument(
            "Days cannot be specified when record expiration is DISABLED.",
        )),
        _ => Err(error::malformed_xml()),
    }
}

fn state(v: &Value, member: &str) -> Result<String, AwsError> {
    match text(v, member) {
        Some(s @ ("ENABLED" | "DISABLED")) => Ok(s.to_string()),
        _ => Err(error::malformed_xml()),
    }
}

fn table_arn(ctx: &RequestContext, bucket: &str, table: &str) -> String {
    format!(
        "arn:aws:s3tables:{}:{}:bucket/aws-s3/table/{}-{}",
        ctx.region,
        ctx.account_id,
        namespace(bucket),
        table
    )
}

fn namespace(bucket: &str) -> String {
    format!("b_{}", bucket.replace(['-', '.'], "_"))
}

/// An optional table's result (inventory, annotation) from its requested configuration.
fn optional_table(
    ctx: &RequestContext,
    bucket: &str,
    table: &str,
    cfg: &Value,
) -> Result<Value, AwsError> {
    let s = state(cfg, "ConfigurationState")?;
    check_encryption(cfg.get("EncryptionConfiguration"))?;
    let mut out = json!({ "ConfigurationState": s });
    if s == "ENABLED" {
        out["TableStatus"] = json!("ACTIVE");
        out["TableName"] = json!(table);
        out["TableArn"] = json!(table_arn(ctx, bucket, table));
    }
    if let Some(r) = cfg.get("Role") {
        out["Role"] = r.clone();
    }
    Ok(out)
}

/// CreateBucketMetadataConfiguration (V2).
pub async fn create_bucket_metadata_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    if stored(svc, ctx, &bucket)?.is_some() {
        return Err(error::invalid_request(
            "A metadata configuration already exists for this bucket. Delete it before creating a new one.",
        ));
    }
    let cfg = input
        .get("MetadataConfiguration")
        .cloned()
        .unwrap_or(json!({}));
    let journal = cfg
        .get("JournalTableConfiguration")
        .ok_or_else(error::malformed_xml)?;
    let expiration = check_expiration(journal.get("RecordExpiration"))?;
    check_encryption(journal.get("EncryptionConfiguration"))?;
    let mut result = json!({
        "DestinationResult": {
            "TableBucketType": "aws",
            "TableBucketArn": format!("arn:aws:s3tables:{}:{}:bucket/aws-s3", ctx.region, ctx.account_id),
            "TableNamespace": namespace(&bucket),
        },
        "JournalTableConfigurationResult": {
            "TableStatus": "ACTIVE",
            "TableName": "journal",
            "TableArn": table_arn(ctx, &bucket, "journal"),
            "RecordExpiration": expiration,
        },
    });
    result["InventoryTableConfigurationResult"] = match cfg.get("InventoryTableConfiguration") {
        Some(i) => optional_table(ctx, &bucket, "inventory", i)?,
        None => json!({"ConfigurationState": "DISABLED"}),
    };
    if let Some(a) = cfg.get("AnnotationTableConfiguration") {
        result["AnnotationTableConfigurationResult"] =
            optional_table(ctx, &bucket, "annotation", a)?;
    }
    config::save(
        svc,
        ctx,
        &bucket,
        KEY,
        Some(json!({"Version": 2, "Result": result})),
    )?;
    Ok(json!({}))
}

/// GetBucketMetadataConfiguration: V2 and V1 configurations alike.
pub async fn get_bucket_metadata_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let cfg = stored(svc, ctx, bucket_name(&input))?.ok_or_else(not_found)?;
    let result = if cfg["Version"] == 1 {
        let d = &cfg["Result"]["MetadataTableConfigurationResult"]["S3TablesDestinationResult"];
        json!({
            "DestinationResult": {
                "TableBucketType": "customer",
                "TableBucketArn": d["TableBucketArn"],
                "TableNamespace": d["TableNamespace"],
            },
            "JournalTableConfigurationResult": {
                "TableStatus": cfg["Result"]["Status"],
                "TableName": d["TableName"],
                "TableArn": d["TableArn"],
                "RecordExpiration": {"Expiration": "DISABLED"},
            },
        })
    } else {
        cfg["Result"].clone()
    };
    Ok(json!({"GetBucketMetadataConfigurationResult": {"MetadataConfigurationResult": result}}))
}

/// DeleteBucketMetadataConfiguration (V1 or V2).
pub async fn delete_bucket_metadata_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    stored(svc, ctx, &bucket)?.ok_or_else(not_found)?;
    config::save(svc, ctx, &bucket, KEY, None)?;
    Ok(json!({}))
}

fn v2(svc: &S3, ctx: &RequestContext, bucket: &str) -> Result<Value, AwsError> {
    let cfg = stored(svc, ctx, bucket)?.ok_or_else(not_found)?;
    if cfg["Version"] != 2 {
        return Err(AwsError::new(
            "MethodNotAllowed",
            "The specified method is not allowed against a V1 metadata table configuration.",
        )
        .with_status(405));
    }
    Ok(cfg)
}

/// UpdateBucketMetadataJournalTableConfiguration: the journal's record expiration.
pub async fn update_bucket_metadata_journal_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let mut cfg = v2(svc, ctx, &bucket)?;
    let j = input
        .get("JournalTableConfiguration")
        .ok_or_else(error::malformed_xml)?;
    cfg["Result"]["JournalTableConfigurationResult"]["RecordExpiration"] =
        check_expiration(j.get("RecordExpiration"))?;
    config::save(svc, ctx, &bucket, KEY, Some(cfg))?;
    Ok(json!({}))
}

async fn update_table(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
    member: &str,
    result: &str,
    table: &str,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let mut cfg = v2(svc, ctx, &bucket)?;
    let t = input.get(member).ok_or_else(error::malformed_xml)?;
    cfg["Result"][result] = optional_table(ctx, &bucket, table, t)?;
    config::save(svc, ctx, &bucket, KEY, Some(cfg))?;
    Ok(json!({}))
}

/// UpdateBucketMetadataInventoryTableConfiguration.
pub async fn update_bucket_metadata_inventory_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    update_table(
        svc,
        ctx,
        input,
        "InventoryTableConfiguration",
        "InventoryTableConfigurationResult",
        "inventory",
    )
    .await
}

/// UpdateBucketMetadataAnnotationTableConfiguration.
pub async fn update_bucket_metadata_annotation_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    update_table(
        svc,
        ctx,
        input,
        "AnnotationTableConfiguration",
        "AnnotationTableConfigurationResult",
        "annotation",
    )
    .await
}

/// CreateBucketMetadataTableConfiguration (V1): a journal table in a customer table bucket.
pub async fn create_bucket_metadata_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    if stored(svc, ctx, &bucket)?.is_some() {
        return Err(error::invalid_request(
            "A metadata table configuration already exists for this bucket.",
        ));
    }
    let d = input
        .get("MetadataTableConfiguration")
        .and_then(|c| c.get("S3TablesDestination"))
        .ok_or_else(error::malformed_xml)?;
    let arn = text(d, "TableBucketArn").unwrap_or("");
    let table = text(d, "TableName").unwrap_or("");
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let arn_ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "s3tables"
        && parts[5]
            .strip_prefix("bucket/")
            .is_some_and(|n| !n.is_empty());
    if !arn_ok {
        return Err(error::invalid_argument("Invalid table bucket ARN."));
    }
    let table_ok = !table.is_empty()
        && table.len() <= 255
        && table
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && table.as_bytes()[0].is_ascii_alphanumeric();
    if !table_ok {
        return Err(error::invalid_argument("Invalid table name."));
    }
    let result = json!({
        "MetadataTableConfigurationResult": {
            "S3TablesDestinationResult": {
                "TableBucketArn": arn,
                "TableName": table,
                "TableArn": format!("{arn}/table/{}", overcast_core::ids::uuid()),
                "TableNamespace": "aws_s3_metadata",
            }
        },
        "Status": "ACTIVE",
    });
    config::save(
        svc,
        ctx,
        &bucket,
        KEY,
        Some(json!({"Version": 1, "Result": result})),
    )?;
    Ok(json!({}))
}

/// GetBucketMetadataTableConfiguration (V1); 405 for a V2 configuration, as on AWS.
pub async fn get_bucket_metadata_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let cfg = stored(svc, ctx, bucket_name(&input))?.ok_or_else(not_found)?;
    if cfg["Version"] != 1 {
        return Err(AwsError::new(
            "MethodNotAllowed",
            "The specified method is not allowed against a V2 metadata configuration.",
        )
        .with_status(405));
    }
    Ok(json!({"GetBucketMetadataTableConfigurationResult": cfg["Result"]}))
}

/// DeleteBucketMetadataTableConfiguration (V1).
pub async fn delete_bucket_metadata_table_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    delete_bucket_metadata_configuration(svc, ctx, input).await
}

/// PutBucketAbac.
pub async fn put_bucket_abac(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    owned(&svc.read(), ctx, &bucket)?;
    let status = input
        .get("AbacStatus")
        .and_then(|s| text(s, "Status"))
        .unwrap_or("");
    if !matches!(status, "Enabled" | "Disabled") {
        return Err(error::malformed_xml());
    }
    config::save(svc, ctx, &bucket, ABAC, Some(json!({"Status": status})))?;
    Ok(json!({}))
}

/// GetBucketAbac: `Disabled` until enabled.
pub async fn get_bucket_abac(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let status = b
        .record
        .configs
        .get(ABAC)
        .cloned()
        .unwrap_or_else(|| json!({"Status": "Disabled"}));
    Ok(json!({ "AbacStatus": status }))
}
