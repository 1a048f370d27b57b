"""Step Functions end to end with boto3 and the AWS CLI: state machines, versions and aliases,
definition validation, the interpreter (Pass, Choice, Wait on the virtual clock, Map,
Parallel, Retry/Catch), Lambda tasks that really run, SQS/SNS/EventBridge/nested-execution
and AWS SDK integrations, task tokens, activities, express executions, AWS's error codes,
EventBridge and Scheduler targets, and durability across restart and kill -9."""
import io
import json
import threading
import time
import uuid
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/sfn-role"


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture
def sfn(client):
    return client("stepfunctions")


@pytest.fixture(autouse=True)
def back_to_real_time(overcast):
    """Tests here move the virtual clock; put it back so later test files see real time."""
    yield
    overcast.clock(set=time.time())


def machine(sfn, definition, name=None, **kw):
    name = name or uniq("sm")
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **kw)["stateMachineArn"]
    return arn


def wait_done(sfn, arn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still running")


def run(sfn, definition, input_doc=None, **kw):
    arn = machine(sfn, definition)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(input_doc if input_doc is not None else {}), **kw)
    return wait_done(sfn, ex["executionArn"])


def history(sfn, arn, **kw):
    return sfn.get_execution_history(executionArn=arn, maxResults=1000, **kw)["events"]


def types(sfn, arn):
    return [e["type"] for e in history(sfn, arn)]


def python_function(client, source, name=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", source)
    lam = client("lambda")
    fn = lam.create_function(FunctionName=name or uniq("fn"), Runtime="python3.12", Handler="index.handler",
                             Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": buf.getvalue()})
    return fn["FunctionArn"]


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_state_machine_lifecycle_versions_aliases_and_tags(sfn):
    name = uniq("sm")
    arn = machine(sfn, PASS, name=name, tags=[{"key": "team", "value": "a"}])
    assert arn == f"arn:aws:states:us-east-1:000000000000:stateMachine:{name}"
    # Same definition and role: idempotent; a different definition: StateMachineAlreadyExists.
    assert machine(sfn, PASS, name=name) == arn
    other = {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
    assert code(machine, sfn, other, name=name)[0] == "StateMachineAlreadyExists"
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["name"] == name and d["type"] == "STANDARD" and d["status"] == "ACTIVE"
    assert json.loads(d["definition"]) == PASS and d["roleArn"] == ROLE
    assert d["loggingConfiguration"]["level"] == "OFF"
    rev1 = d["revisionId"]

    up = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(other), publish=True,
                                  versionDescription="v1")
    assert up["stateMachineVersionArn"] == arn + ":1" and up["revisionId"] != rev1
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert v2["stateMachineVersionArn"] == arn + ":1"  # unchanged revision: same version
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, description="two")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    assert code(sfn.publish_state_machine_version, stateMachineArn=arn, revisionId="stale")[0] == "ConflictException"
    versions = [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]]
    assert versions == [arn + ":2", arn + ":1"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn + ":1")["definition"]) == other

    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": arn + ":1", "weight": 80},
        {"stateMachineVersionArn": arn + ":2", "weight": 20}])["stateMachineAliasArn"]
    assert alias == arn + ":live"
    assert len(sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"]) == 2
    assert code(sfn.create_state_machine_alias, name="bad", routingConfiguration=[
        {"stateMachineVersionArn": arn + ":1", "weight": 50}])[0] == "ValidationException"
    assert code(sfn.delete_state_machine_version, stateMachineVersionArn=arn + ":1")[0] == "ConflictException"
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": arn + ":2", "weight": 100}])
    ex = sfn.start_execution(stateMachineArn=alias)
    d = wait_done(sfn, ex["executionArn"])
    assert d["stateMachineAliasArn"] == alias and d["stateMachineVersionArn"] == arn + ":2"
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]] == [alias]
    sfn.delete_state_machine_version(stateMachineVersionArn=arn + ":1")
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    assert code(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)[0] == "ResourceNotFound"

    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]

    sfn.delete_state_machine(stateMachineArn=arn)
    assert code(sfn.describe_state_machine, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"


def test_list_state_machines_paginates(sfn):
    arns = {machine(sfn, PASS) for _ in range(3)}
    seen, token = set(), None
    while True:
        kw = {"nextToken": token} if token else {}
        page = sfn.list_state_machines(maxResults=2, **kw)
        assert len(page["stateMachines"]) <= 2
        seen |= {m["stateMachineArn"] for m in page["stateMachines"]}
        token = page.get("nextToken")
        if not token:
            break
    assert arns <= seen
    full = sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 1}).build_full_result()
    assert {m["stateMachineArn"] for m in full["stateMachines"]} >= arns


def test_invalid_definitions_names_and_arns(sfn):
    c, msg = code(sfn.create_state_machine, name=uniq("sm"), roleArn=ROLE,
                  definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    assert c == "InvalidDefinition"
    assert msg == "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'"
    c, msg = code(sfn.create_state_machine, name=uniq("sm"), roleArn=ROLE, definition="{not json")
    assert c == "InvalidDefinition" and "INVALID_JSON_DESCRIPTION" in msg
    c, msg = code(sfn.create_state_machine, name=uniq("sm"), roleArn=ROLE,
                  definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": True}}}))
    assert c == "InvalidDefinition" and "SCHEMA_VALIDATION_FAILED" in msg
    c, msg = code(sfn.create_state_machine, name=uniq("sm"), roleArn=ROLE, definition=json.dumps(
        {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.x", "End": True}}}))
    assert c == "InvalidDefinition" and "not supported in JSONata" in msg
    c, msg = code(sfn.create_state_machine, name=uniq("sm"), roleArn=ROLE, definition=json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Succeed", "Assign": {"x": 1}}}}))
    assert c == "InvalidDefinition" and "Assign" in msg
    assert code(sfn.create_state_machine, name="bad name", roleArn=ROLE, definition=json.dumps(PASS))[0] == "InvalidName"
    assert code(sfn.create_state_machine, name=uniq("sm"), roleArn="role", definition=json.dumps(PASS))[0] == "InvalidArn"
    assert code(sfn.describe_state_machine, stateMachineArn="not-an-arn")[0] == "InvalidArn"
    missing = "arn:aws:states:us-east-1:000000000000:stateMachine:nope"
    assert code(sfn.describe_state_machine, stateMachineArn=missing)[0] == "StateMachineDoesNotExist"
    assert code(sfn.start_execution, stateMachineArn=missing)[0] == "StateMachineDoesNotExist"
    assert code(sfn.describe_execution, executionArn="arn:aws:states:us-east-1:000000000000:execution:nope:x")[0] == "ExecutionDoesNotExist"
    assert code(sfn.describe_execution, executionArn="garbage")[0] == "InvalidArn"
    arn = machine(sfn, PASS)
    assert code(sfn.start_execution, stateMachineArn=arn, input="{oops")[0] == "InvalidExecutionInput"
    assert code(sfn.start_execution, stateMachineArn=arn, name="a/b")[0] == "InvalidName"

    v = sfn.validate_state_machine_definition(definition=json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Succeed"}}}))
    assert v["result"] == "FAIL" and v["diagnostics"][0]["code"] == "UNREACHABLE_STATE"
    assert v["diagnostics"][0]["location"] == "/States/B" and v["diagnostics"][0]["severity"] == "ERROR"
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"


def test_pass_intrinsics_choice_and_wait_on_the_virtual_clock(sfn, overcast):
    definition = {
        "StartAt": "Greet",
        "States": {
            "Greet": {"Type": "Pass", "Parameters": {
                "msg.$": "States.Format('Hello, {}!', $.name)", "n.$": "States.MathAdd($.n, 1)",
                "exec.$": "$$.Execution.Name", "state.$": "$$.State.Name", "orig.$": "$$.Execution.Input.name",
                "parts.$": "States.StringSplit('a,b', ',')", "h.$": "States.Hash('x', 'SHA-256')"},
                "ResultPath": "$.out", "Next": "Route"},
            "Route": {"Type": "Choice", "Choices": [
                {"And": [{"Variable": "$.out.n", "NumericGreaterThanEquals": 10},
                         {"Variable": "$.name", "StringMatches": "A*"}], "Next": "Pause"},
                {"Variable": "$.out.n", "NumericLessThan": 10, "Next": "Small"}],
                "Default": "Small"},
            "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Done"},
            "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "n < 10"},
            "Done": {"Type": "Pass", "OutputPath": "$.out", "End": True},
        },
    }
    arn = machine(sfn, definition)
    name = uniq("exec")
    ex = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"name": "Ada", "n": 9, "delay": 3600}))
    time.sleep(0.5)
    assert sfn.describe_execution(executionArn=ex["executionArn"])["status"] == "RUNNING"
    assert "WaitStateEntered" in types(sfn, ex["executionArn"])
    overcast.clock(advance=3601)
    d = wait_done(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["msg"] == "Hello, Ada!" and out["n"] == 10 and out["exec"] == name and out["state"] == "Greet"
    assert out["orig"] == "Ada" and out["parts"] == ["a", "b"]
    assert out["h"] == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    evs = history(sfn, ex["executionArn"])
    assert [e["type"] for e in evs] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered", "ChoiceStateExited",
        "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in evs] == list(range(1, 11))
    assert evs[1]["previousEventId"] == 1 and evs[1]["stateEnteredEventDetails"]["name"] == "Greet"
    rev = history(sfn, ex["executionArn"], reverseOrder=True, includeExecutionData=False)
    assert rev[0]["type"] == "ExecutionSucceeded" and "output" not in rev[0]["executionSucceededEventDetails"]

    failed = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"name": "Bob", "n": 1, "delay": 0}))
    d = wait_done(sfn, failed["executionArn"])
    assert d["status"] == "FAILED" and d["error"] == "TooSmall" and d["cause"] == "n < 10"


def test_map_and_parallel(sfn):
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {"Type": "Parallel", "ResultPath": "$.parallel", "Next": "Each", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "left", "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"sum.$": "States.ArrayLength($.items)"}, "End": True}}},
            ]},
            "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                     "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
                     "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double", "States": {
                         "Double": {"Type": "Pass", "Parameters": {"i.$": "$.index", "v.$": "$.value", "t.$": "$.tag"}, "End": True}}},
                     "ResultPath": "$.mapped", "End": True},
        },
    }
    d = run(sfn, definition, {"items": [10, 20, 30], "tag": "x"})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["parallel"] == ["left", {"sum": 3}]
    assert out["mapped"] == [{"i": 0, "v": 10, "t": "x"}, {"i": 1, "v": 20, "t": "x"}, {"i": 2, "v": 30, "t": "x"}]
    t = types(sfn, d["executionArn"])
    assert t.count("MapIterationStarted") == 3 and t.count("MapIterationSucceeded") == 3
    assert "ParallelStateStarted" in t and "ParallelStateSucceeded" in t and "MapStateStarted" in t
    started = [e for e in history(sfn, d["executionArn"]) if e["type"] == "MapStateStarted"][0]
    assert started["mapStateStartedEventDetails"]["length"] == 3

    # A failing branch fails the Parallel state; Catch routes it.
    caught = run(sfn, {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "branch"}}}],
            "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Ok"}], "End": True},
        "Ok": {"Type": "Pass", "End": True}}}, {"k": 1})
    assert caught["status"] == "SUCCEEDED" and json.loads(caught["output"]) == {"k": 1, "err": {"Error": "Boom", "Cause": "branch"}}


LAMBDA_OK = """
def handler(event, context):
    return {"doubled": event["n"] * 2, "seen": event}
"""

LAMBDA_FAIL = """
class PaymentDeclined(Exception):
    pass

def handler(event, context):
    raise PaymentDeclined("card refused for " + str(event.get("who")))
"""


def test_lambda_tasks_plain_arn_and_optimized_integration(sfn, client):
    fn = python_function(client, LAMBDA_OK)
    d = run(sfn, {"StartAt": "Direct", "States": {
        "Direct": {"Type": "Task", "Resource": fn, "ResultPath": "$.direct", "Next": "Optimized"},
        "Optimized": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": fn, "Payload": {"n.$": "$.direct.doubled"}},
                      "ResultSelector": {"value.$": "$.Payload.doubled", "status.$": "$.StatusCode"},
                      "ResultPath": "$.optimized", "End": True}}}, {"n": 21})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["direct"] == {"doubled": 42, "seen": {"n": 21}}
    assert out["optimized"] == {"value": 84, "status": 200}
    t = types(sfn, d["executionArn"])
    assert t[:5] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]
    assert ["TaskScheduled", "TaskStarted", "TaskSucceeded"] == [x for x in t if x.startswith("Task") and x[4:5] in "SC" and x != "TaskStateEntered" and x != "TaskStateExited"]
    sched = [e for e in history(sfn, d["executionArn"]) if e["type"] == "TaskScheduled"][0]["taskScheduledEventDetails"]
    assert sched["resourceType"] == "lambda" and sched["resource"] == "invoke" and json.loads(sched["parameters"])["FunctionName"] == fn


def test_retry_then_catch_on_a_failing_lambda(sfn, client, overcast):
    fn = python_function(client, LAMBDA_FAIL)
    arn = machine(sfn, {"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": fn,
                   "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 5},
                             {"ErrorEquals": ["PaymentDeclined"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 2}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Refund"}],
                   "End": True},
        "Refund": {"Type": "Pass", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"who": "ada"}))["executionArn"]
    # Retries wait 30 s then 60 s of virtual time.
    deadline = time.time() + 30
    while time.time() < deadline and types(sfn, ex).count("LambdaFunctionFailed") < 3:
        overcast.clock(advance=31)
        time.sleep(0.3)
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["who"] == "ada" and out["failure"]["Error"] == "PaymentDeclined"
    cause = json.loads(out["failure"]["Cause"])
    assert cause["errorType"] == "PaymentDeclined" and "card refused for ada" in cause["errorMessage"]
    assert types(sfn, ex).count("LambdaFunctionFailed") == 3

    # Without a catcher the execution fails with the function's error name.
    d = run(sfn, {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": fn, "End": True}}}, {})
    assert d["status"] == "FAILED" and d["error"] == "PaymentDeclined"
    # A function that does not exist: Lambda.ResourceNotFoundException.
    missing = "arn:aws:lambda:us-east-1:000000000000:function:" + uniq("none")
    d = run(sfn, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                   "Parameters": {"FunctionName": missing}, "End": True}}}, {})
    assert d["status"] == "FAILED" and d["error"] == "Lambda.ResourceNotFoundException"


def test_wait_for_task_token_with_sqs(sfn, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=uniq("tokens"))["QueueUrl"]
    arn = machine(sfn, {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                "ResultPath": "$.approval", "End": True}}})
    ok = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 7}))["executionArn"]
    bad = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 8}))["executionArn"]
    bodies = {}
    deadline = time.time() + 10
    while len(bodies) < 2 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            b = json.loads(m["Body"])
            bodies[b["order"]] = b["token"]
    assert set(bodies) == {7, 8}
    time.sleep(0.2)
    assert sfn.describe_execution(executionArn=ok)["status"] == "RUNNING"
    sfn.send_task_heartbeat(taskToken=bodies[7])
    sfn.send_task_success(taskToken=bodies[7], output=json.dumps({"approved": True}))
    d = wait_done(sfn, ok)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"order": 7, "approval": {"approved": True}}
    t = types(sfn, ok)
    assert t.index("TaskScheduled") < t.index("TaskStarted") < t.index("TaskSubmitted") < t.index("TaskSucceeded")
    sfn.send_task_failure(taskToken=bodies[8], error="Rejected", cause="no stock")
    d = wait_done(sfn, bad)
    assert d["status"] == "FAILED" and d["error"] == "Rejected" and d["cause"] == "no stock"
    assert code(sfn.send_task_success, taskToken=bodies[7], output="{}")[0] == "TaskDoesNotExist"
    assert code(sfn.send_task_success, taskToken="garbage", output="{}")[0] == "InvalidToken"


def test_activity_worker_loop(sfn):
    act = sfn.create_activity(name=uniq("act"))["activityArn"]
    assert sfn.describe_activity(activityArn=act)["activityArn"] == act
    assert act in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    arn = machine(sfn, {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "TimeoutSeconds": 300, "HeartbeatSeconds": 100, "End": True}}})
    executions = [sfn.start_execution(stateMachineArn=arn, input=json.dumps({"job": i}))["executionArn"] for i in range(3)]
    done = []

    def worker():
        while len(done) < 3:
            task = sfn.get_activity_task(activityArn=act, workerName="worker-1")
            if not task.get("taskToken"):
                continue
            job = json.loads(task["input"])["job"]
            sfn.send_task_heartbeat(taskToken=task["taskToken"])
            sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"result": job * 10}))
            done.append(job)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    t.join(30)
    assert sorted(done) == [0, 1, 2]
    for i, ex in enumerate(executions):
        d = wait_done(sfn, ex)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"result": i * 10}
        evs = history(sfn, ex)
        started = [e for e in evs if e["type"] == "ActivityStarted"][0]
        assert started["activityStartedEventDetails"]["workerName"] == "worker-1"
        assert [e["type"] for e in evs if e["type"].startswith("Activity")] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    sfn.delete_activity(activityArn=act)
    assert code(sfn.describe_activity, activityArn=act)[0] == "ActivityDoesNotExist"


def test_start_sync_execution_express(sfn, client):
    # StartSyncExecution's endpoint has the host prefix `sync-`, which does not resolve for
    # 127.0.0.1 / localhost endpoints (as for StartLiveTail in test_logs_more.py).
    sync = client("stepfunctions", config=Config(inject_host_prefix=False))
    express = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "States.ArrayRange(1, 5, 2)"}, "End": True}}}, type="EXPRESS")
    r = sync.start_sync_execution(stateMachineArn=express, input="{}")
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == {"v": [1, 3, 5]}
    assert ":express:" in r["executionArn"] and r["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failing = machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}, type="EXPRESS")
    r = sync.start_sync_execution(stateMachineArn=failing)
    assert r["status"] == "FAILED" and r["error"] == "E" and r["cause"] == "C"
    standard = machine(sfn, PASS)
    assert code(sync.start_sync_execution, stateMachineArn=standard)[0] == "StateMachineTypeNotSupported"
    assert code(sfn.list_executions, stateMachineArn=express)[0] == "StateMachineTypeNotSupported"


def test_execution_names_listing_stop_and_redrive(sfn, overcast):
    arn = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": True}}})
    name = uniq("run")
    first = sfn.start_execution(stateMachineArn=arn, name=name, input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name=name, input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    assert code(sfn.start_execution, stateMachineArn=arn, name=name, input='{"a": 2}')[0] == "ExecutionAlreadyExists"
    other = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert {e["executionArn"] for e in running} == {first["executionArn"], other}
    page = sfn.list_executions(stateMachineArn=arn, maxResults=1)
    assert len(page["executions"]) == 1 and page["nextToken"]
    sfn.stop_execution(executionArn=other, error="Manual", cause="operator")
    d = sfn.describe_execution(executionArn=other)
    assert d["status"] == "ABORTED" and d["error"] == "Manual" and d["redriveStatus"] == "REDRIVABLE"
    assert types(sfn, other)[-2:] == ["WaitStateAborted", "ExecutionAborted"]
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]] == [other]
    # Stopped executions stay stopped even when their wait would have ended.
    overcast.clock(advance=86401)
    d = wait_done(sfn, first["executionArn"])
    assert d["status"] == "SUCCEEDED"
    assert sfn.describe_execution(executionArn=other)["status"] == "ABORTED"
    assert code(sfn.start_execution, stateMachineArn=arn, name=name, input='{"a": 1}')[0] == "ExecutionAlreadyExists"
    desc = sfn.describe_state_machine_for_execution(executionArn=other)
    assert desc["stateMachineArn"] == arn and "Wait" in desc["definition"]

    # Redrive a failed execution: it resumes at the state that failed.
    flaky = machine(sfn, {"StartAt": "Check", "States": {
        "Check": {"Type": "Pass", "Result": {"checked": True}, "Next": "Gate"},
        "Gate": {"Type": "Choice", "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericGreaterThan": 0, "Next": "Ok"}]},
        "Ok": {"Type": "Succeed"}}})
    ex = sfn.start_execution(stateMachineArn=flaky)["executionArn"]
    d = wait_done(sfn, ex)
    assert d["status"] == "FAILED" and d["error"] == "States.NoChoiceMatched"
    sfn.redrive_execution(executionArn=ex)
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and d["redriveCount"] == 1 and json.loads(d["output"]) == {"checked": True}
    t = types(sfn, ex)
    assert t.count("ExecutionStarted") == 1 and "ExecutionRedriven" in t and t.count("PassStateEntered") == 1
    assert code(sfn.redrive_execution, executionArn=first["executionArn"])[0] == "ExecutionNotRedrivable"


def test_integrations_sns_events_nested_and_aws_sdk(sfn, client):
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName=uniq("sink"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=uniq("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    child = machine(sfn, {"StartAt": "C", "States": {"C": {"Type": "Pass", "Parameters": {"child.$": "$.x"}, "End": True}}})
    d = run(sfn, {"StartAt": "Publish", "States": {
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": topic, "Message": {"hello.$": "$.who"}}, "ResultPath": "$.sns", "Next": "Nested"},
        "Nested": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                   "Parameters": {"StateMachineArn": child, "Input": {"x.$": "$.who"}}, "ResultSelector": {"out.$": "$.Output"},
                   "ResultPath": "$.nested", "Next": "Sdk"},
        "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
                "Parameters": {"StateMachineArn": child}, "ResultSelector": {"name.$": "$.Name", "type.$": "$.Type"},
                "ResultPath": "$.sdk", "Next": "SdkError"},
        "SdkError": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
                     "Parameters": {"QueueName": uniq("missing")},
                     "Catch": [{"ErrorEquals": ["Sqs.QueueDoesNotExistException"], "ResultPath": "$.sdkError", "Next": "S3Error"}],
                     "Next": "S3Error"},
        "S3Error": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": uniq("no-bucket"), "Key": "k"},
                    "Catch": [{"ErrorEquals": ["S3.NoSuchBucketException"], "ResultPath": "$.s3Error", "Next": "Emit"}],
                    "Next": "Emit"},
        "Emit": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                 "Parameters": {"Entries": [{"Source": "sfn.test", "DetailType": "T", "Detail": {"k": 1}}]},
                 "ResultPath": "$.events", "End": True}}}, {"who": "ada"})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["sns"]["MessageId"]
    assert out["nested"] == {"out": {"child": "ada"}}
    assert out["sdk"]["type"] == "STANDARD" and child.endswith(out["sdk"]["name"])
    assert out["sdkError"]["Error"] == "Sqs.QueueDoesNotExistException"
    assert out["s3Error"]["Error"] == "S3.NoSuchBucketException"
    assert out["events"]["FailedEntryCount"] == 0
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(msgs[0]["Body"]) == {"hello": "ada"}
    assert sfn.list_executions(stateMachineArn=child)["executions"][0]["status"] == "SUCCEEDED"


def test_the_cli(aws, tmp_path):
    path = tmp_path / "def.json"
    path.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}))
    name = uniq("cli")
    arn = aws("stepfunctions", "create-state-machine", "--name", name, "--definition", f"file://{path}",
              "--role-arn", ROLE)["stateMachineArn"]
    ex = aws("stepfunctions", "start-execution", "--state-machine-arn", arn, "--input", '{"a":1}')["executionArn"]
    for _ in range(100):
        d = aws("stepfunctions", "describe-execution", "--execution-arn", ex)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"ok": True}
    from conftest import AwsCliError
    with pytest.raises(AwsCliError) as e:
        aws("stepfunctions", "describe-state-machine", "--state-machine-arn", arn + "-missing")
    assert e.value.code == "StateMachineDoesNotExist"


def test_eventbridge_rule_and_scheduler_schedule_start_executions(sfn, client, overcast):
    events, scheduler = client("events"), client("scheduler")
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    source = uniq("com.sfn")
    rule = uniq("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": arn, "RoleArn": ROLE}])
    events.put_events(Entries=[{"Source": source, "DetailType": "Order", "Detail": json.dumps({"id": 5})}])
    deadline = time.time() + 10
    execs = []
    while time.time() < deadline and not execs:
        execs = sfn.list_executions(stateMachineArn=arn)["executions"]
        time.sleep(0.1)
    assert execs, "the rule did not start an execution"
    d = wait_done(sfn, execs[0]["executionArn"])
    event = json.loads(d["input"])
    assert d["status"] == "SUCCEEDED" and event["source"] == source and event["detail"] == {"id": 5}

    name = uniq("s")
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": arn, "RoleArn": ROLE, "Input": json.dumps({"from": "scheduler"})})
    overcast.clock(advance=301)
    deadline = time.time() + 10
    inputs = []
    while time.time() < deadline and {"from": "scheduler"} not in inputs:
        inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
                  for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
        time.sleep(0.1)
    assert {"from": "scheduler"} in inputs
    scheduler.delete_schedule(Name=name)


def test_state_survives_restart_and_kill9_and_waits_resume(sfn, client, overcast):
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}})
    done = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_done(sfn, done)["status"] == "SUCCEEDED"
    waiting_sm = machine(sfn, {"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": {"step": 1}, "Assign": {"marker": "kept"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 7200, "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"resumed.$": "$.step", "marker.$": "$marker"}, "End": True}}})
    waiting = sfn.start_execution(stateMachineArn=waiting_sm)["executionArn"]
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=uniq("tok"))["QueueUrl"]
    token_sm = machine(sfn, {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": url, "MessageBody.$": "$$.Task.Token"}, "End": True}}})
    token_ex = sfn.start_execution(stateMachineArn=token_sm)["executionArn"]
    token = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]["Body"]
    time.sleep(0.3)
    assert "WaitStateEntered" in types(sfn, waiting)

    overcast.restart()
    sfn = client("stepfunctions")
    assert sfn.describe_execution(executionArn=done)["status"] == "SUCCEEDED"
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] in arn
    assert sfn.describe_execution(executionArn=waiting)["status"] == "RUNNING"

    overcast.kill9()
    sfn = client("stepfunctions")
    assert json.loads(sfn.describe_execution(executionArn=done)["output"]) == 1
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [done]
    assert len(history(sfn, done)) == 4
    overcast.clock(advance=7201)
    d = wait_done(sfn, waiting)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"resumed": 1, "marker": "kept"}
    t = types(sfn, waiting)
    assert t.count("ExecutionStarted") == 1 and t.count("WaitStateEntered") == 1 and t[-1] == "ExecutionSucceeded"
    sfn.send_task_success(taskToken=token, output='{"after": "restart"}')
    d = wait_done(sfn, token_ex)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"after": "restart"}


def test_test_state_inspection_mock_and_catch(client):
    # TestState, like StartSyncExecution, has the `sync-` host prefix.
    sfn = client("stepfunctions", config=Config(inject_host_prefix=False))
    fn = python_function(client, LAMBDA_OK)
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.order",
            "Parameters": {"FunctionName": fn, "Payload": {"n.$": "$.qty"}},
            "ResultSelector": {"doubled.$": "$.Payload.doubled"}, "ResultPath": "$.result", "Next": "Ship"}
    r = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input=json.dumps({"order": {"qty": 4}}),
                       inspectionLevel="DEBUG")
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "Ship"
    assert json.loads(r["output"]) == {"order": {"qty": 4}, "result": {"doubled": 8}}
    d = r["inspectionData"]
    assert json.loads(d["afterInputPath"]) == {"qty": 4}
    assert json.loads(d["afterParameters"])["Payload"] == {"n": 4}
    assert json.loads(d["afterResultSelector"]) == {"doubled": 8}
    assert "inspectionData" not in sfn.test_state(definition=json.dumps(task), roleArn=ROLE,
                                                  input=json.dumps({"order": {"qty": 1}}))
    caught = dict(task, Catch=[{"ErrorEquals": ["Oops"], "ResultPath": "$.err", "Next": "Handle"}])
    r = sfn.test_state(definition=json.dumps(caught), roleArn=ROLE, input=json.dumps({"order": {"qty": 1}}),
                       mock={"errorOutput": {"error": "Oops", "cause": "mocked"}})
    assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "Handle" and r["error"] == "Oops"
    retried = dict(task, Retry=[{"ErrorEquals": ["States.ALL"]}])
    r = sfn.test_state(definition=json.dumps(retried), roleArn=ROLE, input=json.dumps({"order": {"qty": 1}}),
                       mock={"errorOutput": {"error": "Oops", "cause": "mocked"}})
    assert r["status"] == "RETRIABLE"
    r = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input=json.dumps({"order": {"qty": 1}}),
                       mock={"result": json.dumps({"Payload": {"doubled": 99}})})
    assert json.loads(r["output"])["result"] == {"doubled": 99}
    choice = {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Yes"}], "Default": "No"}
    assert sfn.test_state(definition=json.dumps(choice), roleArn=ROLE, input='{"x": 1}')["nextState"] == "Yes"
    r = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}), roleArn=ROLE)
    assert r["status"] == "FAILED" and r["error"] == "E"
    assert code(sfn.test_state, definition=json.dumps({"Type": "Nope"}), roleArn=ROLE)[0] == "InvalidDefinition"


def test_logging_to_cloudwatch_logs_and_status_change_events(sfn, client):
    logs, events, sqs = client("logs"), client("events"), client("sqs")
    group = "/aws/vendedlogs/states/" + uniq("g")
    logs.create_log_group(logGroupName=group)
    garn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    url = sqs.create_queue(QueueName=uniq("status"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arn = machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "why"}}},
                  loggingConfiguration={"level": "ERROR", "includeExecutionData": True,
                                        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": garn}}]})
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"]["level"] == "ERROR"
    rule = uniq("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                                                       "detail": {"stateMachineArn": [arn]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn}])
    ex = sfn.start_execution(stateMachineArn=arn, input='{"k": 1}')["executionArn"]
    assert wait_done(sfn, ex)["status"] == "FAILED"
    found = []
    deadline = time.time() + 10
    while time.time() < deadline and not found:
        found = logs.filter_log_events(logGroupName=group)["events"]
        time.sleep(0.1)
    records = [json.loads(e["message"]) for e in found]
    assert [r["type"] for r in records] == ["ExecutionFailed"]
    assert records[0]["execution_arn"] == ex and records[0]["details"]["error"] == "Bad"
    assert found[0]["logStreamName"].startswith("states/")
    statuses = {}
    deadline = time.time() + 10
    while time.time() < deadline and len(statuses) < 2:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            event = json.loads(m["Body"])
            assert event["source"] == "aws.states" and event["detail-type"] == "Step Functions Execution Status Change"
            assert event["detail"]["executionArn"] == ex and event["resources"] == [ex]
            statuses[event["detail"]["status"]] = event["detail"]
    assert set(statuses) == {"RUNNING", "FAILED"}
    assert statuses["FAILED"]["error"] == "Bad" and statuses["FAILED"]["stopDate"] >= statuses["RUNNING"]["startDate"]
    assert code(machine, sfn, PASS, loggingConfiguration={"level": "ALL"})[0] == "InvalidLoggingConfiguration"


def test_timeouts_and_heartbeats_on_the_virtual_clock(sfn, client, overcast):
    act = sfn.create_activity(name=uniq("slow"))["activityArn"]
    arn = machine(sfn, {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "HeartbeatSeconds": 60, "End": True,
                 "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.err", "Next": "Late"}]},
        "Late": {"Type": "Pass", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    task = sfn.get_activity_task(activityArn=act, workerName="w")
    assert task["taskToken"]
    time.sleep(0.2)
    overcast.clock(advance=61)
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"])["err"]["Error"] == "States.HeartbeatTimeout"
    assert "ActivityTimedOut" in types(sfn, ex)
    assert code(sfn.send_task_success, taskToken=task["taskToken"], output="{}")[0] == "TaskDoesNotExist"

    whole = machine(sfn, {"TimeoutSeconds": 100, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1000, "End": True}}})
    ex = sfn.start_execution(stateMachineArn=whole)["executionArn"]
    time.sleep(0.2)
    overcast.clock(advance=101)
    d = wait_done(sfn, ex)
    assert d["status"] == "TIMED_OUT" and types(sfn, ex)[-1] == "ExecutionTimedOut"


def test_distributed_map_reads_s3_writes_results_and_lists_map_runs(sfn, client):
    s3 = client("s3")
    bucket = uniq("items")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="people.csv", Body=b"id,name\n1,ada\n2,bob\n3,cy\n")
    arn = machine(sfn, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "People", "MaxConcurrency": 2,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                       "Parameters": {"Bucket.$": "$.bucket", "Key": "people.csv"}},
        "ItemSelector": {"who.$": "$$.Map.Item.Value.name", "i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Hi", "States": {"Hi": {"Type": "Pass",
                              "Parameters": {"msg.$": "States.Format('hi {}', $.who)", "i.$": "$.i"}, "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "out"}},
        "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"bucket": bucket}))["executionArn"]
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["ResultWriterDetails"]["Bucket"] == bucket
    runs = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    assert len(runs) == 1 and out["MapRunArn"] == runs[0]["mapRunArn"] and ":mapRun:" in runs[0]["mapRunArn"]
    run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "SUCCEEDED" and run["executionArn"] == ex and run["maxConcurrency"] == 2
    assert run["itemCounts"]["total"] == 3 and run["itemCounts"]["succeeded"] == 3
    assert run["executionCounts"]["succeeded"] == 3
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert len(children) == 3 and all(c["status"] == "SUCCEEDED" for c in children)
    assert ex not in [c["executionArn"] for c in children]
    assert all(e["executionArn"] not in {c["executionArn"] for c in children}
               for e in sfn.list_executions(stateMachineArn=arn)["executions"])
    outputs = sorted(json.loads(sfn.describe_execution(executionArn=c["executionArn"])["output"])["msg"] for c in children)
    assert outputs == ["hi ada", "hi bob", "hi cy"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=out["ResultWriterDetails"]["Key"])["Body"].read())
    key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
    written = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert sorted(json.loads(w["Output"])["i"] for w in written) == [0, 1, 2]
    t = types(sfn, ex)
    assert "MapRunStarted" in t and "MapRunSucceeded" in t
    sfn.update_map_run(mapRunArn=run["mapRunArn"], maxConcurrency=5, toleratedFailureCount=1)
    assert sfn.describe_map_run(mapRunArn=run["mapRunArn"])["maxConcurrency"] == 5

    # Failures beyond the tolerated threshold fail the Map state.
    failing = machine(sfn, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ToleratedFailureCount": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Check", "States": {
                              "Check": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0].ok", "BooleanEquals": True, "Next": "Fine"}], "Default": "Bad"},
                              "Fine": {"Type": "Succeed"}, "Bad": {"Type": "Fail", "Error": "ItemFailed"}}},
        "ItemBatcher": {"MaxItemsPerBatch": 1}, "ItemSelector": {"ok.$": "$$.Map.Item.Value"},
        "End": True}}})
    d = wait_done(sfn, sfn.start_execution(stateMachineArn=failing, input=json.dumps([True, False, True]))["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    d = wait_done(sfn, sfn.start_execution(stateMachineArn=failing, input=json.dumps([False, False, True]))["executionArn"])
    assert d["status"] == "FAILED" and d["error"] == "States.ExceedToleratedFailureThreshold"


def test_jsonata_lambda_arguments_output_variables_and_task_token(sfn, client):
    fn = python_function(client, LAMBDA_OK)
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=uniq("jsonata"))["QueueUrl"]
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Arguments": {"FunctionName": fn, "Payload": {"n": "{% $states.input.n + 1 %}"}},
                   "Assign": {"doubled": "{% $states.result.Payload.doubled %}"},
                   "Output": "{% $states.input %}", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Arguments": {"QueueUrl": url, "MessageBody": {"token": "{% $states.context.Task.Token %}",
                                                                   "value": "{% $doubled %}"}},
                    "Output": {"approved": "{% $states.result.ok %}", "value": "{% $doubled %}",
                               "label": "{% $uppercase($states.input.name) & '-' & $string($doubled) %}"},
                    "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 20, "name": "ada"}))["executionArn"]
    msgs = []
    deadline = time.time() + 15
    while not msgs and time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    body = json.loads(msgs[0]["Body"])
    assert body["value"] == 42
    sfn.send_task_success(taskToken=body["token"], output=json.dumps({"ok": True}))
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"approved": True, "value": 42, "label": "ADA-42"}
