"""EventBridge end to end with boto3 and the AWS CLI: buses and policies, rules and targets,
PutEvents with AWS's envelope and per-entry results, delivery to SQS (standard and FIFO),
another bus and SNS, Input/InputPath/InputTransformer, TestEventPattern, schedules on the
virtual clock, retries and DLQs, archives and replays, tags, persistence across restart and
kill -9, the guides' snippets, and AWS's error codes."""
import json
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError


def uniq(prefix="e"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(autouse=True)
def back_to_real_time(overcast):
    yield
    requests.post(overcast.url + "/_overcast/clock", json={"set": time.time()}, timeout=10)


@pytest.fixture
def events(client):
    return client("events")


@pytest.fixture
def sqs(client):
    return client("sqs")


def advance(overcast, seconds):
    r = requests.post(overcast.url + "/_overcast/clock", json={"advance": seconds}, timeout=10)
    assert r.status_code == 200, r.text


def queue(sqs, name=None, **attrs):
    name = name or uniq("q")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n=1, wait=2, **kw):
    out = []
    deadline = time.time() + wait + 3
    while len(out) < n and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, **kw)
        for m in r.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def rule_to_queue(events, sqs, pattern, bus="default", **target):
    url, arn = queue(sqs)
    name = uniq("r")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus)
    r = events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn, **target}])
    assert r["FailedEntryCount"] == 0
    return name, url, arn


def test_default_bus_exists_and_custom_bus_lifecycle(events):
    d = events.describe_event_bus()
    assert d["Name"] == "default"
    assert d["Arn"] == "arn:aws:events:us-east-1:000000000000:event-bus/default"
    name = uniq("bus")
    arn = events.create_event_bus(Name=name, Description="mine")["EventBusArn"]
    assert arn.endswith(f":event-bus/{name}")
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name=name)
    assert code(e) == "ResourceAlreadyExistsException"
    names = [b["Name"] for b in events.list_event_buses(NamePrefix=name)["EventBuses"]]
    assert names == [name]
    assert events.describe_event_bus(Name=arn)["Description"] == "mine"
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as e:
        events.describe_event_bus(Name=name)
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        events.delete_event_bus(Name="default")
    assert code(e) == "ValidationException"


def test_bus_permissions(events):
    name = uniq("bus")
    events.create_event_bus(Name=name)
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="111122223333", StatementId="s1")
    policy = json.loads(events.describe_event_bus(Name=name)["Policy"])
    st = policy["Statement"][0]
    assert st["Sid"] == "s1" and st["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert st["Action"] == "events:PutEvents" and st["Resource"].endswith(f"event-bus/{name}")
    events.remove_permission(EventBusName=name, StatementId="s1")
    assert "Policy" not in events.describe_event_bus(Name=name)
    with pytest.raises(ClientError) as e:
        events.remove_permission(EventBusName=name, StatementId="nope")
    assert code(e) == "ResourceNotFoundException"


def test_rules_lifecycle_listing_and_errors(events, sqs):
    prefix = uniq("lr")
    for i in range(5):
        arn = events.put_rule(Name=f"{prefix}-{i}", EventPattern='{"source": ["x"]}', Description=f"d{i}")["RuleArn"]
        assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{prefix}-{i}"
    page = events.list_rules(NamePrefix=prefix, Limit=2)
    assert [r["Name"] for r in page["Rules"]] == [f"{prefix}-0", f"{prefix}-1"]
    page2 = events.list_rules(NamePrefix=prefix, Limit=10, NextToken=page["NextToken"])
    assert len(page2["Rules"]) == 3 and "NextToken" not in page2
    r = events.describe_rule(Name=f"{prefix}-0")
    assert r["State"] == "ENABLED" and r["EventBusName"] == "default" and r["EventPattern"] == '{"source": ["x"]}'
    events.disable_rule(Name=f"{prefix}-0")
    assert events.describe_rule(Name=f"{prefix}-0")["State"] == "DISABLED"
    events.enable_rule(Name=f"{prefix}-0")
    _, arn = queue(sqs)
    events.put_targets(Rule=f"{prefix}-0", Targets=[{"Id": "t1", "Arn": arn}])
    assert events.list_targets_by_rule(Rule=f"{prefix}-0")["Targets"] == [{"Id": "t1", "Arn": arn}]
    assert events.list_rule_names_by_target(TargetArn=arn)["RuleNames"] == [f"{prefix}-0"]
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name=f"{prefix}-0")
    assert code(e) == "ValidationException"
    assert "targets" in e.value.response["Error"]["Message"]
    events.remove_targets(Rule=f"{prefix}-0", Ids=["t1"])
    events.delete_rule(Name=f"{prefix}-0")
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name=f"{prefix}-0")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="no-such-rule", Targets=[{"Id": "t", "Arn": arn}])
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=uniq("bad"), EventPattern='{"source": "x"}')
    assert code(e) == "InvalidEventPatternException"
    assert e.value.response["Error"]["Message"].startswith("Event pattern is not valid. Reason:")
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=uniq("bad"))
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=uniq("bad"), EventPattern='{"source": ["x"]}', EventBusName="no-such-bus")
    assert code(e) == "ResourceNotFoundException"


def test_put_events_envelope_to_sqs(events, sqs):
    src = uniq("com.test")
    _, url, _ = rule_to_queue(events, sqs, {"source": [src], "detail": {"n": [{"numeric": [">", 1]}]}})
    r = events.put_events(Entries=[
        {"Source": src, "DetailType": "T", "Detail": json.dumps({"n": 5}), "Resources": ["arn:x"]},
        {"Source": src, "DetailType": "T", "Detail": json.dumps({"n": 0})},
    ])
    assert r["FailedEntryCount"] == 0 and all("EventId" in e for e in r["Entries"])
    msgs = receive(sqs, url)
    assert len(msgs) == 1
    body = json.loads(msgs[0]["Body"])
    assert list(body) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert body["id"] == r["Entries"][0]["EventId"]
    assert body["source"] == src and body["detail-type"] == "T" and body["account"] == "000000000000"
    assert body["region"] == "us-east-1" and body["resources"] == ["arn:x"] and body["detail"] == {"n": 5}
    assert body["time"].endswith("Z") and "T" in body["time"]
    assert receive(sqs, url, wait=1) == []


def test_event_log_introspection(events, sqs, overcast):
    src = uniq("com.log")
    name, _, _ = rule_to_queue(events, sqs, {"source": [src]})
    eid = events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": "{}"}])["Entries"][0]["EventId"]
    log = requests.get(overcast.url + "/_overcast/events/log", timeout=10).json()["entries"]
    entry = [e for e in log if e.get("event", {}).get("id") == eid][0]
    assert entry["bus"] == "default" and entry["matchedRules"] == [f"arn:aws:events:us-east-1:000000000000:rule/{name}"]


def test_put_events_per_entry_errors_and_size_limit(events):
    r = events.put_events(Entries=[
        {"Source": "a", "DetailType": "T", "Detail": "not json"},
        {"Source": "a", "DetailType": "T", "Detail": "{}"},
        {"DetailType": "T", "Detail": "{}"},
        {"Source": "a", "DetailType": "T", "Detail": "{}", "EventBusName": "no-such-bus"},
    ])
    assert r["FailedEntryCount"] == 3
    codes = [e.get("ErrorCode") for e in r["Entries"]]
    assert codes[0] == "MalformedDetail" and codes[1] is None and codes[2] == "InvalidArgument"
    assert codes[3] is not None
    big = json.dumps({"x": "a" * (256 * 1024)})
    with pytest.raises(ClientError) as e:
        events.put_events(Entries=[{"Source": "a", "DetailType": "T", "Detail": big}])
    assert code(e) == "ValidationException"


def test_custom_bus_fifo_queue_and_group_id(events, sqs):
    bus = uniq("bus")
    events.create_event_bus(Name=bus)
    url, arn = queue(sqs, uniq("f") + ".fifo", FifoQueue="true")
    name = uniq("r")
    events.put_rule(Name=name, EventBusName=bus, EventPattern='{"detail-type": [{"prefix": "Order"}]}')
    r = events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "f", "Arn": arn}])
    assert r["FailedEntryCount"] == 1
    r = events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "f", "Arn": arn, "SqsParameters": {"MessageGroupId": "g1"}}])
    assert r["FailedEntryCount"] == 0
    events.put_events(Entries=[{"Source": "s", "DetailType": f"Order{i}", "Detail": "{}", "EventBusName": bus} for i in range(3)])
    msgs = receive(sqs, url, n=3, AttributeNames=["MessageGroupId"])
    assert [json.loads(m["Body"])["detail-type"] for m in msgs] == ["Order0", "Order1", "Order2"]
    assert all(m["Attributes"]["MessageGroupId"] == "g1" for m in msgs)


def test_input_input_path_and_transformer(events, sqs):
    src = uniq("com.tx")
    pattern = {"source": [src]}
    _, u1, _ = rule_to_queue(events, sqs, pattern, Input='{"fixed": true}')
    _, u2, _ = rule_to_queue(events, sqs, pattern, InputPath="$.detail.order")
    name, u3, _ = rule_to_queue(events, sqs, pattern, InputTransformer={
        "InputPathsMap": {"id": "$.detail.order.id", "total": "$.detail.order.total"},
        "InputTemplate": '{"order": <id>, "total": <total>, "text": "order <id> for <total>", "rule": "<aws.events.rule-name>"}',
    })
    _, u4, _ = rule_to_queue(events, sqs, pattern, InputTransformer={
        "InputPathsMap": {"id": "$.detail.order.id"},
        "InputTemplate": '"Order <id> confirmed"',
    })
    events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": json.dumps({"order": {"id": "o-1", "total": 9.5}})}])
    assert json.loads(receive(sqs, u1)[0]["Body"]) == {"fixed": True}
    assert json.loads(receive(sqs, u2)[0]["Body"]) == {"id": "o-1", "total": 9.5}
    assert json.loads(receive(sqs, u3)[0]["Body"]) == {"order": "o-1", "total": 9.5, "text": "order o-1 for 9.5", "rule": name}
    assert receive(sqs, u4)[0]["Body"] == '"Order o-1 confirmed"'


def test_bus_to_bus_target(events, sqs):
    bus = uniq("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    src = uniq("com.fwd")
    name = uniq("fwd")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [src]}))
    events.put_targets(Rule=name, Targets=[{"Id": "b", "Arn": bus_arn}])
    _, url, _ = rule_to_queue(events, sqs, {"source": [src]}, bus=bus)
    events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": '{"k": 1}'}])
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert body["source"] == src and body["detail"] == {"k": 1}


def test_test_event_pattern(events):
    ev = json.dumps({"id": "1", "account": "123456789012", "source": "aws.ec2", "time": "2024-01-01T00:00:00Z",
                     "region": "us-east-1", "detail-type": "X", "resources": [], "detail": {"state": "running", "n": 4}})
    assert events.test_event_pattern(EventPattern='{"source": ["aws.ec2"], "detail": {"n": [{"numeric": ["<", 5]}]}}', Event=ev)["Result"] is True
    assert events.test_event_pattern(EventPattern='{"detail": {"state": [{"anything-but": "running"}]}}', Event=ev)["Result"] is False
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": [{"bogus": 1}]}', Event=ev)
    assert code(e) == "InvalidEventPatternException"
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": ["a"]}', Event='{"source": "a"}')
    assert code(e) == "ValidationException"


def test_schedule_rule_fires_on_virtual_clock(events, sqs, overcast):
    url, arn = queue(sqs)
    name = uniq("sched")
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    assert receive(sqs, url, wait=1) == []
    advance(overcast, 301)
    msgs = receive(sqs, url)
    assert len(msgs) == 1
    body = json.loads(msgs[0]["Body"])
    assert body["source"] == "aws.events" and body["detail-type"] == "Scheduled Event"
    assert body["resources"] == [rule_arn] and body["detail"] == {}
    events.disable_rule(Name=name)
    advance(overcast, 600)
    assert receive(sqs, url, wait=1) == []
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=uniq("s"), ScheduleExpression="rate(1 minutes)")
    assert code(e) == "ValidationException"
    bus = uniq("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=uniq("s"), ScheduleExpression="rate(5 minutes)", EventBusName=bus)
    assert code(e) == "ValidationException"


def test_failed_delivery_goes_to_dlq_with_aws_attributes(events, sqs):
    dlq_url, dlq_arn = queue(sqs)
    src = uniq("com.dlq")
    name = uniq("r")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [src]}))["RuleArn"]
    missing = "arn:aws:sqs:us-east-1:000000000000:" + uniq("missing")
    events.put_targets(Rule=name, Targets=[{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn},
                                            "RetryPolicy": {"MaximumRetryAttempts": 2}}])
    events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": "{}"}])
    msgs = receive(sqs, dlq_url, MessageAttributeNames=["All"])
    assert len(msgs) == 1
    attrs = {k: v["StringValue"] for k, v in msgs[0]["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == rule_arn and attrs["TARGET_ARN"] == missing
    assert attrs["ERROR_CODE"] and "ERROR_MESSAGE" in attrs and attrs["RETRY_ATTEMPTS"] == "0"
    assert json.loads(msgs[0]["Body"])["source"] == src


def test_archive_and_replay(events, sqs, overcast):
    bus = uniq("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    name = uniq("arch")
    arch = events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, EventPattern='{"detail-type": ["keep"]}', RetentionDays=1)
    assert arch["State"] == "ENABLED"
    t0 = time.time() - 5
    events.put_events(Entries=[
        {"Source": "s", "DetailType": "keep", "Detail": '{"i": 1}', "EventBusName": bus},
        {"Source": "s", "DetailType": "drop", "Detail": '{"i": 2}', "EventBusName": bus},
    ])
    d = events.describe_archive(ArchiveName=name)
    assert d["EventCount"] == 1 and d["SizeBytes"] > 0
    _, url, _ = rule_to_queue(events, sqs, {"source": ["s"]}, bus=bus)
    replay = uniq("rp")
    events.start_replay(ReplayName=replay, EventSourceArn=arch["ArchiveArn"], EventStartTime=t0,
                        EventEndTime=time.time() + 5, Destination={"Arn": bus_arn})
    msgs = receive(sqs, url)
    body = json.loads(msgs[0]["Body"])
    assert body["replay-name"] == replay and body["detail"] == {"i": 1}
    for _ in range(50):
        if events.describe_replay(ReplayName=replay)["State"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert events.describe_replay(ReplayName=replay)["State"] == "COMPLETED"
    assert [r["ReplayName"] for r in events.list_replays(NamePrefix=replay)["Replays"]] == [replay]
    events.delete_archive(ArchiveName=name)
    with pytest.raises(ClientError) as e:
        events.describe_archive(ArchiveName=name)
    assert code(e) == "ResourceNotFoundException"


def test_tags_on_rules(events):
    name = uniq("tag")
    arn = events.put_rule(Name=name, EventPattern='{"source": ["x"]}', Tags=[{"Key": "a", "Value": "1"}])["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        events.list_tags_for_resource(ResourceARN=arn + "nope")
    assert code(e) == "ResourceNotFoundException"


def test_state_survives_restart_and_kill9(events, sqs, overcast, client):
    bus = uniq("bus")
    events.create_event_bus(Name=bus)
    src = uniq("com.dur")
    name, url, arn = rule_to_queue(events, sqs, {"source": [src]}, bus=bus)
    overcast.restart()
    e2 = client("events")
    assert e2.describe_rule(Name=name, EventBusName=bus)["State"] == "ENABLED"
    assert e2.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"][0]["Arn"] == arn
    overcast.kill9()
    e3 = client("events")
    e3.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": "{}", "EventBusName": bus}])
    assert len(receive(client("sqs"), url)) == 1


def test_guide_publish_event_and_cli_rule(events, sqs, aws):
    # The guide's boto3 publish_event, verbatim apart from the client.
    eventbridge = events

    def publish_event(detail_type, detail):
        """Publish event to EventBridge"""
        response = eventbridge.put_events(
            Entries=[
                {
                    'Source': 'com.myapp.orders',
                    'DetailType': detail_type,
                    'Detail': json.dumps(detail),
                    'EventBusName': 'default'
                }
            ]
        )
        return response

    # The guide's CLI rule, with an SQS target asserted.
    aws("events", "put-rule", "--name", "order-processing", "--event-pattern",
        '{\n    "source": ["com.myapp.orders"],\n    "detail-type": ["OrderCreated"]\n  }')
    url, arn = queue(sqs)
    aws("events", "put-targets", "--rule", "order-processing", "--targets", f"Id=1,Arn={arn}")
    r = publish_event('OrderCreated', {'orderId': 'order-123', 'customerId': 'customer-456', 'total': 99.99})
    assert r["FailedEntryCount"] == 0
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert body["detail"] == {'orderId': 'order-123', 'customerId': 'customer-456', 'total': 99.99}
    # The guide's Lambda target: accepted; delivery depends on the Lambda service.
    aws("events", "put-targets", "--rule", "order-processing", "--targets",
        # (what the shell makes of the guide's "Id"="1","Arn"="arn:...")
        "Id=2,Arn=arn:aws:lambda:us-east-1:000000000000:function:process-order")
    targets = aws("events", "list-targets-by-rule", "--rule", "order-processing")["Targets"]
    assert {t["Id"] for t in targets} == {"1", "2"}
    aws("events", "remove-targets", "--rule", "order-processing", "--ids", "1", "2")
    aws("events", "delete-rule", "--name", "order-processing")


LAMBDA_SOURCE = """
import json, os, urllib.request

def handler(event, context):
    body = json.dumps({"QueueUrl": os.environ["QUEUE_URL"], "MessageBody": json.dumps(event)}).encode()
    req = urllib.request.Request(os.environ["OVERCAST_URL"] + "/", data=body, method="POST", headers={
        "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage",
        "authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, "
                         "SignedHeaders=host, Signature=00"})
    urllib.request.urlopen(req, timeout=10).read()
    return {"ok": True}
"""


def lambda_forwarding_to_queue(client, overcast, queue_url):
    """A Python function that forwards its event to an SQS queue; skips when Lambda is not
    implemented in this build."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", LAMBDA_SOURCE)
    lam = client("lambda")
    try:
        fn = lam.create_function(
            FunctionName=uniq("fwd"), Runtime="python3.12", Handler="index.handler",
            Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": buf.getvalue()},
            Environment={"Variables": {"QUEUE_URL": queue_url, "OVERCAST_URL": overcast.url}})
    except ClientError as e:
        if e.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("Lambda is not implemented in this build")
        raise
    return fn["FunctionArn"]


def test_lambda_target_invoked(events, sqs, client, overcast):
    url, _ = queue(sqs)
    fn_arn = lambda_forwarding_to_queue(client, overcast, url)
    src = uniq("com.lambda")
    name = uniq("r")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [src]}))
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": fn_arn}])
    events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": '{"x": 1}'}])
    event = json.loads(receive(sqs, url, wait=10)[0]["Body"])
    assert event["source"] == src and event["detail"] == {"x": 1}


def test_guide_booking_confirmed_fans_out_to_sqs(events, sqs):
    try:
        events.create_event_bus(Name="app-events")
    except ClientError as e:
        assert code_of(e) == "ResourceAlreadyExistsException"
    pattern = {"source": ["myapp.bookings"], "detail-type": ["BookingConfirmed"]}
    _, analytics, _ = rule_to_queue(events, sqs, pattern, bus="app-events")
    _, emails, _ = rule_to_queue(events, sqs, pattern, bus="app-events")
    detail = {"bookingId": "bk-12345", "userId": "usr-67890", "className": "CrossFit 7AM",
              "locationId": "loc-santiago-centro", "timestamp": "2026-01-01T07:00:00.000Z"}
    r = events.put_events(Entries=[{"Source": "myapp.bookings", "DetailType": "BookingConfirmed",
                                    "Detail": json.dumps(detail), "EventBusName": "app-events"}])
    assert r["FailedEntryCount"] == 0
    for url in (analytics, emails):
        assert json.loads(receive(sqs, url)[0]["Body"])["detail"] == detail


def code_of(e):
    return e.response["Error"]["Code"]


class Recorder:
    """A loopback HTTP server recording requests; /token answers an OAuth token."""

    def __init__(self):
        import http.server
        import threading
        self.requests = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                rec.requests.append({"method": self.command, "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                out = b""
                if self.path.startswith("/token"):
                    out = json.dumps({"access_token": "tok-123", "expires_in": 3600}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_PUT = do_GET = handle_any

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, path_prefix="/"):
        for _ in range(100):
            got = [r for r in self.requests if r["path"].startswith(path_prefix)]
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return [r for r in self.requests if r["path"].startswith(path_prefix)]


def test_api_destinations_with_basic_api_key_and_oauth(events):
    import base64
    rec = Recorder()
    try:
        names = [uniq("c") for _ in range(3)]
        basic = events.create_connection(Name=names[0], AuthorizationType="BASIC", AuthParameters={
            "BasicAuthParameters": {"Username": "u", "Password": "p"},
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-extra", "Value": "1"}]}})
        assert basic["ConnectionState"] == "AUTHORIZED"
        key = events.create_connection(Name=names[1], AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"}})
        oauth = events.create_connection(Name=names[2], AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters={
            "OAuthParameters": {"ClientParameters": {"ClientID": "id", "ClientSecret": "sec"},
                                "AuthorizationEndpoint": rec.url + "/token", "HttpMethod": "POST"}})
        # Secrets never come back.
        assert events.describe_connection(Name=names[1])["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}
        assert "Password" not in events.describe_connection(Name=names[0])["AuthParameters"]["BasicAuthParameters"]
        assert names[2] in [c["Name"] for c in events.list_connections(NamePrefix=names[2])["Connections"]]
        src = uniq("com.api")
        rule = uniq("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [src]}))
        targets = []
        for i, conn in enumerate([basic, key, oauth]):
            dest = events.create_api_destination(Name=uniq("d"), ConnectionArn=conn["ConnectionArn"],
                                                 InvocationEndpoint=rec.url + f"/hook{i}/*", HttpMethod="POST")
            assert dest["ApiDestinationState"] == "ACTIVE"
            targets.append({"Id": f"t{i}", "Arn": dest["ApiDestinationArn"],
                            "HttpParameters": {"PathParameterValues": ["p"], "QueryStringParameters": {"q": "v"}}})
        events.put_targets(Rule=rule, Targets=targets)
        events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": '{"n": 1}'}])
        got = {r["path"].split("?")[0]: r for r in rec.wait(3, "/hook")}
        b = got["/hook0/p"]
        assert b["headers"]["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
        assert b["headers"]["x-extra"] == "1" and b["path"].endswith("?q=v")
        assert json.loads(b["body"])["detail"] == {"n": 1}
        assert got["/hook1/p"]["headers"]["x-api-key"] == "secret"
        assert got["/hook2/p"]["headers"]["authorization"] == "Bearer tok-123"
        token_req = rec.wait(1, "/token")[0]
        assert "grant_type=client_credentials" in token_req["body"]
        assert token_req["headers"]["authorization"] == "Basic " + base64.b64encode(b"id:sec").decode()
        with pytest.raises(ClientError) as e:
            events.create_api_destination(Name=uniq("d"), ConnectionArn="arn:aws:events:us-east-1:000000000000:connection/none/x",
                                          InvocationEndpoint=rec.url, HttpMethod="POST")
        assert code(e) == "ResourceNotFoundException"
    finally:
        rec.server.shutdown()


def test_global_endpoints_stored(events):
    name = uniq("ep")
    buses = [{"EventBusArn": "arn:aws:events:us-east-1:000000000000:event-bus/default"},
             {"EventBusArn": "arn:aws:events:us-west-2:000000000000:event-bus/default"}]
    routing = {"FailoverConfig": {"Primary": {"HealthCheck": "arn:aws:route53:::healthcheck/abc"},
                                  "Secondary": {"Route": "us-west-2"}}}
    r = events.create_endpoint(Name=name, RoutingConfig=routing, EventBuses=buses)
    assert r["State"] == "ACTIVE" and r["Arn"].endswith(f":endpoint/{name}")
    d = events.describe_endpoint(Name=name)
    assert d["EventBuses"] == buses and d["EndpointUrl"].startswith("https://") and d["EndpointId"]
    assert [e["Name"] for e in events.list_endpoints(NamePrefix=name)["Endpoints"]] == [name]
    events.update_endpoint(Name=name, Description="updated")
    assert events.describe_endpoint(Name=name)["Description"] == "updated"
    events.delete_endpoint(Name=name)
    with pytest.raises(ClientError) as e:
        events.describe_endpoint(Name=name)
    assert code(e) == "ResourceNotFoundException"


def test_partner_event_source_flow(client, sqs):
    partner = client("events", aws_access_key_id="111111111111")
    customer = client("events", aws_access_key_id="222222222222")
    source = f"aws.partner/example.com/{uniq('src')}"
    arn = partner.create_partner_event_source(Name=source, Account="222222222222")["EventSourceArn"]
    assert arn.endswith(f"event-source/{source}")
    assert customer.describe_event_source(Name=source)["State"] == "PENDING"
    customer.activate_event_source(Name=source)
    customer.create_event_bus(Name=source, EventSourceName=source)
    sqs2 = client("sqs", aws_access_key_id="222222222222")
    url = sqs2.create_queue(QueueName=uniq("pq"))["QueueUrl"]
    qarn = sqs2.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = uniq("r")
    customer.put_rule(Name=rule, EventBusName=source, EventPattern=json.dumps({"source": [source]}))
    customer.put_targets(Rule=rule, EventBusName=source, Targets=[{"Id": "q", "Arn": qarn}])
    r = partner.put_partner_events(Entries=[{"Source": source, "DetailType": "Partner Thing", "Detail": '{"p": 1}'}])
    assert r["FailedEntryCount"] == 0
    body = json.loads(receive(sqs2, url)[0]["Body"])
    assert body["source"] == source and body["account"] == "222222222222" and body["detail"] == {"p": 1}
    accounts = partner.list_partner_event_source_accounts(EventSourceName=source)["PartnerEventSourceAccounts"]
    assert accounts[0]["Account"] == "222222222222" and accounts[0]["State"] == "ACTIVE"


def test_cross_account_put_events_needs_the_bus_policy(client):
    owner = client("events", aws_access_key_id="333333333333")
    other = client("events", aws_access_key_id="444444444444")
    sqs3 = client("sqs", aws_access_key_id="333333333333")
    bus = uniq("shared")
    bus_arn = owner.create_event_bus(Name=bus)["EventBusArn"]
    url = sqs3.create_queue(QueueName=uniq("xq"))["QueueUrl"]
    qarn = sqs3.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = uniq("r")
    owner.put_rule(Name=rule, EventBusName=bus, EventPattern='{"source": ["x.acct"]}')
    owner.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": qarn}])
    entry = {"Source": "x.acct", "DetailType": "T", "Detail": "{}", "EventBusName": bus_arn}
    r = other.put_events(Entries=[entry])
    assert r["FailedEntryCount"] == 1 and r["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    owner.put_permission(EventBusName=bus, Action="events:PutEvents", Principal="444444444444", StatementId="other")
    r = other.put_events(Entries=[entry])
    assert r["FailedEntryCount"] == 0
    body = json.loads(receive(sqs3, url)[0]["Body"])
    # The envelope names the sending account.
    assert body["account"] == "444444444444" and body["source"] == "x.acct"
