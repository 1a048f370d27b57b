//! EventBridge Schemas: registries, versioned schemas, export, tags, resource policies,
//! discoverers inferring OpenAPI 3 schemas from the events put on their bus, and code bindings.
//!
//! Modules: `state` (types, persistence), `aws_events` (the AWS-managed registry's schemas), `registries`, `schemas`, `discoverers`, `infer`
//! (schema inference and export), `bindings` (code generation), `tags`.

#![warn(missing_docs)]

pub mod aws_events;
pub mod bindings;
pub mod discoverers;
pub mod infer;
pub mod registries;
pub mod schemas;
pub mod state;
pub mod tags;

use std::ops::Deref;
use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

use crate::state::{Discoverer, Persist, Region, Registry, Schema};

overcast_core::errors! {
    /// Schemas errors, named after the model's error shapes.
    pub enum SchemasError {
        /// Bad input.
        BadRequestException,
        /// No such resource.
        NotFoundException,
        /// The name is taken.
        ConflictException,
        /// Not allowed (AWS-managed registries).
        ForbiddenException,
        /// The RevisionId does not match.
        PreconditionFailedException,
        /// Storage failure.
        InternalServerErrorException,
    }
}

/// Result alias.
pub type SchemasResult<T> = Result<T, SchemasError>;

/// The Schemas service.
pub struct Schemas {
    shared: Arc<Shared>,
}

/// State shared by handlers and the discoverer listener.
pub struct Shared {
    /// Core services.
    pub core: Core,
    /// State per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
}

impl Deref for Schemas {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Builds the service, loading persisted state.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Schemas::new(core))
}

impl Schemas {
    /// The service over `core`.
    pub fn new(core: &Core) -> Schemas {
        let shared = Arc::new(Shared {
            core: core.clone(),
            regions: Stores::new(|_, _| Region::default()),
            persist: Persist::new(core.store.clone()),
        });
        shared.load();
        discoverers::listen(&shared);
        Schemas { shared }
    }
}

impl Shared {
    fn load(&self) {
        for (k, reg) in self.persist.registries.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .lock()
                    .registries
                    .insert(reg.name.clone(), reg);
            }
        }
        for (k, d) in self.persist.discoverers.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .lock()
                    .discoverers
                    .insert(d.id.clone(), d);
            }
        }
    }

    /// Writes a registry through (before acknowledging).
    pub fn save_registry(&self, account: &str, region: &str, reg: &Registry) -> SchemasResult<()> {
        self.persist
            .registries
            .put(&state::key(account, region, &reg.name), reg)
            .map_err(storage)
    }

    /// Writes a discoverer through (before acknowledging).
    pub fn save_discoverer(&self, ctx: &RequestContext, d: &Discoverer) -> SchemasResult<()> {
        self.persist
            .discoverers
            .put(&state::key(&ctx.account_id, &ctx.region, &d.id), d)
            .map_err(storage)
    }

    /// `f` of the caller's registry `name` (NotFoundException when there is none).
    pub fn read_registry<T>(
        &self,
        ctx: &RequestContext,
        name: &str,
        f: impl FnOnce(&Registry) -> SchemasResult<T>,
    ) -> SchemasResult<T> {
        let region = self.region(ctx);
        let g = region.lock();
        f(g.registries
            .get(name)
            .ok_or_else(|| registries::not_found(name))?)
    }

    /// `f` of the schema `schema` of the caller's registry `registry`.
    pub fn read_schema<T>(
        &self,
        ctx: &RequestContext,
        registry: &str,
        schema: &str,
        f: impl FnOnce(&Schema) -> SchemasResult<T>,
    ) -> SchemasResult<T> {
        self.read_registry(ctx, registry, |r| {
            f(r.schemas
                .get(schema)
                .ok_or_else(|| schemas::no_schema(schema))?)
        })
    }

    /// Changes the caller's registry `name`: `f` edits a copy, which is written through and
    /// then replaces the registry; nothing changes when `f` or the write fails.
    pub fn change_registry<T>(
        &self,
        ctx: &RequestContext,
        name: &str,
        f: impl FnOnce(&mut Registry) -> SchemasResult<T>,
    ) -> SchemasResult<T> {
        let region = self.region(ctx);
        let mut g = region.lock();
        let reg = g
            .registries
            .get_mut(name)
            .ok_or_else(|| registries::not_found(name))?;
        let mut next = reg.clone();
        let out = f(&mut next)?;
        self.save_registry(&ctx.account_id, &ctx.region, &next)?;
        *reg = next;
        Ok(out)
    }

    /// Changes the schema `schema` of the caller's registry `registry` (see `change_registry`).
    pub fn change_schema<T>(
        &self,
        ctx: &RequestContext,
        registry: &str,
        schema: &str,
        f: impl FnOnce(&mut Schema) -> SchemasResult<T>,
    ) -> SchemasResult<T> {
        self.change_registry(ctx, registry, |r| {
            f(r.schemas
                .get_mut(schema)
                .ok_or_else(|| schemas::no_schema(schema))?)
        })
    }

    /// Changes the caller's discoverer `id` (see `change_registry`).
    pub fn change_discoverer<T>(
        &self,
        ctx: &RequestContext,
        id: &str,
        f: impl FnOnce(&mut Discoverer) -> SchemasResult<T>,
    ) -> SchemasResult<T> {
        let region = self.region(ctx);
        let mut g = region.lock();
        let d = g
            .discoverers
            .get_mut(id)
            .ok_or_else(|| discoverers::not_found(id))?;
        let mut next = d.clone();
        let out = f(&mut next)?;
        self.save_discoverer(ctx, &next)?;
        *d = next;
        Ok(out)
    }

    /// The state of the caller's region.
    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }
}

impl Service for Schemas {
    fn name(&self) -> &'static str {
        "schemas"
    }

    fn reset(&self) {
        self.regions.clear();
    }

    overcast_core::operations! {
        "CreateRegistry" => registries::create_registry,
        "DescribeRegistry" => registries::describe_registry,
        "UpdateRegistry" => registries::update_registry,
        "DeleteRegistry" => registries::delete_registry,
        "ListRegistries" => registries::list_registries,
        "PutResourcePolicy" => registries::put_resource_policy,
        "GetResourcePolicy" => registries::get_resource_policy,
        "DeleteResourcePolicy" => registries::delete_resource_policy,
        "CreateSchema" => schemas::create_schema,
        "DescribeSchema" => schemas::describe_schema,
        "UpdateSchema" => schemas::update_schema,
        "DeleteSchema" => schemas::delete_schema,
        "DeleteSchemaVersion" => schemas::delete_schema_version,
        "ListSchemas" => schemas::list_schemas,
        "ListSchemaVersions" => schemas::list_schema_versions,
        "SearchSchemas" => schemas::search_schemas,
        "ExportSchema" => schemas::export_schema,
        "GetDiscoveredSchema" => schemas::get_discovered_schema,
        "CreateDiscoverer" => discoverers::create_discoverer,
        "DescribeDiscoverer" => discoverers::describe_discoverer,
        "UpdateDiscoverer" => discoverers::update_discoverer,
        "DeleteDiscoverer" => discoverers::delete_discoverer,
        "ListDiscoverers" => discoverers::list_discoverers,
        "StartDiscoverer" => discoverers::start_discoverer,
        "StopDiscoverer" => discoverers::stop_discoverer,
        "PutCodeBinding" => bindings::put_code_binding,
        "DescribeCodeBinding" => bindings::describe_code_binding,
        "GetCodeBindingSource" => bindings::get_code_binding_source,
        "TagResource" => tags::tag_resource,
        "UntagResource" => tags::untag_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
    }
}

/// InternalServerErrorException for a storage failure.
pub fn storage(e: impl std::fmt::Display) -> SchemasError {
    SchemasError::InternalServerErrorException(e.to_string())
}

/// Pages `items` by an offset token.
pub fn page<T>(
    items: Vec<T>,
    limit: Option<i64>,
    token: Option<&str>,
) -> SchemasResult<(Vec<T>, Option<String>)> {
    let start = match token {
        None | Some("") => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| SchemasError::BadRequestException("Invalid NextToken.".into()))?,
    };
    let limit = limit.unwrap_or(100).clamp(1, 1000) as usize;
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| (start + limit).to_string());
    Ok((out, next))
}
