"""CloudWatch Logs end to end, this round: transformers, destinations (cross-account),
deliveries, anomaly detectors, account/index policies, live tail and SQL/PPL Insights."""
import json
import time
import uuid

import pytest


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def logs(client):
    return client("logs")


def group_with_stream(logs, stream="s1", **kw):
    name = f"/app/g-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name, **kw)
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    return name


TRANSFORMER = [
    {"parseJSON": {}},
    {"addKeys": {"entries": [{"key": "env", "value": "prod"}]}},
    {"renameKeys": {"entries": [{"key": "lvl", "renameTo": "level"}]}},
    {"upperCaseString": {"withKeys": ["level"]}},
    {"typeConverter": {"entries": [{"key": "ms", "type": "integer"}]}},
    {"deleteKeys": {"withKeys": ["secret"]}},
]


def test_transformer_round_trip_and_ingestion(logs, overcast, client):
    name = group_with_stream(logs)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_transformer(logGroupIdentifier=name)
    logs.put_transformer(logGroupIdentifier=name, transformerConfig=TRANSFORMER)
    got = logs.get_transformer(logGroupIdentifier=name)
    assert got["transformerConfig"] == TRANSFORMER
    assert got["logGroupIdentifier"] == name and got["creationTime"] > 0
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": t, "message": json.dumps({"lvl": "warn", "ms": "42", "secret": "x"})},
        {"timestamp": t + 1, "message": "not json"},
    ])
    ev = logs.get_log_events(logGroupName=name, logStreamName="s1", startFromHead=True)["events"]
    assert json.loads(ev[0]["message"]) == {"level": "WARN", "ms": 42, "env": "prod"}
    assert ev[1]["message"] == "not json"
    # Filter patterns see the transformed event.
    f = logs.filter_log_events(logGroupName=name, filterPattern='{ $.level = "WARN" && $.ms > 40 }')
    assert len(f["events"]) == 1
    # Survives a restart.
    overcast.restart()
    logs = client("logs")
    assert logs.get_transformer(logGroupIdentifier=name)["transformerConfig"] == TRANSFORMER
    logs.delete_transformer(logGroupIdentifier=name)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_transformer(logGroupIdentifier=name)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_transformer(logGroupIdentifier="/nope/" + uuid.uuid4().hex, transformerConfig=TRANSFORMER)


def test_test_transformer_processors_and_validation(logs):
    out = logs.test_transformer(
        transformerConfig=[
            {"grok": {"match": "%{IP:client} %{WORD:method} %{URIPATHPARAM:path} %{NUMBER:ms:int}"}},
            {"substituteString": {"entries": [{"source": "path", "from": "\\?.*", "to": "?"}]}},
            {"dateTimeConverter": {"source": "@message", "target": "t", "matchPatterns": ["yyyy"]}},
        ],
        logEventMessages=["10.0.0.1 GET /a?b=1 35", "garbage"],
    )["transformedLogs"]
    assert out[0]["eventNumber"] == 1
    assert json.loads(out[0]["transformedEventMessage"]) == {"client": "10.0.0.1", "method": "GET", "path": "/a?", "ms": 35}
    assert out[1]["transformedEventMessage"] == "garbage"
    kv = logs.test_transformer(
        transformerConfig=[{"parseKeyValue": {"fieldDelimiter": " ", "keyValueDelimiter": ":"}},
                           {"lowerCaseString": {"withKeys": ["user"]}}],
        logEventMessages=["user:ALICE action:login"])["transformedLogs"][0]
    assert json.loads(kv["transformedEventMessage"]) == {"user": "alice", "action": "login"}
    vpc = logs.test_transformer(transformerConfig=[{"parseVPC": {}}], logEventMessages=[
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5000 6 10 840 1600000000 1600000060 REJECT OK"])
    v = json.loads(vpc["transformedLogs"][0]["transformedEventMessage"])
    assert v["action"] == "REJECT" and v["dstPort"] == 5000
    for bad in (
        [{"addKeys": {"entries": [{"key": "a", "value": "b"}]}}],  # first must be a parser
        [{"parseJSON": {}}, {"parseVPC": {}}],  # vended parser not first
        [{"grok": {"match": "%{NOPE:x}"}}],
        [{"parseJSON": {}}, {"typeConverter": {"entries": [{"key": "a", "type": "float"}]}}],
    ):
        with pytest.raises(logs.exceptions.InvalidParameterException):
            logs.test_transformer(transformerConfig=bad, logEventMessages=["{}"])
    ia = f"/ia/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=ia, logGroupClass="INFREQUENT_ACCESS")
    with pytest.raises(logs.exceptions.InvalidOperationException):
        logs.put_transformer(logGroupIdentifier=ia, transformerConfig=TRANSFORMER)


def test_destinations_and_cross_account_subscriptions(logs, client, overcast):
    owner = client("logs", aws_access_key_id="111111111111", aws_secret_access_key="test")
    other = client("logs", aws_access_key_id="222222222222", aws_secret_access_key="test")
    dname = f"dest-{uuid.uuid4().hex[:6]}"
    d = owner.put_destination(destinationName=dname,
                              targetArn="arn:aws:kinesis:us-east-1:111111111111:stream/central",
                              roleArn="arn:aws:iam::111111111111:role/CWLtoKinesis")["destination"]
    assert d["arn"] == f"arn:aws:logs:us-east-1:111111111111:destination:{dname}"
    with pytest.raises(owner.exceptions.InvalidParameterException):
        owner.put_destination(destinationName="bad", targetArn="arn:aws:sqs:us-east-1:1:q",
                              roleArn="arn:aws:iam::111111111111:role/r")
    name = group_with_stream(other)
    with pytest.raises(other.exceptions.AccessDeniedException):
        other.put_subscription_filter(logGroupName=name, filterName="f", filterPattern="",
                                      destinationArn=d["arn"])
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "222222222222"},
              "Action": "logs:PutSubscriptionFilter", "Resource": d["arn"]}]}
    owner.put_destination_policy(destinationName=dname, accessPolicy=json.dumps(policy))
    other.put_subscription_filter(logGroupName=name, filterName="f", filterPattern="ERROR",
                                  destinationArn=d["arn"])
    other.put_log_events(logGroupName=name, logStreamName="s1",
                         logEvents=[{"timestamp": now_ms(), "message": "ERROR boom"}])
    listed = owner.describe_destinations(DestinationNamePrefix=dname)["destinations"]
    assert len(listed) == 1 and json.loads(listed[0]["accessPolicy"]) == policy
    overcast.restart()
    owner = client("logs", aws_access_key_id="111111111111", aws_secret_access_key="test")
    assert owner.describe_destinations(DestinationNamePrefix=dname)["destinations"][0]["targetArn"].endswith("central")
    owner.delete_destination(destinationName=dname)
    with pytest.raises(owner.exceptions.ResourceNotFoundException):
        owner.delete_destination(destinationName=dname)
    with pytest.raises(owner.exceptions.ResourceNotFoundException):
        owner.put_destination_policy(destinationName=dname, accessPolicy=json.dumps(policy))


def test_deliveries(logs, client, overcast):
    suffix = uuid.uuid4().hex[:6]
    src = logs.put_delivery_source(name=f"src-{suffix}", logType="APPLICATION_LOGS",
                                   resourceArn="arn:aws:bedrock:us-east-1:000000000000:agent/abc")["deliverySource"]
    assert src["service"] == "bedrock" and src["resourceArns"] == ["arn:aws:bedrock:us-east-1:000000000000:agent/abc"]
    with pytest.raises(logs.exceptions.ConflictException):
        logs.put_delivery_source(name=f"src-{suffix}", logType="OTHER_LOGS",
                                 resourceArn="arn:aws:bedrock:us-east-1:000000000000:agent/abc")
    with pytest.raises(logs.exceptions.ValidationException):
        logs.put_delivery_source(name="bad name!", logType="X", resourceArn="arn:aws:bedrock:us-east-1:0:a/b")
    dd = logs.put_delivery_destination(
        name=f"dst-{suffix}", outputFormat="json",
        deliveryDestinationConfiguration={"destinationResourceArn": "arn:aws:s3:::my-bucket"})["deliveryDestination"]
    assert dd["deliveryDestinationType"] == "S3"
    with pytest.raises(logs.exceptions.ValidationException):
        logs.put_delivery_destination(name=f"x-{suffix}", outputFormat="yaml",
                                      deliveryDestinationConfiguration={"destinationResourceArn": "arn:aws:s3:::b"})
    pol = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "333333333333"},
                      "Action": "logs:CreateDelivery", "Resource": dd["arn"]}]})
    logs.put_delivery_destination_policy(deliveryDestinationName=f"dst-{suffix}", deliveryDestinationPolicy=pol)
    assert logs.get_delivery_destination_policy(
        deliveryDestinationName=f"dst-{suffix}")["policy"]["deliveryDestinationPolicy"] == pol
    delivery = logs.create_delivery(deliverySourceName=f"src-{suffix}", deliveryDestinationArn=dd["arn"],
                                    recordFields=["timestamp", "message"])["delivery"]
    assert delivery["deliveryDestinationType"] == "S3"
    with pytest.raises(logs.exceptions.ConflictException):
        logs.create_delivery(deliverySourceName=f"src-{suffix}", deliveryDestinationArn=dd["arn"])
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_delivery(deliverySourceName="nope", deliveryDestinationArn=dd["arn"])
    # Cross account: allowed by the policy for 333..., denied for 444....
    for acct, ok in (("333333333333", True), ("444444444444", False)):
        c = client("logs", aws_access_key_id=acct, aws_secret_access_key="test")
        c.put_delivery_source(name="s", logType="APPLICATION_LOGS",
                              resourceArn=f"arn:aws:bedrock:us-east-1:{acct}:agent/x")
        if ok:
            c.create_delivery(deliverySourceName="s", deliveryDestinationArn=dd["arn"])
        else:
            with pytest.raises(c.exceptions.AccessDeniedException):
                c.create_delivery(deliverySourceName="s", deliveryDestinationArn=dd["arn"])
    logs.update_delivery_configuration(id=delivery["id"], fieldDelimiter=",")
    overcast.restart()
    logs = client("logs")
    got = logs.get_delivery(id=delivery["id"])["delivery"]
    assert got["fieldDelimiter"] == "," and got["recordFields"] == ["timestamp", "message"]
    assert [d["id"] for d in logs.describe_deliveries(deliverySourceNames=[f"src-{suffix}"])["deliveries"]] == [delivery["id"]]
    with pytest.raises(logs.exceptions.ConflictException):
        logs.delete_delivery_source(name=f"src-{suffix}")
    with pytest.raises(logs.exceptions.ConflictException):
        logs.delete_delivery_destination(name=f"dst-{suffix}")
    logs.delete_delivery(id=delivery["id"])
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_delivery(id=delivery["id"])
    logs.delete_delivery_source(name=f"src-{suffix}")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_delivery_source(name=f"src-{suffix}")
    assert [d["name"] for d in logs.describe_delivery_destinations(names=[f"dst-{suffix}"])["deliveryDestinations"]] == [f"dst-{suffix}"]


def test_anomaly_detector_finds_new_patterns(logs, overcast, client):
    name = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["arn"].removesuffix(":*")
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": t + i, "message": f"user {i} logged in"} for i in range(5)])
    time.sleep(0.01)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_anomaly_detector(logGroupArnList=[arn + "-missing"])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_anomaly_detector(logGroupArnList=[arn], evaluationFrequency="TWO_MIN")
    det = logs.create_log_anomaly_detector(logGroupArnList=[arn], detectorName="d",
                                           evaluationFrequency="ONE_MIN")["anomalyDetectorArn"]
    assert ":anomaly-detector:" in det
    got = logs.get_log_anomaly_detector(anomalyDetectorArn=det)
    assert got["detectorName"] == "d" and got["anomalyDetectorStatus"] == "ANALYZING"
    time.sleep(0.01)
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": now_ms(), "message": "user 9 logged in"},
        {"timestamp": now_ms() + 1, "message": "disk failure on vol-3"},
        {"timestamp": now_ms() + 2, "message": "disk failure on vol-4"},
    ])
    an = logs.list_anomalies(anomalyDetectorArn=det)["anomalies"]
    assert [a["patternString"] for a in an] == ["disk failure on <*>"]
    a = an[0]
    assert a["state"] == "Active" and a["active"] and len(a["logSamples"]) == 2
    assert sum(a["histogram"].values()) == 2
    logs.update_anomaly(anomalyDetectorArn=det, anomalyId=a["anomalyId"], suppressionType="INFINITE")
    assert logs.list_anomalies(anomalyDetectorArn=det, suppressionState="UNSUPPRESSED")["anomalies"] == []
    assert len(logs.list_anomalies(anomalyDetectorArn=det, suppressionState="SUPPRESSED")["anomalies"]) == 1
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.update_anomaly(anomalyDetectorArn=det, anomalyId="00000000-0000-0000-0000-000000000000", suppressionType="INFINITE")
    logs.update_log_anomaly_detector(anomalyDetectorArn=det, enabled=False, evaluationFrequency="ONE_HOUR")
    overcast.restart()
    logs = client("logs")
    got = logs.get_log_anomaly_detector(anomalyDetectorArn=det)
    assert got["anomalyDetectorStatus"] == "PAUSED" and got["evaluationFrequency"] == "ONE_HOUR"
    assert logs.list_anomalies(anomalyDetectorArn=det)["anomalies"][0]["suppressed"] is True
    assert [d["anomalyDetectorArn"] for d in logs.list_log_anomaly_detectors(filterLogGroupArn=arn)["anomalyDetectors"]] == [det]
    logs.delete_log_anomaly_detector(anomalyDetectorArn=det)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_anomaly_detector(anomalyDetectorArn=det)


def test_account_policies_have_effects(client, overcast):
    logs = client("logs", aws_access_key_id="555555555555", aws_secret_access_key="test")
    dp = {"Name": "acct", "Version": "2021-06-01", "Statement": [
        {"Sid": "a", "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
         "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"Sid": "d", "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
         "Operation": {"Deidentify": {"MaskConfig": {}}}}]}
    p = logs.put_account_policy(policyName="dp", policyType="DATA_PROTECTION_POLICY",
                                policyDocument=json.dumps(dp))["accountPolicy"]
    assert p["accountId"] == "555555555555" and p["scope"] == "ALL"
    with pytest.raises(logs.exceptions.LimitExceededException):
        logs.put_account_policy(policyName="dp2", policyType="DATA_PROTECTION_POLICY", policyDocument=json.dumps(dp))
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_account_policy(policyName="bad", policyType="TRANSFORMER_POLICY", policyDocument="{}")
    tp = {"transformerConfig": [{"parseKeyValue": {"fieldDelimiter": " "}}]}
    logs.put_account_policy(policyName="tp", policyType="TRANSFORMER_POLICY", policyDocument=json.dumps(tp),
                            selectionCriteria='LogGroupNamePrefix IN ["/kv"]')
    kv = f"/kv/{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=kv)
    logs.create_log_stream(logGroupName=kv, logStreamName="s")
    logs.put_log_events(logGroupName=kv, logStreamName="s", logEvents=[
        {"timestamp": now_ms(), "message": "user=bob mail=bob@example.com"}])
    ev = logs.get_log_events(logGroupName=kv, logStreamName="s")["events"][0]["message"]
    assert json.loads(ev) == {"user": "bob", "mail": "***************"}
    raw = logs.get_log_events(logGroupName=kv, logStreamName="s", unmask=True)["events"][0]["message"]
    assert json.loads(raw)["mail"] == "bob@example.com"
    other = group_with_stream(logs)  # not selected by the transformer policy
    logs.put_log_events(logGroupName=other, logStreamName="s1", logEvents=[{"timestamp": now_ms(), "message": "a=b"}])
    assert logs.get_log_events(logGroupName=other, logStreamName="s1")["events"][0]["message"] == "a=b"
    # Index policies and field indexes.
    logs.put_index_policy(logGroupIdentifier=kv, policyDocument=json.dumps({"Fields": ["user", "absent"]}))
    pol = logs.describe_index_policies(logGroupIdentifiers=[kv])["indexPolicies"]
    assert pol[0]["source"] == "LOG_GROUP"
    idx = {f["fieldIndexName"]: f for f in logs.describe_field_indexes(logGroupIdentifiers=[kv])["fieldIndexes"]}
    assert set(idx) == {"user", "absent"} and "firstEventTime" in idx["user"] and "firstEventTime" not in idx["absent"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_index_policy(logGroupIdentifier=kv, policyDocument=json.dumps({"Fields": []}))
    overcast.restart()
    logs = client("logs", aws_access_key_id="555555555555", aws_secret_access_key="test")
    types = [p["policyName"] for p in logs.describe_account_policies(policyType="TRANSFORMER_POLICY")["accountPolicies"]]
    assert types == ["tp"]
    logs.delete_index_policy(logGroupIdentifier=kv)
    assert logs.describe_index_policies(logGroupIdentifiers=[kv])["indexPolicies"] == []
    logs.delete_account_policy(policyName="dp", policyType="DATA_PROTECTION_POLICY")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_account_policy(policyName="dp", policyType="DATA_PROTECTION_POLICY")
    assert "bob@example.com" in logs.get_log_events(logGroupName=kv, logStreamName="s")["events"][0]["message"]


def test_start_live_tail_streams_matching_events(logs, client):
    import threading
    from botocore.config import Config
    # The operation's "stream-" host prefix cannot resolve against a local endpoint.
    tail = client("logs", config=Config(inject_host_prefix=False))
    name = group_with_stream(logs)
    logs.create_log_stream(logGroupName=name, logStreamName="other")
    arn = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["arn"].removesuffix(":*")
    with pytest.raises(tail.exceptions.ResourceNotFoundException):
        tail.start_live_tail(logGroupIdentifiers=[arn + "-nope"])
    with pytest.raises(tail.exceptions.InvalidParameterException):
        tail.start_live_tail(logGroupIdentifiers=[arn], logStreamNames=["s1"], logStreamNamePrefixes=["s"])
    resp = tail.start_live_tail(logGroupIdentifiers=[arn], logStreamNames=["s1"], logEventFilterPattern="ERROR")
    stream = resp["responseStream"]
    it = iter(stream)
    first = next(it)
    assert first["sessionStart"]["logGroupIdentifiers"] == [arn]
    assert first["sessionStart"]["logEventFilterPattern"] == "ERROR"

    def put():
        for n in range(3):
            time.sleep(0.3)
            logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
                {"timestamp": now_ms(), "message": f"ERROR boom {n}"},
                {"timestamp": now_ms() + 1, "message": f"INFO fine {n}"}])
            logs.put_log_events(logGroupName=name, logStreamName="other", logEvents=[
                {"timestamp": now_ms(), "message": f"ERROR elsewhere {n}"}])

    t = threading.Thread(target=put)
    t.start()
    got = []
    deadline = time.time() + 10
    for ev in it:
        if "sessionUpdate" in ev:
            for r in ev["sessionUpdate"]["sessionResults"]:
                assert r["logStreamName"] == "s1" and r["logGroupIdentifier"] == arn
                got.append(r["message"])
        if len(got) >= 3 or time.time() > deadline:
            break
    stream.close()
    t.join()
    assert got == ["ERROR boom 0", "ERROR boom 1", "ERROR boom 2"]


def run_query(logs, **kw):
    qid = logs.start_query(startTime=int(time.time()) - 600, endTime=int(time.time()) + 600, **kw)["queryId"]
    r = logs.get_query_results(queryId=qid)
    assert r["status"] == "Complete"
    return r, [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in r["results"]]


def test_sql_and_ppl_queries(logs):
    name = group_with_stream(logs)
    t = now_ms()
    rows = [("ERROR", 500, "/api/a", "u1"), ("ERROR", 503, "/api/b", "u2"), ("INFO", 200, "/api/a", "u1"),
            ("ERROR", 500, "/web", "u3"), ("WARN", 404, "/api/c", "u1")]
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": t + n, "message": json.dumps({"level": lv, "status": st, "path": p, "user": u})}
        for n, (lv, st, p, u) in enumerate(rows)])
    r, got = run_query(logs, queryLanguage="SQL", queryString=(
        f"SELECT status, count(*) AS n FROM `{name}` WHERE level = 'ERROR' AND path LIKE '/api/%' "
        "GROUP BY status ORDER BY status ASC"))
    assert r["queryLanguage"] == "SQL"
    assert got == [{"status": "500", "n": "1"}, {"status": "503", "n": "1"}]
    _, got = run_query(logs, queryLanguage="SQL", queryString=(
        f"SELECT path, status FROM `{name}` WHERE status >= 404 ORDER BY status DESC LIMIT 2"))
    assert got == [{"path": "/api/b", "status": "503"}, {"path": "/api/a", "status": "500"}]
    _, got = run_query(logs, queryLanguage="PPL", queryString=(
        f"source = `{name}` | where status >= 400 | stats count() as n, dc(user) as users by level | sort - n"))
    assert got == [{"level": "ERROR", "n": "3", "users": "3"}, {"level": "WARN", "n": "1", "users": "1"}]
    _, got = run_query(logs, queryLanguage="PPL", queryString=f"source={name} | top 1 user")
    assert got == [{"user": "u1", "count": "3"}]
    # The same question in CWLI gives the same answer.
    _, cwli = run_query(logs, logGroupName=name, queryString="filter status >= 400 | stats count(*) as n by level | sort n desc")
    assert [(x["level"], x["n"]) for x in cwli] == [("ERROR", "3"), ("WARN", "1")]
    assert any(q["queryLanguage"] == "PPL" for q in logs.describe_queries(logGroupName=name)["queries"])
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(queryLanguage="SQL", queryString=f"SELECT a FROM `{name}` GROUP BY a",
                         startTime=0, endTime=int(time.time()))
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(queryLanguage="PPL", queryString=f"source={name} | explode x",
                         startTime=0, endTime=int(time.time()))
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(queryLanguage="SQL", queryString="SELECT * FROM `/no/such/group`",
                         startTime=0, endTime=int(time.time()))


def test_kms_keys_integrations_and_query_groups(logs, overcast, client):
    name = group_with_stream(logs)
    key = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.associate_kms_key(logGroupName=name, kmsKeyId="not-an-arn")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.associate_kms_key(logGroupName=name + "-missing", kmsKeyId=key)
    logs.associate_kms_key(logGroupName=name, kmsKeyId=key)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["kmsKeyId"] == key
    iname = f"os-{uuid.uuid4().hex[:6]}"
    cfg = {"openSearchResourceConfig": {"dataSourceRoleArn": "arn:aws:iam::000000000000:role/os",
                                        "dashboardViewerPrincipals": ["arn:aws:iam::000000000000:role/viewer"],
                                        "retentionDays": 7}}
    for n in logs.list_integrations()["integrationSummaries"]:
        logs.delete_integration(integrationName=n["integrationName"])
    out = logs.put_integration(integrationName=iname, resourceConfig=cfg, integrationType="OPENSEARCH")
    assert out["integrationStatus"] == "ACTIVE"
    with pytest.raises(logs.exceptions.ValidationException):
        logs.put_integration(integrationName=iname, resourceConfig=cfg, integrationType="OPENSEARCH")
    overcast.restart()
    logs = client("logs")
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["kmsKeyId"] == key
    got = logs.get_integration(integrationName=iname)
    assert got["integrationType"] == "OPENSEARCH"
    assert got["integrationDetails"]["openSearchIntegrationDetails"]["dataSource"]["status"]["status"] == "ACTIVE"
    assert [s["integrationName"] for s in logs.list_integrations(integrationNamePrefix="os-")["integrationSummaries"]] == [iname]
    logs.delete_integration(integrationName=iname)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_integration(integrationName=iname)
    logs.disassociate_kms_key(logGroupName=name)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    other = group_with_stream(logs)
    qid = logs.start_query(logGroupNames=[name, other], startTime=0, endTime=int(time.time()),
                           queryString="fields @message")["queryId"]
    arns = logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"]
    assert sorted(arns) == sorted(f"arn:aws:logs:us-east-1:000000000000:log-group:{g}" for g in (name, other))
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_log_groups_for_query(queryId="nope")


def test_lookup_tables_from_csv_and_query_results(logs, overcast, client):
    tname = f"users_{uuid.uuid4().hex[:6]}"
    with pytest.raises(logs.exceptions.ValidationException):
        logs.create_lookup_table(lookupTableName=tname, tableBody="id,name\n1")
    with pytest.raises(logs.exceptions.ValidationException):
        logs.create_lookup_table(lookupTableName="bad-name", tableBody="id\n1")
    arn = logs.create_lookup_table(lookupTableName=tname, description="users",
                                   tableBody='id,name\n1,"Smith, Ann"\n2,Bob\n')["lookupTableArn"]
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_lookup_table(lookupTableName=tname, tableBody="id\n1")
    d = logs.describe_lookup_tables(lookupTableNamePrefix=tname)["lookupTables"]
    assert d[0]["tableFields"] == ["id", "name"] and d[0]["recordsCount"] == 2 and d[0]["description"] == "users"
    # Replace the content with an Insights query's results.
    name = group_with_stream(logs)
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": now_ms() + n, "message": json.dumps({"user": u})} for n, u in enumerate(["a", "b", "a"])])
    qid = logs.start_query(logGroupName=name, startTime=0, endTime=int(time.time()) + 60,
                           queryString="stats count(*) as n by user | sort user asc")["queryId"]
    logs.update_lookup_table(lookupTableArn=arn, queryId=qid)
    overcast.restart()
    logs = client("logs")
    got = logs.get_lookup_table(lookupTableArn=arn)
    assert got["tableBody"] == "user,n\na,2\nb,1"
    assert got["sizeBytes"] == len(got["tableBody"])
    logs.delete_lookup_table(lookupTableArn=arn)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_lookup_table(lookupTableArn=arn)


def test_scheduled_queries_run_on_the_virtual_clock(logs, client, overcast):
    s3 = client("s3")
    bucket = f"sq-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    name = group_with_stream(logs)
    logs.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
        {"timestamp": now_ms() + n, "message": f"ERROR {n}"} for n in range(3)])
    sq = f"sq_{uuid.uuid4().hex[:6]}"
    role = "arn:aws:iam::000000000000:role/sq"
    kw = dict(queryLanguage="CWLI", queryString="filter @message like /ERROR/ | stats count(*) as n",
              logGroupIdentifiers=[name], scheduleExpression="rate(5 minutes)", startTimeOffset=3600,
              executionRoleArn=role,
              destinationConfiguration={"s3Configuration": {"destinationIdentifier": f"s3://{bucket}/out", "roleArn": role},
                                        "lookupTableConfiguration": {"tableName": sq, "roleArn": role}})
    with pytest.raises(logs.exceptions.ValidationException):
        logs.create_scheduled_query(name=sq, **{**kw, "scheduleExpression": "every 5 minutes"})
    arn = logs.create_scheduled_query(name=sq, **kw)["scheduledQueryArn"]
    with pytest.raises(logs.exceptions.ConflictException):
        logs.create_scheduled_query(name=sq, **kw)
    assert logs.get_scheduled_query(identifier=arn)["state"] == "ENABLED"
    try:
        overcast.clock(advance=301)
        hist = []
        deadline = time.time() + 5
        while time.time() < deadline and not hist:
            hist = logs.get_scheduled_query_history(identifier=sq, startTime=0, endTime=now_ms() + 10**9)["triggerHistory"]
            time.sleep(0.05)
        assert len(hist) == 1 and hist[0]["executionStatus"] == "Complete"
        rows = logs.get_query_results(queryId=hist[0]["queryId"])["results"]
        assert [{f["field"]: f["value"] for f in r} for r in rows] == [{"n": "3"}]
        assert {d["destinationType"] for d in hist[0]["destinations"]} == {"S3", "LOOKUP_TABLE"}
        table = logs.describe_lookup_tables(lookupTableNamePrefix=sq)["lookupTables"][0]
        assert table["tableFields"] == ["n"] and table["recordsCount"] == 1
        key = f"out/{sq}/{hist[0]['queryId']}.json"
        deadline = time.time() + 5
        body = None
        while time.time() < deadline and body is None:
            try:
                body = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                time.sleep(0.05)
        assert body == [{"n": "3"}]
        got = logs.get_scheduled_query(identifier=sq)
        assert got["lastExecutionStatus"] == "Complete" and got["lastTriggeredTime"] == hist[0]["triggeredTimestamp"]
        # An update re-arms the schedule once: the old job neither runs nor re-arms.
        logs.update_scheduled_query(identifier=sq, **{**kw, "description": "v2"})

        def history():
            return logs.get_scheduled_query_history(identifier=sq, startTime=0, endTime=now_ms() + 10**9)["triggerHistory"]
        overcast.clock(advance=301)
        deadline = time.time() + 5
        while time.time() < deadline and len(history()) < 2:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(history()) == 2
        logs.update_scheduled_query(identifier=sq, **{**kw, "state": "DISABLED"})
        overcast.clock(advance=301)
        time.sleep(0.3)
        assert len(history()) == 2
    finally:
        overcast.clock(set=time.time())
    overcast.restart()
    logs = client("logs")
    assert logs.get_scheduled_query(identifier=sq)["state"] == "DISABLED"
    assert [q["name"] for q in logs.list_scheduled_queries(state="DISABLED")["scheduledQueries"]] == [sq]
    logs.delete_scheduled_query(identifier=sq)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_scheduled_query(identifier=sq)


def test_storage_tier_and_bearer_tokens(client, overcast):
    logs = client("logs", aws_access_key_id="666666666666", aws_secret_access_key="test")
    assert logs.get_storage_tier_policy()["storageTier"] == "STANDARD"
    out = logs.put_storage_tier_policy(storageTier="INTELLIGENT_TIERING")
    assert out["storageTier"] == "INTELLIGENT_TIERING" and out["lastUpdatedTime"] > 0
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_storage_tier_policy(storageTier="GLACIER")
    name = group_with_stream(logs)
    logs.put_bearer_token_authentication(logGroupIdentifier=name, bearerTokenAuthenticationEnabled=True)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_bearer_token_authentication(logGroupIdentifier=name + "-x", bearerTokenAuthenticationEnabled=True)
    overcast.kill9()
    logs = client("logs", aws_access_key_id="666666666666", aws_secret_access_key="test")
    assert logs.get_storage_tier_policy()["storageTier"] == "INTELLIGENT_TIERING"
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["bearerTokenAuthenticationEnabled"] is True
    logs.put_bearer_token_authentication(logGroupIdentifier=name, bearerTokenAuthenticationEnabled=False)
    assert "bearerTokenAuthenticationEnabled" not in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
