//! Parameters themselves: PutParameter, GetParameter(s), DeleteParameter(s),
//! GetParameterHistory.

use overcast_core::{Blob, RequestContext};
use serde::{Deserialize, Serialize};

use crate::error::SsmError;
use crate::filters;
use crate::names::{self, Reference};
use crate::policies::{self, Policy};
use crate::state::{Parameter, StoredValue, Tag, Version, MAX_VERSIONS};
use crate::Ssm;

/// KMS key of SecureStrings that name none.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";

/// Longest value of a standard parameter.
pub const STANDARD_MAX_VALUE: usize = 4096;

/// Longest value of an advanced parameter.
pub const ADVANCED_MAX_VALUE: usize = 8192;

/// Most standard parameters per account and region.
pub const MAX_STANDARD_PARAMETERS: usize = 10_000;

/// Most tags per resource.
pub const MAX_TAGS: usize = 50;

const TYPES: &[&str] = &["String", "StringList", "SecureString"];
const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];
const DATA_TYPES: &[&str] = &["text", "aws:ec2:image", "aws:ssm:integration"];

pub(crate) fn validation(message: impl Into<String>) -> SsmError {
    SsmError::ValidationException(message.into())
}

fn enum_error(value: &str, member: &str, set: &[&str]) -> SsmError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        set.join(", ")
    ))
}

pub(crate) fn not_found() -> SsmError {
    SsmError::ParameterNotFound(String::new())
}

/// Finds the parameter a reference names.
pub(crate) fn lookup<'a>(
    map: &'a std::collections::BTreeMap<String, Parameter>,
    reference: &Reference,
) -> Option<&'a Parameter> {
    reference.candidates.iter().find_map(|n| map.get(n))
}

/// `Parameter` of GetParameter(s) and GetParametersByPath.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterOut {
    name: String,
    #[serde(rename = "Type")]
    kind: String,
    value: String,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<String>,
    last_modified_date: f64,
    #[serde(rename = "ARN")]
    arn: String,
    data_type: String,
    #[serde(skip)]
    pending: Option<crate::Pending>,
}

impl ParameterOut {
    /// Decrypts the value if it is a SecureString left pending.
    pub(crate) async fn open(&mut self, ssm: &Ssm, ctx: &RequestContext) -> Result<(), SsmError> {
        if let Some(p) = self.pending.take() {
            self.value = ssm.open(ctx, p).await?;
        }
        Ok(())
    }
}

impl Ssm {
    pub(crate) fn parameter_out(
        &self,
        ctx: &RequestContext,
        param: &Parameter,
        version: &Version,
        selector: Option<String>,
        decrypt: bool,
    ) -> Result<ParameterOut, SsmError> {
        let (value, pending) = self.value_of(param, version, decrypt);
        Ok(ParameterOut {
            pending,
            name: param.name.clone(),
            kind: version.kind.clone(),
            value,
            version: version.version,
            selector,
            last_modified_date: version.last_modified,
            arn: names::arn(&ctx.region, &ctx.account_id, &param.name),
            data_type: version.data_type.clone(),
        })
    }
}

/// `ParameterInlinePolicy`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOut {
    policy_text: String,
    policy_type: String,
    policy_status: String,
}

pub(crate) fn policies_out(policies: &[Policy]) -> Vec<PolicyOut> {
    policies
        .iter()
        .map(|p| PolicyOut {
            policy_text: p.text.clone(),
            policy_type: p.kind.clone(),
            policy_status: "Pending".into(),
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutParameterInput {
    name: String,
    description: Option<String>,
    value: String,
    #[serde(rename = "Type")]
    kind: Option<String>,
    key_id: Option<String>,
    overwrite: Option<bool>,
    allowed_pattern: Option<String>,
    tags: Option<Vec<Tag>>,
    tier: Option<String>,
    policies: Option<String>,
    data_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutParameterOutput {
    version: i64,
    tier: String,
}

/// Checks `value` against an AllowedPattern (the whole value must match).
pub fn check_allowed_pattern(pattern: &str, value: &str) -> Result<(), SsmError> {
    let re = regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        SsmError::InvalidAllowedPatternException(format!(
            "The allowed pattern {pattern} is not a valid regular expression."
        ))
    })?;
    if !re.is_match(value) {
        return Err(SsmError::ParameterPatternMismatchException(format!(
            "Parameter value, cannot be validated against allowedPattern: {pattern}"
        )));
    }
    Ok(())
}

/// Checks a value against its data type.
pub fn check_data_type(data_type: &str, kind: &str, value: &str) -> Result<(), SsmError> {
    if !DATA_TYPES.contains(&data_type) {
        return Err(validation(format!(
            "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
        )));
    }
    if data_type == "aws:ec2:image" {
        if kind != "String" {
            return Err(validation(
                "The aws:ec2:image data type is supported only for String parameters.",
            ));
        }
        let hex = value.strip_prefix("ami-").unwrap_or_default();
        let ok = matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(validation(format!(
                "Invalid Format: the parameter value {value} is not a valid AMI ID. The format is ami-xxxxxxxxxxxxxxxxx."
            )));
        }
    }
    Ok(())
}

/// Picks the tier a version is stored in.
pub fn resolve_tier(
    requested: Option<&str>,
    existing: Option<&str>,
    value_len: usize,
    has_policies: bool,
) -> Result<String, SsmError> {
    let needs_advanced = value_len > STANDARD_MAX_VALUE || has_policies;
    let tier = match requested {
        Some("Intelligent-Tiering") => {
            if needs_advanced || existing == Some("Advanced") {
                "Advanced"
            } else {
                "Standard"
            }
        }
        Some(t) => t,
        None => existing.unwrap_or("Standard"),
    };
    if tier == "Standard" && existing == Some("Advanced") {
        return Err(validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
        ));
    }
    if tier == "Standard" && value_len > STANDARD_MAX_VALUE {
        return Err(validation(
            "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
        ));
    }
    if tier == "Standard" && has_policies {
        return Err(validation(
            "Parameter policies are supported only for advanced parameters. To use parameter policies, upgrade the parameter to the advanced-parameter tier.",
        ));
    }
    if value_len > ADVANCED_MAX_VALUE {
        return Err(validation(format!(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to {ADVANCED_MAX_VALUE}"
        )));
    }
    Ok(tier.to_string())
}

fn check_key_id(key_id: &str) -> Result<(), SsmError> {
    if !key_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
    {
        return Err(validation(format!(
            "1 validation error detected: Value '{key_id}' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$"
        )));
    }
    let known_shape = key_id.starts_with("alias/")
        || key_id.starts_with("arn:aws:kms:")
        || (key_id.len() == 36 && key_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        || key_id.starts_with("mrk-");
    if !known_shape {
        return Err(SsmError::InvalidKeyId(format!(
            "The key ID {key_id} is not valid."
        )));
    }
    Ok(())
}

pub(crate) async fn put_parameter(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: PutParameterInput,
) -> Result<PutParameterOutput, SsmError> {
    let name = i.name.trim().to_string();
    names::check_new_name(&name, &ctx.region, &ctx.account_id)?;
    if let Some(k) = i.kind.as_deref().filter(|k| !TYPES.contains(k)) {
        return Err(enum_error(k, "type", TYPES));
    }
    if let Some(t) = i.tier.as_deref().filter(|t| !TIERS.contains(t)) {
        return Err(enum_error(t, "tier", TIERS));
    }
    if i.value.is_empty() {
        return Err(validation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let overwrite = i.overwrite.unwrap_or(false);
    let tags = i.tags.clone().unwrap_or_default();
    if overwrite && !tags.is_empty() {
        return Err(validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(validation(format!(
            "A parameter can have at most {MAX_TAGS} tags."
        )));
    }
    let new_policies = i
        .policies
        .as_deref()
        .map(|p| policies::parse(p, ctx.now))
        .transpose()?;

    // SecureStrings are sealed (through KMS) outside the state lock, then installed; if the
    // parameter's key changed meanwhile, the value is sealed again.
    let mut sealed: Option<(String, Vec<u8>)> = None;
    for _ in 0..3 {
        match put_locked(
            ssm,
            ctx,
            &i,
            &name,
            &tags,
            new_policies.clone(),
            sealed.as_ref(),
        )? {
            PutOutcome::Done(out) => return Ok(out),
            PutOutcome::Reseal(key) => {
                let c = ssm
                    .cipher
                    .encrypt(ctx, &key, &name, i.value.as_bytes())
                    .await?;
                sealed = Some((key, c));
            }
        }
    }
    Err(SsmError::InternalServerError(
        "the parameter changed while it was being written; try again".into(),
    ))
}

enum PutOutcome {
    Done(PutParameterOutput),
    Reseal(String),
}

fn put_locked(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: &PutParameterInput,
    name: &str,
    tags: &[Tag],
    new_policies: Option<Vec<Policy>>,
    sealed: Option<&(String, Vec<u8>)>,
) -> Result<PutOutcome, SsmError> {
    let name = name.to_string();
    let tags = tags.to_vec();
    let overwrite = i.overwrite.unwrap_or(false);
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let existing = w.map.get(&name).cloned();
    if existing.is_some() && !overwrite {
        return Err(SsmError::ParameterAlreadyExists(
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.".into(),
        ));
    }
    let prev = existing.as_ref().map(|p| p.latest());
    let kind = match (i.kind.clone(), prev) {
        (Some(k), _) => k,
        (None, Some(p)) => p.kind.clone(),
        (None, None) => {
            return Err(validation(
                "A parameter type is required when you create a parameter.",
            ))
        }
    };
    let key_id = if kind == "SecureString" {
        let k = i
            .key_id
            .clone()
            .or_else(|| {
                prev.filter(|p| p.kind == "SecureString")
                    .and_then(|p| p.key_id.clone())
            })
            .unwrap_or_else(|| DEFAULT_KEY_ID.to_string());
        check_key_id(&k)?;
        Some(k)
    } else {
        if i.key_id.is_some() {
            return Err(validation(
                "KeyId is required for SecureString type parameter only.",
            ));
        }
        None
    };
    let data_type = i
        .data_type
        .clone()
        .or_else(|| prev.map(|p| p.data_type.clone()))
        .unwrap_or_else(|| "text".into());
    check_data_type(&data_type, &kind, &i.value)?;
    let allowed_pattern = i
        .allowed_pattern
        .clone()
        .or_else(|| prev.and_then(|p| p.allowed_pattern.clone()));
    if let Some(p) = allowed_pattern.as_deref().filter(|p| !p.is_empty()) {
        check_allowed_pattern(p, &i.value)?;
    }
    let policies = new_policies
        .or_else(|| prev.map(|p| p.policies.clone()))
        .unwrap_or_default();
    let tier = resolve_tier(
        i.tier.as_deref(),
        prev.map(|p| p.tier.as_str()),
        i.value.chars().count(),
        !policies.is_empty(),
    )?;
    if existing.is_none() && tier == "Standard" && w.map.len() >= MAX_STANDARD_PARAMETERS {
        let standard = w
            .map
            .values()
            .filter(|p| p.latest().tier == "Standard")
            .count();
        if standard >= MAX_STANDARD_PARAMETERS {
            return Err(SsmError::ParameterLimitExceeded(format!(
                "You have reached the maximum number of standard parameters for this AWS account and Region ({MAX_STANDARD_PARAMETERS}). To add more parameters, either delete existing parameters or upgrade to the advanced-parameter tier (charges apply)."
            )));
        }
    }

    let mut param = existing.clone().unwrap_or_else(|| Parameter {
        name: name.clone(),
        versions: Vec::new(),
        tags: tags.clone(),
    });
    if param.versions.len() >= MAX_VERSIONS {
        let oldest = &param.versions[0];
        if !oldest.labels.is_empty() {
            return Err(SsmError::ParameterMaxVersionLimitExceeded(format!(
                "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
                oldest.version
            )));
        }
        param.versions.remove(0);
    }
    let value = if kind == "SecureString" {
        let key = key_id.as_deref().unwrap_or(DEFAULT_KEY_ID);
        match sealed.as_ref().filter(|(k, _)| k == key) {
            Some((_, ciphertext)) => StoredValue::Sealed {
                ciphertext: Blob(ciphertext.clone()),
            },
            // The parameter changed type or key while the value was being sealed.
            None => return Ok(PutOutcome::Reseal(key.to_string())),
        }
    } else {
        StoredValue::Plain {
            text: i.value.clone(),
        }
    };
    let version = prev.map_or(1, |p| p.version + 1);
    param.versions.push(Version {
        version,
        kind,
        value,
        key_id,
        description: i
            .description
            .clone()
            .or_else(|| prev.and_then(|p| p.description.clone())),
        allowed_pattern,
        tier: tier.clone(),
        policies,
        data_type,
        labels: Vec::new(),
        last_modified: ctx.now,
        last_modified_user: ctx.principal_arn.clone(),
    });
    w.save(param)?;
    Ok(PutOutcome::Done(PutParameterOutput { version, tier }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterInput {
    name: String,
    with_decryption: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterOutput {
    parameter: ParameterOut,
}

pub(crate) async fn get_parameter(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: GetParameterInput,
) -> Result<GetParameterOutput, SsmError> {
    let reference = names::parse_reference(&i.name)?;
    let mut parameter = {
        let region = ssm.region(ctx);
        let map = region.read(ctx.now);
        let param = lookup(&map, &reference).ok_or_else(not_found)?;
        let version = param.select(reference.selector.as_ref())?;
        let selector = reference.selector.as_ref().map(|s| s.render());
        ssm.parameter_out(
            ctx,
            param,
            version,
            selector,
            i.with_decryption.unwrap_or(false),
        )?
    };
    parameter.open(ssm, ctx).await?;
    Ok(GetParameterOutput { parameter })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersInput {
    names: Vec<String>,
    with_decryption: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersOutput {
    parameters: Vec<ParameterOut>,
    invalid_parameters: Vec<String>,
}

pub(crate) async fn get_parameters(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: GetParametersInput,
) -> Result<GetParametersOutput, SsmError> {
    let region = ssm.region(ctx);
    let mut out = GetParametersOutput {
        parameters: Vec::new(),
        invalid_parameters: Vec::new(),
    };
    {
        let map = region.read(ctx.now);
        let mut seen = std::collections::HashSet::new();
        for raw in &i.names {
            if !seen.insert(raw.as_str()) {
                continue;
            }
            let found = names::parse_reference(raw).ok().and_then(|r| {
                let p = lookup(&map, &r)?;
                let v = p.select(r.selector.as_ref()).ok()?;
                Some((p, v, r.selector.as_ref().map(|s| s.render())))
            });
            match found {
                Some((p, v, sel)) => out.parameters.push(ssm.parameter_out(
                    ctx,
                    p,
                    v,
                    sel,
                    i.with_decryption.unwrap_or(false),
                )?),
                None => out.invalid_parameters.push(raw.clone()),
            }
        }
    }
    for p in &mut out.parameters {
        p.open(ssm, ctx).await?;
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteParameterInput {
    name: String,
}

#[derive(Serialize)]
pub(crate) struct DeleteParameterOutput {}

pub(crate) async fn delete_parameter(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: DeleteParameterInput,
) -> Result<DeleteParameterOutput, SsmError> {
    let name = i.name.trim();
    names::check_name_shape(name)?;
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    match w.remove(name)? {
        Some(_) => Ok(DeleteParameterOutput {}),
        None => Err(not_found()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteParametersInput {
    names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteParametersOutput {
    deleted_parameters: Vec<String>,
    invalid_parameters: Vec<String>,
}

pub(crate) async fn delete_parameters(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: DeleteParametersInput,
) -> Result<DeleteParametersOutput, SsmError> {
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let mut out = DeleteParametersOutput {
        deleted_parameters: Vec::new(),
        invalid_parameters: Vec::new(),
    };
    for raw in &i.names {
        let name = raw.trim();
        if out.deleted_parameters.iter().any(|d| d == name) {
            continue;
        }
        if names::check_name_shape(name).is_ok() && w.remove(name)?.is_some() {
            out.deleted_parameters.push(name.to_string());
        } else if !out.invalid_parameters.contains(raw) {
            out.invalid_parameters.push(raw.clone());
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterHistoryInput {
    name: String,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HistoryOut {
    name: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    labels: Vec<String>,
    tier: String,
    policies: Vec<PolicyOut>,
    data_type: String,
    #[serde(skip)]
    pending: Option<crate::Pending>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterHistoryOutput {
    parameters: Vec<HistoryOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn get_parameter_history(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: GetParameterHistoryInput,
) -> Result<GetParameterHistoryOutput, SsmError> {
    let reference = names::parse_reference(&i.name)?;
    if reference.selector.is_some() {
        return Err(not_found());
    }
    let region = ssm.region(ctx);
    let (mut parameters, next_token) = {
        let map = region.read(ctx.now);
        let param = lookup(&map, &reference).ok_or_else(not_found)?;
        // Versions page in order; keys are zero-padded so they sort like numbers.
        let items: Vec<(String, &Version)> = param
            .versions
            .iter()
            .map(|v| (format!("{:020}", v.version), v))
            .collect();
        let (versions, next_token) = filters::page(
            items,
            i.next_token.as_deref(),
            i.max_results.unwrap_or(50).clamp(1, 50) as usize,
        )?;
        let decrypt = i.with_decryption.unwrap_or(false);
        let parameters = versions
            .into_iter()
            .map(|v| {
                let (value, pending) = ssm.value_of(param, v, decrypt);
                Ok(HistoryOut {
                    pending,
                    name: param.name.clone(),
                    kind: v.kind.clone(),
                    key_id: v.key_id.clone(),
                    last_modified_date: v.last_modified,
                    last_modified_user: v.last_modified_user.clone(),
                    description: v.description.clone(),
                    value,
                    allowed_pattern: v.allowed_pattern.clone(),
                    version: v.version,
                    labels: v.labels.clone(),
                    tier: v.tier.clone(),
                    policies: policies_out(&v.policies),
                    data_type: v.data_type.clone(),
                })
            })
            .collect::<Result<Vec<_>, SsmError>>()?;
        (parameters, next_token)
    };
    for p in &mut parameters {
        if let Some(pd) = p.pending.take() {
            p.value = ssm.open(ctx, pd).await?;
        }
    }
    Ok(GetParameterHistoryOutput {
        parameters,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::AwsError;

    fn code<T>(r: Result<T, SsmError>) -> String {
        r.map(|_| String::new())
            .unwrap_or_else(|e| AwsError::from(e).code.to_string())
    }

    #[test]
    fn tiers() {
        assert_eq!(resolve_tier(None, None, 10, false).unwrap(), "Standard");
        assert_eq!(
            resolve_tier(Some("Intelligent-Tiering"), None, 5000, false).unwrap(),
            "Advanced"
        );
        assert_eq!(
            resolve_tier(Some("Intelligent-Tiering"), None, 10, true).unwrap(),
            "Advanced"
        );
        assert_eq!(
            resolve_tier(Some("Intelligent-Tiering"), None, 10, false).unwrap(),
            "Standard"
        );
        assert_eq!(
            resolve_tier(None, Some("Advanced"), 10, false).unwrap(),
            "Advanced"
        );
        assert_eq!(
            code(resolve_tier(Some("Standard"), Some("Advanced"), 10, false)),
            "ValidationException"
        );
        assert_eq!(
            code(resolve_tier(None, None, 4097, false)),
            "ValidationException"
        );
        assert_eq!(
            code(resolve_tier(Some("Advanced"), None, 8193, false)),
            "ValidationException"
        );
        assert_eq!(
            code(resolve_tier(Some("Standard"), None, 10, true)),
            "ValidationException"
        );
    }

    #[test]
    fn patterns_and_data_types() {
        assert_eq!(code(check_allowed_pattern("^\\d+$", "123")), "");
        assert_eq!(
            code(check_allowed_pattern("\\d+", "12a")),
            "ParameterPatternMismatchException"
        );
        assert_eq!(
            code(check_allowed_pattern("(", "x")),
            "InvalidAllowedPatternException"
        );
        assert_eq!(code(check_data_type("text", "String", "x")), "");
        assert_eq!(
            code(check_data_type(
                "aws:ec2:image",
                "String",
                "ami-0123456789abcdef0"
            )),
            ""
        );
        assert_eq!(
            code(check_data_type("aws:ec2:image", "String", "ami-12345678")),
            ""
        );
        assert_eq!(
            code(check_data_type("aws:ec2:image", "String", "ami-xyz")),
            "ValidationException"
        );
        assert_eq!(
            code(check_data_type(
                "aws:ec2:image",
                "SecureString",
                "ami-12345678"
            )),
            "ValidationException"
        );
        assert_eq!(
            code(check_data_type("Text", "String", "x")),
            "ValidationException"
        );
    }

    #[test]
    fn key_ids() {
        assert!(check_key_id("alias/aws/ssm").is_ok());
        assert!(check_key_id(
            "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )
        .is_ok());
        assert!(check_key_id("1234abcd-12ab-34cd-56ef-1234567890ab").is_ok());
        assert_eq!(code(check_key_id("nonsense")), "InvalidKeyId");
        assert_eq!(code(check_key_id("bad key")), "ValidationException");
    }
}
