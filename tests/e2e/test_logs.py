"""CloudWatch Logs end to end: boto3 and the AWS CLI against a running Overcast."""
import json
import time
import uuid

import pytest

from conftest import AwsCliError


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def logs(client):
    return client("logs")


def group_with_stream(logs, stream="s1"):
    name = f"/aws/lambda/fn-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    return name


def test_groups_streams_and_exact_errors(logs):
    name = group_with_stream(logs)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=name)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=name, logStreamName="s1")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName=name + "-nope", logStreamName="s1")
    g = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [x["logGroupName"] for x in g] == [name]
    assert g[0]["arn"].endswith(f":log-group:{name}:*")
    assert g[0]["logGroupClass"] == "STANDARD"
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="b")
    for s in ["b", "c", "a0"]:
        logs.create_log_stream(logGroupName=name, logStreamName=s)
    page = logs.describe_log_streams(logGroupName=name, limit=2)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["a0", "b"]
    rest = logs.describe_log_streams(logGroupName=name, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c", "s1"]
    assert "nextToken" not in rest
    desc = logs.describe_log_streams(logGroupName=name, descending=True)
    assert desc["logStreams"][0]["logStreamName"] == "s1"
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=name, orderBy="LastEventTime", logStreamNamePrefix="a")
    listed = logs.list_log_groups(logGroupNamePattern="^" + name.replace("/", "\\/") + "$")["logGroups"]
    assert [x["logGroupName"] for x in listed] == [name] and listed[0]["logGroupClass"] == "STANDARD"
    logs.put_log_group_deletion_protection(logGroupIdentifier=name, deletionProtectionEnabled=True)
    with pytest.raises(logs.exceptions.InvalidOperationException):
        logs.delete_log_group(logGroupName=name)
    logs.put_log_group_deletion_protection(logGroupIdentifier=name, deletionProtectionEnabled=False)
    logs.delete_log_stream(logGroupName=name, logStreamName="c")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_stream(logGroupName=name, logStreamName="c")
    logs.delete_log_group(logGroupName=name)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=name)


def test_put_and_get_events_with_tokens_and_rejections(logs):
    name = group_with_stream(logs)
    t = now_ms()
    out = logs.put_log_events(logGroupName=name, logStreamName="s1",
                              logEvents=[{"timestamp": t + i, "message": f"m{i}"} for i in range(5)])
    assert "nextSequenceToken" in out and "rejectedLogEventsInfo" not in out
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_log_events(logGroupName=name, logStreamName="s1",
                            logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}])
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_events(logGroupName=name, logStreamName="nope", logEvents=[{"timestamp": t, "message": "x"}])
    old = t - 15 * 86400 * 1000
    r = logs.put_log_events(logGroupName=name, logStreamName="s1",
                            logEvents=[{"timestamp": old, "message": "old"}, {"timestamp": old + 1, "message": "old2"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    r = logs.put_log_events(logGroupName=name, logStreamName="s1",
                            logEvents=[{"timestamp": t + 5, "message": "m5"},
                                       {"timestamp": t + 3 * 3600 * 1000, "message": "future"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}

    # Backward from the end by default, forward from the head on request.
    last = logs.get_log_events(logGroupName=name, logStreamName="s1", limit=2)
    assert [e["message"] for e in last["events"]] == ["m4", "m5"]
    head = logs.get_log_events(logGroupName=name, logStreamName="s1", limit=4, startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["m0", "m1", "m2", "m3"]
    nxt = logs.get_log_events(logGroupName=name, logStreamName="s1", nextToken=head["nextForwardToken"])
    assert [e["message"] for e in nxt["events"]] == ["m4", "m5"]
    end = logs.get_log_events(logGroupName=name, logStreamName="s1", nextToken=nxt["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == nxt["nextForwardToken"]
    back = logs.get_log_events(logGroupName=name, logStreamName="s1", limit=2, nextToken=last["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["m2", "m3"]
    assert head["nextForwardToken"].startswith("f/") and last["nextBackwardToken"].startswith("b/")
    st = logs.describe_log_streams(logGroupName=name)["logStreams"][0]
    assert st["storedBytes"] == 12 and st["firstEventTimestamp"] == t and st["lastEventTimestamp"] == t + 5
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["storedBytes"] == 12
    win = logs.get_log_events(logGroupName=name, logStreamName="s1", startTime=t + 1, endTime=t + 3, startFromHead=True)
    assert [e["message"] for e in win["events"]] == ["m1", "m2"]


def test_filter_patterns(logs):
    name = group_with_stream(logs)
    logs.create_log_stream(logGroupName=name, logStreamName="s2")
    t = now_ms()
    msgs = [
        json.dumps({"status": 503, "ms": 150, "path": "/a"}),
        json.dumps({"status": 500, "ms": 50, "path": "/b"}),
        json.dumps({"status": 200, "ms": 900, "path": "/c"}),
        "ERROR db timeout",
        "WARN disk",
        '127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 503 2326',
    ]
    logs.put_log_events(logGroupName=name, logStreamName="s1",
                        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(msgs[:3])])
    logs.put_log_events(logGroupName=name, logStreamName="s2",
                        logEvents=[{"timestamp": t + 10 + i, "message": m} for i, m in enumerate(msgs[3:])])

    def f(pattern, **kw):
        return [e["message"] for e in logs.filter_log_events(logGroupName=name, filterPattern=pattern, **kw)["events"]]

    assert f("{ $.status = 5* && $.ms > 100 }") == [msgs[0]]
    assert f("{ $.status >= 500 }") == msgs[:2]
    assert f("?ERROR ?WARN") == [msgs[3], msgs[4]]
    assert f("ERROR -disk") == [msgs[3]]
    assert f('"db timeout"') == [msgs[3]]
    assert f("[ip, user, ..., status = 5*, size > 1000]") == [msgs[5]]
    assert len(f("")) == 6
    assert f("", logStreamNames=["s1"]) == msgs[:3]
    ev = logs.filter_log_events(logGroupName=name, limit=4)
    assert [e["message"] for e in ev["events"]] == msgs[:4] and ev["events"][3]["logStreamName"] == "s2"
    rest = logs.filter_log_events(logGroupName=name, limit=4, nextToken=ev["nextToken"])
    assert [e["message"] for e in rest["events"]] == msgs[4:] and "nextToken" not in rest
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=name, filterPattern="{ $.status = }")
    tm = logs.test_metric_filter(filterPattern="[ip, user, ..., status, size]", logEventMessages=[msgs[5], "x y"])
    assert tm["matches"][0]["eventNumber"] == 1 and tm["matches"][0]["extractedValues"]["$size"] == "2326"
    assert len(tm["matches"]) == 1


def test_retention_on_the_virtual_clock_tags_and_policies(logs, overcast):
    name = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["logGroupArn"]
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[{"timestamp": t, "message": "keep?"}])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_retention_policy(logGroupName=name, retentionInDays=2)
    logs.put_retention_policy(logGroupName=name, retentionInDays=1)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["retentionInDays"] == 1
    assert len(logs.get_log_events(logGroupName=name, logStreamName="s1")["events"]) == 1
    overcast.clock(advance=2 * 86400)
    try:
        assert logs.get_log_events(logGroupName=name, logStreamName="s1")["events"] == []
    finally:
        overcast.clock(set=time.time())
    logs.delete_retention_policy(logGroupName=name)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]

    logs.tag_resource(resourceArn=arn, tags={"team": "api"})
    logs.tag_log_group(logGroupName=name, tags={"env": "dev"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "api", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"env": "dev"}
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=arn + "x")

    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "es.amazonaws.com"},
                                                               "Action": "logs:PutLogEvents", "Resource": "*"}]})
    p = logs.put_resource_policy(policyName="es", policyDocument=doc)["resourcePolicy"]
    assert p["policyName"] == "es" and p["policyDocument"] == doc
    assert any(x["policyName"] == "es" for x in logs.describe_resource_policies()["resourcePolicies"])
    logs.delete_resource_policy(policyName="es")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_resource_policy(policyName="es")


def test_metric_filter_emits_cloudwatch_metrics(logs, client):
    cw = client("cloudwatch")
    name = group_with_stream(logs)
    ns = f"App{uuid.uuid4().hex[:6]}"
    logs.put_metric_filter(logGroupName=name, filterName="5xx", filterPattern="{ $.status = 5* }",
                           metricTransformations=[{"metricName": "Errors5xx", "metricNamespace": ns, "metricValue": "1"}])
    mf = logs.describe_metric_filters(logGroupName=name)["metricFilters"]
    assert mf[0]["filterName"] == "5xx" and mf[0]["metricTransformations"][0]["metricValue"] == "1"
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": t, "message": json.dumps({"status": 500})},
        {"timestamp": t + 1, "message": json.dumps({"status": 200})},
        {"timestamp": t + 2, "message": json.dumps({"status": 503})},
    ])
    deadline = time.time() + 5
    total = 0
    while time.time() < deadline:
        try:
            s = cw.get_metric_statistics(Namespace=ns, MetricName="Errors5xx", StartTime=t / 1000 - 600,
                                         EndTime=t / 1000 + 600, Period=60, Statistics=["Sum"])
            total = sum(d["Sum"] for d in s["Datapoints"])
        except cw.exceptions.ClientError:
            total = 0
        if total == 2:
            break
        time.sleep(0.1)
    assert total == 2
    logs.delete_metric_filter(logGroupName=name, filterName="5xx")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_metric_filter(logGroupName=name, filterName="5xx")


def test_subscription_filters_are_stored(logs):
    name = group_with_stream(logs)
    dest = "arn:aws:lambda:us-east-1:000000000000:function:sink"
    logs.put_subscription_filter(logGroupName=name, filterName="all", filterPattern="", destinationArn=dest)
    sf = logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"]
    assert sf[0]["destinationArn"] == dest and sf[0]["distribution"] == "ByLogStream"
    # Delivery to a function is fire-and-forget: ingestion still succeeds.
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    logs.delete_subscription_filter(logGroupName=name, filterName="all")
    assert logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"] == []


def test_insights_seed_query_and_stats(logs, aws):
    name = group_with_stream(logs)
    t = now_ms()
    events = []
    for i in range(30):
        level = "ERROR" if i % 3 == 0 else "INFO"
        events.append({"timestamp": t - (30 - i) * 1000, "message": json.dumps({"level": level, "i": i, "ms": i * 10}) + f" {level}"})
    events = [{"timestamp": e["timestamp"], "message": f"{'ERROR' if n % 3 == 0 else 'INFO'} request {n}"} for n, e in enumerate(events)]
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=events)
    start, end = int(t / 1000) - 3600, int(t / 1000) + 60
    q = """
    fields @timestamp, @message
    | filter @message like /ERROR/
    | sort @timestamp desc
    | limit 20
  """
    qid = aws("logs", "start-query", "--log-group-name", name, "--start-time", str(start),
              "--end-time", str(end), "--query-string", q)["queryId"]
    res = logs.get_query_results(queryId=qid)
    assert res["status"] == "Complete"
    rows = [{f["field"]: f["value"] for f in r} for r in res["results"]]
    assert [r["@message"] for r in rows] == [f"ERROR request {n}" for n in range(27, -1, -3)]
    assert res["statistics"]["recordsMatched"] == 10 and res["statistics"]["recordsScanned"] == 30
    assert all("@ptr" in r for r in rows)
    rec = logs.get_log_record(logRecordPointer=rows[0]["@ptr"])["logRecord"]
    assert rec["@message"] == "ERROR request 27" and rec["@logStream"] == "s1"
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_record(logRecordPointer="not-a-pointer")

    qid = logs.start_query(logGroupName=name, startTime=start, endTime=end,
                           queryString="parse @message '* request *' as level, n | stats count(*) as c, max(n) as top by level | sort c desc")["queryId"]
    rows = [{f["field"]: f["value"] for f in r} for r in logs.get_query_results(queryId=qid)["results"]]
    assert rows == [{"level": "INFO", "c": "20", "top": "29"}, {"level": "ERROR", "c": "10", "top": "27"}]
    assert any(x["queryId"] == qid for x in logs.describe_queries(logGroupName=name)["queries"])
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(logGroupName=name, startTime=start, endTime=end, queryString="filter @message like")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(logGroupName=name + "x", startTime=start, endTime=end, queryString="fields @message")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_query_results(queryId="nope")

    d = logs.put_query_definition(name="errors", queryString=q, logGroupNames=[name])["queryDefinitionId"]
    defs = logs.describe_query_definitions(queryDefinitionNamePrefix="err")["queryDefinitions"]
    assert any(x["queryDefinitionId"] == d and x["logGroupNames"] == [name] for x in defs)
    assert logs.delete_query_definition(queryDefinitionId=d)["success"] is True


def test_log_group_fields(logs):
    name = group_with_stream(logs)
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": t, "message": json.dumps({"status": 200, "req": {"path": "/a"}})},
        {"timestamp": t + 1, "message": "plain text"},
    ])
    fields = {f["name"]: f["percent"] for f in logs.get_log_group_fields(logGroupName=name)["logGroupFields"]}
    assert fields["@message"] == 100 and fields["status"] == 50 and fields["req.path"] == 50


def test_export_task_writes_gzip_objects_to_s3(logs, client):
    import gzip
    s3 = client("s3")
    bucket = f"exports-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    name = group_with_stream(logs)
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1",
                        logEvents=[{"timestamp": t, "message": "first"}, {"timestamp": t + 1, "message": "second"}])
    task = logs.create_export_task(logGroupName=name, fromTime=t - 1000, to=t + 1000, destination=bucket,
                                   destinationPrefix="logs")["taskId"]
    desc = logs.describe_export_tasks(taskId=task)["exportTasks"][0]
    assert desc["status"]["code"] == "COMPLETED" and desc["destination"] == bucket
    body = s3.get_object(Bucket=bucket, Key=f"logs/{task}/s1/000000.gz")["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["first", "second"]
    assert lines[0].split(" ", 1)[0].endswith("Z")
    with pytest.raises(logs.exceptions.InvalidOperationException):
        logs.cancel_export_task(taskId=task)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_export_task(logGroupName=name, fromTime=t, to=t + 1, destination=bucket + "-missing")


def test_data_protection_masks_unless_unmasked(logs):
    name = group_with_stream(logs)
    ids = ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"]
    doc = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": [
        {"Sid": "audit", "DataIdentifier": ids, "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"Sid": "redact", "DataIdentifier": ids, "Operation": {"Deidentify": {"MaskConfig": {}}}}]})
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_data_protection_policy(logGroupIdentifier=name, policyDocument="{}")
    out = logs.put_data_protection_policy(logGroupIdentifier=name, policyDocument=doc)
    assert out["policyDocument"] == doc
    assert logs.get_data_protection_policy(logGroupIdentifier=name)["policyDocument"] == doc
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["dataProtectionStatus"] == "ACTIVATED"
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[{"timestamp": t, "message": "signup bob@example.com"}])
    masked = logs.get_log_events(logGroupName=name, logStreamName="s1")["events"][0]["message"]
    assert masked == "signup " + "*" * len("bob@example.com")
    assert logs.filter_log_events(logGroupName=name)["events"][0]["message"] == masked
    clear = logs.get_log_events(logGroupName=name, logStreamName="s1", unmask=True)["events"][0]["message"]
    assert clear == "signup bob@example.com"
    logs.delete_data_protection_policy(logGroupIdentifier=name)
    assert logs.get_log_events(logGroupName=name, logStreamName="s1")["events"][0]["message"] == clear


def test_cli_round_trip(aws):
    name = f"/ecs/api-service-{uuid.uuid4().hex[:6]}"
    aws("logs", "create-log-group", "--log-group-name", name)
    aws("logs", "create-log-stream", "--log-group-name", name, "--log-stream-name", "api/web/1")
    t = now_ms()
    aws("logs", "put-log-events", "--log-group-name", name, "--log-stream-name", "api/web/1",
        "--log-events", f"timestamp={t},message=hello", f"timestamp={t + 1},message=ERROR boom")
    out = aws("logs", "filter-log-events", "--log-group-name", name, "--filter-pattern", "ERROR")
    assert [e["message"] for e in out["events"]] == ["ERROR boom"]
    with pytest.raises(AwsCliError) as e:
        aws("logs", "create-log-group", "--log-group-name", name)
    assert e.value.code == "ResourceAlreadyExistsException"


def test_state_survives_restart_and_kill9(logs, overcast, client):
    name = group_with_stream(logs)
    t = now_ms()
    logs.put_retention_policy(logGroupName=name, retentionInDays=30)
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[{"timestamp": t, "message": "one"}])
    overcast.restart()
    logs = client("logs")
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[{"timestamp": t + 1, "message": "two"}])
    overcast.kill9()
    logs = client("logs")
    got = logs.get_log_events(logGroupName=name, logStreamName="s1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["one", "two"]
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["retentionInDays"] == 30
    logs.delete_log_stream(logGroupName=name, logStreamName="s1")
    overcast.restart()
    logs = client("logs")
    assert logs.describe_log_streams(logGroupName=name)["logStreams"] == []


def test_aws_logs_service_metrics_reach_cloudwatch(logs, client):
    cw = client("cloudwatch")
    name = group_with_stream(logs)
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1",
                        logEvents=[{"timestamp": t + i, "message": "abcd"} for i in range(3)])
    dims = [{"Name": "LogGroupName", "Value": name}]
    deadline = time.time() + 5
    got = {}
    while time.time() < deadline and len(got) < 2:
        for metric in ("IncomingLogEvents", "IncomingBytes"):
            s = cw.get_metric_statistics(Namespace="AWS/Logs", MetricName=metric, Dimensions=dims,
                                         StartTime=t / 1000 - 300, EndTime=t / 1000 + 300, Period=60,
                                         Statistics=["Sum"])
            if s["Datapoints"]:
                got[metric] = sum(d["Sum"] for d in s["Datapoints"])
        time.sleep(0.05)
    assert got == {"IncomingLogEvents": 3, "IncomingBytes": 12}
