"""EventBridge Scheduler end to end with boto3: groups, schedules (rate, cron with a time
zone, at() with ActionAfterCompletion DELETE), firing on the virtual clock (across daylight saving transitions) into SQS, SNS and
EventBridge, universal targets, DLQs, tags, persistence, and AWS's error codes."""
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/scheduler"


def uniq(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(autouse=True)
def back_to_real_time(overcast):
    yield
    requests.post(overcast.url + "/_overcast/clock", json={"set": time.time()}, timeout=10)


@pytest.fixture
def scheduler(client):
    return client("scheduler")


@pytest.fixture
def sqs(client):
    return client("sqs")


def advance(overcast, seconds):
    r = requests.post(overcast.url + "/_overcast/clock", json={"advance": seconds}, timeout=10)
    assert r.status_code == 200, r.text


def virtual_now(overcast):
    return requests.get(overcast.url + "/_overcast/clock", timeout=10).json()


def queue(sqs, name=None, **attrs):
    url = sqs.create_queue(QueueName=name or uniq("q"), Attributes=attrs)["QueueUrl"]
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


def test_groups_and_tags(scheduler):
    assert scheduler.get_schedule_group(Name="default")["State"] == "ACTIVE"
    name = uniq("g")
    arn = scheduler.create_schedule_group(Name=name, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:000000000000:schedule-group/{name}"
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule_group(Name=name)
    assert code(e) == "ConflictException"
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert name in [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix=name)["ScheduleGroups"]]
    scheduler.delete_schedule_group(Name=name)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule_group(Name=name)
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule_group(Name="default")
    assert code(e) == "ValidationException"


def test_rate_schedule_fires_into_sqs(scheduler, sqs, overcast):
    url, qarn = queue(sqs)
    name = uniq()
    arn = scheduler.create_schedule(
        Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": qarn, "RoleArn": ROLE, "Input": '{"arn": "<aws.scheduler.schedule-arn>"}'})["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:000000000000:schedule/default/{name}"
    s = scheduler.get_schedule(Name=name)
    assert s["State"] == "ENABLED" and s["Target"]["Arn"] == qarn and s["ActionAfterCompletion"] == "NONE"
    assert receive(sqs, url, wait=1) == []
    advance(overcast, 301)
    assert json.loads(receive(sqs, url)[0]["Body"]) == {"arn": arn}
    advance(overcast, 300)
    assert len(receive(sqs, url)) == 1
    scheduler.update_schedule(Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                              State="DISABLED", Target={"Arn": qarn, "RoleArn": ROLE})
    advance(overcast, 900)
    assert receive(sqs, url, wait=1) == []
    assert name in [x["Name"] for x in scheduler.list_schedules(NamePrefix=name)["Schedules"]]
    scheduler.delete_schedule(Name=name)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name=name)
    assert code(e) == "ResourceNotFoundException"


def test_at_schedule_in_time_zone_deletes_after_completion(scheduler, sqs, overcast):
    url, qarn = queue(sqs)
    group = uniq("g")
    scheduler.create_schedule_group(Name=group)
    now = virtual_now(overcast)["now"]
    # Two hours from now in Tokyo local time (UTC+9).
    local = datetime.fromtimestamp(now, timezone.utc) + timedelta(hours=9, minutes=120)
    name = uniq()
    scheduler.create_schedule(
        Name=name, GroupName=group, ScheduleExpression=f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="Asia/Tokyo", FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE", Target={"Arn": qarn, "RoleArn": ROLE, "Input": "once"})
    advance(overcast, 3600)
    assert receive(sqs, url, wait=1) == []
    advance(overcast, 3601)
    assert receive(sqs, url)[0]["Body"] == "once"
    for _ in range(50):
        try:
            scheduler.get_schedule(Name=name, GroupName=group)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        time.sleep(0.05)
    else:
        pytest.fail("schedule with ActionAfterCompletion DELETE still exists")


def test_targets_sns_eventbridge_and_universal(scheduler, sqs, client, overcast):
    sns, events = client("sns"), client("events")
    u1, a1 = queue(sqs)
    topic = sns.create_topic(Name=uniq("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=a1, Attributes={"RawMessageDelivery": "true"})
    u2, a2 = queue(sqs)
    src = uniq("com.sched")
    rule = uniq("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [src]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": a2}])
    u3, _ = queue(sqs)
    win = {"Mode": "OFF"}
    scheduler.create_schedule(Name=uniq(), ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=win,
                              Target={"Arn": topic, "RoleArn": ROLE, "Input": "to sns"})
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"
    scheduler.create_schedule(Name=uniq(), ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=win,
                              Target={"Arn": bus, "RoleArn": ROLE, "Input": '{"k": 1}',
                                      "EventBridgeParameters": {"Source": src, "DetailType": "Tick"}})
    scheduler.create_schedule(Name=uniq(), ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=win,
                              Target={"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "RoleArn": ROLE,
                                      "Input": json.dumps({"QueueUrl": u3, "MessageBody": "universal"})})
    advance(overcast, 61)
    assert receive(sqs, u1)[0]["Body"] == "to sns"
    ev = json.loads(receive(sqs, u2)[0]["Body"])
    assert ev["source"] == src and ev["detail-type"] == "Tick" and ev["detail"] == {"k": 1}
    assert receive(sqs, u3)[0]["Body"] == "universal"


def test_failed_invocation_goes_to_dlq(scheduler, sqs, overcast):
    dlq_url, dlq_arn = queue(sqs)
    missing = "arn:aws:sqs:us-east-1:000000000000:" + uniq("missing")
    name = uniq()
    arn = scheduler.create_schedule(
        Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": missing, "RoleArn": ROLE, "Input": "x", "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": {"MaximumRetryAttempts": 0}})["ScheduleArn"]
    advance(overcast, 61)
    m = receive(sqs, dlq_url, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "x"
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["X-Amz-Scheduler-Schedule-Arn"] == arn and attrs["TARGET_ARN"] == missing and attrs["ERROR_CODE"]
    scheduler.delete_schedule(Name=name)


def test_validation_errors(scheduler, sqs):
    _, qarn = queue(sqs)
    t = {"Arn": qarn, "RoleArn": ROLE}
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name=uniq(), ScheduleExpression="every day", FlexibleTimeWindow={"Mode": "OFF"}, Target=t)
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name=uniq(), ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "FLEXIBLE"}, Target=t)
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name=uniq(), GroupName=uniq("nogroup"), ScheduleExpression="rate(1 hour)",
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=t)
    assert code(e) == "ResourceNotFoundException"
    name = uniq()
    scheduler.create_schedule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", FlexibleTimeWindow={"Mode": "OFF"}, Target=t)
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", FlexibleTimeWindow={"Mode": "OFF"}, Target=t)
    assert code(e) == "ConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    scheduler.delete_schedule(Name=name)


def test_schedules_survive_restart_and_fire_after(scheduler, sqs, overcast, client):
    url, qarn = queue(sqs)
    name = uniq()
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(10 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": qarn, "RoleArn": ROLE, "Input": "durable"})
    overcast.kill9()
    s2 = client("scheduler")
    assert s2.get_schedule(Name=name)["ScheduleExpression"] == "rate(10 minutes)"
    advance(overcast, 601)
    assert receive(client("sqs"), url)[0]["Body"] == "durable"
    s2.delete_schedule(Name=name)


def _fire_times(sqs, url, n):
    return sorted(m["Body"] for m in receive(sqs, url, n=n, wait=1))


def _utc(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("start,expr,expected", [
    # Spring forward in New York, 2027-03-14: 02:00 EST becomes 03:00 EDT, so 02:30 is skipped.
    ("2027-03-14T05:00:00Z", "cron(30 1-3 * * ? *)", ["2027-03-14T06:30:00Z", "2027-03-14T07:30:00Z"]),
    # Fall back, 2027-11-07: 02:00 EDT becomes 01:00 EST, so 01:30 happens twice and fires once.
    ("2027-11-07T04:00:00Z", "cron(30 1-2 * * ? *)", ["2027-11-07T05:30:00Z", "2027-11-07T07:30:00Z"]),
])
def test_cron_in_time_zone_across_daylight_saving_transitions(scheduler, sqs, overcast, start, expr, expected):
    url, qarn = queue(sqs)
    requests.post(overcast.url + "/_overcast/clock", json={"set": _utc(start)}, timeout=10).raise_for_status()
    name = uniq()
    scheduler.create_schedule(
        Name=name, ScheduleExpression=expr, ScheduleExpressionTimezone="America/New_York",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": qarn, "RoleArn": ROLE, "Input": "<aws.scheduler.scheduled-time>"})
    try:
        for _ in range(10):  # five hours, half an hour at a time
            advance(overcast, 1800)
            time.sleep(0.05)
        assert _fire_times(sqs, url, len(expected) + 1) == expected
    finally:
        scheduler.delete_schedule(Name=name)
