"""SNS messages that real verifiers accept.

- npm `sns-validator` (what many Node.js HTTPS endpoints use) checks that SigningCertURL is
  https:// on an allowed host (its host pattern option set to Overcast's host), fetches the
  certificate over verified TLS (Overcast's CA in NODE_EXTRA_CA_CERTS) and verifies the
  signature: subscription confirmations and notifications (with and without Subject, over
  HTTP and through SQS) for SignatureVersion 1 and 2 pass; tampered messages, a non-https
  certificate URL and an untrusted CA fail. Needs `npm ci` in tests/e2e/js; skipped when node
  or the node_modules are missing.
- PyPI `aws-sns-message-validator` (SignatureVersion 1 only, its certificate URL pattern set
  to Overcast's host, the CA in REQUESTS_CA_BUNDLE): the same messages pass, tampered fail."""
import copy
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
VALIDATOR = os.path.join(JS_DIR, "node_modules", "sns-validator")

needs_node = pytest.mark.skipif(NODE is None or not os.path.isdir(VALIDATOR),
                                reason="node or tests/e2e/js/node_modules missing (run npm ci in tests/e2e/js)")


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def ca(overcast, tmp_path_factory):
    path = tmp_path_factory.mktemp("sns-ca") / "ca.pem"
    path.write_bytes(urllib.request.urlopen(overcast.url + "/_overcast/tls/ca.pem", timeout=5).read())
    return str(path)


def tls_client(overcast, service, ca):
    """A client calling Overcast at https://localhost:<port>, as a TLS user would: the URLs in
    SNS messages are then https://localhost:<port>/..."""
    return boto3.client(service, endpoint_url=f"https://localhost:{overcast.port}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test", verify=ca,
                        config=Config(retries={"max_attempts": 1}))


class Recorder:
    """A plain HTTP endpoint on 127.0.0.1 recording the SNS messages it is sent."""

    def __init__(self):
        self.got = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                rec.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [m for m in self.got if pred(m)]
            if hits:
                return hits[0]
            time.sleep(0.05)
        raise AssertionError("no matching message arrived")


def validate(messages, ca, host_pattern=r"^localhost:\d+$", trust=True):
    env = dict(os.environ)
    env.pop("NODE_EXTRA_CA_CERTS", None)
    if trust:
        env["NODE_EXTRA_CA_CERTS"] = ca
    proc = subprocess.run([NODE, "sns_validate.mjs", host_pattern], cwd=JS_DIR, env=env,
                          input=json.dumps(messages), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.server.shutdown()


def overcast_messages(overcast, ca, rec, version):
    """A SubscriptionConfirmation and notifications (with Subject and attributes, without
    Subject, via SQS) from a topic with SignatureVersion `version`, published over TLS."""
    sns, sqs = tls_client(overcast, "sns", ca), tls_client(overcast, "sqs", ca)
    arn = sns.create_topic(Name=uniq(), Attributes={"SignatureVersion": version})["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=rec.url)
    conf = rec.wait(lambda m: m["Type"] == "SubscriptionConfirmation" and m["TopicArn"] == arn)
    assert conf["SignatureVersion"] == version
    base = f"https://localhost:{overcast.port}/"
    assert conf["SubscribeURL"].startswith(base) and conf["SigningCertURL"].startswith(base)
    # Confirm as an endpoint does, over TLS.
    ctx = ssl.create_default_context(cafile=ca)
    urllib.request.urlopen(conf["SubscribeURL"], context=ctx, timeout=5).read()
    queue = sqs.create_queue(QueueName=uniq("q"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=arn, Message="with subject", Subject="hello",
                MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    sns.publish(TopicArn=arn, Message=json.dumps({"no": "subject", "unicode": "h\u00e9\u2603"}))
    with_subject = rec.wait(lambda m: m["TopicArn"] == arn and m.get("Subject") == "hello")
    without = rec.wait(lambda m: m["TopicArn"] == arn and m["Type"] == "Notification" and "Subject" not in m)
    via_sqs = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]["Body"])
    assert with_subject["SignatureVersion"] == version and with_subject["UnsubscribeURL"].startswith(base)
    return {"sns": sns, "arn": arn, "ctx": ctx, "conf": conf, "with_subject": with_subject,
            "without": without, "via_sqs": via_sqs}


def tampered(m):
    t = copy.deepcopy(m)
    t["Message"] = "tampered"
    return t


@needs_node
@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_validator_accepts_overcast_messages(overcast, ca, recorder, version):
    got = overcast_messages(overcast, ca, recorder, version)
    conf, with_subject, without = got["conf"], got["with_subject"], got["without"]
    tampered_conf = copy.deepcopy(conf)
    tampered_conf["Token"] = tampered_conf["Token"][:-4] + "0000"
    other_version = copy.deepcopy(without)
    other_version["SignatureVersion"] = "2" if version == "1" else "1"
    plain_cert = copy.deepcopy(with_subject)
    plain_cert["SigningCertURL"] = plain_cert["SigningCertURL"].replace("https://", "http://")

    results = validate([conf, with_subject, without, got["via_sqs"],
                        tampered(with_subject), tampered_conf, other_version, plain_cert], ca)
    assert [r["ok"] for r in results] == [True, True, True, True, False, False, False, False], results
    assert all("signature is invalid" in r["error"] for r in results[4:7]), results
    assert "invalid domain" in results[7]["error"]

    # Without Overcast's CA the certificate cannot be fetched: its TLS is really verified.
    untrusted = validate([conf], ca, trust=False)
    assert not untrusted[0]["ok"] and "certificate" in untrusted[0]["error"].lower()

    # The UnsubscribeURL works as on AWS.
    urllib.request.urlopen(with_subject["UnsubscribeURL"], context=got["ctx"], timeout=5).read()
    subs = got["sns"].list_subscriptions_by_topic(TopicArn=got["arn"])["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["sqs"]


def test_python_sns_message_validator_accepts_overcast_messages(overcast, ca, recorder, monkeypatch):
    validator = pytest.importorskip("sns_message_validator")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    got = overcast_messages(overcast, ca, recorder, "1")
    v = validator.SNSMessageValidator(cert_url_regex=rf"^https://localhost:{overcast.port}/")
    for name in ("conf", "with_subject", "without", "via_sqs"):
        v.validate_message(got[name])
    with pytest.raises(validator.SignatureVerificationFailureException):
        v.validate_message(tampered(got["with_subject"]))
    with pytest.raises(validator.InvalidCertURLException):
        validator.SNSMessageValidator().validate_message(got["with_subject"])
