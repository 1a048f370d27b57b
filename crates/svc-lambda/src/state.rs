//! Lambda state of one (account, region): functions (with `$LATEST`, published versions,
//! aliases, resource policy, tags, concurrency, event invoke configs, URL configs) and layers,
//! each written through to a [`Table`] before a change is acknowledged. Code lives in files
//! under the blob directory (see [`crate::code`]); records hold its hash.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LambdaError;

/// A layer version a function uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerRef {
    /// Layer version ARN.
    pub arn: String,
    /// Size of its zip.
    pub code_size: i64,
}

/// `FunctionConfiguration` as the API returns it; stored as is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub function_name: String,
    pub function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: i64,
    pub description: String,
    pub timeout: i64,
    pub memory_size: i64,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Value>,
    #[serde(rename = "KMSKeyArn", default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Value,
    pub revision_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    pub last_update_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_system_configs: Option<Value>,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: Value,
    pub snap_start: Value,
    pub logging_config: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_config: Option<Value>,
}

impl Config {
    /// Environment variables.
    pub fn variables(&self) -> Vec<(String, String)> {
        self.environment
            .as_ref()
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The log group (`/aws/lambda/<name>` unless LoggingConfig says otherwise).
    pub fn log_group(&self) -> String {
        self.logging_config
            .get("LogGroup")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("/aws/lambda/{}", self.function_name))
    }

    /// Ephemeral storage in MB.
    pub fn ephemeral_mb(&self) -> u64 {
        self.ephemeral_storage
            .get("Size")
            .and_then(Value::as_u64)
            .unwrap_or(512)
    }
}

/// One version of a function: its configuration and the code it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FnVersion {
    /// Configuration.
    pub config: Config,
    /// Hex SHA-256 of the deployment package (its blob name).
    pub code: String,
    /// Hex SHA-256 of each layer's zip, in order.
    #[serde(default)]
    pub layer_code: Vec<String>,
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<Value>,
    pub revision_id: String,
}

/// A function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    /// `$LATEST`.
    pub latest: FnVersion,
    /// Published versions by number.
    #[serde(default)]
    pub versions: BTreeMap<u64, FnVersion>,
    /// Last version number handed out.
    #[serde(default)]
    pub last_version: u64,
    /// Aliases by name.
    #[serde(default)]
    pub aliases: BTreeMap<String, Alias>,
    /// Resource policy statements per qualifier (`""` = unqualified).
    #[serde(default)]
    pub policies: BTreeMap<String, Vec<Value>>,
    /// Policy revision.
    #[serde(default)]
    pub policy_revision: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Reserved concurrency.
    #[serde(default)]
    pub reserved_concurrency: Option<i64>,
    /// Event invoke configs per qualifier (`$LATEST`, version, alias).
    #[serde(default)]
    pub event_invoke_configs: BTreeMap<String, Value>,
    /// Function URL configs per qualifier (`""` = unqualified).
    #[serde(default)]
    pub url_configs: BTreeMap<String, Value>,
    /// Provisioned concurrency configs per qualifier (version or alias).
    #[serde(default)]
    pub provisioned: BTreeMap<String, Value>,
    /// Other stored settings (recursion loop detection, runtime management).
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
}

impl Function {
    /// The version a qualifier names (`None`/`$LATEST`, a number); aliases are resolved by
    /// the caller.
    pub fn version(&self, qualifier: Option<&str>) -> Option<&FnVersion> {
        match qualifier {
            None | Some("$LATEST") => Some(&self.latest),
            Some(q) => q.parse::<u64>().ok().and_then(|n| self.versions.get(&n)),
        }
    }
}

/// One version of a layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerVersion {
    /// `GetLayerVersion` output (without Content.Location).
    pub info: Value,
    /// Hex SHA-256 of the zip.
    pub code: String,
    /// Layer version policy statements.
    #[serde(default)]
    pub policy: Vec<Value>,
    /// Policy revision.
    #[serde(default)]
    pub policy_revision: String,
}

/// A layer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Layer {
    /// Versions by number.
    pub versions: BTreeMap<u64, LayerVersion>,
    /// Last number handed out (numbers are never reused).
    pub last_version: u64,
}

/// Functions and layers of one (account, region).
pub struct Region {
    functions: RwLock<BTreeMap<String, Function>>,
    layers: RwLock<BTreeMap<String, Layer>>,
    fn_table: Table<Function>,
    layer_table: Table<Layer>,
    /// Event source mappings by UUID.
    pub mappings: RwLock<BTreeMap<String, Value>>,
    mapping_table: Table<Value>,
    /// Code signing configs by id.
    pub signing: RwLock<BTreeMap<String, Value>>,
    signing_table: Table<Value>,
    /// Capacity providers by name.
    pub capacity: RwLock<BTreeMap<String, Value>>,
    capacity_table: Table<Value>,
    /// Durable executions by id.
    pub executions: RwLock<BTreeMap<String, Value>>,
    execution_table: Table<Value>,
}

fn lock_r<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn lock_w<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Region {
    /// Loads the region from the store.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Region {
        let fn_table: Table<Function> = Table::new(
            store.clone(),
            format!("lambda/functions/{account}/{region}"),
        );
        let layer_table: Table<Layer> =
            Table::new(store.clone(), format!("lambda/layers/{account}/{region}"));
        let mapping_table: Table<Value> =
            Table::new(store.clone(), format!("lambda/mappings/{account}/{region}"));
        let signing_table: Table<Value> = Table::new(
            store.clone(),
            format!("lambda/code-signing/{account}/{region}"),
        );
        let capacity_table: Table<Value> = Table::new(
            store.clone(),
            format!("lambda/capacity-providers/{account}/{region}"),
        );
        let execution_table: Table<Value> = Table::new(
            store,
            format!("lambda/durable-executions/{account}/{region}"),
        );
        Region {
            functions: RwLock::new(fn_table.load().into_iter().collect()),
            layers: RwLock::new(layer_table.load().into_iter().collect()),
            mappings: RwLock::new(mapping_table.load().into_iter().collect()),
            signing: RwLock::new(signing_table.load().into_iter().collect()),
            signing_table,
            capacity: RwLock::new(capacity_table.load().into_iter().collect()),
            capacity_table,
            executions: RwLock::new(execution_table.load().into_iter().collect()),
            execution_table,
            fn_table,
            layer_table,
            mapping_table,
        }
    }

    /// Read access to the functions.
    pub fn functions(&self) -> RwLockReadGuard<'_, BTreeMap<String, Function>> {
        lock_r(&self.functions)
    }

    /// A copy of one function.
    pub fn function(&self, name: &str) -> Option<Function> {
        lock_r(&self.functions).get(name).cloned()
    }

    /// Write access to the functions; persist with [`FnWriter::save`] / [`FnWriter::remove`].
    pub fn write_functions(&self) -> FnWriter<'_> {
        FnWriter {
            map: lock_w(&self.functions),
            table: &self.fn_table,
        }
    }

    /// Read access to the layers.
    pub fn layers(&self) -> RwLockReadGuard<'_, BTreeMap<String, Layer>> {
        lock_r(&self.layers)
    }

    /// Changes a layer under the write lock and persists it (removed when it has no
    /// versions left but keeps its counter so numbers are never reused).
    pub fn update_layer<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Layer) -> Result<R, LambdaError>,
    ) -> Result<R, LambdaError> {
        let mut w = lock_w(&self.layers);
        let mut layer = w.get(name).cloned().unwrap_or_default();
        let r = f(&mut layer)?;
        self.layer_table.put(name, &layer)?;
        w.insert(name.to_string(), layer);
        Ok(r)
    }

    /// Saves an event source mapping.
    pub fn save_mapping(&self, uuid: &str, m: Value) -> Result<(), LambdaError> {
        self.mapping_table.put(uuid, &m)?;
        lock_w(&self.mappings).insert(uuid.to_string(), m);
        Ok(())
    }

    /// Saves a code signing config.
    pub fn save_signing(&self, id: &str, c: Value) -> Result<(), LambdaError> {
        self.signing_table.put(id, &c)?;
        lock_w(&self.signing).insert(id.to_string(), c);
        Ok(())
    }

    /// Deletes a code signing config.
    pub fn remove_signing(&self, id: &str) -> Result<Option<Value>, LambdaError> {
        self.signing_table.delete(id)?;
        Ok(lock_w(&self.signing).remove(id))
    }

    /// Saves a capacity provider.
    pub fn save_capacity(&self, name: &str, c: Value) -> Result<(), LambdaError> {
        self.capacity_table.put(name, &c)?;
        lock_w(&self.capacity).insert(name.to_string(), c);
        Ok(())
    }

    /// Deletes a capacity provider.
    pub fn remove_capacity(&self, name: &str) -> Result<Option<Value>, LambdaError> {
        self.capacity_table.delete(name)?;
        Ok(lock_w(&self.capacity).remove(name))
    }

    /// Saves a durable execution.
    pub fn save_execution(&self, id: &str, e: Value) -> Result<(), LambdaError> {
        self.execution_table.put(id, &e)?;
        lock_w(&self.executions).insert(id.to_string(), e);
        Ok(())
    }

    /// Deletes a durable execution.
    pub fn remove_execution(&self, id: &str) -> Result<Option<Value>, LambdaError> {
        self.execution_table.delete(id)?;
        Ok(lock_w(&self.executions).remove(id))
    }

    /// Deletes an event source mapping.
    pub fn remove_mapping(&self, uuid: &str) -> Result<Option<Value>, LambdaError> {
        self.mapping_table.delete(uuid)?;
        Ok(lock_w(&self.mappings).remove(uuid))
    }
}

/// A write lock on the functions that persists what it changes.
pub struct FnWriter<'a> {
    /// The functions.
    pub map: RwLockWriteGuard<'a, BTreeMap<String, Function>>,
    table: &'a Table<Function>,
}

impl FnWriter<'_> {
    /// Persists and installs `f`.
    pub fn save(&mut self, f: Function) -> Result<(), LambdaError> {
        let name = f.latest.config.function_name.clone();
        self.table.put(&name, &f)?;
        self.map.insert(name, f);
        Ok(())
    }

    /// Deletes a function (durably first).
    pub fn remove(&mut self, name: &str) -> Result<Option<Function>, LambdaError> {
        self.table.delete(name)?;
        Ok(self.map.remove(name))
    }
}
