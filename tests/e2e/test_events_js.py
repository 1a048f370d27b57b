"""The guide's aws-sdk-js v3 `PutEventsCommand` snippet (BookingConfirmed on the `app-events`
bus) run verbatim with Node.js against Overcast, fanning out to an SQS queue, a Lambda
function that really runs and a Step Functions state machine (the post-booking workflow). Needs `npm ci` in tests/e2e/js; skipped when node or the
node_modules are missing."""
import json
import os
import shutil
import subprocess
import uuid

import time

import pytest
from botocore.exceptions import ClientError

from test_events import lambda_forwarding_to_queue, queue, receive, rule_to_queue

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
SDK = os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-eventbridge")


@pytest.mark.skipif(NODE is None or not os.path.isdir(SDK),
                    reason="node or tests/e2e/js/node_modules missing (run npm ci in tests/e2e/js)")
def test_guide_booking_confirmed_with_aws_sdk_js(client, overcast):
    events, sqs = client("events"), client("sqs")
    try:
        events.create_event_bus(Name="app-events")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    pattern = {"source": ["myapp.bookings"], "detail-type": ["BookingConfirmed"]}
    _, analytics, _ = rule_to_queue(events, sqs, pattern, bus="app-events")
    emails, _ = queue(sqs)
    fn = lambda_forwarding_to_queue(client, overcast, emails)
    rule = f"r-{uuid.uuid4().hex[:10]}"
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), EventBusName="app-events")
    events.put_targets(Rule=rule, EventBusName="app-events", Targets=[{"Id": "email", "Arn": fn}])
    sfn = client("stepfunctions")
    workflow = sfn.create_state_machine(
        name=f"post-booking-{uuid.uuid4().hex[:8]}", roleArn="arn:aws:iam::000000000000:role/sfn",
        definition=json.dumps({"StartAt": "Confirm", "States": {"Confirm": {
            "Type": "Pass", "Parameters": {"booking.$": "$.detail.bookingId", "class.$": "$.detail.className"},
            "End": True}}}))["stateMachineArn"]
    flow_rule = f"r-{uuid.uuid4().hex[:10]}"
    events.put_rule(Name=flow_rule, EventPattern=json.dumps(pattern), EventBusName="app-events")
    events.put_targets(Rule=flow_rule, EventBusName="app-events", Targets=[
        {"Id": "workflow", "Arn": workflow, "RoleArn": "arn:aws:iam::000000000000:role/events-sfn"}])
    env = dict(os.environ, AWS_ENDPOINT_URL=overcast.url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run([NODE, "booking_confirmed.mjs"], cwd=JS_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for url, wait in ((analytics, 2), (emails, 10)):
        msgs = receive(sqs, url, wait=wait)
        assert msgs, "the BookingConfirmed event did not reach every target"
        event = json.loads(msgs[0]["Body"])
        assert event["source"] == "myapp.bookings" and event["detail-type"] == "BookingConfirmed"
        assert event["detail"]["bookingId"] == "bk-12345" and event["detail"]["className"] == "CrossFit 7AM"
    deadline = time.time() + 10
    runs = []
    while time.time() < deadline:
        runs = sfn.list_executions(stateMachineArn=workflow)["executions"]
        if runs and runs[0]["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert runs, "the BookingConfirmed event did not start the Step Functions workflow"
    run = sfn.describe_execution(executionArn=runs[0]["executionArn"])
    assert run["status"] == "SUCCEEDED", run
    event = json.loads(run["input"])
    assert event["source"] == "myapp.bookings" and event["detail-type"] == "BookingConfirmed"
    assert event["detail"]["bookingId"] == "bk-12345"
    assert json.loads(run["output"]) == {"booking": "bk-12345", "class": "CrossFit 7AM"}
