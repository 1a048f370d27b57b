"""The platform itself: health, introspection, routing errors, NotImplemented, persistence
plumbing and the error envelope of each protocol."""
import json
import urllib.error
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def raw(overcast, method, path, body=b"", headers=None):
    req = urllib.request.Request(overcast.url + path, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_health_lists_services_in_both_paths(overcast):
    for path in ("/_overcast/health", "/_localstack/health"):
        h = overcast.get(path)
        assert h["services"]["sqs"] == "running"
        assert h["services"]["sts"] == "running"
        assert h["services"]["ssm"] == "running"
        assert h["services"]["s3"] == "running"
        assert h["services"]["ec2"] == "available"
        assert h["persistence"] is True


def test_clock_advance_set_freeze(overcast):
    t0 = overcast.get("/_overcast/clock")["now"]
    t1 = overcast.clock(advance=3600)["now"]
    assert 3599 <= t1 - t0 < 3700
    frozen = overcast.clock(freeze=True)
    assert frozen["frozen"] is True
    assert overcast.get("/_overcast/clock")["now"] == frozen["now"]
    s = overcast.clock(set="2030-01-01T00:00:00Z")
    assert s["now"] == 1893456000
    assert s["iso"] == "2030-01-01T00:00:00.000Z"
    overcast.clock(freeze=False)
    # leave real time behind us for other tests
    overcast.post("/_overcast/reset")
    assert abs(overcast.get("/_overcast/clock")["now"] - t0) < 600


def test_clock_rejects_bad_input(overcast):
    with pytest.raises(urllib.error.HTTPError) as e:
        overcast.clock(advance=-5)
    assert e.value.code == 400


def test_unknown_json_operation_is_unknown_operation(overcast):
    status, headers, body = raw(overcast, "POST", "/", b"{}", {
        "X-Amz-Target": "AmazonSQS.NoSuchOperation", "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(body)["__type"].endswith("UnknownOperationException")


def test_not_implemented_names_the_operation(client):
    # EC2 has a model but no implementation yet: a well-formed ec2-protocol error, HTTP 501.
    ec2 = client("ec2")
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "DescribeVpcs" in e.value.response["Error"]["Message"]


def test_not_implemented_json_service(client):
    logs = client("logs")
    with pytest.raises(ClientError) as e:
        logs.list_syslog_configurations()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "ListSyslogConfigurations" in e.value.response["Error"]["Message"]


def test_request_id_header_on_every_answer(overcast):
    status, headers, _ = raw(overcast, "POST", "/", b"{}", {
        "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
    lower = {k.lower(): v for k, v in headers.items()}
    assert len(lower["x-amzn-requestid"]) == 36


def test_malformed_json_body_is_serialization_error(overcast):
    status, headers, body = raw(overcast, "POST", "/", b"{not json", {
        "X-Amz-Target": "AmazonSSM.GetParameter", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_virtual_clock_survives_restart_and_kill9(overcast):
    try:
        moved = overcast.clock(advance=86400)["now"]
        overcast.restart()
        after = overcast.get("/_overcast/clock")["now"]
        assert moved <= after < moved + 60
        frozen = overcast.clock(freeze=True)["now"]
        overcast.kill9()
        state = overcast.get("/_overcast/clock")
        assert state["frozen"] is True and state["now"] == frozen
    finally:
        overcast.reset()


@pytest.mark.parametrize("service,call,op", [
    # Operations no service implements yet (pick another when one lands).
    ("cloudfront", lambda c: c.list_distributions(), "ListDistributions"),  # rest-xml
    ("eks", lambda c: c.list_clusters(), "ListClusters"),                   # rest-json
    ("cloudwatch", lambda c: c.list_managed_insight_rules(ResourceARN="arn:aws:x"),
     "ListManagedInsightRules"),                                              # smithy-rpc-v2-cbor
    ("cloudformation", lambda c: c.list_stacks(), "ListStacks"),             # query
    ("ec2", lambda c: c.describe_instances(), "DescribeInstances"),          # ec2
    ("route53", lambda c: c.list_hosted_zones(), "ListHostedZones"),         # rest-xml (ErrorResponse)
    ("dynamodb", lambda c: c.list_tables(), "ListTables"),                   # json 1.0
])
def test_every_protocol_error_envelope_parses(client, service, call, op):
    with pytest.raises(ClientError) as e:
        call(client(service, config=Config(inject_host_prefix=False)))
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert op in err["Error"]["Message"]
    assert err["ResponseMetadata"]["RequestId"]


def test_cbor_protocol_is_what_current_cloudwatch_clients_speak(client):
    cw = client("cloudwatch")
    assert cw.meta.service_model.protocol == "smithy-rpc-v2-cbor"


def test_s3_error_has_s3_request_id_headers(overcast):
    status, headers, body = raw(overcast, "GET", "/no-such-bucket-here/k?torrent", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"})
    lower = {k.lower(): v for k, v in headers.items()}
    assert status == 404
    assert "x-amz-request-id" in lower and "x-amz-id-2" in lower
    assert "x-amzn-requestid" not in lower  # S3 sends its own two only
    assert body.startswith(b"<?xml") and b"<Error><Code>NoSuchBucket</Code>" in body


def test_second_server_on_same_data_dir_is_refused(overcast):
    from conftest import Overcast
    twin = Overcast(overcast.data_dir)
    with pytest.raises(RuntimeError):
        twin.start()
    with open(twin.log_path) as f:
        assert "in use by another Overcast" in f.read()
    # the first server is unaffected
    assert overcast.get("/_overcast/health")["services"]["sqs"] == "running"


def test_oversized_body_is_refused_from_its_content_length(overcast, client):
    import socket
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="still-here")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    port = int(overcast.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
                  b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 200000000\r\n\r\n{}")
        head = s.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
    assert "RequestEntityTooLarge" in head
    # nothing acknowledged before is lost, and the server still answers
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert got[0]["Body"] == "kept"


def test_listens_on_ipv6_loopback_too(overcast):
    import socket
    try:
        s = socket.create_connection(("::1", overcast.port), timeout=2)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with s:
        s.sendall(b"GET /_overcast/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 200")


def test_http2_cleartext_prior_knowledge(overcast, tmp_path):
    """h2c (HTTP/2 without TLS, as gRPC-style and some SDK HTTP clients speak it)."""
    import shutil
    import subprocess
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    body = json.dumps({"QueueName": "h2c-queue"})
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-o", str(tmp_path / "out"), "-w", "%{http_version} %{http_code}",
         "-H", "X-Amz-Target: AmazonSQS.CreateQueue", "-H", "Content-Type: application/x-amz-json-1.0",
         "-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
         "--data", body, overcast.url + "/"], capture_output=True, text=True, timeout=30)
    assert out.stdout == "2 200", out
    assert json.loads((tmp_path / "out").read_text())["QueueUrl"].endswith("/h2c-queue")
    # S3 over h2c too (virtual-host routing reads :authority).
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-X", "PUT", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                          overcast.url + "/h2c-bucket-test"], capture_output=True, text=True, timeout=30)
    assert out.stdout == "2 200", out
