//! Finding parameters: DescribeParameters (metadata, filters, paging) and GetParametersByPath
//! (values under a hierarchy).

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::SsmError;
use crate::filters::{self, LegacyFilter, Operation, StringFilter};
use crate::names;
use crate::parameters::{policies_out, validation, ParameterOut, PolicyOut};
use crate::Ssm;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeParametersInput {
    #[serde(default)]
    filters: Vec<LegacyFilter>,
    #[serde(default)]
    parameter_filters: Vec<StringFilter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ParameterMetadata {
    name: String,
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    tier: String,
    policies: Vec<PolicyOut>,
    data_type: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeParametersOutput {
    parameters: Vec<ParameterMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_parameters(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: DescribeParametersInput,
) -> Result<DescribeParametersOutput, SsmError> {
    if !i.filters.is_empty() && !i.parameter_filters.is_empty() {
        return Err(validation(
            "You can use either Filters or ParameterFilters in a single request.",
        ));
    }
    let string_filters = if i.filters.is_empty() {
        i.parameter_filters
    } else {
        filters::from_legacy(&i.filters)?
    };
    let compiled = filters::compile(&string_filters, Operation::Describe)?;
    let region = ssm.region(ctx);
    let map = region.read(ctx.now);
    let items: Vec<(String, ParameterMetadata)> = map
        .values()
        .filter(|p| filters::matches(&compiled, p, p.latest()))
        .map(|p| {
            let v = p.latest();
            let meta = ParameterMetadata {
                name: p.name.clone(),
                arn: names::arn(&ctx.region, &ctx.account_id, &p.name),
                kind: v.kind.clone(),
                key_id: v.key_id.clone(),
                last_modified_date: v.last_modified,
                last_modified_user: v.last_modified_user.clone(),
                description: v.description.clone(),
                allowed_pattern: v.allowed_pattern.clone(),
                version: v.version,
                tier: v.tier.clone(),
                policies: policies_out(&v.policies),
                data_type: v.data_type.clone(),
            };
            (p.name.clone(), meta)
        })
        .collect();
    let (parameters, next_token) = filters::page(
        items,
        i.next_token.as_deref(),
        i.max_results.unwrap_or(50).clamp(1, 50) as usize,
    )?;
    Ok(DescribeParametersOutput {
        parameters,
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersByPathInput {
    path: String,
    recursive: Option<bool>,
    #[serde(default)]
    parameter_filters: Vec<StringFilter>,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersByPathOutput {
    parameters: Vec<ParameterOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn get_parameters_by_path(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: GetParametersByPathInput,
) -> Result<GetParametersByPathOutput, SsmError> {
    let path = i.path.trim();
    names::check_path(path)?;
    let compiled = filters::compile(&i.parameter_filters, Operation::ByPath)?;
    let recursive = i.recursive.unwrap_or(false);
    let labels = filters::labels(&compiled);
    let region = ssm.region(ctx);
    let (mut parameters, next_token) = {
        let map = region.read(ctx.now);
        let mut found = Vec::new();
        for p in map
            .values()
            .filter(|p| names::under_path(&p.name, path, recursive))
        {
            // With a Label filter the labelled version answers; otherwise the latest.
            let version = match labels {
                Some(ls) => match p
                    .versions
                    .iter()
                    .find(|v| v.labels.iter().any(|l| ls.contains(l)))
                {
                    Some(v) => v,
                    None => continue,
                },
                None => p.latest(),
            };
            if filters::matches(&compiled, p, version) {
                found.push((p.name.clone(), (p, version)));
            }
        }
        let (page, next_token) = filters::page(
            found,
            i.next_token.as_deref(),
            i.max_results.unwrap_or(10).clamp(1, 10) as usize,
        )?;
        let decrypt = i.with_decryption.unwrap_or(false);
        let parameters = page
            .into_iter()
            .map(|(p, v)| ssm.parameter_out(ctx, p, v, None, decrypt))
            .collect::<Result<Vec<_>, _>>()?;
        (parameters, next_token)
    };
    for p in &mut parameters {
        p.open(ssm, ctx).await?;
    }
    Ok(GetParametersByPathOutput {
        parameters,
        next_token,
    })
}
