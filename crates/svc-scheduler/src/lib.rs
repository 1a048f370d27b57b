//! EventBridge Scheduler: schedule groups and schedules (`at()`, `rate()`, `cron()`, time
//! zones, start/end dates, flexible windows) firing on the virtual clock; templated targets
//! (SQS, SNS, Lambda, EventBridge, Step Functions) and universal targets
//! (`arn:aws:scheduler:::aws-sdk:{service}:{action}`) called through the services directory,
//! with retries, DLQs and `ActionAfterCompletion: DELETE`.
//!
//! Modules: `groups`, `schedules` (CRUD), `fire` (arming and invoking), `timing`
//! (expressions and zones), `state`.

#![warn(missing_docs)]

pub mod error;
pub mod fire;
pub mod groups;
pub mod schedules;
pub mod state;
pub mod timing;

use std::ops::Deref;
use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

use crate::state::{split_key, Persist, Region};

/// The service.
pub struct Scheduler {
    shared: Arc<Shared>,
}

/// State shared by handlers and firing jobs.
pub struct Shared {
    /// Core services.
    pub core: Core,
    /// State per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
}

impl Deref for Scheduler {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Builds the service, loading persisted state and re-arming schedules.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Scheduler::new(core))
}

impl Scheduler {
    /// The service over `core`.
    pub fn new(core: &Core) -> Scheduler {
        let clock = core.clock.clone();
        let shared = Arc::new(Shared {
            core: core.clone(),
            regions: Stores::new(move |a, r| Region::new(a, r, clock.now())),
            persist: Persist::new(core.store.clone()),
        });
        let mut armed = Vec::new();
        for (k, g) in shared.persist.groups.load() {
            if let Some((a, r, _)) = split_key(&k) {
                shared
                    .regions
                    .get(a, r)
                    .write()
                    .groups
                    .insert(g.name.clone(), g);
            }
        }
        for (k, s) in shared.persist.schedules.load() {
            if let Some((a, r, _)) = split_key(&k) {
                armed.push((
                    a.to_string(),
                    r.to_string(),
                    s.group.clone(),
                    s.name.clone(),
                ));
                shared
                    .regions
                    .get(a, r)
                    .write()
                    .schedules
                    .insert((s.group.clone(), s.name.clone()), s);
            }
        }
        for (a, r, g, n) in armed {
            fire::arm(&shared, &a, &r, &g, &n);
        }
        Scheduler { shared }
    }
}

impl Shared {
    /// The caller's region state.
    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// A context for work the scheduler does on its own.
    pub fn background_ctx(&self, account: &str, region: &str) -> RequestContext {
        RequestContext::background(
            "scheduler",
            "CreateSchedule",
            account,
            region,
            self.core.clock.now(),
        )
    }
}

impl Service for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn reset(&self) {
        for (_, r) in self.regions.all() {
            for job in r.write().jobs.values() {
                self.core.scheduler.cancel(*job);
            }
        }
        self.regions.clear();
    }

    overcast_core::operations! {
        "CreateScheduleGroup" => groups::create_schedule_group,
        "GetScheduleGroup" => groups::get_schedule_group,
        "ListScheduleGroups" => groups::list_schedule_groups,
        "DeleteScheduleGroup" => groups::delete_schedule_group,
        "TagResource" => groups::tag_resource,
        "UntagResource" => groups::untag_resource,
        "ListTagsForResource" => groups::list_tags_for_resource,
        "CreateSchedule" => schedules::create_schedule,
        "UpdateSchedule" => schedules::update_schedule,
        "GetSchedule" => schedules::get_schedule,
        "ListSchedules" => schedules::list_schedules,
        "DeleteSchedule" => schedules::delete_schedule,
    }
}
