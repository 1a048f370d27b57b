"""SnapStart settings (runtimes that support it, optimization on for published versions) and
every Lambda waiter through the AWS CLI (`aws lambda wait ...`)."""
import pytest

from test_lambda import ROLE, code_err, uniq, zip_bytes

CODE = {"lambda_function.py": "def lambda_handler(e, c):\n    return 'snap'\n"}


@pytest.fixture
def lam(client):
    return client("lambda")


def test_snap_start_on_published_versions(lam):
    name = uniq("snap")
    out = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                              Code={"ZipFile": zip_bytes(CODE)}, SnapStart={"ApplyOn": "PublishedVersions"})
    assert out["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    v = lam.publish_version(FunctionName=name)
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert lam.get_function_configuration(FunctionName=name, Qualifier=v["Version"])["SnapStart"]["OptimizationStatus"] == "On"
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"]["OptimizationStatus"] == "Off"
    # Runtimes without SnapStart refuse it, on create and on update.
    assert code_err(lam.create_function, FunctionName=uniq("snap"), Runtime="python3.11", Role=ROLE,
                    Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_bytes(CODE)},
                    SnapStart={"ApplyOn": "PublishedVersions"})[0] == "InvalidParameterValueException"
    assert code_err(lam.update_function_configuration, FunctionName=name, Runtime="nodejs20.x")[0] == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"]["ApplyOn"] == "None"


def test_every_waiter_with_the_cli(aws, lam, tmp_path):
    name = uniq("waiters")
    (tmp_path / "function.zip").write_bytes(zip_bytes(CODE))
    aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
        "--role", ROLE, "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{tmp_path / 'function.zip'}")
    aws("lambda", "wait", "function-exists", "--function-name", name)
    aws("lambda", "wait", "function-active", "--function-name", name)
    aws("lambda", "wait", "function-active-v2", "--function-name", name)
    aws("lambda", "update-function-configuration", "--function-name", name, "--timeout", "9")
    aws("lambda", "wait", "function-updated", "--function-name", name)
    aws("lambda", "wait", "function-updated-v2", "--function-name", name)
    version = aws("lambda", "publish-version", "--function-name", name)["Version"]
    aws("lambda", "wait", "published-version-active", "--function-name", name, "--qualifier", version)
    assert lam.get_function_configuration(FunctionName=name, Qualifier=version)["Timeout"] == 9


def test_invocation_metrics_reach_cloudwatch(lam, client, overcast):
    import time
    name = uniq("metered")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes(CODE)})
    for _ in range(3):
        lam.invoke(FunctionName=name)
    cw = client("cloudwatch")
    dims = [{"Name": "FunctionName", "Value": name}]
    want = {"Invocations", "Errors", "Duration", "ConcurrentExecutions"}
    deadline = time.time() + 10
    names = set()
    while time.time() < deadline and not want <= names:
        names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Lambda", Dimensions=dims)["Metrics"]}
        time.sleep(0.2)
    assert want <= names, names
    now = overcast.get("/_overcast/clock")["now"]  # metrics carry the virtual time
    stats = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=dims,
                                     StartTime=now - 3600, EndTime=now + 3600, Period=7200, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 3
    conc = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="ConcurrentExecutions", Dimensions=dims,
                                    StartTime=now - 3600, EndTime=now + 3600, Period=7200, Statistics=["Maximum"])
    assert max(p["Maximum"] for p in conc["Datapoints"]) >= 1
