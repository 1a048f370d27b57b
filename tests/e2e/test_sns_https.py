"""HTTPS delivery end to end: SNS `https` subscriptions and EventBridge API destinations call
real TLS endpoints. The test makes a CA and a server certificate with `openssl`, serves
HTTPS from Python's `ssl` on 127.0.0.1, and starts its own Overcast with SSL_CERT_FILE
naming that CA: the SubscribeURL handshake, a signed notification (verified with OpenSSL
against the certificate Overcast serves), an untrusted certificate failing delivery that is
retried per the DeliveryPolicy on the virtual clock and then dead-lettered, and an API
destination reached over HTTPS."""
import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import Overcast
from test_sns import fetch, signature_verifies, wait_delivery


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_server_cert(d, ca, name):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=d)
    (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                   "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


def context(d, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / f"{name}.pem"), str(d / f"{name}.key"))
    return ctx


class HttpsRecorder:
    """An HTTPS server on 127.0.0.1 recording what it is sent; its certificate (`ctx`) can be
    swapped between connections, and `handshakes` counts the TLS connections attempted."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.got = []
        self.handshakes = 0
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                rec.got.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            def get_request(self):
                sock, addr = self.socket.accept()
                rec.handshakes += 1
                sock.settimeout(5)
                return rec.ctx.wrap_socket(sock, server_side=True), addr

        self.server = S(("127.0.0.1", 0), H)
        self.url = f"https://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, pred=lambda r: True, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [r for r in self.got if pred(r)]
            if len(hits) >= n:
                return hits
            time.sleep(0.05)
        return [r for r in self.got if pred(r)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_server_cert(d, "ca", "good")
    make_ca(d, "rogue")
    make_server_cert(d, "rogue", "bad")
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory, pki):
    srv = Overcast(str(tmp_path_factory.mktemp("https") / "data"), env={"SSL_CERT_FILE": str(pki / "ca.pem")})
    srv.start()
    yield srv
    srv.stop()


def make(server, service):
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def is_type(kind):
    return lambda r: r["headers"].get("x-amz-sns-message-type") == kind


def test_https_subscription_handshake_signed_delivery_and_untrusted_retries(server, pki, tmp_path):
    sns, sqs = make(server, "sns"), make(server, "sqs")
    rec = HttpsRecorder(context(pki, "good"))
    try:
        dlq = sqs.create_queue(QueueName=uniq("dlq"))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        arn = sns.create_topic(Name=uniq())["TopicArn"]
        r = sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=rec.url + "/hook")
        assert r["SubscriptionArn"] == "pending confirmation"
        conf = json.loads(rec.wait(1, is_type("SubscriptionConfirmation"))[0]["body"])
        assert conf["Type"] == "SubscriptionConfirmation" and conf["TopicArn"] == arn
        # Confirm as an HTTPS endpoint does: by visiting the SubscribeURL.
        page = fetch(conf["SubscribeURL"]).decode()
        assert "<SubscriptionArn>" + arn + ":" in page
        sub = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["SubscriptionArn"]
        assert sub.startswith(arn + ":")

        sns.publish(TopicArn=arn, Message="over https", Subject="tls")
        hit = rec.wait(1, is_type("Notification"))
        assert hit, "no notification arrived over HTTPS"
        n = json.loads(hit[0]["body"])
        assert n["Message"] == "over https" and hit[0]["headers"]["x-amz-sns-subscription-arn"] == sub
        # The signature verifies against the certificate Overcast serves.
        assert signature_verifies(n, tmp_path)

        # The endpoint now presents a certificate from a CA Overcast does not trust: delivery
        # fails, is retried after minDelayTarget on the virtual clock, then dead-lettered.
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
            {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 30, "maxDelayTarget": 30}}))
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                        AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}))
        rec.ctx = context(pki, "bad")
        before = rec.handshakes
        mid = sns.publish(TopicArn=arn, Message="untrusted")["MessageId"]
        # Each failed attempt is listed at /_overcast/sns/deliveries once its retry is armed on
        # the virtual clock (30 s later); only then does the test move the clock.
        failed = wait_delivery(server, sub, mid, 1, "failed")
        assert rec.handshakes == before + 1
        assert "certificate" in failed["errorMessage"].lower()
        assert failed["nextAttemptAt"] == pytest.approx(failed["time"] + 30, abs=0.01)
        assert not sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages")
        for attempt in (2, 3):
            server.clock(advance=31)
            last = wait_delivery(server, sub, mid, attempt, "failed")
            assert rec.handshakes == before + attempt
        # The last attempt (numRetries 2) dead-letters instead of arming another retry.
        assert last["nextAttemptAt"] is None and last["deadLetterTargetArn"] == dlq_arn
        msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=5, MessageAttributeNames=["All"]).get("Messages")
        assert msgs, "the failed notification did not reach the dead-letter queue"
        assert json.loads(msgs[0]["Body"])["Message"] == "untrusted"
        attrs = msgs[0]["MessageAttributes"]
        assert attrs["ErrorCode"]["StringValue"] == "EndpointUnreachable"
        assert "certificate" in attrs["ErrorMessage"]["StringValue"].lower()
        assert all(json.loads(r["body"])["Message"] != "untrusted" for r in rec.got if is_type("Notification")(r))

        # A failed attempt followed by a retry that succeeds delivers once.
        mid = sns.publish(TopicArn=arn, Message="second try")["MessageId"]
        wait_delivery(server, sub, mid, 1, "failed")
        rec.ctx = context(pki, "good")
        server.clock(advance=31)
        wait_delivery(server, sub, mid, 2, "delivered")
        hits = rec.wait(1, lambda r: is_type("Notification")(r) and json.loads(r["body"])["Message"] == "second try")
        assert len(hits) == 1
    finally:
        rec.server.shutdown()


def test_api_destination_over_https(server, pki):
    events = make(server, "events")
    rec = HttpsRecorder(context(pki, "good"))
    try:
        conn = events.create_connection(Name=uniq("c"), AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"}})
        dest = events.create_api_destination(Name=uniq("d"), ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=rec.url + "/orders", HttpMethod="POST")
        src = uniq("com.https")
        rule = uniq("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [src]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": dest["ApiDestinationArn"]}])
        events.put_events(Entries=[{"Source": src, "DetailType": "Order", "Detail": '{"id": 7}'}])
        hit = rec.wait(1, lambda r: r["path"] == "/orders")
        assert hit, "the API destination was not called over HTTPS"
        assert hit[0]["headers"]["x-api-key"] == "secret"
        assert json.loads(hit[0]["body"])["detail"] == {"id": 7}
    finally:
        rec.server.shutdown()


def test_plain_socket_is_not_https(server):
    """An https:// endpoint that does not speak TLS never receives a confirmation as plain text."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        s.settimeout(5)
        port = s.getsockname()[1]
        sns = make(server, "sns")
        arn = sns.create_topic(Name=uniq())["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=f"https://127.0.0.1:{port}/")
        c, _ = s.accept()
        with c:
            c.settimeout(5)
            first = c.recv(5)
        # A TLS handshake record (0x16, version 3.x), not "POST ".
        assert first[:1] == b"\x16" and first[1:2] == b"\x03"
