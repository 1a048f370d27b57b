//! Step Functions: state machines (Amazon States Language), versions and aliases,
//! executions run by an interpreter on the virtual clock with their event history, task
//! integrations through the services directory (Lambda, SQS, SNS, EventBridge, nested
//! executions, AWS SDK integrations), task tokens and activities.
//!
//! Modules: `asl` (the language: JSONPath paths, payload templates, intrinsics, Choice
//! rules, a JSONata subset, validation), `machines` (state machines, versions, aliases,
//! tags), `executions` (execution API), `runtime` (the interpreter), `tasks`
//! (integrations), `distributed` (distributed Map and map runs), `activities` (activities
//! and task tokens), `testing` (TestState), `logging` (CloudWatch Logs), `state` (storage).

#![warn(missing_docs)]

pub mod activities;
pub mod asl;
pub mod distributed;
pub mod error;
pub mod executions;
pub mod logging;
pub mod machines;
pub mod runtime;
pub mod state;
pub mod tasks;
pub mod testing;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use overcast_core::{Core, RequestContext, Service, Stores};

use crate::state::{arn_scope, Persist, Region};

/// The service.
pub struct StepFunctions {
    shared: Arc<Shared>,
}

/// State shared by handlers and running executions.
pub struct Shared {
    /// Core services.
    pub core: Core,
    /// State per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
    /// Running executions (abort handles) by ARN.
    pub running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Outstanding task tokens and activity tasks.
    pub tokens: activities::Tokens,
    /// ARNs of executions as they finish (`.sync` integrations wait on it).
    pub finished: tokio::sync::broadcast::Sender<String>,
}

impl Deref for StepFunctions {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Builds the service, loading persisted state and resuming running executions.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(StepFunctions::new(core))
}

impl StepFunctions {
    /// The service over `core`.
    pub fn new(core: &Core) -> StepFunctions {
        let shared = Arc::new(Shared {
            core: core.clone(),
            regions: Stores::new(|_, _| Region::default()),
            persist: Persist::new(core.store.clone()),
            running: Mutex::new(HashMap::new()),
            tokens: activities::Tokens::default(),
            finished: tokio::sync::broadcast::channel(1024).0,
        });
        macro_rules! load {
            ($table:ident, $field:ident) => {
                for (_, x) in shared.persist.$table.load() {
                    if let Some((r, a)) = arn_scope(&x.arn) {
                        let region = shared.regions.get(a, r);
                        region.write().$field.insert(x.arn.clone(), x);
                    }
                }
            };
        }
        load!(machines, machines);
        load!(versions, versions);
        load!(aliases, aliases);
        load!(activities, activities);
        load!(map_runs, map_runs);
        let mut resume = Vec::new();
        let mut histories = shared.persist.load_histories();
        for (_, mut x) in shared.persist.executions.load() {
            let arn = x.arn.clone();
            x.history = histories.remove(&arn).unwrap_or_default();
            if let Some((r, a)) = arn_scope(&arn) {
                if x.status == "RUNNING" && x.map_run.is_some() {
                    // Children of an interrupted map run: the parent re-runs its Map state.
                    x.status = "ABORTED".into();
                    x.stop_date = Some(core.clock.now());
                    let _ = shared.persist.put_execution(&x, usize::MAX);
                }
                if x.status == "RUNNING" {
                    resume.push((a.to_string(), r.to_string(), x.arn.clone()));
                }
                shared
                    .regions
                    .get(a, r)
                    .write()
                    .executions
                    .insert(x.arn.clone(), x);
            }
        }
        // Resumed from a scheduler job: it runs inside the async runtime, which may not be
        // running yet while the binary builds its services.
        for (a, r, arn) in resume {
            let s = shared.clone();
            core.scheduler.at(core.clock.now(), move || {
                runtime::spawn(&s, &a, &r, &arn);
            });
        }
        StepFunctions { shared }
    }
}

impl Shared {
    /// The caller's region state.
    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// A context for work the service does on its own.
    pub fn background_ctx(&self, account: &str, region: &str) -> RequestContext {
        RequestContext::background(
            "stepfunctions",
            "StartExecution",
            account,
            region,
            self.core.clock.now(),
        )
    }
}

impl Service for StepFunctions {
    fn name(&self) -> &'static str {
        "stepfunctions"
    }

    fn reset(&self) {
        for (_, h) in self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            h.abort();
        }
        self.tokens.clear();
        self.regions.clear();
    }

    overcast_core::operations! {
        "CreateStateMachine" => machines::create_state_machine,
        "DescribeStateMachine" => machines::describe_state_machine,
        "ListStateMachines" => machines::list_state_machines,
        "UpdateStateMachine" => machines::update_state_machine,
        "DeleteStateMachine" => machines::delete_state_machine,
        "PublishStateMachineVersion" => machines::publish_state_machine_version,
        "ListStateMachineVersions" => machines::list_state_machine_versions,
        "DeleteStateMachineVersion" => machines::delete_state_machine_version,
        "CreateStateMachineAlias" => machines::create_state_machine_alias,
        "DescribeStateMachineAlias" => machines::describe_state_machine_alias,
        "UpdateStateMachineAlias" => machines::update_state_machine_alias,
        "DeleteStateMachineAlias" => machines::delete_state_machine_alias,
        "ListStateMachineAliases" => machines::list_state_machine_aliases,
        "ValidateStateMachineDefinition" => machines::validate_state_machine_definition,
        "TagResource" => machines::tag_resource,
        "UntagResource" => machines::untag_resource,
        "ListTagsForResource" => machines::list_tags_for_resource,
        "StartExecution" => executions::start_execution,
        "StartSyncExecution" => executions::start_sync_execution,
        "DescribeExecution" => executions::describe_execution,
        "ListExecutions" => executions::list_executions,
        "GetExecutionHistory" => executions::get_execution_history,
        "StopExecution" => executions::stop_execution,
        "DescribeStateMachineForExecution" => executions::describe_state_machine_for_execution,
        "RedriveExecution" => executions::redrive_execution,
        "CreateActivity" => activities::create_activity,
        "DescribeActivity" => activities::describe_activity,
        "ListActivities" => activities::list_activities,
        "DeleteActivity" => activities::delete_activity,
        "GetActivityTask" => activities::get_activity_task,
        "SendTaskSuccess" => activities::send_task_success,
        "SendTaskFailure" => activities::send_task_failure,
        "SendTaskHeartbeat" => activities::send_task_heartbeat,
        "TestState" => testing::test_state,
        "DescribeMapRun" => distributed::describe_map_run,
        "ListMapRuns" => distributed::list_map_runs,
        "UpdateMapRun" => distributed::update_map_run,
    }
}

/// Fabric topic of service events for the default EventBridge bus (see svc-events'
/// `integrations`).
pub const SERVICE_EVENTS_TOPIC: &str = "events:put";

/// Publishes "Step Functions Execution Status Change" (source `aws.states`) to the default
/// EventBridge bus when a standard execution ends, through the event fabric.
pub fn integrations_status_event(shared: &Arc<Shared>, account: &str, region: &str, arn: &str) {
    if !shared.core.fabric.wants(SERVICE_EVENTS_TOPIC) {
        return;
    }
    let Some(e) = shared
        .regions
        .get(account, region)
        .read()
        .executions
        .get(arn)
        .cloned()
    else {
        return;
    };
    if e.kind == "EXPRESS" {
        return;
    }
    let detail = serde_json::json!({
        "executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name,
        "status": e.status,
        "startDate": (e.start_date * 1000.0) as i64,
        "stopDate": e.stop_date.map(|s| (s * 1000.0) as i64),
        "input": e.input, "output": e.output, "error": e.error, "cause": e.cause,
        "inputDetails": {"included": true},
        "outputDetails": e.output.as_ref().map(|_| serde_json::json!({"included": true})),
    });
    shared.core.fabric.publish(overcast_core::fabric::Event {
        topic: SERVICE_EVENTS_TOPIC,
        account_id: account.to_string(),
        region: region.to_string(),
        detail: serde_json::json!({
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "resources": [e.arn],
            "detail": detail,
        }),
    });
}

#[cfg(test)]
mod tests {
    //! The interpreter driven through the API operations, in process.
    use super::*;
    use serde_json::{json, Value};

    async fn call(svc: &StepFunctions, op: &'static str, input: Value) -> Result<Value, String> {
        let ctx = RequestContext::test("stepfunctions", op);
        svc.call(
            &ctx,
            op,
            overcast_core::Input {
                value: input,
                body: None,
            },
        )
        .await
        .map(|o| o.value)
        .map_err(|e| e.code.to_string())
    }

    async fn run(svc: &StepFunctions, definition: Value, input: Value) -> Value {
        let name = format!("m{}", overcast_core::ids::alnum(8));
        let m = call(
            svc,
            "CreateStateMachine",
            json!({
            "name": name, "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::000000000000:role/r"}),
        )
        .await
        .unwrap();
        let ex = call(
            svc,
            "StartExecution",
            json!({
            "stateMachineArn": m["stateMachineArn"], "input": input.to_string()}),
        )
        .await
        .unwrap();
        for _ in 0..3000 {
            let d = call(
                svc,
                "DescribeExecution",
                json!({"executionArn": ex["executionArn"]}),
            )
            .await
            .unwrap();
            if d["status"] != "RUNNING" {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("execution did not finish");
    }

    fn service() -> StepFunctions {
        let core = Core::ephemeral();
        tokio::spawn(core.scheduler.clone().run());
        StepFunctions::new(&core)
    }

    #[tokio::test]
    async fn pass_choice_parallel_and_map() {
        let svc = service();
        let d = run(&svc, json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.items)", "items.$": "$.items"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 2, "Next": "P"}], "Default": "F"},
            "F": {"Type": "Fail", "Error": "Few"},
            "P": {"Type": "Parallel", "ResultPath": "$.par", "Next": "M", "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": 1, "End": true}}},
                {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "InputPath": "$.n", "End": true}}}]},
            "M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.sq",
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass",
                      "Parameters": {"v.$": "$", "i.$": "$$.Map.Item.Index"}, "End": true}}}, "End": true}}}),
            json!({"items": [5, 6, 7]})).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
        assert_eq!(out["par"], json!([1, 3]));
        assert_eq!(
            out["sq"],
            json!([{"v": 5, "i": 0}, {"v": 6, "i": 1}, {"v": 7, "i": 2}])
        );
        let d = run(&svc, json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 2, "Next": "B"}], "Default": "F"},
            "B": {"Type": "Succeed"}, "F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('n={}', $.n)"}}}),
            json!({"n": 1, "e": "Custom.Error"})).await;
        assert_eq!(d["status"], "FAILED");
        assert_eq!(d["error"], "Custom.Error");
        assert_eq!(d["cause"], "n=1");
    }

    #[tokio::test]
    async fn retries_then_catches_integration_errors() {
        // No SQS in this process: sendMessage fails with SQS.ServiceUnavailable.
        let svc = service();
        let d = run(&svc, json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                  "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
                  "Retry": [{"ErrorEquals": ["SQS.ServiceUnavailable"], "IntervalSeconds": 0, "MaxAttempts": 2}],
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "Done"}], "End": true},
            "Done": {"Type": "Pass", "End": true}}}), json!({})).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
        assert_eq!(out["e"]["Error"], "SQS.ServiceUnavailable");
        let h = call(
            &svc,
            "GetExecutionHistory",
            json!({"executionArn": d["executionArn"]}),
        )
        .await
        .unwrap();
        let failed = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "TaskFailed")
            .count();
        assert_eq!(failed, 3);
        // States.Runtime is neither retried nor caught.
        let d = run(
            &svc,
            json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}),
            json!({}),
        )
        .await;
        assert_eq!(d["status"], "FAILED");
        assert_eq!(d["error"], "States.Runtime");
    }

    #[tokio::test]
    async fn jsonata_states_variables_and_catch() {
        let svc = service();
        let d = run(&svc, json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.items.price) %}", "n": 0},
                     "Output": {"items": "{% $states.input.items %}"}, "Next": "Route"},
            "Route": {"Type": "Choice", "Choices": [
                {"Condition": "{% $total > 10 %}", "Next": "Each", "Assign": {"big": true}}],
                "Default": "Small"},
            "Small": {"Type": "Fail", "Error": "Small", "Cause": "{% 'total ' & $string($total) %}"},
            "Each": {"Type": "Map", "Items": "{% $states.input.items %}",
                     "ItemSelector": {"sku": "{% $states.context.Map.Item.Value.sku %}", "i": "{% $states.context.Map.Item.Index %}"},
                     "ItemProcessor": {"StartAt": "Tag", "States": {"Tag": {"Type": "Pass",
                         "Output": "{% $states.input.sku & '#' & $string($states.input.i) %}", "End": true}}},
                     "Output": {"tags": "{% $states.result %}", "total": "{% $total %}", "big": "{% $big %}"},
                     "Next": "Boom"},
            "Boom": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Arguments": {"QueueUrl": "q", "MessageBody": "{% $string($states.input.total) %}"},
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done",
                                "Output": {"error": "{% $states.errorOutput.Error %}", "tags": "{% $states.input.tags %}"}}],
                     "End": true},
            "Done": {"Type": "Succeed"}}}),
            json!({"items": [{"sku": "a", "price": 4}, {"sku": "b", "price": 9}]})).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"error": "SQS.ServiceUnavailable", "tags": ["a#0", "b#1"]})
        );
        let d = run(&svc, json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.items.price) %}"}, "Next": "Route"},
            "Route": {"Type": "Choice", "Choices": [{"Condition": "{% $total > 10 %}", "Next": "Ok"}], "Default": "Small"},
            "Ok": {"Type": "Succeed"},
            "Small": {"Type": "Fail", "Error": "Small", "Cause": "{% 'total ' & $string($total) %}"}}}),
            json!({"items": [{"price": 1}, {"price": 2}]})).await;
        assert_eq!(d["status"], "FAILED");
        assert_eq!(d["cause"], "total 3");
    }

    #[tokio::test]
    async fn jsonpath_variables() {
        let svc = service();
        let d = run(&svc, json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"customer.$": "$.who", "limit": 10, "first.$": "$.items[0]"},
                     "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$first", "NumericLessThanEquals": 10, "Next": "Use", "Assign": {"ok": true}}],
                "Default": "Fail"},
            "Fail": {"Type": "Fail", "Error": "TooBig"},
            "Use": {"Type": "Pass", "Parameters": {
                "who.$": "$customer", "limit.$": "$limit", "ok.$": "$ok",
                "msg.$": "States.Format('{} <= {}', $first, $limit)",
                "all.$": "$$"}, "End": true}}}),
            json!({"who": "ada", "items": [4, 20]})).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
        assert_eq!(out["who"], "ada");
        assert_eq!(out["limit"], 10);
        assert_eq!(out["ok"], true);
        assert_eq!(out["msg"], "4 <= 10");
        assert!(out["all"].get(crate::asl::path::VARS_KEY).is_none());
        assert!(out["all"]["Execution"]["Id"].is_string());
    }

    #[tokio::test]
    async fn endless_loops_end_at_the_history_limit() {
        let svc = service();
        let d = run(
            &svc,
            json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}),
            json!({}),
        )
        .await;
        assert_eq!(d["status"], "FAILED");
        assert_eq!(d["error"], "States.Runtime");
    }

    #[tokio::test]
    async fn errors_of_the_api() {
        let svc = service();
        let bad = call(
            &svc,
            "CreateStateMachine",
            json!({"name": "x", "definition": "{}",
            "roleArn": "arn:aws:iam::000000000000:role/r"}),
        )
        .await;
        assert_eq!(bad.unwrap_err(), "InvalidDefinition");
        let missing = call(
            &svc,
            "DescribeExecution",
            json!({
            "executionArn": "arn:aws:states:us-east-1:000000000000:execution:m:e"}),
        )
        .await;
        assert_eq!(missing.unwrap_err(), "ExecutionDoesNotExist");
        let token = call(
            &svc,
            "SendTaskSuccess",
            json!({"taskToken": "x", "output": "{}"}),
        )
        .await;
        assert_eq!(token.unwrap_err(), "InvalidToken");
    }
}
