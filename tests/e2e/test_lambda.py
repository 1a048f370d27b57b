"""Lambda end to end: the guide's Quick Start with the AWS CLI, real python/node/provided
handlers running as local processes behind the Runtime API, errors, timeouts, logs, versions,
aliases, policies, layers, concurrency, async invocation and durability."""
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_bytes(files, modes=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


def zip_cli(cwd, archive, *paths):
    """`zip -qr archive paths...` as the guide runs it; Python's zipfile where `zip` is absent."""
    if shutil.which("zip"):
        subprocess.run(["zip", "-qr", archive, *paths], cwd=cwd, check=True)
        return
    with zipfile.ZipFile(os.path.join(cwd, archive), "w", zipfile.ZIP_DEFLATED) as z:
        for p in paths:
            full = os.path.join(cwd, p)
            if os.path.isdir(full):
                for root, _, files in os.walk(full):
                    for f in files:
                        fp = os.path.join(root, f)
                        z.write(fp, os.path.relpath(fp, cwd))
            else:
                z.write(full, p)


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_err(fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"].get("Message")


@pytest.fixture
def lam(client):
    return client("lambda")


def create(lam, name, code, runtime="python3.11", handler="lambda_function.lambda_handler", **kw):
    return lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                               Code={"ZipFile": zip_bytes(code)}, **kw)


PY_ECHO = {"lambda_function.py": """
import json, os
import uuid
COUNT = 0
ME = uuid.uuid4().hex
def lambda_handler(event, context):
    global COUNT
    COUNT += 1
    print("got", json.dumps(event))
    return {"event": event, "count": COUNT, "pid": ME, "cwd": os.getcwd(),
            "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ"))}}
"""}


def test_quick_start_with_the_cli(aws, tmp_path):
    """The guide's Quick Start, verbatim apart from the account id and the function name."""
    (tmp_path / "lambda_function.py").write_text(
        "def lambda_handler(event, context):\n    return {'statusCode': 200, 'echo': event['key']}\n")
    zip_cli(tmp_path, "function.zip", "lambda_function.py")
    name = uniq("my-function")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        out = aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
                  "--handler", "lambda_function.lambda_handler", "--role",
                  "arn:aws:iam::000000000000:role/lambda-role", "--zip-file", "fileb://function.zip")
        assert out["FunctionName"] == name
        assert out["State"] == "Pending"
        for waiter in ("function-active", "function-active-v2"):
            aws.raw("lambda", "wait", waiter, "--function-name", name).check_returncode()
        out = aws("lambda", "invoke", "--function-name", name, "--payload", '{"key":"value"}', "response.json")
        assert out["StatusCode"] == 200
        assert out["ExecutedVersion"] == "$LATEST"
        assert json.loads((tmp_path / "response.json").read_text()) == {"statusCode": 200, "echo": "value"}
    finally:
        os.chdir(cwd)


def test_python_invoke_env_context_warm_reuse_and_tail(lam, overcast):
    name = uniq("py")
    create(lam, name, PY_ECHO, Environment={"Variables": {"STAGE": "test"}}, MemorySize=256)
    r = lam.invoke(FunctionName=name, Payload=b'{"a": 1}', LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    body = json.loads(r["Payload"].read())
    assert body["event"] == {"a": 1} and body["count"] == 1
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert env["AWS_ENDPOINT_URL"].endswith(str(overcast.port))
    assert env["TZ"] == ":UTC"
    sandbox = overcast.get("/_overcast/health")["lambda"]["sandbox"]
    if sandbox == "bubblewrap":
        assert env["LAMBDA_TASK_ROOT"] == "/var/task" and body["cwd"] == "/var/task"
    else:
        assert sandbox == "process" and body["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert 0 < body["remaining"] <= 3000
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"START RequestId: {body['request_id']} Version: $LATEST" in log
    assert 'got {"a": 1}' in log
    assert f"END RequestId: {body['request_id']}" in log
    assert "REPORT RequestId" in log and "Memory Size: 256 MB" in log and "Init Duration" in log
    # Warm: same process, module state kept, no Init Duration.
    r2 = lam.invoke(FunctionName=name, Payload=b'{}', LogType="Tail")
    b2 = json.loads(r2["Payload"].read())
    assert b2["pid"] == body["pid"] and b2["count"] == 2
    assert "Init Duration" not in base64.b64decode(r2["LogResult"]).decode()


def test_function_credentials_reach_overcast(lam, client):
    name = uniq("sdk")
    create(lam, name, {"lambda_function.py": """
import urllib.request, os
def lambda_handler(event, context):
    return urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/_overcast/health").status
"""})
    r = lam.invoke(FunctionName=name)
    assert json.loads(r["Payload"].read()) == 200


def test_unhandled_error_init_error_and_timeout(lam):
    name = uniq("err")
    create(lam, name, {"lambda_function.py": """
def lambda_handler(event, context):
    raise ValueError("boom " + str(event.get("n")))
"""})
    r = lam.invoke(FunctionName=name, Payload=b'{"n": 7}')
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Payload"].read())
    assert doc["errorType"] == "ValueError" and doc["errorMessage"] == "boom 7"
    assert isinstance(doc["stackTrace"], list) and doc["requestId"]

    bad = uniq("import")
    create(lam, bad, {"lambda_function.py": "import not_a_module_anywhere\n"})
    r = lam.invoke(FunctionName=bad)
    assert r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Payload"].read())
    assert doc["errorType"] == "Runtime.ImportModuleError"
    assert doc["errorMessage"].startswith("Unable to import module 'lambda_function'")

    missing = uniq("nohandler")
    create(lam, missing, {"lambda_function.py": "x = 1\n"})
    doc = json.loads(lam.invoke(FunctionName=missing)["Payload"].read())
    assert doc["errorType"] == "Runtime.HandlerNotFound"

    slow = uniq("slow")
    create(lam, slow, {"lambda_function.py": "import time\ndef lambda_handler(e, c):\n    time.sleep(30)\n"}, Timeout=1)
    t = time.time()
    r = lam.invoke(FunctionName=slow, LogType="Tail")
    assert time.time() - t < 5
    assert r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Payload"].read())
    assert "Task timed out after 1.00 seconds" in doc["errorMessage"]
    assert "Task timed out after 1.00 seconds" in base64.b64decode(r["LogResult"]).decode()
    # The timed-out instance was killed; a fresh one answers the next invocation.
    lam.update_function_configuration(FunctionName=slow, Timeout=3)


def test_node_commonjs_esm_and_callback(lam):
    cjs = uniq("node-cjs")
    create(lam, cjs, {"index.js": """
exports.handler = async (event, context) => {
  console.log("hello from node", event.x);
  return { x: event.x * 2, fn: context.functionName, env: process.env.AWS_EXECUTION_ENV };
};
"""}, runtime="nodejs20.x", handler="index.handler")
    r = lam.invoke(FunctionName=cjs, Payload=b'{"x": 21}', LogType="Tail")
    assert json.loads(r["Payload"].read()) == {"x": 42, "fn": cjs, "env": "AWS_Lambda_nodejs20.x"}
    assert "INFO\thello from node 21" in base64.b64decode(r["LogResult"]).decode()

    esm = uniq("node-esm")
    create(lam, esm, {"index.mjs": "export const handler = async (event) => ({ esm: true, got: event });\n"},
           runtime="nodejs20.x", handler="index.handler")
    assert json.loads(lam.invoke(FunctionName=esm, Payload=b'[1,2]')["Payload"].read()) == {"esm": True, "got": [1, 2]}

    cb = uniq("node-cb")
    create(lam, cb, {"app.js": """
exports.run = function (event, context, callback) {
  if (event.fail) return callback(new TypeError("bad input"));
  setTimeout(() => callback(null, { ok: true }), 10);
};
"""}, runtime="nodejs20.x", handler="app.run")
    assert json.loads(lam.invoke(FunctionName=cb, Payload=b'{}')["Payload"].read()) == {"ok": True}
    r = lam.invoke(FunctionName=cb, Payload=b'{"fail": true}')
    assert r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Payload"].read())
    assert doc["errorType"] == "TypeError" and doc["errorMessage"] == "bad input"


def test_provided_runtime_bootstrap(lam):
    """A custom runtime: the zip's `bootstrap` speaks the Runtime API itself (here in sh+python)."""
    name = uniq("custom")
    bootstrap = """#!/bin/sh
exec python3 - <<'PY'
import os, urllib.request, json
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    r = urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    assert r.headers["Lambda-Runtime-Deadline-Ms"] and r.headers["Lambda-Runtime-Invoked-Function-Arn"]
    assert r.headers["Lambda-Runtime-Trace-Id"]
    event = json.loads(r.read())
    body = json.dumps({"custom": event, "handler": os.environ["_HANDLER"]}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"http://{api}/2018-06-01/runtime/invocation/{rid}/response", data=body, method="POST")).read()
PY
"""
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="my.handler",
                        Code={"ZipFile": zip_bytes({"bootstrap": bootstrap}, {"bootstrap": 0o755})})
    r = lam.invoke(FunctionName=name, Payload=b'{"q": 1}')
    assert json.loads(r["Payload"].read()) == {"custom": {"q": 1}, "handler": "my.handler"}


def test_control_plane_errors_and_listing(lam):
    name = uniq("cp")
    create(lam, name, PY_ECHO, Tags={"team": "a"})
    code, status, msg = code_err(create, lam, name, PY_ECHO)
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == f"Function already exist: {name}"
    code, status, msg = code_err(lam.get_function, FunctionName="nope-" + name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert msg == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope-{name}"
    code, status, _ = code_err(lam.invoke, FunctionName="nope-" + name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, msg = code_err(lam.create_function, FunctionName=uniq("x"), Runtime="python3.11", Role=ROLE,
                            Handler="a.b", Code={"ZipFile": b"not a zip"})
    assert code == "InvalidParameterValueException" and "Could not unzip" in msg
    code, _, msg = code_err(lam.create_function, FunctionName=uniq("x"), Runtime="python2.7", Role=ROLE,
                            Handler="a.b", Code={"ZipFile": zip_bytes(PY_ECHO)})
    assert code == "InvalidParameterValueException" and "no longer supported" in msg
    code, _, msg = code_err(create, lam, uniq("x"), PY_ECHO, Environment={"Variables": {"AWS_REGION": "x"}})
    assert code == "InvalidParameterValueException" and "reserved keys" in msg
    code, _, _ = code_err(lam.invoke, FunctionName=name, Payload=b"not json")
    assert code == "InvalidRequestContentException"

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "a"}
    assert got["Code"]["RepositoryType"] == "S3"
    assert urllib.request.urlopen(got["Code"]["Location"]).read() == zip_bytes(PY_ECHO)
    cfg = lam.get_function_configuration(FunctionName=f"arn:aws:lambda:us-east-1:000000000000:function:{name}")
    assert cfg["CodeSha256"] == base64.b64encode(__import__("hashlib").sha256(zip_bytes(PY_ECHO)).digest()).decode() or cfg["CodeSize"] > 0
    assert cfg["Timeout"] == 3 and cfg["MemorySize"] == 128 and cfg["PackageType"] == "Zip"

    names = [uniq("page") for _ in range(3)]
    for n in names:
        create(lam, n, PY_ECHO)
    seen, marker = [], None
    while True:
        kw = {"MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert set(names) <= set(seen)
    assert len(seen) == len(set(seen))

    lam.tag_resource(Resource=cfg["FunctionArn"], Tags={"env": "dev"})
    lam.untag_resource(Resource=cfg["FunctionArn"], TagKeys=["team"])
    assert lam.list_tags(Resource=cfg["FunctionArn"])["Tags"] == {"env": "dev"}

    lam.delete_function(FunctionName=name)
    assert code_err(lam.get_function, FunctionName=name)[0] == "ResourceNotFoundException"


def test_update_code_and_configuration_with_waiters(lam, aws):
    name = uniq("upd")
    create(lam, name, {"lambda_function.py": "def lambda_handler(e, c):\n    return 'v1'\n"})
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v1"
    out = lam.update_function_code(FunctionName=name, ZipFile=zip_bytes(
        {"lambda_function.py": "import os\ndef lambda_handler(e, c):\n    return 'v2 ' + os.environ.get('COLOR', '-')\n"}))
    assert out["LastUpdateStatus"] == "InProgress"
    for waiter in ("function-updated", "function-updated-v2"):
        t = time.time()
        aws.raw("lambda", "wait", waiter, "--function-name", name).check_returncode()
        assert time.time() - t < 4  # answered at the first poll
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2 -"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOR": "blue"}}, Timeout=10)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2 blue"
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 10
    rev = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    code, status, _ = code_err(lam.update_function_configuration, FunctionName=name, Timeout=5, RevisionId="stale")
    assert (code, status) == ("PreconditionFailedException", 412)
    lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId=rev)


def test_code_from_s3(lam, client):
    s3 = client("s3")
    bucket = uniq("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=zip_bytes({"lambda_function.py": "def lambda_handler(e, c):\n    return 's3'\n"}))
    name = uniq("s3fn")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "s3"
    code, _, msg = code_err(lam.create_function, FunctionName=uniq("s3x"), Runtime="python3.12", Role=ROLE,
                            Handler="a.b", Code={"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert code == "InvalidParameterValueException" and "NoSuchKey" in msg


def test_versions_aliases_and_weighted_routing(lam):
    name = uniq("ver")
    create(lam, name, {"lambda_function.py": "def lambda_handler(e, c):\n    return 'one'\n"})
    v1 = lam.publish_version(FunctionName=name)
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":1")
    lam.update_function_code(FunctionName=name, ZipFile=zip_bytes({"lambda_function.py": "def lambda_handler(e, c):\n    return 'two'\n"}))
    v2 = lam.publish_version(FunctionName=name, Description="second")
    assert v2["Version"] == "2"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1", "2"]
    r = lam.invoke(FunctionName=name, Qualifier="1")
    assert json.loads(r["Payload"].read()) == "one" and r["ExecutedVersion"] == "1"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f"{name}:live")
    assert code_err(lam.create_alias, FunctionName=name, Name="live", FunctionVersion="1")[0] == "ResourceConflictException"
    assert json.loads(lam.invoke(FunctionName=f"{name}:live")["Payload"].read()) == "one"
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = {json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read()) for _ in range(30)}
    assert seen == {"one", "two"}
    assert lam.list_aliases(FunctionName=name)["Aliases"][0]["Name"] == "live"
    assert code_err(lam.delete_function, FunctionName=name, Qualifier="1")[0] == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="live")
    assert code_err(lam.get_alias, FunctionName=name, Name="live")[0] == "ResourceNotFoundException"
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert code_err(lam.invoke, FunctionName=name, Qualifier="1")[0] == "ResourceNotFoundException"


def test_permissions(lam):
    name = uniq("perm")
    create(lam, name, PY_ECHO)
    assert code_err(lam.get_policy, FunctionName=name)[0] == "ResourceNotFoundException"
    out = lam.add_permission(FunctionName=name, StatementId="s3invoke", Action="lambda:InvokeFunction",
                             Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::my-bucket", SourceAccount="000000000000")
    stmt = json.loads(out["Statement"])
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}
    assert stmt["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::my-bucket"
    assert code_err(lam.add_permission, FunctionName=name, StatementId="s3invoke", Action="lambda:InvokeFunction",
                    Principal="s3.amazonaws.com")[0] == "ResourceConflictException"
    pol = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert pol["Statement"][0]["Sid"] == "s3invoke"
    lam.remove_permission(FunctionName=name, StatementId="s3invoke")
    assert code_err(lam.remove_permission, FunctionName=name, StatementId="s3invoke")[0] == "ResourceNotFoundException"


def test_layers_walkthrough(aws, lam, tmp_path):
    """The guide's layer walk-through, with a tiny local package instead of `pip install requests`."""
    pkg = tmp_path / "python" / "requests"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("def get(url):\n    return 'fake get ' + url\n")
    zip_cli(tmp_path, "layer.zip", "python")
    layer_name = uniq("my-dependencies")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        out = aws("lambda", "publish-layer-version", "--layer-name", layer_name,
                  "--zip-file", "fileb://layer.zip", "--compatible-runtimes", "python3.11")
    finally:
        os.chdir(cwd)
    assert out["Version"] == 1
    assert out["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{layer_name}:1"
    name = uniq("my-function")
    create(lam, name, {"lambda_function.py": "import requests\ndef lambda_handler(e, c):\n    return requests.get('x')\n"})
    r = lam.invoke(FunctionName=name)
    assert r["FunctionError"] == "Unhandled"
    aws("lambda", "update-function-configuration", "--function-name", name,
        "--layers", f"arn:aws:lambda:us-east-1:000000000000:layer:{layer_name}:1")
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["Layers"][0]["Arn"].endswith(f"{layer_name}:1")
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "fake get x"
    assert lam.get_layer_version(LayerName=layer_name, VersionNumber=1)["Version"] == 1
    assert lam.get_layer_version_by_arn(Arn=out["LayerVersionArn"])["Version"] == 1
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer_name)["LayerVersions"]] == [1]
    assert any(l["LayerName"] == layer_name for l in lam.list_layers()["Layers"])
    code, _, msg = code_err(lam.update_function_configuration, FunctionName=name,
                            Layers=[f"arn:aws:lambda:us-east-1:000000000000:layer:{layer_name}:9"])
    assert code == "InvalidParameterValueException" and "does not exist" in msg
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    assert code_err(lam.get_layer_version, LayerName=layer_name, VersionNumber=1)[0] == "ResourceNotFoundException"


def test_concurrency_throttling_and_account_settings(lam):
    name = uniq("conc")
    create(lam, name, PY_ECHO)
    assert lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)["ReservedConcurrentExecutions"] == 0
    code, status, _ = code_err(lam.invoke, FunctionName=name)
    assert (code, status) == ("TooManyRequestsException", 429)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    code, _, msg = code_err(lam.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=950)
    assert code == "InvalidParameterValueException" and "UnreservedConcurrentExecution" in msg
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


def test_concurrent_invocations_get_separate_instances(lam, overcast):
    import concurrent.futures
    name = uniq("par")
    create(lam, name, {"lambda_function.py": "import uuid, time\nME = uuid.uuid4().hex\ndef lambda_handler(e, c):\n    time.sleep(0.5)\n    return ME\n"})
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        pids = list(ex.map(lambda _: json.loads(lam.invoke(FunctionName=name)["Payload"].read()), range(4)))
    assert len(set(pids)) == 4
    idle = [i for i in overcast.get("/_overcast/lambda/instances")["idle"] if i["function"] == name]
    assert len(idle) == 4 and all(i["version"] == "$LATEST" for i in idle)


def test_async_invoke_dry_run_and_destinations(lam, client, overcast):
    sqs = client("sqs")
    q = sqs.create_queue(QueueName=uniq("dest"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = uniq("async")
    create(lam, name, {"lambda_function.py": "def lambda_handler(e, c):\n    if e.get('fail'):\n        raise RuntimeError('nope')\n    return {'done': e['n']}\n"})
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}, "OnFailure": {"Destination": qarn}})
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 1
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 5}')
    assert r["StatusCode"] == 202
    assert lam.invoke_async(FunctionName=name, InvokeArgs=b'{"n": 6}')["Status"] == 202
    msgs = []
    deadline = time.time() + 15
    while not msgs and time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1).get("Messages", [])
    while len(msgs) < 2 and time.time() < deadline:
        msgs += sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1).get("Messages", [])
    recs = sorted((json.loads(m["Body"]) for m in msgs), key=lambda r: r["requestPayload"]["n"])
    assert [r["requestContext"]["condition"] for r in recs] == ["Success", "Success"]
    assert recs[0]["responsePayload"] == {"done": 5} and recs[0]["requestPayload"] == {"n": 5}
    assert recs[1]["responsePayload"] == {"done": 6}
    for m in msgs:
        sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
    # A failing event is retried once (after a minute of virtual time), then sent OnFailure.
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    time.sleep(1.5)
    assert not sqs.receive_message(QueueUrl=q, WaitTimeSeconds=0).get("Messages")
    overcast.clock(advance=61)
    msgs = []
    deadline = time.time() + 15
    while not msgs and time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1).get("Messages", [])
    rec = json.loads(msgs[0]["Body"])
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["responseContext"]["functionError"] == "Unhandled"


def test_survives_restart_and_kill9(lam, client, overcast):
    name = uniq("durable")
    create(lam, name, {"lambda_function.py": "def lambda_handler(e, c):\n    return 'still here'\n"}, Tags={"k": "v"})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    overcast.kill9()
    lam2 = client("lambda")
    assert lam2.get_function(FunctionName=name)["Tags"] == {"k": "v"}
    assert lam2.get_alias(FunctionName=name, Name="prod")["FunctionVersion"] == "1"
    assert json.loads(lam2.invoke(FunctionName=name, Qualifier="prod")["Payload"].read()) == "still here"
    overcast.restart()
    lam3 = client("lambda")
    assert json.loads(lam3.invoke(FunctionName=name)["Payload"].read()) == "still here"


SQS_FORWARDER = {"lambda_function.py": """
import json, os, urllib.request
def send(queue_url, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/", method="POST",
        data=json.dumps({"QueueUrl": queue_url, "MessageBody": body}).encode(),
        headers={"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": "application/x-amz-json-1.0"})
    urllib.request.urlopen(req).read()
def lambda_handler(event, context):
    failures = []
    for r in event["Records"]:
        assert r["eventSource"] == "aws:sqs" and r["eventSourceARN"].startswith("arn:aws:sqs:")
        body = json.loads(r["body"])
        if body.get("bad"):
            failures.append({"itemIdentifier": r["messageId"]})
        else:
            send(os.environ["OUT_QUEUE"], json.dumps({"seen": body, "id": r["messageId"]}))
    return {"batchItemFailures": failures}
"""}


def test_sqs_event_source_mapping(lam, client):
    sqs = client("sqs")
    src = sqs.create_queue(QueueName=uniq("src"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    out = sqs.create_queue(QueueName=uniq("out"))["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = uniq("esm")
    create(lam, name, SQS_FORWARDER, Environment={"Variables": {"OUT_QUEUE": out}})
    m = lam.create_event_source_mapping(
        EventSourceArn=src_arn, FunctionName=name, BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    assert m["State"] == "Creating" and m["BatchSize"] == 5
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"
    assert [x["UUID"] for x in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]] == [m["UUID"]]
    sqs.send_message(QueueUrl=src, MessageBody=json.dumps({"kind": "keep", "n": 1}))
    sqs.send_message(QueueUrl=src, MessageBody=json.dumps({"kind": "drop", "n": 2}))
    sqs.send_message(QueueUrl=src, MessageBody=json.dumps({"kind": "keep", "bad": True}))
    got = []
    deadline = time.time() + 20
    while len(got) < 1 and time.time() < deadline:
        for msg in sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            got.append(json.loads(msg["Body"])["seen"])
    assert got == [{"kind": "keep", "n": 1}]
    time.sleep(1)
    attrs = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
    # The filtered-out message was deleted; the reported failure stays in flight for a retry.
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    assert lam.delete_event_source_mapping(UUID=m["UUID"])["State"] == "Deleting"
    assert code_err(lam.get_event_source_mapping, UUID=m["UUID"])[0] == "ResourceNotFoundException"


def test_event_source_mapping_pollers_come_back_after_kill9(lam, client, overcast):
    sqs = client("sqs")
    src = sqs.create_queue(QueueName=uniq("src"))["QueueUrl"]
    out = sqs.create_queue(QueueName=uniq("out"))["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = uniq("esm-durable")
    create(lam, name, SQS_FORWARDER, Environment={"Variables": {"OUT_QUEUE": out}})
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name)
    overcast.kill9()
    sqs = client("sqs")
    sqs.send_message(QueueUrl=src, MessageBody=json.dumps({"after": "restart"}))
    got = []
    deadline = time.time() + 20
    while not got and time.time() < deadline:
        got = sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages", [])
    assert json.loads(got[0]["Body"])["seen"] == {"after": "restart"}


def url_request(overcast, url, path="/", method="GET", body=None, headers=None):
    """Calls a function URL through 127.0.0.1 with the URL's host name (no DNS needed)."""
    host = url.split("//", 1)[1].rstrip("/")
    assert host.split(".")[1] == "lambda-url"
    req = urllib.request.Request(overcast.url + path, data=body, method=method,
                                 headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_function_urls(lam, overcast):
    name = uniq("url")
    create(lam, name, {"lambda_function.py": """
import json
def lambda_handler(event, context):
    if event["rawPath"] == "/plain":
        return {"just": "json"}
    if event["rawPath"] == "/boom":
        raise RuntimeError("x")
    return {"statusCode": 201, "headers": {"x-custom": "yes", "content-type": "text/plain"},
            "cookies": ["a=1"],
            "body": json.dumps({"method": event["requestContext"]["http"]["method"], "path": event["rawPath"],
                                "qs": event.get("queryStringParameters"), "body": event.get("body"),
                                "version": event["version"], "cookie": event.get("cookies")})}
"""})
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    url = cfg["FunctionUrl"]
    assert url.startswith("http://") and ".lambda-url.us-east-1.localhost" in url
    assert code_err(lam.create_function_url_config, FunctionName=name, AuthType="NONE")[0] == "ResourceConflictException"
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
    status, headers, body = url_request(overcast, url, "/hello?x=1&y=two", "POST", b"payload!", {"Cookie": "c=3"})
    assert status == 201
    assert headers["x-custom"] == "yes" and headers["set-cookie"] == "a=1"
    doc = json.loads(body)
    assert doc == {"method": "POST", "path": "/hello", "qs": {"x": "1", "y": "two"}, "body": "payload!",
                   "version": "2.0", "cookie": ["c=3"]}
    status, headers, body = url_request(overcast, url, "/plain")
    assert status == 200 and json.loads(body) == {"just": "json"}
    assert url_request(overcast, url, "/boom")[0] == 502
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert url_request(overcast, url, "/plain")[0] == 403
    lam.delete_function_url_config(FunctionName=name)
    assert code_err(lam.get_function_url_config, FunctionName=name)[0] == "ResourceNotFoundException"
    assert url_request(overcast, url, "/plain")[0] == 403


def test_provisioned_concurrency_prestarts_instances(lam):
    name = uniq("prov")
    create(lam, name, {"lambda_function.py": """
import os
def lambda_handler(e, c):
    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
"""})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    code, _, msg = code_err(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="$LATEST",
                            ProvisionedConcurrentExecutions=1)
    assert code == "InvalidParameterValueException" and "unpublished" in msg
    out = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert out["RequestedProvisionedConcurrentExecutions"] == 2 and out["Status"] == "IN_PROGRESS"
    deadline = time.time() + 15
    while lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")["Status"] != "READY":
        assert time.time() < deadline
        time.sleep(0.1)
    cfg = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert cfg["AvailableProvisionedConcurrentExecutions"] == 2
    r = lam.invoke(FunctionName=name, Qualifier="live")
    assert json.loads(r["Payload"].read()) == "provisioned-concurrency"
    assert len(lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]) == 1
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert code_err(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="live")[0] == \
        "ProvisionedConcurrencyConfigNotFoundException"


def test_stored_settings_and_layer_permissions(lam):
    name = uniq("settings")
    create(lam, name, PY_ECHO)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    assert lam.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "Auto"
    lam.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="FunctionUpdate")
    assert lam.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "FunctionUpdate"

    layer = uniq("shared")
    lam.publish_layer_version(LayerName=layer, Content={"ZipFile": zip_bytes({"python/x.py": "X = 1\n"})})
    assert code_err(lam.get_layer_version_policy, LayerName=layer, VersionNumber=1)[0] == "ResourceNotFoundException"
    out = lam.add_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all",
                                           Action="lambda:GetLayerVersion", Principal="*")
    assert json.loads(out["Statement"])["Principal"] == "*"
    pol = json.loads(lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)["Policy"])
    assert pol["Statement"][0]["Sid"] == "all"
    lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all")
    assert code_err(lam.get_layer_version_policy, LayerName=layer, VersionNumber=1)[0] == "ResourceNotFoundException"


POWERTOOLS_HANDLER = '''import json
import os
from aws_lambda_powertools import Logger, Tracer, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def process_event(event):
    return {"processed": event["key"]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """
    Production Lambda with observability
    """
    # Log incoming event
    logger.info("Processing request", extra={"event": event})

    # Add custom metrics
    metrics.add_metric(name="ProcessedItems", unit="Count", value=1)

    try:
        # Business logic
        result = process_event(event)

        return {
            'statusCode': 200,
            'body': json.dumps(result)
        }
    except Exception as e:
        logger.exception("Processing failed")
        metrics.add_metric(name="Errors", unit="Count", value=1)
        raise
'''


def test_powertools_handler_from_a_layer(lam, tmp_path):
    """The guide's Powertools handler, with aws-lambda-powertools packaged in a layer (needs
    PyPI to build the layer; skipped when pip cannot reach it). boto3/botocore come from the
    python runtime, as on AWS."""
    target = tmp_path / "python"
    packages = ["aws-lambda-powertools", "aws-xray-sdk", "wrapt", "jmespath", "typing_extensions"]
    # AWS's python runtime bundles boto3/botocore; where the local python3 lacks them, the
    # layer brings botocore (X-Ray's SDK imports it).
    if subprocess.run(["python3", "-c", "import botocore"], capture_output=True).returncode != 0:
        packages += ["botocore", "python-dateutil", "six", "urllib3"]
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), *packages],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.skip("cannot download aws-lambda-powertools: " + r.stderr[-300:])
    zip_cli(tmp_path, "layer.zip", "python")
    layer = lam.publish_layer_version(LayerName=uniq("powertools"), Content={"ZipFile": (tmp_path / "layer.zip").read_bytes()},
                                      CompatibleRuntimes=["python3.11"])
    name = uniq("powertools-fn")
    create(lam, name, {"lambda_function.py": POWERTOOLS_HANDLER}, Layers=[layer["LayerVersionArn"]],
           Environment={"Variables": {"POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}},
           Timeout=30)
    r = lam.invoke(FunctionName=name, Payload=b'{"key": "value"}', LogType="Tail")
    payload = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, payload
    assert payload == {"statusCode": 200, "body": json.dumps({"processed": "value"})}
    log = base64.b64decode(r["LogResult"]).decode()
    assert '"message":"Processing request"' in log.replace(" ", "") or "Processing request" in log
    assert "ProcessedItems" in log  # the EMF metrics blob is printed to the log


def test_code_signing_configs_are_stored(lam):
    c = lam.create_code_signing_config(
        Description="signed", AllowedPublishers={"SigningProfileVersionArns": [
            "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdef1234"]})["CodeSigningConfig"]
    assert c["CodeSigningConfigId"].startswith("csc-")
    assert c["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    arn = c["CodeSigningConfigArn"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["Description"] == "signed"
    lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="changed")
    assert any(x["CodeSigningConfigArn"] == arn for x in lam.list_code_signing_configs()["CodeSigningConfigs"])
    name = uniq("signed")
    create(lam, name, PY_ECHO)
    lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=name)
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == arn
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}"]
    assert code_err(lam.delete_code_signing_config, CodeSigningConfigArn=arn)[0] == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName=name)
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert code_err(lam.get_code_signing_config, CodeSigningConfigArn=arn)[0] == "ResourceNotFoundException"
    # Under an Enforce policy unsigned code is refused (no signing profile can sign it here).
    strict = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [
            "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdef1234"]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})["CodeSigningConfig"]["CodeSigningConfigArn"]
    code, status, _ = code_err(create, lam, uniq("unsigned"), PY_ECHO, CodeSigningConfigArn=strict)
    assert (code, status) == ("CodeVerificationFailedException", 400)
    lam.put_function_code_signing_config(CodeSigningConfigArn=strict, FunctionName=name)
    code, _, _ = code_err(lam.update_function_code, FunctionName=name, ZipFile=zip_bytes(PY_ECHO))
    assert code == "CodeVerificationFailedException"


def test_accepted_events_survive_kill9(lam, client, overcast):
    sqs = client("sqs")
    q = sqs.create_queue(QueueName=uniq("dlq"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = uniq("async-durable")
    create(lam, name, {"lambda_function.py": "def lambda_handler(e, c):\n    raise RuntimeError('always')\n"})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": qarn}})
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 1}')["StatusCode"] == 202
    time.sleep(1.5)  # first attempt fails; the retry waits a minute of virtual time
    overcast.kill9()
    overcast.clock(advance=61)
    sqs = client("sqs")
    msgs = []
    deadline = time.time() + 20
    while not msgs and time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1).get("Messages", [])
    rec = json.loads(msgs[0]["Body"])
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["requestPayload"] == {"id": 1}


def test_invoke_with_response_stream(lam):
    name = uniq("stream")
    create(lam, name, {"lambda_function.py": """
def lambda_handler(e, c):
    if e.get("fail"):
        raise KeyError("k")
    return {"streamed": e["n"]}
"""})
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"n": 3}', LogType="Tail")
    assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST"
    events = list(r["EventStream"])
    chunks = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert json.loads(chunks) == {"streamed": 3}
    done = [e["InvokeComplete"] for e in events if "InvokeComplete" in e]
    assert len(done) == 1 and "START RequestId" in base64.b64decode(done[0]["LogResult"]).decode()
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')
    done = [e["InvokeComplete"] for e in r["EventStream"] if "InvokeComplete" in e]
    assert done[0]["ErrorCode"] == "Unhandled" and "KeyError" in done[0]["ErrorDetails"]


def test_memory_limit_kills_the_instance(lam):
    name = uniq("oom")
    create(lam, name, {"lambda_function.py": """
import time
def lambda_handler(e, c):
    if e.get("hog"):
        data = b"x" * (300 * 1024 * 1024)
        time.sleep(1)
        return len(data)
    return "small"
"""}, MemorySize=128, Timeout=10)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{}')["Payload"].read()) == "small"
    r = lam.invoke(FunctionName=name, Payload=b'{"hog": true}', LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Payload"].read())
    assert doc["errorType"] == "Runtime.OutOfMemory"
    assert "Memory Size: 128 MB" in base64.b64decode(r["LogResult"]).decode()
    # A fresh instance serves the next invocation.
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{}')["Payload"].read()) == "small"


def test_event_source_mapping_batching_window_and_scaling(lam, client):
    sqs = client("sqs")
    src = sqs.create_queue(QueueName=uniq("src"))["QueueUrl"]
    out = sqs.create_queue(QueueName=uniq("out"))["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = uniq("esm-batch")
    create(lam, name, {"lambda_function.py": SQS_FORWARDER["lambda_function.py"].replace(
        "    failures = []", "    send(os.environ['OUT_QUEUE'], json.dumps({'batch': len(event['Records'])}))\n    failures = []")},
        Environment={"Variables": {"OUT_QUEUE": out}})
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=src, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"i": i})} for i in range(start, min(start + 10, 15))])
    code, _, _ = code_err(lam.create_event_source_mapping, EventSourceArn=src_arn, FunctionName=name, BatchSize=20)
    assert code == "InvalidParameterValueException"  # a batch over 10 needs a batching window
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name, BatchSize=20,
                                    MaximumBatchingWindowInSeconds=1, ScalingConfig={"MaximumConcurrency": 2})
    batches, seen = [], set()
    deadline = time.time() + 20
    while len(seen) < 15 and time.time() < deadline:
        for msg in sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(msg["Body"])
            if "batch" in body:
                batches.append(body["batch"])
            else:
                seen.add(body["seen"]["i"])
    assert seen == set(range(15))
    assert sum(batches) == 15 and max(batches) >= 10


def test_json_log_format(lam):
    name = uniq("jsonlogs")
    create(lam, name, {"lambda_function.py": """
import logging, os
def lambda_handler(e, c):
    logging.getLogger().debug("dbg %s", 1)
    return os.environ["AWS_LAMBDA_LOG_FORMAT"] + "/" + os.environ["AWS_LAMBDA_LOG_LEVEL"]
"""}, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO"})
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["LoggingConfig"]["LogFormat"] == "JSON"
    r = lam.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(r["Payload"].read()) == "JSON/DEBUG"
    lines = [json.loads(l) for l in base64.b64decode(r["LogResult"]).decode().splitlines() if l.strip()]
    assert lines[0]["type"] == "platform.start" and lines[0]["record"]["version"] == "$LATEST"
    app = [l for l in lines if l.get("level") == "DEBUG"]
    assert app and app[0]["message"] == "dbg 1" and app[0]["requestId"] == lines[0]["record"]["requestId"]
    report = lines[-1]
    assert report["type"] == "platform.report" and report["record"]["metrics"]["memorySizeMB"] == 128


def test_resource_policy_operations(lam):
    name = uniq("rp")
    arn = create(lam, name, PY_ECHO)["FunctionArn"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "x", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": arn}]})
    out = lam.put_resource_policy(ResourceArn=arn, Policy=policy)
    assert json.loads(out["Policy"])["Statement"][0]["Sid"] == "x"
    got = lam.get_resource_policy(ResourceArn=arn)
    assert json.loads(got["Policy"])["Statement"][0]["Sid"] == "x"
    assert json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"][0]["Sid"] == "x"
    code, status, _ = code_err(lam.put_resource_policy, ResourceArn=arn, Policy=policy, RevisionId=str(uuid.uuid4()))
    assert (code, status) == ("PreconditionFailedException", 412)
    lam.delete_resource_policy(ResourceArn=arn)
    assert code_err(lam.get_resource_policy, ResourceArn=arn)[0] == "ResourceNotFoundException"


def test_reset_drops_functions_and_instances(lam, overcast):
    """Runs last: /_overcast/reset empties Lambda and stops its instances."""
    name = uniq("reset")
    create(lam, name, PY_ECHO)
    lam.invoke(FunctionName=name)
    assert overcast.get("/_overcast/lambda/instances")["idle"]
    overcast.reset()
    assert lam.list_functions()["Functions"] == []
    assert overcast.get("/_overcast/lambda/instances")["idle"] == []
    assert code_err(lam.invoke, FunctionName=name)[0] == "ResourceNotFoundException"


def test_invocation_logs_reach_cloudwatch_logs(lam, client):
    logs = client("logs")
    name = uniq("logged")
    create(lam, name, PY_ECHO)
    lam.invoke(FunctionName=name, Payload=json.dumps({"hello": "logs"}))
    group = f"/aws/lambda/{name}"
    deadline = time.time() + 10
    messages = []
    while time.time() < deadline:
        try:
            messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        except ClientError:
            messages = []
        if any(m.startswith("REPORT") for m in messages):
            break
        time.sleep(0.2)
    assert any(m.startswith("START RequestId:") for m in messages), messages
    assert any('got {"hello": "logs"}' in m for m in messages), messages
    assert any(m.startswith("REPORT RequestId:") and "Billed Duration" in m for m in messages), messages
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and "[$LATEST]" in streams[0]["logStreamName"]


def test_caller_trace_id_reaches_the_handler(lam):
    """X-Amzn-Trace-Id on the Invoke request continues into the function's _X_AMZN_TRACE_ID
    (same Root, sampling decision kept); without one the function gets a fresh trace."""
    name = uniq("trace-fn")
    create(lam, name, {"lambda_function.py": """import os
def lambda_handler(event, context):
    return os.environ.get("_X_AMZN_TRACE_ID", "")
"""})
    root = "1-5759e988-bd862e3fe1be46a994272793"

    def add_header(params, **_):
        params["headers"]["X-Amzn-Trace-Id"] = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"

    lam.meta.events.register("before-call.lambda.Invoke", add_header)
    try:
        seen = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    finally:
        lam.meta.events.unregister("before-call.lambda.Invoke", add_header)
    assert seen.startswith(f"Root={root};Parent=") and seen.endswith(";Sampled=1")
    fresh = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert fresh.startswith("Root=1-") and root not in fresh
