"""Durable functions end to end. The handler is a tiny durable SDK of its own speaking the
real API (durable envelope in, CheckpointDurableExecution calls, PENDING/SUCCEEDED out): a
step, a 60 s wait on the virtual clock, and a callback completed from outside; each resume
is a new invocation replaying the checkpointed operations."""
import json
import time

import pytest

from test_lambda import ROLE, code_err, uniq, zip_bytes

DURABLE = {"lambda_function.py": """
import json, os, urllib.request, urllib.parse
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/" + os.environ["AWS_REGION"] + "/lambda/aws4_request, SignedHeaders=host, Signature=0"
def api(path, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + path, method="POST", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": AUTH})
    return json.loads(urllib.request.urlopen(req).read() or b"{}")
def lambda_handler(event, context):
    arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
    ops = {o["Id"]: o for o in event["InitialExecutionState"]["Operations"]}
    inp = json.loads(next(o for o in ops.values() if o["Type"] == "EXECUTION")["ExecutionDetails"]["InputPayload"])
    path = "/2025-12-01/durable-executions/" + urllib.parse.quote(arn, safe="") + "/checkpoint"
    def cp(*updates):
        nonlocal token
        token = api(path, {"CheckpointToken": token, "Updates": list(updates)})["CheckpointToken"]
    if "s1" in ops:
        doubled = json.loads(ops["s1"]["StepDetails"]["Result"])
    else:
        cp({"Id": "s1", "Type": "STEP", "Action": "START", "Name": "double"})
        doubled = inp["n"] * 2
        cp({"Id": "s1", "Type": "STEP", "Action": "SUCCEED", "Payload": json.dumps(doubled)})
    if inp.get("chain"):
        if "ci1" not in ops:
            cp({"Id": "ci1", "Type": "CHAINED_INVOKE", "Action": "START", "Payload": json.dumps({"x": doubled}),
                "ChainedInvokeOptions": {"FunctionName": inp["chain"]}})
            return {"Status": "PENDING"}
        ci = ops["ci1"]
        if ci["Status"] == "STARTED":
            return {"Status": "PENDING"}
        if ci["Status"] == "FAILED":
            return {"Status": "FAILED", "Error": ci["ChainedInvokeDetails"]["Error"]}
        return {"Status": "SUCCEEDED", "Result": json.dumps({"chained": json.loads(ci["ChainedInvokeDetails"]["Result"])})}
    if inp.get("wait", True):
        if "w1" not in ops:
            cp({"Id": "w1", "Type": "WAIT", "Action": "START", "Name": "pause", "WaitOptions": {"WaitSeconds": 60}})
            return {"Status": "PENDING"}
        if ops["w1"]["Status"] != "SUCCEEDED":
            return {"Status": "PENDING"}
    if inp.get("callback"):
        if "c1" not in ops:
            opts = {"TimeoutSeconds": inp["cb_timeout"]} if inp.get("cb_timeout") else {}
            cp({"Id": "c1", "Type": "CALLBACK", "Action": "START", "Name": "approval", "CallbackOptions": opts})
            return {"Status": "PENDING"}
        c = ops["c1"]
        if c["Status"] == "STARTED":
            return {"Status": "PENDING"}
        if c["Status"] in ("FAILED", "TIMED_OUT"):
            return {"Status": "FAILED", "Error": c["CallbackDetails"]["Error"]}
        return {"Status": "SUCCEEDED", "Result": json.dumps({"doubled": doubled, "approval": c["CallbackDetails"]["Result"]})}
    return {"Status": "SUCCEEDED", "Result": json.dumps({"doubled": doubled})}
"""}


@pytest.fixture
def lam(client):
    return client("lambda")


def until(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def events(lam, arn):
    return lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]


def kinds(lam, arn):
    return [e["EventType"] for e in events(lam, arn)]


def durable_function(lam):
    name = uniq("durable")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes(DURABLE)}, Timeout=30,
                        DurableConfig={"ExecutionTimeout": 3600, "RetentionPeriodInDays": 7})
    assert lam.get_function_configuration(FunctionName=name)["DurableConfig"] == {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 7}
    return name


def test_step_wait_and_callback_with_replays(lam, overcast):
    name = durable_function(lam)
    r = lam.invoke(FunctionName=name, InvocationType="Event", DurableExecutionName="order-1",
                   Payload=json.dumps({"n": 21, "callback": True}))
    assert r["StatusCode"] == 202
    arn = r["DurableExecutionArn"]
    assert arn.startswith(f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST/durable-execution/order-1/")
    until(lambda: "WaitStarted" in kinds(lam, arn))
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert ex["Status"] == "RUNNING" and ex["DurableExecutionName"] == "order-1"
    assert json.loads(ex["InputPayload"]) == {"n": 21, "callback": True}
    # Same name again: refused.
    assert code_err(lam.invoke, FunctionName=name, InvocationType="Event", DurableExecutionName="order-1",
                    Payload=b"{}")[:2] == ("DurableExecutionAlreadyStartedException", 409)
    # Still waiting after 30 s of virtual time; resumed after 60 s.
    overcast.clock(advance=30)
    time.sleep(0.5)
    assert "WaitSucceeded" not in kinds(lam, arn)
    overcast.clock(advance=31)
    until(lambda: "CallbackStarted" in kinds(lam, arn))
    cb = next(e for e in events(lam, arn) if e["EventType"] == "CallbackStarted")["CallbackStartedDetails"]["CallbackId"]
    # Running executions cannot be deleted.
    assert code_err(lam.delete_durable_execution, DurableExecutionArn=arn)[0] == "ResourceConflictException"
    lam.send_durable_execution_callback_heartbeat(CallbackId=cb)
    lam.send_durable_execution_callback_success(CallbackId=cb, Result=b'"approved"')
    done = until(lambda: (lambda e: e if e["Status"] == "SUCCEEDED" else None)(lam.get_durable_execution(DurableExecutionArn=arn)))
    assert json.loads(done["Result"]) == {"doubled": 42, "approval": '"approved"'}
    assert "EndTimestamp" in done
    k = kinds(lam, arn)
    for kind in ["ExecutionStarted", "StepStarted", "StepSucceeded", "WaitStarted", "WaitSucceeded",
                 "CallbackStarted", "CallbackSucceeded", "ExecutionSucceeded"]:
        assert kind in k, (kind, k)
    assert k.count("InvocationCompleted") == 3 and k[0] == "ExecutionStarted" and k[-1] == "ExecutionSucceeded"
    # A completed callback cannot be completed again.
    assert code_err(lam.send_durable_execution_callback_success, CallbackId=cb, Result=b"1")[0] == "CallbackTimeoutException"
    listed = lam.list_durable_executions_by_function(FunctionName=name, Statuses=["SUCCEEDED"])["DurableExecutions"]
    assert [x["DurableExecutionArn"] for x in listed] == [arn]
    assert lam.list_durable_executions_by_function(FunctionName=name, Statuses=["RUNNING"])["DurableExecutions"] == []
    # Executions are durable state.
    overcast.kill9()
    lam2 = overcast_client(lam)
    assert lam2.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED"
    assert lam2.delete_durable_execution(DurableExecutionArn=arn)["DeletionRequestTimestamp"]
    assert code_err(lam2.get_durable_execution, DurableExecutionArn=arn)[0] == "ResourceNotFoundException"


def overcast_client(lam):
    import boto3
    from botocore.config import Config
    return boto3.client("lambda", endpoint_url=lam.meta.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def test_synchronous_durable_invoke_stop_and_errors(lam):
    name = durable_function(lam)
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 5, "wait": False}))
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"doubled": 10}
    assert lam.get_durable_execution(DurableExecutionArn=r["DurableExecutionArn"])["Status"] == "SUCCEEDED"

    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))["DurableExecutionArn"]
    until(lambda: "WaitStarted" in kinds(lam, arn))
    assert code_err(lam.checkpoint_durable_execution, DurableExecutionArn=arn, CheckpointToken="bm90LWEtdG9rZW4=")[0] == "InvalidParameterValueException"
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="hold")
    paused = lam.get_durable_execution(DurableExecutionArn=arn)
    assert paused["Status"] == "PAUSED" and paused["PauseDetails"]["Reason"] == "hold"
    lam.resume_durable_execution(DurableExecutionArn=arn)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    stop = lam.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorType": "Cancelled", "ErrorMessage": "by test"})
    assert stop["StopTimestamp"]
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert ex["Status"] == "STOPPED" and ex["Error"]["ErrorType"] == "Cancelled"
    assert code_err(lam.stop_durable_execution, DurableExecutionArn=arn)[0] == "InvalidParameterValueException"
    assert kinds(lam, arn)[-1] == "ExecutionStopped"
    missing = arn.rsplit("/", 1)[0] + "/no-such-id"
    assert code_err(lam.get_durable_execution, DurableExecutionArn=missing)[:2] == ("ResourceNotFoundException", 404)
    assert code_err(lam.send_durable_execution_callback_success, CallbackId="bm9wZTpub3Bl")[0] == "ResourceNotFoundException"
    assert code_err(lam.list_durable_executions_by_function, FunctionName=uniq("none"))[0] == "ResourceNotFoundException"
    plain = uniq("plain")
    lam.create_function(FunctionName=plain, Runtime="python3.11", Role=ROLE, Handler="a.b", Code={"ZipFile": zip_bytes({"a.py": ""})})
    assert code_err(lam.invoke, FunctionName=plain, DurableExecutionName="x1", Payload=b"{}")[0] == "InvalidParameterValueException"


def test_waiting_execution_resumes_after_kill9(lam, overcast):
    name = durable_function(lam)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 4}))["DurableExecutionArn"]
    until(lambda: "WaitStarted" in kinds(lam, arn))
    overcast.kill9()
    lam2 = overcast_client(lam)
    assert lam2.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    overcast.clock(advance=61)
    done = until(lambda: (lambda e: e if e["Status"] == "SUCCEEDED" else None)(lam2.get_durable_execution(DurableExecutionArn=arn)))
    assert json.loads(done["Result"]) == {"doubled": 8}


def test_chained_invoke(lam):
    name = durable_function(lam)
    helper = uniq("helper")
    lam.create_function(FunctionName=helper, Runtime="python3.11", Role=ROLE, Handler="h.handler",
                        Code={"ZipFile": zip_bytes({"h.py": "def handler(e, c):\n    if e['x'] < 0:\n        raise ValueError('negative')\n    return {'got': e['x'] + 1}\n"})})
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 3, "chain": helper}))
    assert "FunctionError" not in r and json.loads(r["Payload"].read()) == {"chained": {"got": 7}}
    k = kinds(lam, r["DurableExecutionArn"])
    assert "ChainedInvokeStarted" in k and "ChainedInvokeSucceeded" in k and k.count("InvocationCompleted") == 2
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": -1, "chain": helper}))
    assert r["FunctionError"] == "Unhandled"
    ex = lam.get_durable_execution(DurableExecutionArn=r["DurableExecutionArn"])
    assert ex["Status"] == "FAILED" and ex["Error"]["ErrorType"] == "ValueError"


def test_callback_timeout_reinvokes_and_fails(lam, overcast):
    name = durable_function(lam)
    arn = lam.invoke(FunctionName=name, InvocationType="Event",
                     Payload=json.dumps({"n": 1, "wait": False, "callback": True, "cb_timeout": 100}))["DurableExecutionArn"]
    until(lambda: "CallbackStarted" in kinds(lam, arn))
    cb = next(e for e in events(lam, arn) if e["EventType"] == "CallbackStarted")["CallbackStartedDetails"]
    assert cb["Timeout"] == 100
    overcast.clock(advance=50)
    time.sleep(0.3)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    overcast.clock(advance=51)
    ex = until(lambda: (lambda e: e if e["Status"] == "FAILED" else None)(lam.get_durable_execution(DurableExecutionArn=arn)))
    assert ex["Error"]["ErrorType"] == "Callback.Timeout"
    assert "CallbackTimedOut" in kinds(lam, arn)
    assert code_err(lam.send_durable_execution_callback_success, CallbackId=cb["CallbackId"], Result=b"1")[0] == "CallbackTimeoutException"


SELF_COMPLETING = {"lambda_function.py": """
import base64, json, os, urllib.request, urllib.parse
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/" + os.environ["AWS_REGION"] + "/lambda/aws4_request, SignedHeaders=host, Signature=0"
def api(path, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + path, method="POST", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": AUTH})
    return json.loads(urllib.request.urlopen(req).read() or b"{}")
def lambda_handler(event, context):
    arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
    ops = {o["Id"]: o for o in event["InitialExecutionState"]["Operations"]}
    if "c1" in ops:
        return {"Status": "SUCCEEDED", "Result": json.dumps(ops["c1"]["CallbackDetails"]["Result"])}
    path = "/2025-12-01/durable-executions/" + urllib.parse.quote(arn, safe="") + "/checkpoint"
    r = api(path, {"CheckpointToken": token, "Updates": [{"Id": "c1", "Type": "CALLBACK", "Action": "START"}]})
    cb = r["NewExecutionState"]["Operations"][0]["CallbackDetails"]["CallbackId"]
    api("/2025-12-01/durable-execution-callbacks/" + urllib.parse.quote(cb, safe="") + "/succeed", "done")
    return {"Status": "PENDING"}
"""}


def test_operation_completed_during_the_invocation_replays(lam):
    """A handler answers PENDING for an operation that completed while it ran (a callback
    completed at once, a chained invoke that failed fast): the execution is invoked again."""
    name = uniq("durable")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes(SELF_COMPLETING)}, Timeout=30,
                        DurableConfig={"ExecutionTimeout": 3600, "RetentionPeriodInDays": 7})
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    ex = lam.get_durable_execution(DurableExecutionArn=r["DurableExecutionArn"])
    assert ex["Status"] == "SUCCEEDED", ex.get("Error")
    assert json.loads(ex["Result"]) == '"done"'
    k = kinds(lam, r["DurableExecutionArn"])
    assert "CallbackSucceeded" in k and k.count("InvocationCompleted") == 2
