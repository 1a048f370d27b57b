"""HTTPS on the edge port: the same port answers plain HTTP and TLS (told apart by the first
byte). The AWS CLI (`--ca-bundle` and `AWS_CA_BUNDLE`) and boto3 (`verify=`) work over TLS
with the local CA served at `/_overcast/tls/ca.pem`, and fail without it, as do aws-sdk-js
v3 (`NODE_EXTRA_CA_CERTS`) and OpenSSL clients (`SSL_CERT_FILE`); h2 is negotiated
by ALPN (curl `--http2`, a SigV4-signed call); virtual-host names (`*.s3.localhost`) are in
the certificate; plain and TLS clients share the port at once; the CA survives a restart and
`kill -9` (and is in memory only with `--ephemeral`); a user's certificate
(`--tls-cert`/`--tls-key`) replaces it; and with `--enforce-iam`, `aws:SecureTransport`
follows the transport."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, SSLError

from conftest import BIN, Overcast

CURL = shutil.which("curl")


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ca_pem(server):
    return urllib.request.urlopen(server.url + "/_overcast/tls/ca.pem", timeout=5).read()


def https_url(server, host="localhost"):
    return f"https://{host}:{server.port}"


@pytest.fixture(scope="module")
def ca(overcast, tmp_path_factory):
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    path.write_bytes(ca_pem(overcast))
    return str(path)


def tls_client(server, service, ca, host="localhost", **kw):
    return boto3.client(service, endpoint_url=https_url(server, host), region_name="us-east-1",
                        aws_access_key_id=kw.pop("key", "test"), aws_secret_access_key=kw.pop("secret", "test"),
                        verify=ca, config=Config(retries={"max_attempts": 1}), **kw)


def test_ca_is_served_as_a_ca_certificate(overcast, ca):
    pem = open(ca).read()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", ca],
                          capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in text and "Overcast local CA" in text
    # It is also reachable over TLS.
    ctx = ssl.create_default_context(cafile=ca)
    assert urllib.request.urlopen(https_url(overcast) + "/_overcast/tls/ca.pem", context=ctx,
                                  timeout=5).read().decode() == pem


def test_aws_cli_over_tls_with_ca_bundle(overcast, aws, ca):
    name = uniq("cli-tls")
    aws("sqs", "create-queue", "--queue-name", name)
    base = [aws.exe, "--endpoint-url", https_url(overcast), "--output", "json"]
    out = subprocess.run([*base, "--ca-bundle", ca, "sqs", "list-queues"], capture_output=True,
                         text=True, env=aws.env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert any(u.endswith("/" + name) for u in json.loads(out.stdout)["QueueUrls"])
    # AWS_CA_BUNDLE does the same.
    out = subprocess.run([*base, "sqs", "get-queue-url", "--queue-name", name], capture_output=True,
                         text=True, env=aws.env({"AWS_CA_BUNDLE": ca}), timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["QueueUrl"].endswith("/" + name)
    # Without the CA the certificate is not trusted: the TLS really is verified.
    out = subprocess.run([*base, "sqs", "list-queues"], capture_output=True, text=True,
                         env=aws.env(), timeout=120)
    assert out.returncode != 0 and "SSL" in out.stderr


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_boto3_over_tls_with_verify(overcast, ca, host):
    sqs = tls_client(overcast, "sqs", ca, host=host)
    url = sqs.create_queue(QueueName=uniq("b3-tls"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="over tls")
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert msgs[0]["Body"] == "over tls"
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName=uniq("missing"))
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    s3 = tls_client(overcast, "s3", ca, host=host)
    bucket = uniq("tls-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * 100_000


def test_boto3_without_the_ca_fails(overcast):
    sqs = tls_client(overcast, "sqs", True)
    with pytest.raises(SSLError):
        sqs.list_queues()


@pytest.mark.skipif(CURL is None, reason="curl missing")
def test_h2_over_tls_by_alpn(overcast, ca):
    out = subprocess.run([CURL, "-sS", "--http2", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version}",
                          https_url(overcast) + "/_overcast/health"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2"
    # An AWS API call over h2, signed with SigV4 by curl.
    name = uniq("h2")
    out = subprocess.run([CURL, "-sS", "--http2", "--cacert", ca, "--aws-sigv4", "aws:amz:us-east-1:sqs",
                          "--user", "test:test", "-H", "X-Amz-Target: AmazonSQS.CreateQueue",
                          "-H", "Content-Type: application/x-amz-json-1.0", "-d", json.dumps({"QueueName": name}),
                          "-w", "\n%{http_version} %{http_code}", https_url(overcast) + "/"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "2 200", out.stdout
    assert json.loads(body)["QueueUrl"].endswith("/" + name)
    # HTTP/1.1 when the client offers only that.
    out = subprocess.run([CURL, "-sS", "--http1.1", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version}",
                          https_url(overcast) + "/_overcast/health"], capture_output=True, text=True, timeout=30)
    assert out.stdout == "1.1"


@pytest.mark.skipif(CURL is None, reason="curl missing")
def test_virtual_host_names_are_in_the_certificate(overcast, ca, client):
    bucket = uniq("vhost")
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    for host in (f"{bucket}.s3.localhost", f"{bucket}.s3.eu-west-1.localhost"):
        out = subprocess.run([CURL, "-sS", "--fail", "--cacert", ca, "--resolve", f"{host}:{overcast.port}:127.0.0.1",
                              "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test",
                              f"https://{host}:{overcast.port}/hello.txt"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "hi"
    # A name the certificate does not cover is refused by the client.
    out = subprocess.run([CURL, "-sS", "--cacert", ca, "--resolve", f"example.com:{overcast.port}:127.0.0.1",
                          f"https://example.com:{overcast.port}/_overcast/health"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0


def test_plain_http_and_tls_on_the_same_port_at_once(overcast, client, ca):
    plain, secure = client("sqs"), tls_client(overcast, "sqs", ca)
    url = plain.create_queue(QueueName=uniq("mixed"))["QueueUrl"]
    for i in range(5):
        (secure if i % 2 else plain).send_message(QueueUrl=url, MessageBody=str(i))
    got = set()
    for c in (secure, plain, secure, plain, secure, plain):
        for m in c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            got.add(m["Body"])
            c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert got == {"0", "1", "2", "3", "4"}
    # Two raw connections open side by side, one plain and one TLS, each kept alive for two
    # requests.
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", overcast.port), timeout=5)
    tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", overcast.port), timeout=5),
                          server_hostname="localhost")
    try:
        for _ in range(2):
            for s in (raw, tls):
                s.sendall(b"GET /_overcast/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            for s in (raw, tls):
                head = read_response(s)
                assert head.startswith(b"HTTP/1.1 200"), head
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        raw.close()
        tls.close()


def read_response(s):
    """Reads one HTTP/1.1 response with a Content-Length body; returns it whole."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body


def test_garbage_and_aborted_handshakes_do_not_hurt_the_port(overcast, ca):
    # A TLS record header then nothing, and a half handshake, then a normal TLS request.
    for payload in (b"\x16\x03\x01\x00\x05hello", b"\x16"):
        with socket.create_connection(("127.0.0.1", overcast.port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            try:
                s.recv(100)
            except OSError:
                pass
    ctx = ssl.create_default_context(cafile=ca)
    assert urllib.request.urlopen(https_url(overcast) + "/_overcast/health", context=ctx, timeout=5).status == 200
    assert urllib.request.urlopen(overcast.url + "/_overcast/health", timeout=5).status == 200


def test_ca_survives_restart_and_kill9_and_ephemeral_keeps_it_in_memory(tmp_path):
    data = tmp_path / "data"
    server = Overcast(str(data))
    server.start()
    try:
        first = ca_pem(server)
        ca = tmp_path / "ca.pem"
        ca.write_bytes(first)
        assert (data / "tls" / "ca.pem").read_bytes() == first
        assert oct((data / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"
        sqs = tls_client(server, "sqs", str(ca))
        url = sqs.create_queue(QueueName="durable-tls")["QueueUrl"]
        server.restart()
        assert ca_pem(server) == first
        # The CA file clients already trust still verifies the new server certificate.
        assert tls_client(server, "sqs", str(ca)).get_queue_url(QueueName="durable-tls")["QueueUrl"] == url
        server.kill9()
        assert ca_pem(server) == first
        assert tls_client(server, "sqs", str(ca)).list_queues()["QueueUrls"] == [url]
    finally:
        server.stop()
    eph = Overcast(str(tmp_path / "eph"), extra_args=["--ephemeral"])
    eph.start()
    try:
        pem = ca_pem(eph)
        assert pem != first and not (tmp_path / "eph").exists()
        eca = tmp_path / "eph-ca.pem"
        eca.write_bytes(pem)
        assert tls_client(eph, "sqs", str(eca)).list_queues().get("QueueUrls") is None
    finally:
        eph.stop()


def test_user_provided_certificate(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=overcast.test",
                    "-addext", "subjectAltName=DNS:overcast.test,IP:127.0.0.1"],
                   cwd=tmp_path, check=True, capture_output=True)
    server = Overcast(str(tmp_path / "data"), extra_args=["--tls-cert", str(tmp_path / "cert.pem"),
                                                          "--tls-key", str(tmp_path / "key.pem")])
    server.start()
    try:
        sqs = tls_client(server, "sqs", str(tmp_path / "cert.pem"), host="127.0.0.1")
        assert sqs.list_queues().get("QueueUrls") is None
        with pytest.raises(urllib.error.HTTPError) as e:
            ca_pem(server)
        assert e.value.code == 404
        assert not (tmp_path / "data" / "tls").exists()
    finally:
        server.stop()
    # A key that does not parse stops the server at start, with the flag named.
    (tmp_path / "bad.pem").write_text("not a key")
    proc = subprocess.run([BIN, "--port", "0", "--ephemeral", "--tls-cert", str(tmp_path / "cert.pem"),
                           "--tls-key", str(tmp_path / "bad.pem")], capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0 and "--tls-key" in proc.stderr


def test_secure_transport_condition_follows_the_transport(tmp_path):
    """A policy allowing SQS only with aws:SecureTransport true: denied over HTTP, allowed
    over TLS (the same request, the same key)."""
    server = Overcast(str(tmp_path / "data"), extra_args=["--enforce-iam"])
    server.start()
    try:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(ca_pem(server))
        iam = boto3.client("iam", endpoint_url=server.url, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        iam.create_user(UserName="tls-only")
        iam.put_user_policy(UserName="tls-only", PolicyName="tls", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*",
                                                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
        key = iam.create_access_key(UserName="tls-only")["AccessKey"]
        creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        plain = boto3.client("sqs", endpoint_url=server.url, region_name="us-east-1",
                             config=Config(retries={"max_attempts": 1}), **creds)
        with pytest.raises(ClientError) as e:
            plain.list_queues()
        assert e.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
        secure = tls_client(server, "sqs", str(ca), key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        secure.list_queues()
    finally:
        server.stop()


JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
JS_SDK = os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-eventbridge")


def test_ssl_cert_file_trusts_the_ca(overcast, ca):
    """OpenSSL-based clients (here Python's default SSL context) trust it via SSL_CERT_FILE."""
    code = ("import urllib.request,sys; "
            "print(urllib.request.urlopen(sys.argv[1], timeout=5).status)")
    url = https_url(overcast) + "/_overcast/health"
    env = dict(os.environ, SSL_CERT_FILE=ca)
    env.pop("SSL_CERT_DIR", None)
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "200", out.stderr


@pytest.mark.skipif(NODE is None or not os.path.isdir(JS_SDK),
                    reason="node or tests/e2e/js/node_modules missing (run npm ci in tests/e2e/js)")
def test_aws_sdk_js_over_tls_with_node_extra_ca_certs(overcast, ca):
    bus = uniq("js-tls")
    script = ("import {EventBridgeClient, CreateEventBusCommand, ListEventBusesCommand} from "
              "'@aws-sdk/client-eventbridge';"
              "const c = new EventBridgeClient({});"
              f"await c.send(new CreateEventBusCommand({{Name: '{bus}'}}));"
              "const r = await c.send(new ListEventBusesCommand({}));"
              "console.log(JSON.stringify(r.EventBuses.map(b => b.Name)));")
    env = dict(os.environ, AWS_ENDPOINT_URL=https_url(overcast), AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1", NODE_EXTRA_CA_CERTS=ca)
    env.pop("AWS_PROFILE", None)
    out = subprocess.run([NODE, "--input-type=module", "-e", script], cwd=JS_DIR, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert bus in json.loads(out.stdout)
    # Without the CA, Node refuses the certificate.
    env.pop("NODE_EXTRA_CA_CERTS")
    out = subprocess.run([NODE, "--input-type=module", "-e", script.replace(bus, bus + "x")], cwd=JS_DIR,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "certificate" in out.stderr.lower()


@pytest.mark.skipif(CURL is None, reason="curl missing")
def test_extra_tls_hostnames(tmp_path):
    """`--tls-hostnames` adds names (e.g. a Docker service name) to the generated certificate;
    a malformed one stops the server at start."""
    server = Overcast(str(tmp_path / "data"), extra_args=["--ephemeral", "--tls-hostnames", "overcast.test,*.dev.test"])
    server.start()
    try:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(ca_pem(server))
        for host in ("overcast.test", "api.dev.test", "localhost"):
            out = subprocess.run([CURL, "-sS", "--fail", "--cacert", str(ca), "--resolve", f"{host}:{server.port}:127.0.0.1",
                                  f"https://{host}:{server.port}/_overcast/health"], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, (host, out.stderr)
    finally:
        server.stop()
    proc = subprocess.run([BIN, "--port", "0", "--ephemeral", "--tls-hostnames", "bad name"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0 and "--tls-hostnames" in proc.stderr
