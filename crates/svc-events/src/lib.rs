//! EventBridge: buses, rules, targets, archives and replays, with real delivery.
//!
//! Modules follow the API: `buses` (event buses and their policies), `rules` (rules, targets,
//! TestEventPattern), `put_events` (the envelope, matching and archiving), `deliver` (targets:
//! SQS, SNS, buses, CloudWatch Logs, Lambda; retries on the virtual clock and DLQs),
//! `transform` (Input, InputPath, InputTransformer), `schedule` (rate/cron rules on the
//! virtual clock), `archives` (archives and replays), `tags`, `integrations` (service
//! events from the fabric onto the default bus), `state` (types, persistence).

#![warn(missing_docs)]

pub mod archives;
pub mod buses;
pub mod connections;
pub mod deliver;
pub mod endpoints;
pub mod error;
pub mod http_client;
pub mod integrations;
pub mod put_events;
pub mod rules;
pub mod schedule;
pub mod state;
pub mod tags;
pub mod transform;

use std::ops::Deref;
use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

use crate::error::{EventsError, EventsResult};
use crate::state::{Persist, Region, DEFAULT_BUS};

/// The EventBridge service.
pub struct Events {
    shared: Arc<Shared>,
}

/// State shared by handlers and background work (schedules, retries, replays).
pub struct Shared {
    /// Core services.
    pub core: Core,
    /// State per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
    /// Partner event sources by (name, customer account).
    pub partner:
        std::sync::Mutex<std::collections::BTreeMap<(String, String), endpoints::PartnerSource>>,
}

impl Deref for Events {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Builds the service, loading persisted state.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Events::new(core))
}

impl Events {
    /// The service over `core`.
    pub fn new(core: &Core) -> Events {
        let clock = core.clock.clone();
        let shared = Arc::new(Shared {
            core: core.clone(),
            regions: Stores::new(move |a, r| Region::new(a, r, clock.now())),
            persist: Persist::new(core.store.clone()),
            partner: Default::default(),
        });
        shared.load();
        integrations::listen(&shared);
        Events { shared }
    }

    /// The shared state.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

impl Shared {
    /// Loads every persisted record and re-arms schedules.
    fn load(self: &Arc<Self>) {
        for (k, bus) in self.persist.buses.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                let region = self.regions.get(a, r);
                let mut w = region.write();
                let (name, arn) = (bus.name.clone(), bus.arn.clone());
                w.buses.insert(name.clone(), bus);
                w.reindex(&name, &arn);
            }
        }
        for (k, archive) in self.persist.archives.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .archives
                    .insert(archive.name.clone(), archive);
            }
        }
        for (k, ev) in self.persist.archived.load() {
            if let Some((a, r, rest)) = state::split_key(&k) {
                if let Some((name, _)) = rest.split_once('/') {
                    self.regions
                        .get(a, r)
                        .write()
                        .archived
                        .entry(name.to_string())
                        .or_default()
                        .push(ev);
                }
            }
        }
        for (k, mut replay) in self.persist.replays.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                // A replay cut short by a restart does not resume.
                if matches!(replay.state.as_str(), "STARTING" | "RUNNING" | "CANCELLING") {
                    replay.state = "FAILED".into();
                    replay.state_reason = Some("Overcast restarted during the replay.".into());
                    let _ = self.persist.replays.put(&k, &replay);
                }
                self.regions
                    .get(a, r)
                    .write()
                    .replays
                    .insert(replay.name.clone(), replay);
            }
        }
        for (k, c) in self.persist.connections.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .connections
                    .insert(c.name.clone(), c);
            }
        }
        for (k, d) in self.persist.destinations.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .destinations
                    .insert(d.name.clone(), d);
            }
        }
        for (k, e) in self.persist.endpoints.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .endpoints
                    .insert(e.name.clone(), e);
            }
        }
        {
            let mut p = self.partner.lock().unwrap_or_else(|e| e.into_inner());
            for (_, s) in self.persist.partner.load() {
                p.insert((s.name.clone(), s.account.clone()), s);
            }
        }
        for (k, tags) in self.persist.tags.load() {
            if let Some((a, r, arn)) = state::split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .tags
                    .insert(arn.to_string(), tags);
            }
        }
        let mut scheduled = Vec::new();
        for (k, rule) in self.persist.rules.load() {
            if let Some((a, r, _)) = state::split_key(&k) {
                let region = self.regions.get(a, r);
                let mut w = region.write();
                if rule.schedule_expression.is_some() {
                    scheduled.push((
                        a.to_string(),
                        r.to_string(),
                        rule.bus.clone(),
                        rule.name.clone(),
                    ));
                }
                w.rules.insert((rule.bus.clone(), rule.name.clone()), rule);
            }
        }
        for (_, region) in self.regions.all() {
            let mut w = region.write();
            let buses: Vec<(String, String)> = w
                .buses
                .values()
                .map(|b| (b.name.clone(), b.arn.clone()))
                .collect();
            for (name, arn) in buses {
                w.reindex(&name, &arn);
            }
            for ev in w.archived.values_mut() {
                ev.sort_by(|x, y| x.time.total_cmp(&y.time));
            }
        }
        for (a, r, bus, name) in scheduled {
            schedule::arm(self, &a, &r, &bus, &name);
        }
    }

    /// A context for work EventBridge does on its own (schedules, retries).
    pub fn background_ctx(&self, account: &str, region: &str) -> RequestContext {
        RequestContext::background(
            "events",
            "PutEvents",
            account,
            region,
            self.core.clock.now(),
        )
    }

    /// The state of the caller's region.
    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }
}

/// Most entries kept in the event log.
const MAX_LOG: usize = 10_000;

/// One entry of the event log, kept cheap to record (rendered on request).
pub enum LogEntry {
    /// An event put on a bus and the rules it matched.
    Event {
        /// Bus owner.
        account: String,
        /// Region.
        region: String,
        /// Bus name.
        bus: String,
        /// Envelope JSON.
        event: String,
        /// ARNs of the rules it matched.
        matched: Vec<String>,
    },
    /// Anything else (delivery failures).
    Other(serde_json::Value),
}

fn log_store() -> &'static std::sync::Mutex<std::collections::VecDeque<LogEntry>> {
    static LOG: std::sync::OnceLock<std::sync::Mutex<std::collections::VecDeque<LogEntry>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(Default::default)
}

/// Records one entry of the event log.
pub fn log(entry: LogEntry) {
    let mut l = log_store().lock().unwrap_or_else(|e| e.into_inner());
    if l.len() >= MAX_LOG {
        l.pop_front();
    }
    l.push_back(entry);
}

/// The event log, oldest first (`GET /_overcast/events/log`).
pub fn event_log() -> serde_json::Value {
    let l = log_store().lock().unwrap_or_else(|e| e.into_inner());
    let entries: Vec<serde_json::Value> = l
        .iter()
        .map(|e| match e {
            LogEntry::Event {
                account,
                region,
                bus,
                event,
                matched,
            } => serde_json::json!({
                "type": "event", "account": account, "region": region, "bus": bus,
                "event": serde_json::from_str::<serde_json::Value>(event).unwrap_or_default(),
                "matchedRules": matched,
            }),
            LogEntry::Other(v) => v.clone(),
        })
        .collect();
    serde_json::json!({ "entries": entries })
}

/// The bus name of an `EventBusName` member (a name or an ARN); default when absent.
pub fn bus_name(given: Option<&str>) -> EventsResult<String> {
    let given = given.unwrap_or(DEFAULT_BUS);
    if let Some(rest) = given.strip_prefix("arn:") {
        return rest
            .rsplit_once(":event-bus/")
            .map(|(_, n)| n.to_string())
            .ok_or_else(|| {
                EventsError::ValidationException(format!("Invalid event bus ARN: {given}"))
            });
    }
    Ok(given.to_string())
}

impl Service for Events {
    fn name(&self) -> &'static str {
        "events"
    }

    fn reset(&self) {
        log_store()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.partner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        for (_, r) in self.regions.all() {
            let w = r.write();
            for job in w.schedules.values() {
                self.core.scheduler.cancel(*job);
            }
        }
        self.regions.clear();
    }

    overcast_core::operations! {
        "CreateEventBus" => buses::create_event_bus,
        "DescribeEventBus" => buses::describe_event_bus,
        "ListEventBuses" => buses::list_event_buses,
        "UpdateEventBus" => buses::update_event_bus,
        "DeleteEventBus" => buses::delete_event_bus,
        "PutPermission" => buses::put_permission,
        "RemovePermission" => buses::remove_permission,
        "PutRule" => rules::put_rule,
        "DescribeRule" => rules::describe_rule,
        "ListRules" => rules::list_rules,
        "EnableRule" => rules::enable_rule,
        "DisableRule" => rules::disable_rule,
        "DeleteRule" => rules::delete_rule,
        "PutTargets" => rules::put_targets,
        "RemoveTargets" => rules::remove_targets,
        "ListTargetsByRule" => rules::list_targets_by_rule,
        "ListRuleNamesByTarget" => rules::list_rule_names_by_target,
        "TestEventPattern" => rules::test_event_pattern,
        "PutEvents" => put_events::put_events,
        "CreateArchive" => archives::create_archive,
        "DescribeArchive" => archives::describe_archive,
        "ListArchives" => archives::list_archives,
        "UpdateArchive" => archives::update_archive,
        "DeleteArchive" => archives::delete_archive,
        "StartReplay" => archives::start_replay,
        "DescribeReplay" => archives::describe_replay,
        "ListReplays" => archives::list_replays,
        "CancelReplay" => archives::cancel_replay,
        "CreateConnection" => connections::create_connection,
        "UpdateConnection" => connections::update_connection,
        "DescribeConnection" => connections::describe_connection,
        "DeauthorizeConnection" => connections::deauthorize_connection,
        "DeleteConnection" => connections::delete_connection,
        "ListConnections" => connections::list_connections,
        "CreateApiDestination" => connections::create_api_destination,
        "UpdateApiDestination" => connections::update_api_destination,
        "DescribeApiDestination" => connections::describe_api_destination,
        "DeleteApiDestination" => connections::delete_api_destination,
        "ListApiDestinations" => connections::list_api_destinations,
        "CreateEndpoint" => endpoints::create_endpoint,
        "UpdateEndpoint" => endpoints::update_endpoint,
        "DescribeEndpoint" => endpoints::describe_endpoint,
        "DeleteEndpoint" => endpoints::delete_endpoint,
        "ListEndpoints" => endpoints::list_endpoints,
        "CreatePartnerEventSource" => endpoints::create_partner_event_source,
        "DeletePartnerEventSource" => endpoints::delete_partner_event_source,
        "DescribePartnerEventSource" => endpoints::describe_partner_event_source,
        "ListPartnerEventSources" => endpoints::list_partner_event_sources,
        "ListPartnerEventSourceAccounts" => endpoints::list_partner_event_source_accounts,
        "ActivateEventSource" => endpoints::activate_event_source,
        "DeactivateEventSource" => endpoints::deactivate_event_source,
        "DescribeEventSource" => endpoints::describe_event_source,
        "ListEventSources" => endpoints::list_event_sources,
        "PutPartnerEvents" => endpoints::put_partner_events,
        "TagResource" => tags::tag_resource,
        "UntagResource" => tags::untag_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
    }
}
