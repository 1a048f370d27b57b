//! Service last accessed details, computed from the calls `--enforce-iam` authorized: each
//! allowed request records (entity, service namespace) → last time, region and action, and
//! access key → last use. Those last-used records persist by write-behind: the request path
//! only marks what changed; a background thread writes the changed records every
//! [`FLUSH_EVERY`] (so a `kill -9` loses at most that much of last-used data). Report jobs
//! stay in memory, like AWS's (they expire there too).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use overcast_core::Table;

use overcast_core::{ids, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::IamError;
use crate::util::{page, paged, strip};
use crate::Iam;

/// How often changed last-used records are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// One recorded access.
#[derive(Clone, serde::Serialize, Deserialize)]
struct Access {
    at: f64,
    region: String,
    action: String,
}

/// Recorded accesses: entity ARN → service namespace → last access.
#[derive(Default)]
pub struct Activity {
    map: RwLock<HashMap<String, HashMap<String, Access>>>,
    /// Access key → (time, service namespace, region) of its last authorized use.
    keys: RwLock<HashMap<String, (f64, String, String)>>,
    jobs: Mutex<HashMap<String, Job>>,
    /// Where last-used records persist (`e:<entity arn>`, `k:<access key id>`).
    table: Option<Table<Value>>,
    /// Records changed since the last write.
    dirty: Mutex<HashSet<String>>,
}

impl Activity {
    /// Activity persisted in `table`: loads the records, then writes changes behind the
    /// request path from a background thread.
    pub fn persistent(table: Table<Value>) -> Arc<Activity> {
        let mut map = HashMap::new();
        let mut keys = HashMap::new();
        for (k, v) in table.load() {
            if let Some(entity) = k.strip_prefix("e:") {
                if let Ok(m) = serde_json::from_value::<HashMap<String, Access>>(v) {
                    map.insert(entity.to_string(), m);
                }
            } else if let Some(key) = k.strip_prefix("k:") {
                if let Ok(r) = serde_json::from_value::<(f64, String, String)>(v) {
                    keys.insert(key.to_string(), r);
                }
            }
        }
        let a = Arc::new(Activity {
            map: RwLock::new(map),
            keys: RwLock::new(keys),
            table: Some(table),
            ..Default::default()
        });
        let weak: Weak<Activity> = Arc::downgrade(&a);
        let _ = std::thread::Builder::new()
            .name("iam-last-used".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_EVERY);
                match weak.upgrade() {
                    Some(a) => a.flush(),
                    None => return,
                }
            });
        a
    }

    fn mark(&self, record: String) {
        if self.table.is_some() {
            self.dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record);
        }
    }

    /// Writes the records changed since the last flush.
    pub fn flush(&self) {
        let Some(table) = &self.table else { return };
        let dirty: Vec<String> =
            std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        for record in dirty {
            let value = if let Some(entity) = record.strip_prefix("e:") {
                self.map
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(entity)
                    .and_then(|m| serde_json::to_value(m).ok())
            } else {
                let key = record.strip_prefix("k:").unwrap_or(&record);
                self.keys
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(key)
                    .and_then(|r| serde_json::to_value(r).ok())
            };
            let written = match value {
                Some(v) => table.put(&record, &v),
                None => table.delete(&record),
            };
            if written.is_err() {
                // Try again at the next flush.
                self.mark(record);
            }
        }
    }

    /// Forgets everything (server reset).
    pub fn clear(&self) {
        let entities: Vec<String> = self
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(k, _)| format!("e:{k}"))
            .collect();
        let keys: Vec<String> = self
            .keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(k, _)| format!("k:{k}"))
            .collect();
        for r in entities.into_iter().chain(keys) {
            self.mark(r);
        }
    }

    /// The last time `entity` was authorized for anything, and where.
    pub fn entity_last_used(&self, entity: &str) -> Option<(f64, String)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(entity)?
            .values()
            .max_by(|a, b| a.at.total_cmp(&b.at))
            .map(|a| (a.at, a.region.clone()))
    }
}

#[derive(Clone)]
struct Job {
    arn: String,
    actions: bool,
    created: f64,
}

impl Activity {
    /// Records that access key `key` was used for `action` at `at` in `region`.
    pub fn record_key(&self, key: &str, action: &str, at: f64, region: &str) {
        let ns = action.split(':').next().unwrap_or(action);
        let fresh = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|(t, s, _)| at - t < 1.0 && s == ns);
        if !fresh {
            self.keys
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string(), (at, ns.to_string(), region.to_string()));
            self.mark(format!("k:{key}"));
        }
    }

    /// When, for which service and where access key `key` was last used.
    pub fn key_last_used(&self, key: &str) -> Option<(f64, String, String)> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Records that `entity` called `action` (`service:Op`) at `at` in `region`; writes at
    /// most once a second per (entity, service).
    pub fn record(&self, entity: &str, action: &str, at: f64, region: &str) {
        let ns = action.split(':').next().unwrap_or(action);
        let fresh = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(entity)
            .and_then(|m| m.get(ns))
            .is_some_and(|a| at - a.at < 1.0 && a.action == action);
        if fresh {
            return;
        }
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(entity.to_string())
            .or_default()
            .insert(
                ns.to_string(),
                Access {
                    at,
                    region: region.to_string(),
                    action: action.to_string(),
                },
            );
        self.mark(format!("e:{entity}"));
    }
}

fn service_name(ns: &str) -> String {
    match ns {
        "s3" => "Amazon S3",
        "sqs" => "Amazon SQS",
        "sns" => "Amazon SNS",
        "ssm" => "AWS Systems Manager",
        "iam" => "AWS Identity and Access Management",
        "sts" => "AWS Security Token Service",
        "kms" => "AWS Key Management Service",
        "lambda" => "AWS Lambda",
        "logs" => "Amazon CloudWatch Logs",
        "cloudwatch" => "Amazon CloudWatch",
        "events" => "Amazon EventBridge",
        "secretsmanager" => "AWS Secrets Manager",
        "dynamodb" => "Amazon DynamoDB",
        "ec2" => "Amazon EC2",
        other => other,
    }
    .to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateInput {
    arn: String,
    granularity: Option<String>,
}

pub async fn generate_service_last_accessed_details(
    iam: &Iam,
    ctx: &RequestContext,
    i: GenerateInput,
) -> Result<Value, IamError> {
    {
        let acct = iam.account(ctx);
        let d = acct.read();
        let name = i.arn.rsplit('/').next().unwrap_or("").to_lowercase();
        let exists = if i.arn.contains(":user/") {
            d.users.contains_key(&name)
        } else if i.arn.contains(":role/") {
            d.roles.contains_key(&name)
        } else if i.arn.contains(":group/") {
            d.groups.contains_key(&name)
        } else if i.arn.contains(":policy/") {
            crate::policies::find(&d, &i.arn).is_some()
        } else {
            return Err(IamError::InvalidInputException(format!(
                "Invalid ARN: {}",
                i.arn
            )));
        };
        if !exists {
            return Err(IamError::NoSuchEntityException(format!(
                "The entity {} cannot be found.",
                i.arn
            )));
        }
    }
    let id = ids::uuid();
    iam.activity
        .jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            id.clone(),
            Job {
                arn: i.arn,
                actions: i.granularity.as_deref() == Some("ACTION_LEVEL"),
                created: ctx.now.floor(),
            },
        );
    Ok(json!({ "JobId": id }))
}

/// The entities a report on `arn` covers, and the documents that say which services they
/// may use.
fn scope(iam: &Iam, ctx: &RequestContext, arn: &str) -> (Vec<String>, Vec<String>) {
    let acct = iam.account(ctx);
    let d = acct.read();
    let mut entities: Vec<String> = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    let managed = |docs: &mut Vec<String>, arns: &[String]| {
        docs.extend(
            arns.iter()
                .filter_map(|a| crate::policies::find(&d, a))
                .map(|p| p.document().to_string()),
        );
    };
    let name = arn.rsplit('/').next().unwrap_or("").to_lowercase();
    if arn.contains(":policy/") {
        if let Some(p) = crate::policies::find(&d, arn) {
            docs.push(p.document().to_string());
        }
        entities.extend(
            d.users
                .values()
                .filter(|u| u.attached.iter().any(|a| a == arn))
                .map(|u| u.arn.clone()),
        );
        entities.extend(
            d.roles
                .values()
                .filter(|r| r.attached.iter().any(|a| a == arn))
                .map(|r| r.arn.clone()),
        );
        for g in d
            .groups
            .values()
            .filter(|g| g.attached.iter().any(|a| a == arn))
        {
            entities.extend(
                d.users
                    .values()
                    .filter(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)))
                    .map(|u| u.arn.clone()),
            );
        }
    } else if let Some(u) = d.users.get(&name).filter(|_| arn.contains(":user/")) {
        entities.push(u.arn.clone());
        docs.extend(u.inline.values().cloned());
        managed(&mut docs, &u.attached);
        for g in &u.groups {
            if let Some(g) = d.groups.get(&g.to_lowercase()) {
                docs.extend(g.inline.values().cloned());
                managed(&mut docs, &g.attached);
            }
        }
    } else if let Some(r) = d.roles.get(&name).filter(|_| arn.contains(":role/")) {
        entities.push(r.arn.clone());
        docs.extend(r.inline.values().cloned());
        managed(&mut docs, &r.attached);
    } else if let Some(g) = d.groups.get(&name).filter(|_| arn.contains(":group/")) {
        docs.extend(g.inline.values().cloned());
        managed(&mut docs, &g.attached);
        entities.extend(
            d.users
                .values()
                .filter(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)))
                .map(|u| u.arn.clone()),
        );
    }
    (entities, docs)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInput {
    job_id: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn get_service_last_accessed_details(
    iam: &Iam,
    ctx: &RequestContext,
    i: GetInput,
) -> Result<Value, IamError> {
    let job = iam
        .activity
        .jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&i.job_id)
        .cloned()
        .ok_or_else(|| {
            IamError::NoSuchEntityException(format!("No job with id {} found.", i.job_id))
        })?;
    let (entities, docs) = scope(iam, ctx, &job.arn);
    let recorded = iam.activity.map.read().unwrap_or_else(|e| e.into_inner());
    // Service namespaces the policies grant (a wildcard vendor grants every service used).
    let mut namespaces: Vec<String> = Vec::new();
    for doc in &docs {
        let Ok(v) = serde_json::from_str::<Value>(doc) else {
            continue;
        };
        let stmts = match &v["Statement"] {
            Value::Array(a) => a.clone(),
            o @ Value::Object(_) => vec![o.clone()],
            _ => vec![],
        };
        for s in stmts.iter().filter(|s| s["Effect"] == "Allow") {
            let actions = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => vec![],
            };
            for a in actions {
                let ns = a.split(':').next().unwrap_or("").to_lowercase();
                if ns == "*" || ns.is_empty() {
                    for e in &entities {
                        if let Some(m) = recorded.get(e) {
                            namespaces.extend(m.keys().cloned());
                        }
                    }
                } else {
                    namespaces.push(ns);
                }
            }
        }
    }
    namespaces.sort();
    namespaces.dedup();
    let items: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            let hits: Vec<(&String, &Access)> = entities.iter().filter_map(|e| recorded.get(e).and_then(|m| m.get(ns)).map(|a| (e, a))).collect();
            let last = hits.iter().max_by(|a, b| a.1.at.total_cmp(&b.1.at));
            let mut v = strip(json!({
                "ServiceName": service_name(ns), "ServiceNamespace": ns,
                "LastAuthenticated": last.map(|(_, a)| a.at), "LastAuthenticatedEntity": last.map(|(e, _)| (*e).clone()),
                "LastAuthenticatedRegion": last.map(|(_, a)| a.region.clone()), "TotalAuthenticatedEntities": hits.len(),
            }));
            if job.actions {
                v["TrackedActionsLastAccessed"] = json!(last.map(|(e, a)| vec![json!({"ActionName": a.action.split(':').nth(1).unwrap_or(""), "LastAccessedEntity": e, "LastAccessedTime": a.at, "LastAccessedRegion": a.region})]).unwrap_or_default());
            }
            v
        })
        .collect();
    drop(recorded);
    let (items, t, m) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(paged(
        json!({"JobStatus": "COMPLETED", "JobType": if job.actions { "ACTION_LEVEL" } else { "SERVICE_LEVEL" }, "JobCreationDate": job.created, "JobCompletionDate": job.created, "ServicesLastAccessed": items}),
        t,
        m,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WithEntitiesInput {
    job_id: String,
    service_namespace: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn get_service_last_accessed_details_with_entities(
    iam: &Iam,
    ctx: &RequestContext,
    i: WithEntitiesInput,
) -> Result<Value, IamError> {
    let job = iam
        .activity
        .jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&i.job_id)
        .cloned()
        .ok_or_else(|| {
            IamError::NoSuchEntityException(format!("No job with id {} found.", i.job_id))
        })?;
    let (entities, _) = scope(iam, ctx, &job.arn);
    let acct = iam.account(ctx);
    let d = acct.read();
    let recorded = iam.activity.map.read().unwrap_or_else(|e| e.into_inner());
    let items: Vec<Value> = entities
        .iter()
        .filter_map(|arn| {
            let name = arn.rsplit('/').next().unwrap_or("").to_lowercase();
            let (kind, id, path, display) = if arn.contains(":user/") {
                let u = d.users.get(&name)?;
                ("USER", u.id.clone(), u.path.clone(), u.name.clone())
            } else {
                let r = d.roles.get(&name)?;
                ("ROLE", r.id.clone(), r.path.clone(), r.name.clone())
            };
            let last = recorded.get(arn).and_then(|m| m.get(&i.service_namespace)).map(|a| a.at);
            Some(strip(json!({"EntityInfo": {"Arn": arn, "Name": display, "Type": kind, "Id": id, "Path": path}, "LastAuthenticated": last})))
        })
        .collect();
    drop(recorded);
    let (items, t, m) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(paged(
        json!({"JobStatus": "COMPLETED", "JobCreationDate": job.created, "JobCompletionDate": job.created, "EntityDetailsList": items}),
        t,
        m,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantingInput {
    arn: String,
    service_namespaces: Vec<String>,
    marker: Option<String>,
}

/// A policy that may grant access: (policy name, type, ARN, entity type, entity name,
/// document).
type Source = (
    String,
    &'static str,
    Option<String>,
    Option<&'static str>,
    Option<String>,
    String,
);

/// Does an Allow statement of `doc` grant an action of namespace `ns`?
fn grants(doc: &str, ns: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(doc) else {
        return false;
    };
    let stmts = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        o @ Value::Object(_) => vec![o.clone()],
        _ => vec![],
    };
    stmts.iter().filter(|s| s["Effect"] == "Allow").any(|s| {
        let actions: Vec<String> = match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        };
        actions.iter().any(|a| {
            let vendor = a.split(':').next().unwrap_or("");
            overcast_policy::glob::glob(
                vendor.to_ascii_lowercase().as_bytes(),
                ns.to_ascii_lowercase().as_bytes(),
                false,
            )
        })
    })
}

pub async fn list_policies_granting_service_access(
    iam: &Iam,
    ctx: &RequestContext,
    i: GrantingInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let name = i.arn.rsplit('/').next().unwrap_or("").to_lowercase();
    let mut sources: Vec<Source> = Vec::new();
    let mut add = |inline: &std::collections::BTreeMap<String, String>,
                   attached: &[String],
                   etype: &'static str,
                   ename: &str| {
        for (n, doc) in inline {
            sources.push((
                n.clone(),
                "INLINE",
                None,
                Some(etype),
                Some(ename.to_string()),
                doc.clone(),
            ));
        }
        for a in attached {
            if let Some(p) = crate::policies::find(&d, a) {
                sources.push((
                    p.name.clone(),
                    "MANAGED",
                    Some(a.clone()),
                    None,
                    None,
                    p.document().to_string(),
                ));
            }
        }
    };
    if let Some(u) = d.users.get(&name).filter(|_| i.arn.contains(":user/")) {
        add(&u.inline, &u.attached, "USER", &u.name);
        for g in &u.groups {
            if let Some(g) = d.groups.get(&g.to_lowercase()) {
                add(&g.inline, &g.attached, "GROUP", &g.name);
            }
        }
    } else if let Some(r) = d.roles.get(&name).filter(|_| i.arn.contains(":role/")) {
        add(&r.inline, &r.attached, "ROLE", &r.name);
    } else if let Some(g) = d.groups.get(&name).filter(|_| i.arn.contains(":group/")) {
        add(&g.inline, &g.attached, "GROUP", &g.name);
    } else {
        return Err(IamError::NoSuchEntityException(format!(
            "The entity {} cannot be found.",
            i.arn
        )));
    }
    let _ = i.marker;
    let out: Vec<Value> = i
        .service_namespaces
        .iter()
        .map(|ns| {
            let policies: Vec<Value> = sources
                .iter()
                .filter(|s| grants(&s.5, ns))
                .map(|(n, t, a, et, en, _)| strip(json!({"PolicyName": n, "PolicyType": t, "PolicyArn": a, "EntityType": et, "EntityName": en})))
                .collect();
            json!({"ServiceNamespace": ns, "Policies": policies})
        })
        .collect();
    Ok(json!({"PoliciesGrantingServiceAccess": out, "IsTruncated": false}))
}
