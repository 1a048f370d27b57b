//! Schemas and their versions, search, export and GetDiscoveredSchema.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registries::{check_writable, Empty};
use crate::state::{Registry, Schema, Tags, Version};
use crate::{infer, page, Schemas, SchemasError, SchemasResult};

/// The ARN of a schema.
pub fn schema_arn(ctx: &RequestContext, registry: &str, name: &str) -> String {
    ctx.arn("schemas", &format!("schema/{registry}/{name}"))
}

/// NotFoundException for a schema.
pub fn no_schema(name: &str) -> SchemasError {
    SchemasError::NotFoundException(format!("Schema with name {name} does not exist."))
}

/// NotFoundException for a version.
pub fn no_version(name: &str, v: &str) -> SchemasError {
    SchemasError::NotFoundException(format!(
        "Schema with name {name} and version {v} does not exist."
    ))
}

/// Resolves an optional `SchemaVersion` to (number, version).
pub fn version<'a>(s: &'a Schema, given: Option<&str>) -> SchemasResult<(u64, &'a Version)> {
    match given.filter(|v| !v.is_empty()) {
        None => s.latest().ok_or_else(|| no_schema(&s.name)),
        Some(v) => {
            let n: u64 = v.parse().map_err(|_| no_version(&s.name, v))?;
            s.versions
                .get(&n)
                .map(|x| (n, x))
                .ok_or_else(|| no_version(&s.name, v))
        }
    }
}

fn valid_name(name: &str) -> SchemasResult<()> {
    if name.is_empty() || name.len() > 385 || name.contains('/') {
        return Err(SchemasError::BadRequestException(format!(
            "Invalid schema name {name}."
        )));
    }
    Ok(())
}

/// CreateSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    content: String,
    description: Option<String>,
    registry_name: String,
    schema_name: String,
    #[serde(default)]
    tags: Tags,
    r#type: String,
}

/// Schema output (Create/Update/Describe).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    last_modified: f64,
    schema_arn: String,
    schema_name: String,
    schema_version: String,
    tags: Tags,
    r#type: String,
    version_created_date: f64,
}

fn out(ctx: &RequestContext, reg: &str, s: &Schema, n: u64, content: bool) -> SchemaOutput {
    let v = s.versions.get(&n);
    SchemaOutput {
        content: if content {
            v.map(|v| v.content.clone())
        } else {
            None
        },
        description: s.description.clone(),
        last_modified: s.last_modified,
        schema_arn: schema_arn(ctx, reg, &s.name),
        schema_name: s.name.clone(),
        schema_version: n.to_string(),
        tags: s.tags.clone(),
        r#type: v.map(|v| v.r#type.clone()).unwrap_or_default(),
        version_created_date: v.map(|v| v.created).unwrap_or_default(),
    }
}

/// CreateSchema.
pub async fn create_schema(
    svc: &Schemas,
    ctx: &RequestContext,
    input: CreateInput,
) -> SchemasResult<SchemaOutput> {
    check_writable(&input.registry_name)?;
    valid_name(&input.schema_name)?;
    infer::validate(&input.r#type, &input.content)?;
    let registry = input.registry_name;
    svc.change_registry(ctx, &registry, |reg| {
        if reg.schemas.contains_key(&input.schema_name) {
            return Err(SchemasError::ConflictException(format!(
                "Schema with name {} already exists.",
                input.schema_name
            )));
        }
        let mut versions = BTreeMap::new();
        versions.insert(
            1,
            Version {
                content: input.content,
                r#type: input.r#type,
                created: ctx.now,
            },
        );
        let s = Schema {
            name: input.schema_name.clone(),
            description: input.description,
            tags: input.tags,
            versions,
            last_version: 1,
            last_modified: ctx.now,
            bindings: BTreeMap::new(),
        };
        let o = out(ctx, &registry, &s, 1, false);
        reg.schemas.insert(s.name.clone(), s);
        Ok(o)
    })
}

/// DescribeSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    registry_name: String,
    schema_name: String,
    schema_version: Option<String>,
}

/// DescribeSchema.
pub async fn describe_schema(
    svc: &Schemas,
    ctx: &RequestContext,
    input: DescribeInput,
) -> SchemasResult<SchemaOutput> {
    svc.read_schema(ctx, &input.registry_name, &input.schema_name, |s| {
        let (n, _) = version(s, input.schema_version.as_deref())?;
        Ok(out(ctx, &input.registry_name, s, n, true))
    })
}

/// UpdateSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    #[allow(dead_code)]
    client_token_id: Option<String>,
    content: Option<String>,
    description: Option<String>,
    registry_name: String,
    schema_name: String,
    r#type: Option<String>,
}

/// UpdateSchema: new content (or type) makes a new version.
pub async fn update_schema(
    svc: &Schemas,
    ctx: &RequestContext,
    input: UpdateInput,
) -> SchemasResult<SchemaOutput> {
    check_writable(&input.registry_name)?;
    let registry = input.registry_name;
    svc.change_schema(ctx, &registry, &input.schema_name, |s| {
        update_one(ctx, s, input.content, input.r#type, input.description)?;
        let n = s.latest().map(|(n, _)| n).unwrap_or(s.last_version);
        Ok(out(ctx, &registry, s, n, false))
    })
}

/// Applies an UpdateSchema to `s`.
fn update_one(
    ctx: &RequestContext,
    s: &mut Schema,
    content: Option<String>,
    ty: Option<String>,
    description: Option<String>,
) -> SchemasResult<()> {
    if content.is_some() || ty.is_some() {
        let (_, latest) = version(s, None)?;
        let ty = ty.unwrap_or_else(|| latest.r#type.clone());
        let content = content.unwrap_or_else(|| latest.content.clone());
        infer::validate(&ty, &content)?;
        if content != latest.content || ty != latest.r#type {
            s.last_version += 1;
            s.versions.insert(
                s.last_version,
                Version {
                    content,
                    r#type: ty,
                    created: ctx.now,
                },
            );
        }
    }
    if description.is_some() {
        s.description = description;
    }
    s.last_modified = ctx.now;
    Ok(())
}

/// DeleteSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    registry_name: String,
    schema_name: String,
}

/// DeleteSchema.
pub async fn delete_schema(
    svc: &Schemas,
    ctx: &RequestContext,
    input: DeleteInput,
) -> SchemasResult<Empty> {
    check_writable(&input.registry_name)?;
    svc.change_registry(ctx, &input.registry_name, |reg| {
        reg.schemas
            .remove(&input.schema_name)
            .ok_or_else(|| no_schema(&input.schema_name))?;
        Ok(Empty {})
    })
}

/// DeleteSchemaVersion input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteVersionInput {
    registry_name: String,
    schema_name: String,
    schema_version: String,
}

/// DeleteSchemaVersion (the last remaining version cannot be deleted; delete the schema).
pub async fn delete_schema_version(
    svc: &Schemas,
    ctx: &RequestContext,
    input: DeleteVersionInput,
) -> SchemasResult<Empty> {
    check_writable(&input.registry_name)?;
    svc.change_schema(ctx, &input.registry_name, &input.schema_name, |s| {
        let (n, _) = version(s, Some(&input.schema_version))?;
        if s.versions.len() == 1 {
            return Err(SchemasError::BadRequestException(
                "Cannot delete the only version of a schema; delete the schema instead.".into(),
            ));
        }
        s.versions.remove(&n);
        s.bindings.retain(|k, _| !k.ends_with(&format!("/{n}")));
        Ok(Empty {})
    })
}

/// ListSchemas input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    limit: Option<i64>,
    next_token: Option<String>,
    registry_name: String,
    schema_name_prefix: Option<String>,
}

/// A schema summary.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaSummary {
    last_modified: f64,
    schema_arn: String,
    schema_name: String,
    tags: Tags,
    version_count: i64,
}

/// ListSchemas output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    schemas: Vec<SchemaSummary>,
}

/// ListSchemas.
pub async fn list_schemas(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ListInput,
) -> SchemasResult<ListOutput> {
    let prefix = input.schema_name_prefix.unwrap_or_default();
    let items: Vec<SchemaSummary> = svc.read_registry(ctx, &input.registry_name, |reg| {
        Ok(reg
            .schemas
            .values()
            .filter(|s| s.name.starts_with(&prefix))
            .map(|s| SchemaSummary {
                last_modified: s.last_modified,
                schema_arn: schema_arn(ctx, &input.registry_name, &s.name),
                schema_name: s.name.clone(),
                tags: s.tags.clone(),
                version_count: s.versions.len() as i64,
            })
            .collect())
    })?;
    let (schemas, next_token) = page(items, input.limit, input.next_token.as_deref())?;
    Ok(ListOutput {
        next_token,
        schemas,
    })
}

/// ListSchemaVersions input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsInput {
    limit: Option<i64>,
    next_token: Option<String>,
    registry_name: String,
    schema_name: String,
}

/// A version summary.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionSummary {
    schema_arn: String,
    schema_name: String,
    schema_version: String,
    r#type: String,
}

/// ListSchemaVersions output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    schema_versions: Vec<VersionSummary>,
}

/// ListSchemaVersions.
pub async fn list_schema_versions(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ListVersionsInput,
) -> SchemasResult<ListVersionsOutput> {
    let arn = schema_arn(ctx, &input.registry_name, &input.schema_name);
    let items: Vec<VersionSummary> =
        svc.read_schema(ctx, &input.registry_name, &input.schema_name, |s| {
            Ok(s.versions
                .iter()
                .map(|(n, v)| VersionSummary {
                    schema_arn: arn.clone(),
                    schema_name: s.name.clone(),
                    schema_version: n.to_string(),
                    r#type: v.r#type.clone(),
                })
                .collect())
        })?;
    let (schema_versions, next_token) = page(items, input.limit, input.next_token.as_deref())?;
    Ok(ListVersionsOutput {
        next_token,
        schema_versions,
    })
}

/// SearchSchemas input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchInput {
    keywords: String,
    limit: Option<i64>,
    next_token: Option<String>,
    registry_name: String,
}

/// A version in a search result.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchVersion {
    created_date: f64,
    schema_version: String,
    r#type: String,
}

/// A search result.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchSummary {
    registry_name: String,
    schema_arn: String,
    schema_name: String,
    schema_versions: Vec<SearchVersion>,
}

/// SearchSchemas output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    schemas: Vec<SearchSummary>,
}

/// SearchSchemas: case-insensitive match of every keyword in the name, description or
/// latest content.
pub async fn search_schemas(
    svc: &Schemas,
    ctx: &RequestContext,
    input: SearchInput,
) -> SchemasResult<SearchOutput> {
    let words: Vec<String> = input
        .keywords
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Err(SchemasError::BadRequestException(
            "Keywords must not be empty.".into(),
        ));
    }
    let items: Vec<SearchSummary> = svc.read_registry(ctx, &input.registry_name, |reg| {
        Ok(search(ctx, &input.registry_name, reg, &words))
    })?;
    let (schemas, next_token) = page(items, input.limit, input.next_token.as_deref())?;
    Ok(SearchOutput {
        next_token,
        schemas,
    })
}

/// The schemas of `reg` matching every keyword.
fn search(
    ctx: &RequestContext,
    registry: &str,
    reg: &Registry,
    words: &[String],
) -> Vec<SearchSummary> {
    reg.schemas
        .values()
        .filter(|s| {
            let hay = format!(
                "{} {} {}",
                s.name,
                s.description.as_deref().unwrap_or(""),
                s.latest().map(|(_, v)| v.content.as_str()).unwrap_or("")
            )
            .to_lowercase();
            words.iter().all(|w| hay.contains(w))
        })
        .map(|s| SearchSummary {
            registry_name: registry.to_string(),
            schema_arn: schema_arn(ctx, registry, &s.name),
            schema_name: s.name.clone(),
            schema_versions: s
                .versions
                .iter()
                .map(|(n, v)| SearchVersion {
                    created_date: v.created,
                    schema_version: n.to_string(),
                    r#type: v.r#type.clone(),
                })
                .collect(),
        })
        .collect()
}

/// ExportSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportInput {
    registry_name: String,
    schema_name: String,
    schema_version: Option<String>,
    r#type: String,
}

/// ExportSchema output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportOutput {
    content: String,
    schema_arn: String,
    schema_name: String,
    schema_version: String,
    r#type: String,
}

/// ExportSchema (to JSONSchemaDraft4).
pub async fn export_schema(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ExportInput,
) -> SchemasResult<ExportOutput> {
    if input.r#type != "JSONSchemaDraft4" {
        return Err(SchemasError::BadRequestException(format!(
            "Invalid export type {}: only JSONSchemaDraft4 is supported.",
            input.r#type
        )));
    }
    svc.read_schema(ctx, &input.registry_name, &input.schema_name, |s| {
        let (n, v) = version(s, input.schema_version.as_deref())?;
        let doc: Value = serde_json::from_str(&v.content).unwrap_or_default();
        Ok(ExportOutput {
            content: infer::to_draft4(&v.r#type, &doc).to_string(),
            schema_arn: schema_arn(ctx, &input.registry_name, &s.name),
            schema_name: s.name.clone(),
            schema_version: n.to_string(),
            r#type: input.r#type.clone(),
        })
    })
}

/// GetDiscoveredSchema input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverInput {
    events: Vec<String>,
    r#type: String,
}

/// GetDiscoveredSchema output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverOutput {
    content: String,
}

/// GetDiscoveredSchema: infers the schema of the first event (all must parse).
pub async fn get_discovered_schema(
    _svc: &Schemas,
    _ctx: &RequestContext,
    input: DiscoverInput,
) -> SchemasResult<DiscoverOutput> {
    let mut parsed = Vec::new();
    for e in &input.events {
        let v: Value = serde_json::from_str(e).map_err(|_| {
            SchemasError::BadRequestException("Events must be JSON objects.".into())
        })?;
        if !v.is_object() {
            return Err(SchemasError::BadRequestException(
                "Events must be JSON objects.".into(),
            ));
        }
        parsed.push(v);
    }
    let first = parsed.first().ok_or_else(|| {
        SchemasError::BadRequestException("At least one event is required.".into())
    })?;
    let doc = infer::infer_openapi(first);
    let content = match input.r#type.as_str() {
        "OpenApi3" => doc,
        "JSONSchemaDraft4" => infer::to_draft4("OpenApi3", &doc),
        other => {
            return Err(SchemasError::BadRequestException(format!(
                "Invalid schema type {other}."
            )))
        }
    };
    Ok(DiscoverOutput {
        content: content.to_string(),
    })
}
