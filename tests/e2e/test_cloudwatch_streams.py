"""CloudWatch metric streams and Contributor Insights rules end to end (boto3, cbor by default):
validation errors, state transitions, tags, reports computed from log events, durability."""
import json
import time
import uuid

import botocore.exceptions
import pytest


@pytest.fixture
def cw(client):
    return client("cloudwatch")


def code(e):
    return e.value.response["Error"]["Code"]


FIREHOSE = "arn:aws:firehose:us-east-1:000000000000:deliverystream/metrics"
ROLE = "arn:aws:iam::000000000000:role/streams"


def test_metric_streams(cw):
    name = f"s-{uuid.uuid4().hex[:8]}"
    arn = cw.put_metric_stream(
        Name=name, FirehoseArn=FIREHOSE, RoleArn=ROLE, OutputFormat="json",
        IncludeFilters=[{"Namespace": "AWS/Lambda", "MetricNames": ["Invocations"]}],
        StatisticsConfigurations=[{"IncludeMetrics": [{"Namespace": "AWS/Lambda", "MetricName": "Duration"}],
                                   "AdditionalStatistics": ["p99", "TM(10%:90%)"]}],
        Tags=[{"Key": "team", "Value": "obs"}],
    )["Arn"]
    assert arn == f"arn:aws:cloudwatch:us-east-1:000000000000:metric-stream/{name}"
    got = cw.get_metric_stream(Name=name)
    assert got["State"] == "running" and got["OutputFormat"] == "json"
    assert got["IncludeFilters"] == [{"Namespace": "AWS/Lambda", "MetricNames": ["Invocations"]}]
    assert got["StatisticsConfigurations"][0]["AdditionalStatistics"] == ["p99", "TM(10%:90%)"]
    created = got["CreationDate"]

    cw.stop_metric_streams(Names=[name])
    assert cw.get_metric_stream(Name=name)["State"] == "stopped"
    entries = {e["Name"]: e for e in cw.list_metric_streams()["Entries"]}
    assert entries[name]["State"] == "stopped" and entries[name]["FirehoseArn"] == FIREHOSE
    cw.start_metric_streams(Names=[name])
    assert cw.get_metric_stream(Name=name)["State"] == "running"

    # Put again updates in place and keeps the creation date.
    cw.put_metric_stream(Name=name, FirehoseArn=FIREHOSE, RoleArn=ROLE, OutputFormat="opentelemetry1.0")
    again = cw.get_metric_stream(Name=name)
    assert again["OutputFormat"] == "opentelemetry1.0" and again["CreationDate"] == created
    assert "IncludeFilters" not in again

    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "obs"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    for kwargs, want in [
        (dict(FirehoseArn="arn:aws:sqs:us-east-1:000000000000:q"), "InvalidParameterValue"),
        (dict(RoleArn="nope"), "InvalidParameterValue"),
        (dict(IncludeFilters=[{"Namespace": "A"}], ExcludeFilters=[{"Namespace": "B"}]), "InvalidParameterCombination"),
        (dict(StatisticsConfigurations=[{"IncludeMetrics": [{"Namespace": "A", "MetricName": "m"}],
                                         "AdditionalStatistics": ["median"]}]), "InvalidParameterValue"),
    ]:
        args = dict(Name=name + "x", FirehoseArn=FIREHOSE, RoleArn=ROLE, OutputFormat="json")
        args.update(kwargs)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.put_metric_stream(**args)
        assert code(e) == want, kwargs

    cw.delete_metric_stream(Name=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_stream(Name=name)
    assert code(e) == "ResourceNotFoundException"
    cw.delete_metric_stream(Name=name)  # idempotent, like CloudWatch


def rule_def(group, **kw):
    r = {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": [group],
        "LogFormat": "JSON",
        "Contribution": {"Keys": ["$.ip"], "Filters": [{"Match": "$.status", "GreaterThan": 499}]},
        "AggregateOn": "Count",
    }
    r.update(kw)
    return json.dumps(r)


def test_insight_rules_and_report(cw, client):
    logs = client("logs")
    group = f"/test/ci/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    start = ((now // 1000 - 900) // 300 * 300 + 1) * 1000  # one 5-minute bucket holds them all
    events = [
        ("1.1.1.1", 500, 120), ("1.1.1.1", 503, 30), ("2.2.2.2", 500, 5),
        ("3.3.3.3", 200, 999), ("1.1.1.1", 502, 50),
    ]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": start + 1000 * i, "message": json.dumps({"ip": ip, "status": st, "bytes": b})}
        for i, (ip, st, b) in enumerate(events)
    ])

    name = f"errors-{uuid.uuid4().hex[:6]}"
    cw.put_insight_rule(RuleName=name, RuleDefinition=rule_def(group), Tags=[{"Key": "k", "Value": "v"}])
    rules = {r["Name"]: r for r in cw.describe_insight_rules()["InsightRules"]}
    assert rules[name]["State"] == "ENABLED" and rules[name]["Schema"] == "CloudWatchLogRule/1"
    assert json.loads(rules[name]["Definition"])["LogGroupNames"] == [group]

    rep = cw.get_insight_rule_report(RuleName=name, StartTime=start / 1000 - 60, EndTime=now / 1000 + 60, Period=300)
    assert rep["KeyLabels"] == ["$.ip"] and rep["AggregationStatistic"] == "Count"
    assert rep["ApproximateUniqueCount"] == 2 and rep["AggregateValue"] == 4
    top = rep["Contributors"][0]
    assert top["Keys"] == ["1.1.1.1"] and top["ApproximateAggregateValue"] == 3

    # The rule's report as metrics in GetMetricData.
    from datetime import datetime, timezone
    t0 = (start // 1000) // 300 * 300
    md = cw.get_metric_data(
        StartTime=datetime.fromtimestamp(t0, tz=timezone.utc),
        EndTime=datetime.fromtimestamp(t0 + 600, tz=timezone.utc),
        ScanBy="TimestampAscending",
        MetricDataQueries=[
            {"Id": "u", "Expression": f"INSIGHT_RULE_METRIC('{name}', 'UniqueContributors')", "Period": 300},
            {"Id": "m", "Expression": f"INSIGHT_RULE_METRIC('{name}', 'MaxContributorValue') * 10", "Period": 300},
            {"Id": "bad", "Expression": "INSIGHT_RULE_METRIC('ghost', 'Sum')", "Period": 300},
        ])
    res = {r["Id"]: r for r in md["MetricDataResults"]}
    assert res["u"]["Values"] == [2] and res["m"]["Values"] == [30]
    assert res["bad"]["StatusCode"] == "InternalError" and res["bad"]["Values"] == []

    summed = f"bytes-{uuid.uuid4().hex[:6]}"
    cw.put_insight_rule(RuleName=summed, RuleDefinition=rule_def(
        group, AggregateOn="Sum",
        Contribution={"Keys": ["$.ip"], "ValueOf": "$.bytes", "Filters": []}))
    rep = cw.get_insight_rule_report(RuleName=summed, StartTime=start / 1000 - 60, EndTime=now / 1000 + 60,
                                     Period=60, MaxContributorCount=1)
    assert rep["AggregateValue"] == 120 + 30 + 5 + 999 + 50
    assert [c["Keys"] for c in rep["Contributors"]] == [["3.3.3.3"]]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_insight_rule(RuleName="bad", RuleDefinition=rule_def(group, AggregateOn="Sum"))
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_insight_rule(RuleName="bad", RuleDefinition="{not json")
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_insight_rule_report(RuleName="ghost", StartTime=0, EndTime=60, Period=60)
    assert code(e) == "ResourceNotFoundException"

    assert cw.disable_insight_rules(RuleNames=[name])["Failures"] == []
    assert {r["Name"]: r["State"] for r in cw.describe_insight_rules()["InsightRules"]}[name] == "DISABLED"
    cw.enable_insight_rules(RuleNames=[name])
    arn = f"arn:aws:cloudwatch:us-east-1:000000000000:insight-rule/{name}"
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    out = cw.delete_insight_rules(RuleNames=[name, summed, "ghost"])
    assert [f["FailureResource"] for f in out["Failures"]] == ["ghost"]
    assert name not in {r["Name"] for r in cw.describe_insight_rules()["InsightRules"]}


def test_streams_and_rules_survive_restart(overcast, client):
    cw = client("cloudwatch", region_name="eu-north-1")
    cw.put_metric_stream(Name="durable", FirehoseArn=FIREHOSE, RoleArn=ROLE, OutputFormat="json")
    cw.stop_metric_streams(Names=["durable"])
    cw.put_insight_rule(RuleName="durable", RuleState="DISABLED", RuleDefinition=rule_def("/g"))
    cw.put_alarm_mute_rule(Name="durable", Rule={"Schedule": {"Expression": "cron(0 2 * * *)", "Duration": "PT1H"}})
    qd = cw.put_metric_data_query_definition(Path="durable", Expression="up", Type="PROMQL")["Id"]
    overcast.kill9()
    cw = client("cloudwatch", region_name="eu-north-1")
    assert cw.get_metric_stream(Name="durable")["State"] == "stopped"
    assert [(r["Name"], r["State"]) for r in cw.describe_insight_rules()["InsightRules"]] == [("durable", "DISABLED")]
    assert cw.get_alarm_mute_rule(AlarmMuteRuleName="durable")["Rule"]["Schedule"]["Duration"] == "PT1H"
    assert cw.get_metric_data_query_definition(Id=qd)["Expression"] == "up"


def test_alarm_mute_rules(cw, client):
    from datetime import datetime, timezone
    name = f"muted-{uuid.uuid4().hex[:6]}"
    topic = client("sns").create_topic(Name=f"mute-{name}")["TopicArn"]
    cw.put_metric_alarm(AlarmName=name, Namespace="Mute/Test", MetricName="Errors", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[topic])
    now = time.time()
    start = datetime.fromtimestamp(now - 120, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")
    rule = f"maint-{name}"
    cw.put_alarm_mute_rule(Name=rule, Description="maintenance",
                           Rule={"Schedule": {"Expression": f"at({start})", "Duration": "PT1H"}},
                           MuteTargets={"AlarmNames": [name]}, Tags=[{"Key": "k", "Value": "v"}])
    got = cw.get_alarm_mute_rule(AlarmMuteRuleName=rule)
    assert got["Status"] == "ACTIVE" and got["MuteType"] == "ONE_TIME"
    assert got["AlarmMuteRuleArn"].endswith(f":alarm-mute-rule:{rule}")
    assert got["MuteTargets"] == {"AlarmNames": [name]}
    assert cw.list_tags_for_resource(ResourceARN=got["AlarmMuteRuleArn"])["Tags"] == [{"Key": "k", "Value": "v"}]
    summaries = cw.list_alarm_mute_rules(AlarmName=name)["AlarmMuteRuleSummaries"]
    assert [s["AlarmMuteRuleArn"] for s in summaries] == [got["AlarmMuteRuleArn"]]
    assert cw.list_alarm_mute_rules(AlarmName=name, Statuses=["EXPIRED"])["AlarmMuteRuleSummaries"] == []

    def actions():
        return cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")["AlarmHistoryItems"]

    # Muted: the state changes, the action does not run.
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    time.sleep(0.5)
    assert actions() == []

    cw.delete_alarm_mute_rule(AlarmMuteRuleName=rule)
    cw.delete_alarm_mute_rule(AlarmMuteRuleName=rule)  # idempotent
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_alarm_mute_rule(AlarmMuteRuleName=rule)
    assert code(e) == "ResourceNotFoundException"
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    deadline = time.time() + 5
    while time.time() < deadline and not actions():
        time.sleep(0.05)
    assert actions() and topic in actions()[0]["HistorySummary"]

    # A daily window that is not open now is SCHEDULED; bad schedules and durations are refused.
    hour = (datetime.now(timezone.utc).hour + 3) % 24
    cw.put_alarm_mute_rule(Name=rule, Rule={"Schedule": {"Expression": f"cron(0 {hour} * * *)", "Duration": "PT30M",
                                                         "Timezone": "UTC"}})
    got = cw.get_alarm_mute_rule(AlarmMuteRuleName=rule)
    assert got["Status"] == "SCHEDULED" and got["MuteType"] == "RECURRING"
    for sched in [{"Expression": "rate(5 minutes)", "Duration": "PT1H"},
                  {"Expression": "cron(0 2 * * *)", "Duration": "P16D"},
                  {"Expression": "cron(0 2 * * *)", "Duration": "PT1H", "Timezone": "Mars/Olympus"}]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.put_alarm_mute_rule(Name=rule + "x", Rule={"Schedule": sched})
        assert code(e) == "InvalidParameterValue", sched
    cw.delete_alarm_mute_rule(AlarmMuteRuleName=rule)
    cw.delete_alarms(AlarmNames=[name])


def test_metric_data_query_definitions(cw):
    path = f"team/{uuid.uuid4().hex[:6]}/latency"
    d = cw.put_metric_data_query_definition(Path=path, Expression="SELECT AVG(Latency) FROM MyApp", Type="SQL",
                                            Tags=[{"Key": "team", "Value": "web"}])
    assert d["Arn"].endswith(f":metric-query-definition/{d['Id']}") and d["Type"] == "SQL"
    got = cw.get_metric_data_query_definition(Id=d["Id"])
    assert got["Expression"] == "SELECT AVG(Latency) FROM MyApp" and got["Path"] == path
    upd = cw.put_metric_data_query_definition(Id=d["Id"], Path=path + "2", Expression="m1 * 2", Type="METRIC_MATH")
    assert upd["Id"] == d["Id"] and upd["CreatedAt"] == d["CreatedAt"] and upd["Type"] == "METRIC_MATH"
    items = {i["Id"]: i for i in cw.list_metric_data_query_definitions()["Items"]}
    assert items[d["Id"]]["Path"] == path + "2" and "Expression" not in items[d["Id"]]
    assert cw.list_tags_for_resource(ResourceARN=d["Arn"])["Tags"] == [{"Key": "team", "Value": "web"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data_query_definition(Path=path + "2", Expression="x", Type="PROMQL")
    assert code(e) == "ConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data_query_definition(Id="nope", Path=path + "3", Expression="x", Type="PROMQL")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data_query_definition(Path="/bad//path", Expression="x", Type="PROMQL")
    assert code(e) == "InvalidParameterValue"
    cw.delete_metric_data_query_definition(Id=d["Id"])
    cw.delete_metric_data_query_definition(Id=d["Id"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data_query_definition(Id=d["Id"])
    assert code(e) == "ResourceNotFoundException"


def test_enrichment_resource_metrics_and_contributors(client):
    cw = client("cloudwatch", region_name="ap-northeast-3")
    assert cw.get_o_tel_enrichment()["Status"] == "Stopped"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.update_o_tel_enrichment(IncludeFilters=[{"Namespace": "AWS/EC2"}])
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.start_o_tel_enrichment(IncludeFilters=[{"Namespace": "AWS/EC2"}], ExcludeFilters=[{"Namespace": "AWS/S3"}])
    assert code(e) == "ValidationError"  # ValidationException's query-compatible code
    started = cw.start_o_tel_enrichment(IncludeFilters=[{"Namespace": "AWS/EC2"}])
    assert started["IncludeFilters"] == [{"Namespace": "AWS/EC2"}]
    upd = cw.update_o_tel_enrichment(ExcludeFilters=[{"Namespace": "AWS/S3", "MetricNames": ["BucketSizeBytes"]}])
    assert upd["CreatedAt"] == started["CreatedAt"] and "IncludeFilters" not in upd
    got = cw.get_o_tel_enrichment()
    assert got["Status"] == "Running" and got["ExcludeFilters"][0]["Namespace"] == "AWS/S3"
    cw.stop_o_tel_enrichment()
    assert cw.get_o_tel_enrichment()["Status"] == "Stopped"

    arn = "arn:aws:ec2:ap-northeast-3:000000000000:instance/i-0123456789abcdef0"
    c = cw.create_resource_metrics_configuration(ResourceArn=arn, MetricSelections=[{"IncludeMetrics": ["CPUUtilization"]}])
    assert c["ResourceMetricsConfiguration"]["MetricSelections"] == [{"IncludeMetrics": ["CPUUtilization"]}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.create_resource_metrics_configuration(ResourceArn=arn)
    assert code(e) == "ConflictException"
    u = cw.update_resource_metrics_configuration(ResourceArn=arn)
    assert "MetricSelections" not in u["ResourceMetricsConfiguration"]
    assert cw.get_resource_metrics_configuration(ResourceArn=arn)["ResourceMetricsConfiguration"]["ResourceArn"] == arn
    cw.delete_resource_metrics_configuration(ResourceArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_resource_metrics_configuration(ResourceArn=arn)
    assert code(e) == "ResourceNotFoundException"

    cw.put_metric_alarm(AlarmName="contrib", Namespace="N", MetricName="M", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    assert cw.describe_alarm_contributors(AlarmName="contrib")["AlarmContributors"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.describe_alarm_contributors(AlarmName="ghost")
    assert code(e) == "ResourceNotFoundException"
    cw.delete_alarms(AlarmNames=["contrib"])
