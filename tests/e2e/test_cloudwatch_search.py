"""SEARCH() in GetMetricData metric math (boto3, cbor): schema, property and free terms,
boolean logic, one labelled result per matching metric, SEARCH inside other functions."""
import time
import uuid
from datetime import datetime, timezone

import pytest


@pytest.fixture
def cw(client):
    return client("cloudwatch", region_name="ca-central-1")


def utc(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def test_search_expressions(cw):
    tag = uuid.uuid4().hex[:6]
    n = f"Search/{tag}"
    t = int(time.time() // 300 * 300) - 600
    fns = {f"orders-{tag}": [1, 2], f"users-{tag}": [5, 5], f"billing-{tag}": [7, 0]}
    for fn, values in fns.items():
        for i, v in enumerate(values):
            cw.put_metric_data(Namespace=n, MetricData=[
                {"MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": fn}],
                 "Timestamp": utc(t + 300 * i + 10), "Value": v},
                {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": fn}],
                 "Timestamp": utc(t + 300 * i + 10), "Value": 1},
            ])
    # A metric with an extra dimension is outside the {ns,FunctionName} schema.
    cw.put_metric_data(Namespace=n, MetricData=[
        {"MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": f"orders-{tag}"},
                                                     {"Name": "Resource", "Value": "v1"}],
         "Timestamp": utc(t + 10), "Value": 100}])

    def run(expr, label=None):
        q = {"Id": "s", "Expression": expr}
        if label is not None:
            q["Label"] = label
        out = cw.get_metric_data(StartTime=utc(t), EndTime=utc(t + 600), ScanBy="TimestampAscending",
                                 MetricDataQueries=[q])
        return {r["Label"]: r["Values"] for r in out["MetricDataResults"]}, out["MetricDataResults"]

    res, raw = run(f"SEARCH('{{{n},FunctionName}} MetricName=\"Invocations\"', 'Sum', 300)")
    assert res == {
        f"billing-{tag} Invocations": [7, 0],
        f"orders-{tag} Invocations": [1, 2],
        f"users-{tag} Invocations": [5, 5],
    }
    assert all(r["Id"] == "s" and r["StatusCode"] == "Complete" for r in raw)

    res, _ = run(f"SEARCH('{{{n},FunctionName}} Invocations (orders OR users)', 'Maximum', 300)", label="Inv")
    assert set(res) == {f"Inv orders-{tag} Invocations", f"Inv users-{tag} Invocations"}

    res, _ = run(f"SEARCH('Namespace=\"{n}\" NOT Errors FunctionName=\"orders-{tag}\"', 'Sum', 300)")
    assert res == {f"orders-{tag} Invocations": [1, 2], f"orders-{tag} v1 Invocations": [100]}

    res, _ = run(f"SEARCH('{{{n},FunctionName}} \"Invocation\"', 'Sum', 300)")
    assert res == {"s": []}  # exact terms do not match partially; an empty search answers its id

    out = cw.get_metric_data(StartTime=utc(t), EndTime=utc(t + 600), ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "inv", "Expression": f"SEARCH('{{{n},FunctionName}} MetricName=\"Invocations\"', 'Sum', 300)",
         "ReturnData": False},
        {"Id": "total", "Expression": "SUM(inv)", "Label": "Total"},
        {"Id": "peak", "Expression": f"MAX(SEARCH('{{{n},FunctionName}} Errors', 'Sum', 300))"},
    ])
    res = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(res) == {"total", "peak"}
    assert res["total"]["Values"] == [13, 7]
    assert res["peak"]["Values"] == [1, 1]

    out = cw.get_metric_data(StartTime=utc(t), EndTime=utc(t + 600), MetricDataQueries=[
        {"Id": "bad", "Expression": "SEARCH('{unterminated', 'Sum', 300)"}])
    (r,) = out["MetricDataResults"]
    assert r["StatusCode"] != "Complete" or r.get("Messages")


def test_search_is_refused_in_alarms(cw):
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.put_metric_alarm(AlarmName="search-alarm", EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold", Metrics=[
                                {"Id": "s", "Expression": "SEARCH('{AWS/Lambda,FunctionName} Errors', 'Sum', 300)",
                                 "ReturnData": False},
                                {"Id": "m", "Expression": "MAX(s)", "ReturnData": True}])
    assert e.value.response["Error"]["Code"] == "ValidationError"
