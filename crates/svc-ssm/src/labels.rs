//! Version labels: LabelParameterVersion, UnlabelParameterVersion. A label names one version
//! of a parameter at a time (labelling another version moves it); a version carries at most
//! ten labels.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::SsmError;
use crate::names;
use crate::parameters::{lookup, not_found};
use crate::Ssm;

/// Most labels on one version.
pub const MAX_LABELS_PER_VERSION: usize = 10;

fn version_not_found(version: i64, name: &str) -> SsmError {
    SsmError::ParameterVersionNotFound(format!(
        "Systems Manager could not find version {version} of {name}. Verify the version and try again."
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LabelParameterVersionInput {
    name: String,
    parameter_version: Option<i64>,
    labels: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LabelParameterVersionOutput {
    invalid_labels: Vec<String>,
    parameter_version: i64,
}

pub(crate) async fn label_parameter_version(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: LabelParameterVersionInput,
) -> Result<LabelParameterVersionOutput, SsmError> {
    let reference = names::parse_reference(&i.name)?;
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let mut param = lookup(&w.map, &reference).cloned().ok_or_else(not_found)?;
    let target = i
        .parameter_version
        .unwrap_or_else(|| param.latest().version);
    let idx = param
        .versions
        .iter()
        .position(|v| v.version == target)
        .ok_or_else(|| version_not_found(target, &param.name))?;
    let (valid, invalid_labels): (Vec<String>, Vec<String>) = i
        .labels
        .iter()
        .cloned()
        .partition(|l| names::valid_label(l));
    let mut labels = param.versions[idx].labels.clone();
    for l in &valid {
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    if labels.len() > MAX_LABELS_PER_VERSION {
        return Err(SsmError::ParameterVersionLabelLimitExceeded(
            "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.".into(),
        ));
    }
    if !valid.is_empty() {
        for (j, v) in param.versions.iter_mut().enumerate() {
            if j != idx {
                v.labels.retain(|l| !valid.contains(l));
            }
        }
        param.versions[idx].labels = labels;
        w.save(param)?;
    }
    Ok(LabelParameterVersionOutput {
        invalid_labels,
        parameter_version: target,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UnlabelParameterVersionInput {
    name: String,
    parameter_version: i64,
    labels: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UnlabelParameterVersionOutput {
    removed_labels: Vec<String>,
    invalid_labels: Vec<String>,
}

pub(crate) async fn unlabel_parameter_version(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: UnlabelParameterVersionInput,
) -> Result<UnlabelParameterVersionOutput, SsmError> {
    let reference = names::parse_reference(&i.name)?;
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let mut param = lookup(&w.map, &reference).cloned().ok_or_else(not_found)?;
    let name = param.name.clone();
    let version = param
        .versions
        .iter_mut()
        .find(|v| v.version == i.parameter_version)
        .ok_or_else(|| version_not_found(i.parameter_version, &name))?;
    let mut out = UnlabelParameterVersionOutput {
        removed_labels: Vec::new(),
        invalid_labels: Vec::new(),
    };
    for l in &i.labels {
        if version.labels.contains(l) {
            version.labels.retain(|x| x != l);
            out.removed_labels.push(l.clone());
        } else if !out.invalid_labels.contains(l) && !out.removed_labels.contains(l) {
            out.invalid_labels.push(l.clone());
        }
    }
    if !out.removed_labels.is_empty() {
        w.save(param)?;
    }
    Ok(out)
}
