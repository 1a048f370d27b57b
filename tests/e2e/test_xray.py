"""X-Ray end to end with boto3: segments (validation, unprocessed answers), BatchGetTraces,
GetTraceSummaries with filter expressions, service and trace graphs, groups, sampling rules
and targets, encryption config, resource policies, tags, telemetry, durability."""
import json
import os
import time
import uuid

import botocore.exceptions
import pytest


@pytest.fixture
def xr(client):
    return client("xray")


def trace_id(t=None):
    return "1-%08x-%s" % (int(t or time.time()), os.urandom(12).hex())


def seg_id():
    return os.urandom(8).hex()


def code(e):
    return e.value.response["Error"]["Code"]


def put(xr, *docs):
    out = xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    return out["UnprocessedTraceSegments"]


def window():
    now = time.time()
    return now - 600, now + 600


def make_trace(xr, name, status=200, fault=False, error=False, rt=0.5, annotations=None):
    tid = trace_id()
    root = seg_id()
    now = time.time()
    call = seg_id()
    docs = [
        {
            "trace_id": tid, "id": root, "name": name, "start_time": now, "end_time": now + rt,
            "origin": "AWS::Lambda::Function",
            "http": {"request": {"method": "GET", "url": f"https://{name}.example.com/items"},
                     "response": {"status": status}},
            "fault": fault, "error": error, "annotations": annotations or {}, "user": "alice",
            "subsegments": [
                {"id": seg_id(), "name": "DynamoDB", "namespace": "aws",
                 "start_time": now + 0.01, "end_time": now + 0.05},
                {"id": call, "name": "backend.example.com", "namespace": "remote",
                 "start_time": now + 0.1, "end_time": now + 0.4},
            ],
        },
        {
            "trace_id": tid, "id": seg_id(), "parent_id": call, "name": f"{name}-backend",
            "start_time": now + 0.12, "end_time": now + 0.38, "error": error,
        },
    ]
    assert put(xr, *docs) == []
    return tid


def test_put_trace_segments_validation(xr):
    tid = trace_id()
    good = {"trace_id": tid, "id": seg_id(), "name": "svc", "start_time": time.time(), "in_progress": True}
    bad_id = dict(good, id="nothex")
    bad_trace = dict(good, id=seg_id(), trace_id="1-abc-def")
    no_end = {"trace_id": tid, "id": seg_id(), "name": "svc", "start_time": time.time()}
    bad_name = dict(good, id=seg_id(), name="what?")
    sub_no_parent = dict(good, id=seg_id(), type="subsegment")
    un = put(xr, good, bad_id, bad_trace, no_end, bad_name, sub_no_parent)
    codes = {u.get("Id"): u["ErrorCode"] for u in un}
    assert codes == {
        "nothex": "InvalidId",
        bad_trace["id"]: "InvalidTraceId",
        no_end["id"]: "MissingEndTime",
        bad_name["id"]: "InvalidName",
        sub_no_parent["id"]: "MissingParentId",
    }
    assert all(u["Message"].startswith("Invalid ") for u in un)
    un = xr.put_trace_segments(TraceSegmentDocuments=["{not json"])["UnprocessedTraceSegments"]
    assert un[0]["ErrorCode"] == "InvalidJson"
    # The in-progress segment was stored, and a completed version replaces it.
    got = xr.batch_get_traces(TraceIds=[tid])["Traces"][0]
    assert [s["Id"] for s in got["Segments"]] == [good["id"]]
    assert json.loads(got["Segments"][0]["Document"])["in_progress"] is True
    done = dict(good, end_time=good["start_time"] + 1)
    del done["in_progress"]
    assert put(xr, done) == []
    got = xr.batch_get_traces(TraceIds=[tid])["Traces"][0]
    assert json.loads(got["Segments"][0]["Document"])["end_time"] == done["end_time"]
    assert abs(got["Duration"] - 1.0) < 1e-6


def test_batch_get_traces_and_independent_subsegments(xr):
    tid = trace_id()
    root = seg_id()
    now = time.time()
    sub = {"type": "subsegment", "trace_id": tid, "parent_id": root, "id": seg_id(),
           "name": "S3", "namespace": "aws", "start_time": now + 0.1, "end_time": now + 0.2}
    assert put(xr, {"trace_id": tid, "id": root, "name": "web", "start_time": now, "end_time": now + 1}, sub) == []
    missing = trace_id()
    out = xr.batch_get_traces(TraceIds=[tid, missing])
    assert out["UnprocessedTraceIds"] == [missing]
    (t,) = out["Traces"]
    assert t["Id"] == tid and t["LimitExceeded"] is False
    (s,) = t["Segments"]
    doc = json.loads(s["Document"])
    assert doc["id"] == root
    assert [x["id"] for x in doc["subsegments"]] == [sub["id"]]


def test_traces_past_retention_are_gone(xr):
    old = time.time() - 40 * 86400
    tid = trace_id(old)
    assert put(xr, {"trace_id": tid, "id": seg_id(), "name": "old", "start_time": old, "end_time": old + 1}) == []
    assert xr.batch_get_traces(TraceIds=[tid])["UnprocessedTraceIds"] == [tid]
    out = xr.get_trace_summaries(StartTime=old - 60, EndTime=old + 60)
    assert tid not in [s["Id"] for s in out["TraceSummaries"]]


def test_trace_summaries_and_filters(xr):
    tag = uuid.uuid4().hex[:8]
    ok = make_trace(xr, f"ok-{tag}", annotations={"tenant": tag, "n": 3})
    slow = make_trace(xr, f"slow-{tag}", rt=3.0, annotations={"tenant": tag})
    bad = make_trace(xr, f"bad-{tag}", status=500, fault=True, annotations={"tenant": tag})
    err = make_trace(xr, f"err-{tag}", status=404, error=True, annotations={"tenant": "other"})
    start, end = window()

    def ids(expr):
        out = xr.get_trace_summaries(StartTime=start, EndTime=end, FilterExpression=expr)
        return {s["Id"] for s in out["TraceSummaries"]} & {ok, slow, bad, err}

    assert ids(f'service("ok-{tag}")') == {ok}
    assert ids(f'service("bad-{tag}-backend")') == {bad}
    assert ids("responsetime > 2") == {slow}
    assert ids("duration < 1 AND http.status = 500") == {bad}
    assert ids("fault") == {bad}
    assert ids(f'error AND annotation.tenant = "other"') == {err}
    assert ids(f'annotation.tenant = "{tag}" AND NOT fault') == {ok, slow}
    assert ids(f'annotation.tenant = "{tag}" AND (fault OR responsetime > 2)') == {slow, bad}
    assert ids("annotation.n >= 3") == {ok}
    assert ids(f'http.url CONTAINS "slow-{tag}"') == {slow}
    assert ids(f'service("err-{tag}-backend") {{ error }}') == {err}
    assert ids(f'service(id(name: "bad-{tag}", type: "AWS::Lambda::Function")) {{ fault }}') == {bad}
    assert ids(f'service(id(name: "bad-{tag}", type: "AWS::EC2::Instance"))') == set()
    assert ids(f'edge("err-{tag}", "err-{tag}-backend") {{ error }}') == {err}
    assert ids(f'edge("ok-{tag}", "DynamoDB")') == {ok}
    assert ids(f'edge("ok-{tag}", "backend.example.com")') == set()  # answered by ok-…-backend

    out = xr.get_trace_summaries(StartTime=start, EndTime=end, FilterExpression=f'service("bad-{tag}")')
    (s,) = out["TraceSummaries"]
    assert s["HasFault"] is True and s["HasError"] is False
    assert s["Http"]["HttpStatus"] == 500 and s["Http"]["HttpMethod"] == "GET"
    assert s["EntryPoint"]["Name"] == f"bad-{tag}"
    assert abs(s["ResponseTime"] - 0.5) < 1e-6
    assert s["Annotations"]["tenant"][0]["AnnotationValue"]["StringValue"] == tag
    names = {x["Name"] for x in s["ServiceIds"]}
    assert {f"bad-{tag}", f"bad-{tag}-backend", "DynamoDB"} <= names
    assert s["Users"][0]["UserName"] == "alice"
    assert out["TracesProcessedCount"] >= 4

    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.get_trace_summaries(StartTime=start, EndTime=end, FilterExpression="responsetime >")
    assert code(e) == "InvalidRequestException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.get_trace_summaries(StartTime=start, EndTime=start + 3 * 86400)
    assert code(e) == "InvalidRequestException"


def test_service_graph_and_trace_graph(xr):
    tag = uuid.uuid4().hex[:8]
    tid = make_trace(xr, f"graph-{tag}", error=True)
    out = xr.get_trace_graph(TraceIds=[tid])
    nodes = {n["Name"]: n for n in out["Services"]}
    assert set(nodes) == {f"graph-{tag}", f"graph-{tag}-backend", "DynamoDB"}
    root = nodes[f"graph-{tag}"]
    assert root["Root"] is True and root["Type"] == "AWS::Lambda::Function"
    assert nodes["DynamoDB"]["Type"] == "AWS::DynamoDB::Table"
    edges = {e["ReferenceId"] for e in root["Edges"]}
    assert edges == {nodes["DynamoDB"]["ReferenceId"], nodes[f"graph-{tag}-backend"]["ReferenceId"]}
    backend_edge = next(e for e in root["Edges"] if e["ReferenceId"] == nodes[f"graph-{tag}-backend"]["ReferenceId"])
    assert backend_edge["SummaryStatistics"]["ErrorStatistics"]["OtherCount"] == 1
    assert root["SummaryStatistics"]["TotalCount"] == 1

    grp = f"g-{tag}"
    xr.create_group(GroupName=grp, FilterExpression=f'service("graph-{tag}")')
    start, end = window()
    g = xr.get_service_graph(StartTime=start, EndTime=end, GroupName=grp)
    assert {n["Name"] for n in g["Services"]} == set(nodes)
    full = xr.get_service_graph(StartTime=start, EndTime=end)
    assert set(nodes) <= {n.get("Name") for n in full["Services"]}
    xr.delete_group(GroupName=grp)


def test_time_series_service_statistics(client):
    xr = client("xray", region_name="eu-central-2")
    make_trace(xr, "ts-api", fault=True)
    make_trace(xr, "ts-api")
    start, end = window()
    out = xr.get_time_series_service_statistics(StartTime=start, EndTime=end, Period=60,
                                                EntitySelectorExpression='service("ts-api")')
    pts = out["TimeSeriesServiceStatistics"]
    total = sum(p["ServiceSummaryStatistics"]["TotalCount"] for p in pts)
    faults = sum(p["ServiceSummaryStatistics"]["FaultStatistics"]["TotalCount"] for p in pts)
    assert (total, faults) == (2, 1)
    edges = xr.get_time_series_service_statistics(StartTime=start, EndTime=end)["TimeSeriesServiceStatistics"]
    assert sum(p["EdgeSummaryStatistics"]["TotalCount"] for p in edges) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.get_time_series_service_statistics(StartTime=start, EndTime=end, Period=90)
    assert code(e) == "InvalidRequestException"


def test_groups(xr):
    name = f"grp-{uuid.uuid4().hex[:8]}"
    g = xr.create_group(GroupName=name, FilterExpression="fault", Tags=[{"Key": "team", "Value": "a"}])["Group"]
    assert g["GroupName"] == name and g["GroupARN"].startswith("arn:aws:xray:us-east-1:")
    assert g["FilterExpression"] == "fault"
    assert g["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.create_group(GroupName=name)
    assert code(e) == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.create_group(GroupName=name + "x", FilterExpression="nonsense = 1")
    assert code(e) == "InvalidRequestException"
    assert xr.get_group(GroupARN=g["GroupARN"])["Group"]["GroupName"] == name
    names = [x["GroupName"] for x in xr.get_groups()["Groups"]]
    assert "Default" in names and name in names
    u = xr.update_group(GroupName=name, FilterExpression="error",
                        InsightsConfiguration={"InsightsEnabled": True})["Group"]
    assert u["FilterExpression"] == "error" and u["InsightsConfiguration"]["InsightsEnabled"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.update_group(GroupName=name, FilterExpression="responsetime > \"x\"")
    assert code(e) == "InvalidRequestException"
    assert xr.list_tags_for_resource(ResourceARN=g["GroupARN"])["Tags"] == [{"Key": "team", "Value": "a"}]
    xr.delete_group(GroupName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.get_group(GroupName=name)
    assert code(e) == "InvalidRequestException"


def rule(name, **kw):
    r = {"RuleName": name, "ResourceARN": "*", "Priority": 100, "FixedRate": 0.1,
         "ReservoirSize": 10, "ServiceName": "api", "ServiceType": "*", "Host": "*",
         "HTTPMethod": "GET", "URLPath": "/items/*", "Version": 1}
    r.update(kw)
    return r


def test_sampling_rules_and_targets(client):
    xr = client("xray", region_name="eu-west-3")
    recs = xr.get_sampling_rules()["SamplingRuleRecords"]
    default = next(r["SamplingRule"] for r in recs if r["SamplingRule"]["RuleName"] == "Default")
    assert default["FixedRate"] == 0.05 and default["ReservoirSize"] == 1 and default["Priority"] == 10000
    name = f"r-{uuid.uuid4().hex[:8]}"
    rec = xr.create_sampling_rule(SamplingRule=rule(name), Tags=[{"Key": "k", "Value": "v"}])["SamplingRuleRecord"]
    arn = rec["SamplingRule"]["RuleARN"]
    assert arn.endswith(f":sampling-rule/{name}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.create_sampling_rule(SamplingRule=rule(name))
    assert code(e) == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.create_sampling_rule(SamplingRule=rule(name + "b", FixedRate=1.5))
    assert code(e) == "ValidationException"  # the model's range constraint
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.create_sampling_rule(SamplingRule=rule(name + "c", Version=2))
    assert code(e) == "InvalidRequestException"
    names = [r["SamplingRule"]["RuleName"] for r in xr.get_sampling_rules()["SamplingRuleRecords"]]
    assert names[-1] == "Default" and name in names

    upd = xr.update_sampling_rule(SamplingRuleUpdate={"RuleName": name, "FixedRate": 0.2})["SamplingRuleRecord"]
    assert upd["SamplingRule"]["FixedRate"] == 0.2 and upd["SamplingRule"]["URLPath"] == "/items/*"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "ServiceName": "x"})
    assert code(e) == "InvalidRequestException"
    xr.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "ReservoirSize": 2})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.delete_sampling_rule(RuleName="Default")
    assert code(e) == "InvalidRequestException"

    # Two clients share the 10/s reservoir in proportion to their request counts.
    now = time.time()
    c1, c2 = os.urandom(12).hex(), os.urandom(12).hex()
    t1 = xr.get_sampling_targets(SamplingStatisticsDocuments=[
        {"RuleName": name, "ClientID": c1, "Timestamp": now, "RequestCount": 40, "SampledCount": 5, "BorrowCount": 1},
    ])
    (d1,) = t1["SamplingTargetDocuments"]
    assert d1["RuleName"] == name and d1["FixedRate"] == 0.2 and d1["ReservoirQuota"] == 10
    assert d1["Interval"] == 10
    assert d1["ReservoirQuotaTTL"].timestamp() > now
    t2 = xr.get_sampling_targets(SamplingStatisticsDocuments=[
        {"RuleName": name, "ClientID": c2, "Timestamp": now, "RequestCount": 10, "SampledCount": 2, "BorrowCount": 0},
        {"RuleName": "nope", "ClientID": c2, "Timestamp": now, "RequestCount": 1, "SampledCount": 0},
    ])
    assert t2["SamplingTargetDocuments"][0]["ReservoirQuota"] == 2  # 10 * 10/50
    assert t2["UnprocessedStatistics"][0]["RuleName"] == "nope"
    sums = {s["RuleName"]: s for s in xr.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]}
    assert sums[name]["RequestCount"] == 50 and sums[name]["SampledCount"] == 7 and sums[name]["BorrowCount"] == 1

    assert xr.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    xr.delete_sampling_rule(RuleARN=arn)
    assert name not in [r["SamplingRule"]["RuleName"] for r in xr.get_sampling_rules()["SamplingRuleRecords"]]


def test_encryption_policies_tags_telemetry(client):
    xr = client("xray", region_name="ap-south-1")
    assert xr.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.put_encryption_config(Type="NONE", KeyId="alias/x")
    assert code(e) == "InvalidRequestException"
    key = client("kms", region_name="ap-south-1").create_key()["KeyMetadata"]
    out = xr.put_encryption_config(Type="KMS", KeyId=key["KeyId"])["EncryptionConfig"]
    assert out["Type"] == "KMS" and out["Status"] == "UPDATING" and out["KeyId"] == key["Arn"]
    assert xr.get_encryption_config()["EncryptionConfig"]["Status"] == "ACTIVE"
    xr.put_encryption_config(Type="NONE")

    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "xray:PutTraceSegments", "Resource": "*"}]})
    p = xr.put_resource_policy(PolicyName="sns", PolicyDocument=doc)["ResourcePolicy"]
    assert p["PolicyRevisionId"] == "1"
    p2 = xr.put_resource_policy(PolicyName="sns", PolicyDocument=doc, PolicyRevisionId="1")["ResourcePolicy"]
    assert p2["PolicyRevisionId"] == "2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.put_resource_policy(PolicyName="sns", PolicyDocument=doc, PolicyRevisionId="1")
    assert code(e) == "InvalidPolicyRevisionIdException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.put_resource_policy(PolicyName="bad", PolicyDocument="{nope")
    assert code(e) == "MalformedPolicyDocumentException"
    assert [x["PolicyName"] for x in xr.list_resource_policies()["ResourcePolicies"]] == ["sns"]
    xr.delete_resource_policy(PolicyName="sns")
    assert xr.list_resource_policies()["ResourcePolicies"] == []

    g = xr.create_group(GroupName="tagged")["Group"]
    xr.tag_resource(ResourceARN=g["GroupARN"], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    xr.untag_resource(ResourceARN=g["GroupARN"], TagKeys=["a"])
    assert xr.list_tags_for_resource(ResourceARN=g["GroupARN"])["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.tag_resource(ResourceARN=g["GroupARN"], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert code(e) == "TooManyTagsException"
    missing = g["GroupARN"].replace("tagged", "ghost")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.list_tags_for_resource(ResourceARN=missing)
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    xr.put_telemetry_records(TelemetryRecords=[{"Timestamp": time.time(), "SegmentsReceivedCount": 3}],
                             Hostname="h")
    assert xr.get_trace_segment_destination()["Destination"] == "XRay"
    assert xr.update_trace_segment_destination(Destination="CloudWatchLogs")["Destination"] == "CloudWatchLogs"
    assert xr.get_trace_segment_destination()["Destination"] == "CloudWatchLogs"
    r = xr.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 5.0}})
    assert r["IndexingRule"]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 5.0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.update_indexing_rule(Name="Other", Rule={"Probabilistic": {"DesiredSamplingPercentage": 5.0}})
    assert code(e) == "ResourceNotFoundException"


def test_trace_retrieval(xr):
    tid = make_trace(xr, f"ret-{uuid.uuid4().hex[:6]}")
    start, end = window()
    tok = xr.start_trace_retrieval(TraceIds=[tid], StartTime=start, EndTime=end)["RetrievalToken"]
    out = xr.list_retrieved_traces(RetrievalToken=tok)
    assert out["RetrievalStatus"] == "COMPLETE" and out["Traces"][0]["Id"] == tid
    assert len(out["Traces"][0]["Spans"]) == 2
    g = xr.get_retrieved_traces_graph(RetrievalToken=tok)
    assert len(g["Services"]) == 3
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.list_retrieved_traces(RetrievalToken="nope")
    assert code(e) == "ResourceNotFoundException"


def test_insights_not_implemented(xr):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        xr.get_insight(InsightId="x")
    assert code(e) == "NotImplemented"


def test_durability(overcast, client):
    xr = client("xray", region_name="sa-east-1")
    tid = make_trace(xr, "durable")
    xr.create_group(GroupName="durable", FilterExpression='service("durable")')
    xr.create_sampling_rule(SamplingRule=rule("durable"))
    overcast.restart()
    xr = client("xray", region_name="sa-east-1")
    assert xr.batch_get_traces(TraceIds=[tid])["Traces"][0]["Id"] == tid
    assert xr.get_group(GroupName="durable")["Group"]["FilterExpression"] == 'service("durable")'
    xr.put_resource_policy(PolicyName="p", PolicyDocument='{"Statement": []}')
    overcast.kill9()
    xr = client("xray", region_name="sa-east-1")
    assert "durable" in [r["SamplingRule"]["RuleName"] for r in xr.get_sampling_rules()["SamplingRuleRecords"]]
    assert [p["PolicyName"] for p in xr.list_resource_policies()["ResourcePolicies"]] == ["p"]
    start, end = window()
    out = xr.get_trace_summaries(StartTime=start, EndTime=end, FilterExpression='service("durable")')
    assert [s["Id"] for s in out["TraceSummaries"]] == [tid]


def udp_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daemon_server(tmp_path, monkeypatch):
    """An Overcast of its own whose X-Ray daemon endpoint listens on a free UDP port."""
    from conftest import Overcast
    port = udp_port()
    monkeypatch.setenv("OVERCAST_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    server = Overcast(str(tmp_path / "data"))
    server.start()
    try:
        yield server, port
    finally:
        server.stop()


def test_daemon_udp_endpoint(daemon_server):
    import socket
    import boto3
    server, port = daemon_server
    tid = trace_id()
    now = time.time()
    seg = {"trace_id": tid, "id": seg_id(), "name": "udp-svc", "start_time": now, "end_time": now + 0.2}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b'{"format": "json", "version": 1}\n' + json.dumps(seg).encode(), ("127.0.0.1", port))
        s.sendto(b'{"format": "json", "version": 1}\n{"broken', ("127.0.0.1", port))
    xr = boto3.client("xray", endpoint_url=server.url, region_name="us-west-2",
                      aws_access_key_id="test", aws_secret_access_key="test")
    deadline = time.time() + 5
    traces = []
    while time.time() < deadline and not traces:
        traces = xr.batch_get_traces(TraceIds=[tid])["Traces"]
        time.sleep(0.05)
    assert traces and json.loads(traces[0]["Segments"][0]["Document"])["name"] == "udp-svc"


def test_xray_sdk_reaches_the_daemon_endpoint(daemon_server, monkeypatch):
    """The seed's aws_xray_sdk snippet, when the SDK is installed (pip install aws-xray-sdk)."""
    sdk = pytest.importorskip("aws_xray_sdk.core")
    import boto3
    server, port = daemon_server
    recorder = sdk.AWSXRayRecorder()
    recorder.configure(daemon_address=f"127.0.0.1:{port}", sampling=False, context_missing="LOG_ERROR",
                       service="orders")

    @recorder.capture("process_order")
    def process_order(order_id):
        sub = recorder.begin_subsegment("validate")
        try:
            pass
        finally:
            recorder.end_subsegment()
        with recorder.capture("charge_payment"):
            pass

    seg = recorder.begin_segment("orders")
    process_order("o-1")
    recorder.end_segment()
    xr = boto3.client("xray", endpoint_url=server.url, region_name="us-west-2",
                      aws_access_key_id="test", aws_secret_access_key="test")
    deadline = time.time() + 5
    traces = []
    while time.time() < deadline and not traces:
        traces = xr.batch_get_traces(TraceIds=[seg.trace_id])["Traces"]
        time.sleep(0.05)
    assert traces, "the SDK's segment did not arrive"
    doc = json.loads(traces[0]["Segments"][0]["Document"])
    names = [s["name"] for s in doc["subsegments"]]
    assert names == ["process_order"]
    assert [s["name"] for s in doc["subsegments"][0]["subsegments"]] == ["validate", "charge_payment"]


def test_daemon_proxies_the_sampling_api(daemon_server):
    """SDKs with centralized sampling call the daemon's address over TCP, unsigned."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    server, port = daemon_server
    proxy = boto3.client("xray", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-west-2",
                         config=Config(signature_version=UNSIGNED))
    direct = boto3.client("xray", endpoint_url=server.url, region_name="us-west-2",
                          aws_access_key_id="test", aws_secret_access_key="test")
    direct.create_sampling_rule(SamplingRule=rule("proxied", ReservoirSize=4))
    names = [r["SamplingRule"]["RuleName"] for r in proxy.get_sampling_rules()["SamplingRuleRecords"]]
    assert names == ["proxied", "Default"]
    out = proxy.get_sampling_targets(SamplingStatisticsDocuments=[
        {"RuleName": "proxied", "ClientID": os.urandom(12).hex(), "Timestamp": time.time(),
         "RequestCount": 3, "SampledCount": 1, "BorrowCount": 0}])
    assert out["SamplingTargetDocuments"][0]["ReservoirQuota"] == 4
    summaries = direct.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]
    assert summaries[0]["RuleName"] == "proxied" and summaries[0]["RequestCount"] == 3


def test_aws_cli(aws):
    from conftest import AwsCliError
    tid = trace_id()
    now = time.time()
    doc = json.dumps({"trace_id": tid, "id": seg_id(), "name": "cli-svc", "start_time": now, "end_time": now + 1})
    out = aws("xray", "put-trace-segments", "--trace-segment-documents", doc)
    assert out["UnprocessedTraceSegments"] == []
    got = aws("xray", "batch-get-traces", "--trace-ids", tid)
    assert got["Traces"][0]["Id"] == tid
    summ = aws("xray", "get-trace-summaries", "--start-time", str(int(now - 60)), "--end-time", str(int(now + 60)),
               "--filter-expression", 'service("cli-svc")')
    assert [s["Id"] for s in summ["TraceSummaries"]] == [tid]
    name = f"cli-{uuid.uuid4().hex[:6]}"
    aws("xray", "create-group", "--group-name", name, "--filter-expression", "fault")
    assert aws("xray", "get-group", "--group-name", name)["Group"]["FilterExpression"] == "fault"
    aws("xray", "delete-group", "--group-name", name)
    with pytest.raises(AwsCliError) as e:
        aws("xray", "get-group", "--group-name", name)
    assert e.value.code == "InvalidRequestException"
