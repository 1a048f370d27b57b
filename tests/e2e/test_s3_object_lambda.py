"""S3 access points and S3 Object Lambda, end to end with boto3 and the AWS CLI.

S3 Control (`s3control`) creates access points on buckets and Object Lambda access points on
access points; S3 requests addressed to an access point ARN (which the SDKs send to
`<name>-<account>.<endpoint host>`) or to its alias reach its bucket; a GetObject through an
Object Lambda access point runs a real Python Lambda function, which fetches the original
through the presigned `inputS3Url`, transforms it and answers with WriteGetObjectResponse.
"""
import json
import socket
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_lambda import create, uniq, zip_bytes

ACCOUNT = "000000000000"
NO_RETRY = Config(retries={"total_max_attempts": 1}, read_timeout=90)

TRANSFORM = {"lambda_function.py": """
import json, os, urllib.request

def write(route, token, body, **extra):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # no SDK on this machine's python: the same request by hand
        headers = {"x-amz-request-route": route, "x-amz-request-token": token}
        if "StatusCode" in extra:
            headers["x-amz-fwd-status"] = str(extra["StatusCode"])
        if "ErrorCode" in extra:
            headers["x-amz-fwd-error-code"] = extra["ErrorCode"]
        if "ErrorMessage" in extra:
            headers["x-amz-fwd-error-message"] = extra["ErrorMessage"]
        if "ContentType" in extra:
            headers["x-amz-fwd-header-Content-Type"] = extra["ContentType"]
        for k, v in extra.get("Metadata", {}).items():
            headers["x-amz-meta-" + k] = v
        req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/WriteGetObjectResponse",
                                     data=body, method="POST", headers=headers)
        urllib.request.urlopen(req).read()
        return
    s3 = boto3.client("s3", config=Config(inject_host_prefix=False))
    s3.write_get_object_response(RequestRoute=route, RequestToken=token, Body=body, **extra)

def head_or_list(event):
    if "headObjectContext" in event:
        key = event["userRequest"]["url"].split("?")[0].rsplit("/", 1)[-1]
        if key.startswith("deny"):
            return {"statusCode": 403, "errorCode": "NoHeadForYou", "errorMessage": "Not for you"}
        req = urllib.request.Request(event["headObjectContext"]["inputS3Url"], method="HEAD")
        with urllib.request.urlopen(req) as r:
            length = r.headers["Content-Length"]
        return {"statusCode": 200, "headers": {"Content-Length": length, "Content-Type": "text/x-shout",
                                               "ETag": '"transformed"'},
                "metadata": {"transformed": "head"}}
    if "listObjectsV2Context" in event:
        with urllib.request.urlopen(event["listObjectsV2Context"]["inputS3Url"]) as r:
            xml = r.read().decode()
        # Only the .txt keys whose names start with "h", as the XML the supporting access point sent.
        import re
        kept = [c for c in re.findall(r"<Contents>.*?</Contents>", xml, re.S) if "<Key>h" in c]
        xml = re.sub(r"<Contents>.*?</Contents>", lambda m: m.group(0) if m.group(0) in kept else "", xml, flags=re.S)
        xml = re.sub(r"<KeyCount>\\d+</KeyCount>", "<KeyCount>%d</KeyCount>" % len(kept), xml)
        return {"statusCode": 200, "listResultXml": xml}
    if "listObjectsContext" in event:
        url = event["listObjectsContext"]["inputS3Url"]
        return {"statusCode": 200, "listBucketResult": {
            "name": "virtual", "prefix": "", "marker": "", "maxKeys": 1000, "isTruncated": False,
            "contents": [{"key": "synthetic.txt", "size": 3, "eTag": '"abc"', "storageClass": "STANDARD",
                          "lastModified": "2024-01-02T03:04:05Z", "owner": {"id": "me", "displayName": "me"}}],
            "commonPrefixes": [{"prefix": "virtual/"}],
        }, "seen": url}
    return None

def lambda_handler(event, context):
    answer = head_or_list(event)
    if answer is not None:
        return answer
    ctx = event["getObjectContext"]
    route, token = ctx["outputRoute"], ctx["outputToken"]
    key = event["userRequest"]["url"].split("?")[0].rsplit("/", 1)[-1]
    if key.startswith("crash"):
        raise RuntimeError("the transformation failed")
    if key.startswith("silent"):
        return {"status_code": 200}
    with urllib.request.urlopen(ctx["inputS3Url"]) as r:
        original = r.read()
    if key.startswith("deny"):
        write(route, token, b"", StatusCode=403, ErrorCode="NoSoupForYou", ErrorMessage="Not for you")
    elif key.startswith("big"):
        write(route, token, original.upper() * (8 * 1024 * 1024 // len(original)), ContentType="text/plain")
    elif key.startswith("echo"):
        write(route, token, json.dumps({"event": event, "original": original.decode()}).encode(),
              ContentType="application/json")
    else:
        write(route, token, original.decode().upper().encode(), ContentType="text/plain",
              Metadata={"transformed": "upper", "payload": event["configuration"]["payload"]})
    return {"status_code": 200}
"""}


@pytest.fixture(autouse=True)
def localhost_names(monkeypatch):
    """Access point and S3 Control hosts are `<label>.localhost`: resolve them to 127.0.0.1."""
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k))


@pytest.fixture
def cli(aws, overcast, tmp_path):
    """The AWS CLI at `localhost`, its process resolving `*.localhost` like the tests do (a
    `sitecustomize` on its PYTHONPATH): S3 Control puts the account id in the host name."""
    (tmp_path / "sitecustomize.py").write_text(
        "import socket\n"
        "_real = socket.getaddrinfo\n"
        "def _resolve(host, *a, **k):\n"
        "    if isinstance(host, str) and host.endswith('.localhost'):\n"
        "        host = '127.0.0.1'\n"
        "    return _real(host, *a, **k)\n"
        "socket.getaddrinfo = _resolve\n")

    def run(*args):
        return aws(*args, "--endpoint-url", f"http://localhost:{overcast.port}",
                   env={"PYTHONPATH": str(tmp_path)})
    run.home = tmp_path
    return run


@pytest.fixture
def cli_raw(aws, overcast, cli):
    """`cli` for commands whose output is text (`aws s3 ls`): returns stdout."""
    def run(*args):
        proc = aws.raw(*args, "--endpoint-url", f"http://localhost:{overcast.port}",
                       env={"PYTHONPATH": str(cli.home)})
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    return run


def at_localhost(overcast, service, config=NO_RETRY):
    return boto3.client(service, endpoint_url=f"http://localhost:{overcast.port}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test", config=config)



@pytest.fixture
def control(overcast):
    return at_localhost(overcast, "s3control")


@pytest.fixture
def s3ap(overcast):
    """An S3 client as one addressing access point ARNs uses it."""
    return at_localhost(overcast, "s3")


def code(e):
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_access_point_crud_and_errors(client, control, cli):
    s3 = client("s3")
    bucket = name("apb")
    s3.create_bucket(Bucket=bucket)
    ap = name("ap")
    out = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)
    assert out["AccessPointArn"] == f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/{ap}"
    assert out["Alias"].startswith(ap + "-") and out["Alias"].endswith("-s3alias") and len(out["Alias"]) <= 63

    with pytest.raises(ClientError) as e:
        control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)
    assert code(e) == ("AccessPointAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as e:
        control.create_access_point(AccountId=ACCOUNT, Name=name("ap"), Bucket=name("nobucket"))
    assert code(e) == ("NoSuchBucket", 404)
    # A scope would narrow the access point's permissions: refused rather than ignored.
    scoped = name("ap")
    with pytest.raises(ClientError) as e:
        control.create_access_point(AccountId=ACCOUNT, Name=scoped, Bucket=bucket,
                                    Scope={"Prefixes": ["logs/*"]})
    assert code(e) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as e:
        control.get_access_point(AccountId=ACCOUNT, Name=scoped)
    assert code(e) == ("NoSuchAccessPoint", 404)
    tagged = name("ap")
    control.create_access_point(AccountId=ACCOUNT, Name=tagged, Bucket=bucket,
                                Tags=[{"Key": "team", "Value": "a"}])
    assert control.get_access_point(AccountId=ACCOUNT, Name=tagged)["Bucket"] == bucket
    control.delete_access_point(AccountId=ACCOUNT, Name=tagged)
    for bad in ["Bad_Name", "-leading", "x" * 51, "ends-s3alias"]:
        with pytest.raises(ClientError) as e:
            control.create_access_point(AccountId=ACCOUNT, Name=bad, Bucket=bucket)
        assert code(e) == ("InvalidURI", 400), bad
    with pytest.raises(ClientError) as e:
        control.get_access_point(AccountId="111122223333", Name=ap)
    assert code(e)[0] == "AccessDenied"

    got = control.get_access_point(AccountId=ACCOUNT, Name=ap)
    assert got["Name"] == ap and got["Bucket"] == bucket and got["NetworkOrigin"] == "Internet"
    assert got["Alias"] == out["Alias"] and got["AccessPointArn"] == out["AccessPointArn"]
    assert got["BucketAccountId"] == ACCOUNT
    assert got["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert got["CreationDate"]

    # Paging and the Bucket filter, with boto3 and the AWS CLI.
    others = [name("ap") for _ in range(2)]
    for o in others:
        control.create_access_point(AccountId=ACCOUNT, Name=o, Bucket=bucket)
    other_bucket = name("apb")
    s3.create_bucket(Bucket=other_bucket)
    control.create_access_point(AccountId=ACCOUNT, Name=name("ap"), Bucket=other_bucket)
    mine = sorted([ap, *others])
    page = control.list_access_points(AccountId=ACCOUNT, Bucket=bucket, MaxResults=2)
    assert [a["Name"] for a in page["AccessPointList"]] == mine[:2]
    rest = control.list_access_points(AccountId=ACCOUNT, Bucket=bucket, NextToken=page["NextToken"])
    assert [a["Name"] for a in rest["AccessPointList"]] == mine[2:] and "NextToken" not in rest
    listed = cli("s3control", "list-access-points", "--account-id", ACCOUNT, "--bucket", bucket)
    assert sorted(a["Name"] for a in listed["AccessPointList"]) == mine
    assert all(a["Bucket"] == bucket for a in listed["AccessPointList"])
    shown = cli("s3control", "get-access-point", "--account-id", ACCOUNT, "--name", ap)
    assert shown["Bucket"] == bucket and shown["Alias"] == out["Alias"]

    # The same through an S3 endpoint name (SDKs then send to `<account>.s3.localhost`).
    via_s3_host = boto3.client("s3control", endpoint_url=f"http://s3.localhost:{control.meta.endpoint_url.rsplit(':', 1)[1]}",
                               region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
                               config=NO_RETRY)
    assert via_s3_host.get_access_point(AccountId=ACCOUNT, Name=ap)["Bucket"] == bucket

    # Policies.
    with pytest.raises(ClientError) as e:
        control.get_access_point_policy(AccountId=ACCOUNT, Name=ap)
    assert code(e) == ("NoSuchAccessPointPolicy", 404)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
        "Resource": f"{out['AccessPointArn']}/object/*"}]})
    control.put_access_point_policy(AccountId=ACCOUNT, Name=ap, Policy=policy)
    assert json.loads(control.get_access_point_policy(AccountId=ACCOUNT, Name=ap)["Policy"]) == json.loads(policy)
    assert control.get_access_point_policy_status(AccountId=ACCOUNT, Name=ap)["PolicyStatus"]["IsPublic"] is False
    with pytest.raises(ClientError) as e:
        control.put_access_point_policy(AccountId=ACCOUNT, Name=ap, Policy="not json")
    assert code(e) == ("MalformedPolicy", 400)
    control.delete_access_point_policy(AccountId=ACCOUNT, Name=ap)
    with pytest.raises(ClientError) as e:
        control.get_access_point_policy_status(AccountId=ACCOUNT, Name=ap)
    assert code(e) == ("NoSuchAccessPointPolicy", 404)

    # A bucket with access points cannot be deleted.
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert code(e) == ("BucketHasAccessPointsAttached", 400)
    for a in [ap, *others]:
        control.delete_access_point(AccountId=ACCOUNT, Name=a)
    with pytest.raises(ClientError) as e:
        control.get_access_point(AccountId=ACCOUNT, Name=ap)
    assert code(e) == ("NoSuchAccessPoint", 404)
    with pytest.raises(ClientError) as e:
        control.delete_access_point(AccountId=ACCOUNT, Name=ap)
    assert code(e) == ("NoSuchAccessPoint", 404)
    s3.delete_bucket(Bucket=bucket)


def test_tags_of_access_points_and_buckets_through_s3_control(client, control, cli):
    """S3 Control's TagResource, UntagResource and ListTagsForResource: an access point's tags
    (those given at creation included) and a bucket's, which are its bucket tagging."""
    s3 = client("s3")
    bucket = name("tagb")
    s3.create_bucket(Bucket=bucket)
    ap = name("ap")
    arn = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket,
                                      Tags=[{"Key": "team", "Value": "a"}])["AccessPointArn"]
    listed = control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"]
    assert listed == [{"Key": "team", "Value": "a"}]
    control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn,
                         Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    listed = control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in listed) == [("env", "dev"), ("team", "b")]
    control.untag_resource(AccountId=ACCOUNT, ResourceArn=arn, TagKeys=["team", "absent"])
    shown = cli("s3control", "list-tags-for-resource", "--account-id", ACCOUNT, "--resource-arn", arn)
    assert shown["Tags"] == [{"Key": "env", "Value": "dev"}]

    # A bucket's tags are its bucket tagging, either way round.
    bucket_arn = f"arn:aws:s3:::{bucket}"
    assert control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=bucket_arn)["Tags"] == []
    control.tag_resource(AccountId=ACCOUNT, ResourceArn=bucket_arn, Tags=[{"Key": "cost", "Value": "1"}])
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "cost", "Value": "1"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "me"}]})
    assert control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=bucket_arn)["Tags"] == [
        {"Key": "owner", "Value": "me"}]
    control.untag_resource(AccountId=ACCOUNT, ResourceArn=bucket_arn, TagKeys=["owner"])
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(e) == ("NoSuchTagSet", 404)

    # Errors: bad tags change nothing; missing resources; other accounts; other ARNs.
    for bad in ([{"Key": "aws:x", "Value": "1"}], [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]):
        with pytest.raises(ClientError) as e:
            control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn, Tags=bad)
        assert code(e) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as e:  # the model's own limit on one request
        control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn,
                             Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert code(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn,
                             Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(50)])
    assert code(e) == ("InvalidTag", 400)  # 51 with the one already there
    assert control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn + "-gone")
    assert code(e) == ("NoSuchAccessPoint", 404)
    with pytest.raises(ClientError) as e:
        control.tag_resource(AccountId=ACCOUNT, ResourceArn=f"arn:aws:s3:::{name('nob')}",
                             Tags=[{"Key": "k", "Value": "v"}])
    assert code(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        control.list_tags_for_resource(AccountId="111122223333", ResourceArn=arn)
    assert code(e)[0] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn="arn:aws:sqs:us-east-1:000000000000:q")
    assert code(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        control.list_tags_for_resource(
            AccountId=ACCOUNT, ResourceArn=f"arn:aws:s3:us-east-1:{ACCOUNT}:storage-lens-group/g")
    assert code(e) == ("NotImplemented", 501)
    control.delete_access_point(AccountId=ACCOUNT, Name=ap)
    s3.delete_bucket(Bucket=bucket)


def test_objects_through_an_access_point_arn_and_alias(client, control, s3ap, cli, cli_raw, tmp_path):
    s3 = client("s3")
    bucket = name("apdata")
    s3.create_bucket(Bucket=bucket)
    ap = name("data")
    out = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)
    arn, alias = out["AccessPointArn"], out["Alias"]

    hosts = []
    s3ap.meta.events.register("before-send.s3.*", lambda request, **_: hosts.append(request.url))
    s3ap.put_object(Bucket=arn, Key="docs/a.txt", Body=b"through the access point")
    assert hosts[-1].startswith(f"http://{ap}-{ACCOUNT}.localhost:")
    assert s3.get_object(Bucket=bucket, Key="docs/a.txt")["Body"].read() == b"through the access point"
    assert s3ap.get_object(Bucket=arn, Key="docs/a.txt")["Body"].read() == b"through the access point"
    assert s3ap.head_object(Bucket=arn, Key="docs/a.txt")["ContentLength"] == 24
    assert [o["Key"] for o in s3ap.list_objects_v2(Bucket=arn)["Contents"]] == ["docs/a.txt"]
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=arn, Key="missing")
    assert code(e) == ("NoSuchKey", 404)

    # The alias works wherever a bucket name does (path style here).
    s3.put_object(Bucket=alias, Key="b.txt", Body=b"by alias")
    assert s3.get_object(Bucket=alias, Key="b.txt")["Body"].read() == b"by alias"
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=alias)["Contents"]) == ["b.txt", "docs/a.txt"]
    s3ap.delete_object(Bucket=arn, Key="b.txt")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="b.txt")
    assert code(e)[1] == 404

    # A presigned URL for an object behind an access point works as it is handed out.
    url = s3ap.generate_presigned_url("get_object", Params={"Bucket": arn, "Key": "docs/a.txt"}, ExpiresIn=60)
    assert url.startswith(f"http://{ap}-{ACCOUNT}.localhost:")
    assert urllib.request.urlopen(url, timeout=10).read() == b"through the access point"
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(url.replace("docs/a.txt", "docs/b.txt"), timeout=10)
    assert bad.value.code == 403

    # Copies from and to an access point.
    s3ap.copy_object(Bucket=bucket, Key="copy/from-ap.txt", CopySource={"Bucket": arn, "Key": "docs/a.txt"})
    assert s3.get_object(Bucket=bucket, Key="copy/from-ap.txt")["Body"].read() == b"through the access point"
    s3ap.copy_object(Bucket=arn, Key="copy/to ap.txt", CopySource={"Bucket": bucket, "Key": "docs/a.txt"})
    assert s3.get_object(Bucket=bucket, Key="copy/to ap.txt")["Body"].read() == b"through the access point"

    # The AWS CLI's high-level commands take access point ARNs in s3:// URIs.
    src = tmp_path / "cli.txt"
    src.write_text("copied by the cli")
    assert "upload:" in cli_raw("s3", "cp", str(src), f"s3://{arn}/cli/one.txt")
    assert s3.get_object(Bucket=bucket, Key="cli/one.txt")["Body"].read() == b"copied by the cli"
    listing = cli_raw("s3", "ls", f"s3://{arn}/cli/")
    assert "one.txt" in listing
    assert "delete:" in cli_raw("s3", "rm", f"s3://{arn}/cli/one.txt")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="cli/")

    # Unknown access points and aliases. (The host an unknown ARN reaches is also a valid
    # bucket name, so it answers as a missing bucket.)
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/{name('nope')}", Key="k")
    assert code(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=f"{name('nope')}-abcdefghijklmnopqrstuvwx-s3alias", Key="k")
    assert code(e) == ("InvalidAccessPointAliasError", 400)
    control.delete_access_point(AccountId=ACCOUNT, Name=ap)
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=arn, Key="docs/a.txt")
    assert code(e)[1] == 404


@pytest.fixture
def object_lambda(client, control):
    """A bucket with objects, an access point, a transforming function and an Object Lambda
    access point over them."""
    s3, lam = client("s3"), client("lambda")
    bucket = name("olb")
    s3.create_bucket(Bucket=bucket)
    for key in ["hello.txt", "deny.txt", "silent.txt", "crash.txt", "echo.txt", "big.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"hello object lambda")
    ap = name("sup")
    ap_arn = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)["AccessPointArn"]
    fn = create(lam, uniq("olfn"), TRANSFORM, Timeout=30)["FunctionArn"]
    olap = name("ol")
    out = control.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=olap, Configuration={
        "SupportingAccessPoint": ap_arn,
        "TransformationConfigurations": [{
            "Actions": ["GetObject"],
            "ContentTransformation": {"AwsLambda": {"FunctionArn": fn, "FunctionPayload": "shout"}},
        }],
    })
    return {"bucket": bucket, "ap": ap, "ap_arn": ap_arn, "fn": fn, "olap": olap,
            "arn": out["ObjectLambdaAccessPointArn"], "alias": out["Alias"]}


def test_object_lambda_access_point_crud(control, cli, object_lambda):
    ol = object_lambda
    assert ol["arn"] == f"arn:aws:s3-object-lambda:us-east-1:{ACCOUNT}:accesspoint/{ol['olap']}"
    assert ol["alias"]["Status"] == "READY" and ol["alias"]["Value"].endswith("--ol-s3")
    got = control.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert got["Name"] == ol["olap"] and got["Alias"] == ol["alias"] and got["CreationDate"]
    cfg = control.get_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])["Configuration"]
    assert cfg["SupportingAccessPoint"] == ol["ap_arn"]
    assert cfg["TransformationConfigurations"][0]["ContentTransformation"]["AwsLambda"]["FunctionArn"] == ol["fn"]
    listed = cli("s3control", "list-access-points-for-object-lambda", "--account-id", ACCOUNT)
    assert ol["arn"] in [o["ObjectLambdaAccessPointArn"] for o in listed["ObjectLambdaAccessPointList"]]
    shown = cli("s3control", "get-access-point-configuration-for-object-lambda", "--account-id", ACCOUNT,
                "--name", ol["olap"])
    assert shown["Configuration"]["SupportingAccessPoint"] == ol["ap_arn"]

    with pytest.raises(ClientError) as e:
        control.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"], Configuration=cfg)
    assert code(e) == ("AccessPointAlreadyOwnedByYou", 409)
    missing = dict(cfg, SupportingAccessPoint=f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/{name('gone')}")
    with pytest.raises(ClientError) as e:
        control.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=name("ol"), Configuration=missing)
    assert code(e) == ("NoSuchAccessPoint", 404)
    bad_action = dict(cfg, TransformationConfigurations=[{
        "Actions": ["PutObject"], "ContentTransformation": {"AwsLambda": {"FunctionArn": ol["fn"]}}}])
    with pytest.raises(ClientError) as e:
        control.put_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"],
                                                                 Configuration=bad_action)
    assert code(e) == ("InvalidRequest", 400)
    updated = dict(cfg, AllowedFeatures=["GetObject-Range"])
    control.put_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"], Configuration=updated)
    assert control.get_access_point_configuration_for_object_lambda(
        AccountId=ACCOUNT, Name=ol["olap"])["Configuration"]["AllowedFeatures"] == ["GetObject-Range"]

    with pytest.raises(ClientError) as e:
        control.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert code(e) == ("NoSuchAccessPointPolicy", 404)
    policy = json.dumps({"Version": "2008-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3-object-lambda:GetObject", "Resource": ol["arn"]}]})
    control.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"], Policy=policy)
    assert control.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])["Policy"] == policy
    status = control.get_access_point_policy_status_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert status["PolicyStatus"]["IsPublic"] is False
    control.delete_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    with pytest.raises(ClientError) as e:
        control.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert code(e) == ("NoSuchAccessPointPolicy", 404)

    control.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    with pytest.raises(ClientError) as e:
        control.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert code(e) == ("NoSuchAccessPoint", 404)


def test_get_object_runs_the_transformation(client, control, s3ap, cli, tmp_path, object_lambda):
    ol = object_lambda
    got = s3ap.get_object(Bucket=ol["arn"], Key="hello.txt")
    assert got["Body"].read() == b"HELLO OBJECT LAMBDA"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"transformed": "upper", "payload": "shout"}
    # As the AWS tutorials do it, with the CLI.
    meta = cli("s3api", "get-object", "--bucket", ol["arn"], "--key", "hello.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_bytes() == b"HELLO OBJECT LAMBDA"
    assert meta["Metadata"]["transformed"] == "upper"
    # The supporting access point and the bucket still serve the original.
    assert s3ap.get_object(Bucket=ol["ap_arn"], Key="hello.txt")["Body"].read() == b"hello object lambda"

    # The event is AWS's: getObjectContext with a working presigned inputS3Url, the
    # configuration, the user's request and identity.
    doc = json.loads(s3ap.get_object(Bucket=ol["arn"], Key="echo.txt")["Body"].read())
    event = doc["event"]
    assert doc["original"] == "hello object lambda"
    assert event["protocolVersion"] == "1.00" and event["xAmzRequestId"]
    goc = event["getObjectContext"]
    assert goc["outputRoute"] and len(goc["outputToken"]) >= 64
    assert "X-Amz-Signature=" in goc["inputS3Url"] and "/echo.txt?" in goc["inputS3Url"]
    assert event["configuration"] == {"accessPointArn": ol["arn"], "supportingAccessPointArn": ol["ap_arn"],
                                      "payload": "shout"}
    assert event["userRequest"]["url"].endswith("/echo.txt")
    assert event["userRequest"]["headers"]["Host"].startswith(f"{ol['olap']}-{ACCOUNT}.localhost")
    assert event["userIdentity"]["accountId"] == ACCOUNT
    # The token is single use: a second WriteGetObjectResponse with it is refused, with and
    # without the `{RequestRoute}.` host prefix.
    plain = client("s3", config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}))
    for writer in (plain, s3ap):  # s3ap sends to `<route>.localhost`
        with pytest.raises(ClientError) as e:
            writer.write_get_object_response(RequestRoute=goc["outputRoute"], RequestToken=goc["outputToken"],
                                             Body=b"late")
        assert code(e) == ("ValidationError", 400)

    # Ranged and part requests are refused unless the configuration lets the function
    # handle them; then the function sees the caller's Range header and partNumber.
    for kwargs in ({"Range": "bytes=0-4"}, {"PartNumber": 1}):
        with pytest.raises(ClientError) as e:
            s3ap.get_object(Bucket=ol["arn"], Key="echo.txt", **kwargs)
        assert code(e) == ("NotImplemented", 501), kwargs
    cfg = control.get_access_point_configuration_for_object_lambda(
        AccountId=ACCOUNT, Name=ol["olap"])["Configuration"]
    cfg["AllowedFeatures"] = ["GetObject-Range", "GetObject-PartNumber"]
    control.put_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"], Configuration=cfg)
    event = json.loads(s3ap.get_object(Bucket=ol["arn"], Key="echo.txt", Range="bytes=0-4")["Body"].read())["event"]
    assert event["userRequest"]["headers"]["Range"] == "bytes=0-4"
    assert "Range" not in event["getObjectContext"]["inputS3Url"]
    event = json.loads(s3ap.get_object(Bucket=ol["arn"], Key="echo.txt", PartNumber=1)["Body"].read())["event"]
    assert event["userRequest"]["url"].endswith("/echo.txt?partNumber=1")

    # Actions the access point does not transform pass through to the supporting access point.
    assert sorted(o["Key"] for o in s3ap.list_objects_v2(Bucket=ol["arn"])["Contents"])[0] == "big.txt"
    assert s3ap.head_object(Bucket=ol["arn"], Key="hello.txt")["ContentLength"] == 19


def test_large_transformed_bodies_stream_and_the_alias_works(client, s3ap, object_lambda):
    ol = object_lambda
    got = s3ap.get_object(Bucket=ol["arn"], Key="big.txt")
    body = got["Body"].read()
    unit = b"HELLO OBJECT LAMBDA"
    assert len(body) == len(unit) * (8 * 1024 * 1024 // len(unit)) and body[:19] == unit and body[-19:] == unit
    assert got["ContentLength"] == len(body)
    # The Object Lambda access point's alias, as a bucket name (path style).
    s3 = client("s3")
    assert s3.get_object(Bucket=ol["alias"]["Value"], Key="hello.txt")["Body"].read() == b"HELLO OBJECT LAMBDA"


def test_head_and_list_transformations(control, s3ap, object_lambda):
    ol = object_lambda
    cfg = control.get_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])["Configuration"]
    fn = cfg["TransformationConfigurations"][0]["ContentTransformation"]
    cfg["TransformationConfigurations"] = [
        {"Actions": ["GetObject", "HeadObject"], "ContentTransformation": fn},
        {"Actions": ["ListObjects", "ListObjectsV2"], "ContentTransformation": fn},
    ]
    control.put_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"], Configuration=cfg)

    head = s3ap.head_object(Bucket=ol["arn"], Key="hello.txt")
    assert head["ContentLength"] == 19 and head["ContentType"] == "text/x-shout"
    assert head["ETag"] == '"transformed"' and head["Metadata"] == {"transformed": "head"}
    with pytest.raises(ClientError) as e:
        s3ap.head_object(Bucket=ol["arn"], Key="deny.txt")
    assert code(e)[1] == 403  # HEAD answers carry no error body
    with pytest.raises(ClientError) as e:
        s3ap.head_object(Bucket=ol["arn"], Key="hello.txt", Range="bytes=0-1")
    assert code(e)[1] == 501

    # ListObjectsV2: the function filters the XML the supporting access point answered.
    listed = s3ap.list_objects_v2(Bucket=ol["arn"])
    assert [o["Key"] for o in listed["Contents"]] == ["hello.txt"]
    assert listed["KeyCount"] == 1 and listed["Contents"][0]["Size"] == 19
    # ListObjects: the function answers with listBucketResult JSON.
    v1 = s3ap.list_objects(Bucket=ol["arn"], Prefix="x")
    assert v1["Name"] == "virtual" and [o["Key"] for o in v1["Contents"]] == ["synthetic.txt"]
    assert v1["Contents"][0]["ETag"] == '"abc"' and v1["Contents"][0]["Owner"]["ID"] == "me"
    assert v1["Contents"][0]["LastModified"].year == 2024
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["virtual/"]


def test_transformation_errors_reach_the_caller(s3ap, object_lambda):
    ol = object_lambda
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=ol["arn"], Key="deny.txt")
    assert code(e) == ("NoSoupForYou", 403)
    assert e.value.response["Error"]["Message"] == "Not for you"
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=ol["arn"], Key="silent.txt")
    assert code(e) == ("LambdaResponseNotReceived", 500)
    with pytest.raises(ClientError) as e:
        s3ap.get_object(Bucket=ol["arn"], Key="crash.txt")
    assert code(e) == ("LambdaRuntimeError", 500)


def test_access_points_survive_restart(overcast, object_lambda):
    ol = object_lambda
    overcast.restart()
    control, s3ap = at_localhost(overcast, "s3control"), at_localhost(overcast, "s3")
    assert control.get_access_point(AccountId=ACCOUNT, Name=ol["ap"])["Bucket"] == ol["bucket"]
    cfg = control.get_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=ol["olap"])
    assert cfg["Configuration"]["SupportingAccessPoint"] == ol["ap_arn"]
    assert s3ap.get_object(Bucket=ol["arn"], Key="hello.txt")["Body"].read() == b"HELLO OBJECT LAMBDA"
    overcast.kill9()
    control = at_localhost(overcast, "s3control")
    names = [o["Name"] for o in control.list_access_points_for_object_lambda(AccountId=ACCOUNT)
             ["ObjectLambdaAccessPointList"]]
    assert ol["olap"] in names


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    from conftest import Overcast
    server = Overcast(str(tmp_path_factory.mktemp("olap-enforce") / "data"), extra_args=["--enforce-iam"])
    server.start()
    yield server
    server.stop()


def test_callers_need_permission_to_invoke_the_function(enforced):
    """Under --enforce-iam the caller of an Object Lambda access point needs
    lambda:InvokeFunction on its function, as on AWS."""
    root = lambda svc: at_localhost(enforced, svc)  # noqa: E731
    s3, control, lam, iam = root("s3"), root("s3control"), root("lambda"), root("iam")
    bucket = name("olenf")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello object lambda")
    ap_arn = control.create_access_point(AccountId=ACCOUNT, Name=name("sup"), Bucket=bucket)["AccessPointArn"]
    # The function's role may answer GetObject requests (AWS's
    # AmazonS3ObjectLambdaExecutionRolePolicy grants the same action).
    role = iam.create_role(RoleName=name("olrole"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="wgor", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3-object-lambda:WriteGetObjectResponse",
                                                "Resource": "*"}]}))
    fn = lam.create_function(FunctionName=uniq("olfn"), Runtime="python3.11", Role=role["Arn"],
                             Handler="lambda_function.lambda_handler", Timeout=30,
                             Code={"ZipFile": zip_bytes(TRANSFORM)})["FunctionArn"]
    olap = control.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=name("ol"), Configuration={
        "SupportingAccessPoint": ap_arn,
        "TransformationConfigurations": [{"Actions": ["GetObject"],
                                          "ContentTransformation": {"AwsLambda": {"FunctionArn": fn}}}],
    })["ObjectLambdaAccessPointArn"]
    assert s3.get_object(Bucket=olap, Key="hello.txt")["Body"].read() == b"HELLO OBJECT LAMBDA"

    user = name("reader")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = boto3.client("s3", endpoint_url=f"http://localhost:{enforced.port}", region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          config=NO_RETRY)
    with pytest.raises(ClientError) as e:
        reader.get_object(Bucket=olap, Key="hello.txt")
    assert code(e) == ("LambdaPermissionError", 403)
    assert "lambda:InvokeFunction" in e.value.response["Error"]["Message"]
    # Allowed to invoke it, the reader gets the transformed object (the function reads the
    # original with the reader's presigned URL and answers with its own role).
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn}]}))
    assert reader.get_object(Bucket=olap, Key="hello.txt")["Body"].read() == b"HELLO OBJECT LAMBDA"


def test_requests_through_an_access_point_are_authorized_as_the_access_point(enforced):
    """Under --enforce-iam a request addressed to an access point (its ARN or its alias) is
    authorized as AWS does: identity policies and the access point's policy are evaluated
    against the access point's ARN (`…:accesspoint/<name>/object/<key>`), not the bucket's."""
    root = lambda svc: at_localhost(enforced, svc)  # noqa: E731
    s3, control, iam = root("s3"), root("s3control"), root("iam")
    bucket = name("apenf")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="secret/b.txt", Body=b"b")
    ap = name("ap")
    created = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)
    ap_arn, alias = created["AccessPointArn"], created["Alias"]

    def user_with(statements):
        user = name("apuser")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return boto3.client("s3", endpoint_url=f"http://localhost:{enforced.port}", region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            config=NO_RETRY)

    # Allowed on the access point only: through it, yes (ARN and alias); the bucket itself, no.
    through = user_with([{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                          "Resource": [ap_arn, f"{ap_arn}/object/*"]}])
    assert through.get_object(Bucket=ap_arn, Key="public/a.txt")["Body"].read() == b"a"
    assert through.get_object(Bucket=alias, Key="public/a.txt")["Body"].read() == b"a"
    through.put_object(Bucket=ap_arn, Key="public/c.txt", Body=b"c")
    assert [o["Key"] for o in through.list_objects_v2(Bucket=ap_arn, Prefix="public/")["Contents"]] == [
        "public/a.txt", "public/c.txt"]
    with pytest.raises(ClientError) as e:
        through.get_object(Bucket=bucket, Key="public/a.txt")
    assert code(e) == ("AccessDenied", 403)

    # Allowed on the bucket only: not through the access point.
    direct = user_with([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}])
    assert direct.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"a"
    with pytest.raises(ClientError) as e:
        direct.get_object(Bucket=ap_arn, Key="public/a.txt")
    assert code(e) == ("AccessDenied", 403)
    assert ap_arn + "/object/public/a.txt" in e.value.response["Error"]["Message"]

    # The access point's policy counts: its Deny holds against an identity that allows.
    control.put_access_point_policy(AccountId=ACCOUNT, Name=ap, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                "Resource": f"{ap_arn}/object/secret/*"}]}))
    with pytest.raises(ClientError) as e:
        through.get_object(Bucket=ap_arn, Key="secret/b.txt")
    assert code(e) == ("AccessDenied", 403)
    assert through.get_object(Bucket=ap_arn, Key="public/a.txt")["Body"].read() == b"a"
    control.delete_access_point_policy(AccountId=ACCOUNT, Name=ap)
    assert through.get_object(Bucket=ap_arn, Key="secret/b.txt")["Body"].read() == b"b"
