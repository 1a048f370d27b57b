"""SNS end to end with boto3 and the AWS CLI: topics (standard and FIFO) and attributes,
subscriptions and confirmation (HTTP handshake against a loopback server, email tokens),
Publish/PublishBatch, delivery to SQS with AWS's notification envelope and raw delivery,
filter policies on attributes and body, FIFO dedup and ordering, subscription DLQs,
email/SMS capture, tags, data protection policies, the SMS sandbox, persistence, and
AWS's error codes."""
import http.server
import json
import threading
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def sns(client):
    return client("sns")


@pytest.fixture
def sqs(client):
    return client("sqs")


def queue(sqs, name=None, **attrs):
    name = name or uniq("q")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n=1, wait=2, **kw):
    out = []
    deadline = time.time() + wait + 3
    while len(out) < n and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, **kw)
        for m in r.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def captured(overcast):
    return json.loads(urllib.request.urlopen(overcast.url + "/_overcast/sns/messages", timeout=5).read())["messages"]


def overcast_tls(url):
    """An SSL context trusting the CA of the Overcast at `url` (an https:// URL it handed out;
    the same port serves its CA over plain HTTP)."""
    import ssl
    from urllib.parse import urlsplit
    pem = urllib.request.urlopen(f"http://{urlsplit(url).netloc}/_overcast/tls/ca.pem", timeout=5).read()
    return ssl.create_default_context(cadata=pem.decode())


def fetch(url):
    """GETs a URL Overcast handed out (https:// on its own port, trusting its CA)."""
    ctx = overcast_tls(url) if url.startswith("https://") else None
    return urllib.request.urlopen(url, timeout=5, context=ctx).read()


def deliveries(overcast, sub_arn):
    return [d for d in json.loads(urllib.request.urlopen(overcast.url + "/_overcast/sns/deliveries",
                                                         timeout=5).read())["deliveries"]
            if d["subscriptionArn"] == sub_arn]


def wait_delivery(overcast, sub_arn, message_id, attempt, status=None, kind="Notification", timeout=10):
    """Waits until attempt number `attempt` to deliver message `message_id` to `sub_arn` is
    settled in `/_overcast/sns/deliveries` (a failed attempt is listed once its retry is
    armed, or once the message is dead-lettered)."""
    deadline = time.time() + timeout
    while True:
        hits = [d for d in deliveries(overcast, sub_arn)
                if d["type"] == kind and d["attempt"] == attempt and d["messageId"] == message_id]
        if hits or time.time() > deadline:
            break
        time.sleep(0.02)
    assert hits, f"attempt {attempt} to {sub_arn} was not settled in {timeout} s"
    if status:
        assert hits[-1]["status"] == status, hits[-1]
    return hits[-1]


def test_topic_lifecycle_and_attributes(sns):
    name = uniq()
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == "000000000000"
    assert attrs["SubscriptionsConfirmed"] == "0" and json.loads(attrs["Policy"])["Statement"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="My Topic")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "My Topic"
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=name, Attributes={"DisplayName": "other"})
    assert code(e) == "InvalidParameter"
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    with pytest.raises(ClientError) as e:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
    assert code(e) == "InvalidParameter"
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn=arn)
    assert code(e) == "NotFound"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="bad name!")
    assert code(e) == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=uniq(), Attributes={"FifoTopic": "true"})
    assert code(e) == "InvalidParameter"


def test_sqs_delivery_envelope_and_raw(sns, sqs):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    url, qarn = queue(sqs)
    raw_url, raw_arn = queue(sqs)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    mid = sns.publish(TopicArn=arn, Message="hello", Subject="greeting",
                      MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}})["MessageId"]
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert body["Type"] == "Notification" and body["MessageId"] == mid and body["TopicArn"] == arn
    assert body["Subject"] == "greeting" and body["Message"] == "hello"
    assert body["SignatureVersion"] == "1" and body["Signature"] and body["SigningCertURL"]
    assert sub in body["UnsubscribeURL"] and body["Timestamp"].endswith("Z")
    assert body["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    raw = receive(sqs, raw_url, MessageAttributeNames=["All"])[0]
    assert raw["Body"] == "hello"
    assert raw["MessageAttributes"]["color"]["StringValue"] == "red"
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["Protocol"] == "sqs" and attrs["Endpoint"] == qarn and attrs["PendingConfirmation"] == "false"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert len(subs) == 2 and {s["Endpoint"] for s in subs} == {qarn, raw_arn}
    sns.unsubscribe(SubscriptionArn=sub)
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 1


def test_message_structure_json(sns, sqs):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    url, qarn = queue(sqs)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": "d", "sqs": "for sqs"}))
    assert json.loads(receive(sqs, url)[0]["Body"])["Message"] == "for sqs"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"sqs": "x"}))
    assert code(e) == "InvalidParameter"


def test_filter_policies_attributes_and_body(sns, sqs):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    u1, a1 = queue(sqs)
    u2, a2 = queue(sqs)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=a1, Attributes={
        "FilterPolicy": json.dumps({"store": ["example_corp"], "price": [{"numeric": [">=", 100]}]}),
        "RawMessageDelivery": "true"})
    s2 = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=a2, Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    sns.set_subscription_attributes(SubscriptionArn=s2, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=s2, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"order": {"kind": [{"prefix": "big"}]}}))
    def pub(msg, store, price):
        sns.publish(TopicArn=arn, Message=msg, MessageAttributes={
            "store": {"DataType": "String", "StringValue": store},
            "price": {"DataType": "Number", "StringValue": str(price)}})
    pub(json.dumps({"order": {"kind": "bigger"}}), "example_corp", 150)
    pub(json.dumps({"order": {"kind": "small"}}), "example_corp", 50)
    pub("not json", "other", 500)
    assert [m["Body"] for m in receive(sqs, u1, n=2, wait=1)] == [json.dumps({"order": {"kind": "bigger"}})]
    assert [m["Body"] for m in receive(sqs, u2, n=2, wait=1)] == [json.dumps({"order": {"kind": "bigger"}})]
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=s2, AttributeName="FilterPolicy", AttributeValue='{"a": "b"}')
    assert code(e) == "InvalidParameter"
    assert "FilterPolicy" in e.value.response["Error"]["Message"]


def test_fifo_topic_dedup_and_order(sns, sqs):
    arn = sns.create_topic(Name=uniq() + ".fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url, qarn = queue(sqs, uniq("fq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    r1 = sns.publish(TopicArn=arn, Message="one", MessageGroupId="g")
    r2 = sns.publish(TopicArn=arn, Message="one", MessageGroupId="g")
    assert r1["MessageId"] == r2["MessageId"] and "SequenceNumber" in r1
    r3 = sns.publish(TopicArn=arn, Message="two", MessageGroupId="g")
    assert int(r3["SequenceNumber"]) > int(r1["SequenceNumber"])
    msgs = receive(sqs, url, n=2, AttributeNames=["MessageGroupId"])
    assert [m["Body"] for m in msgs] == ["one", "two"]
    assert msgs[0]["Attributes"]["MessageGroupId"] == "g"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=arn, Message="x")
    assert code(e) == "InvalidParameter"
    std = sns.create_topic(Name=uniq())["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=std, Protocol="sqs", Endpoint=qarn)
    assert code(e) == "InvalidParameter"


def test_publish_batch(sns, sqs):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    url, qarn = queue(sqs)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m1"}, {"Id": "b", "Message": "m2"},
        {"Id": "c", "Message": "m3", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}}])
    assert {s["Id"] for s in r["Successful"]} == {"a", "b"}
    assert [f["Id"] for f in r["Failed"]] == ["c"] and r["Failed"][0]["SenderFault"] is True
    assert sorted(m["Body"] for m in receive(sqs, url, n=2)) == ["m1", "m2"]
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}])
    assert code(e) == "BatchEntryIdsNotDistinct"
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)])
    assert code(e) == "TooManyEntriesInBatchRequest"


def test_http_subscription_handshake_and_delivery(sns, overcast):
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["x-amz-sns-message-type"], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        arn = sns.create_topic(Name=uniq())["TopicArn"]
        endpoint = f"http://127.0.0.1:{srv.server_port}/hook"
        r = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint)
        assert r["SubscriptionArn"] == "pending confirmation"
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        kind, conf = got[0]
        assert kind == "SubscriptionConfirmation" and conf["Type"] == "SubscriptionConfirmation"
        assert conf["TopicArn"] == arn and conf["Token"] and "SubscribeURL" in conf
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert subs[0]["SubscriptionArn"] == "PendingConfirmation"
        # Confirm the way HTTP endpoints do: by visiting the SubscribeURL, https:// on the
        # host and port the subscriber called (the edge port also speaks TLS).
        assert conf["SubscribeURL"].startswith(overcast.url.replace("http://", "https://") + "/?Action=ConfirmSubscription&")
        assert conf["SigningCertURL"].startswith("https://")
        page = fetch(conf["SubscribeURL"]).decode()
        assert "<SubscriptionArn>" + arn + ":" in page
        sub = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["SubscriptionArn"]
        assert sub.startswith(arn + ":")
        sns.publish(TopicArn=arn, Message="over http")
        for _ in range(100):
            if len(got) > 1:
                break
            time.sleep(0.05)
        kind, note = got[1]
        assert kind == "Notification" and note["Message"] == "over http"
        with pytest.raises(ClientError) as e:
            sns.confirm_subscription(TopicArn=arn, Token="bogus")
        assert code(e) == "InvalidParameter"
    finally:
        srv.shutdown()


def test_email_and_sms_are_captured(sns, overcast):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    addr = f"{uniq('u')}@example.com"
    assert sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=addr)["SubscriptionArn"] == "pending confirmation"
    conf = [m for m in captured(overcast) if m["endpoint"] == addr][-1]
    assert conf["type"] == "SubscriptionConfirmation" and conf["token"]
    sns.confirm_subscription(TopicArn=arn, Token=conf["token"])
    sns.publish(TopicArn=arn, Message="mail body", Subject="Hi")
    mail = [m for m in captured(overcast) if m["endpoint"] == addr][-1]
    assert mail["message"] == "mail body" and mail["subject"] == "Hi" and mail["protocol"] == "email"
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    sns.publish(PhoneNumber=phone, Message="your code is 1234")
    sms = [m for m in captured(overcast) if m["endpoint"] == phone][-1]
    assert sms["protocol"] == "sms" and sms["message"] == "your code is 1234"


def test_subscription_dlq(sns, sqs):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    dlq_url, dlq_arn = queue(sqs)
    gone = "arn:aws:sqs:us-east-1:000000000000:" + uniq("gone")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=gone,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    sns.publish(TopicArn=arn, Message="lost")
    m = receive(sqs, dlq_url, MessageAttributeNames=["All"])[0]
    assert json.loads(m["Body"])["Message"] == "lost"
    assert m["MessageAttributes"]["ErrorCode"]["StringValue"]


def test_tags_and_data_protection(sns):
    arn = sns.create_topic(Name=uniq(), Tags=[{"Key": "a", "Value": "1"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    policy = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == policy
    with pytest.raises(ClientError) as e:
        sns.list_tags_for_resource(ResourceArn=arn + "x")
    assert code(e) == "ResourceNotFound"


def test_sms_sandbox(sns, overcast):
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is True
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    sns.create_sms_sandbox_phone_number(PhoneNumber=phone, LanguageCode="en-US")
    listed = {p["PhoneNumber"]: p["Status"] for p in sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]}
    assert listed[phone] == "Pending"
    with pytest.raises(ClientError) as e:
        sns.verify_sms_sandbox_phone_number(PhoneNumber=phone, OneTimePassword="000000x")
    assert code(e) == "VerificationException"
    otp = [m for m in captured(overcast) if m["endpoint"] == phone][-1]["otp"]
    sns.verify_sms_sandbox_phone_number(PhoneNumber=phone, OneTimePassword=otp)
    listed = {p["PhoneNumber"]: p["Status"] for p in sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]}
    assert listed[phone] == "Verified"
    sns.delete_sms_sandbox_phone_number(PhoneNumber=phone)
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional"})
    assert sns.get_sms_attributes()["attributes"]["DefaultSMSType"] == "Transactional"
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=phone)["isOptedOut"] is False


def test_errors(sns):
    missing = "arn:aws:sns:us-east-1:000000000000:" + uniq("missing")
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=missing, Message="x")
    assert code(e) == "NotFound"
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
    assert code(e) == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="not-an-arn")
    assert code(e) == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=arn, Message="x" * (256 * 1024 + 1))
    assert code(e) == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn=arn + ":" + str(uuid.uuid4()))
    assert code(e) == "NotFound"


def test_cli_round_trip(aws, sqs):
    name = uniq("cli")
    arn = aws("sns", "create-topic", "--name", name)["TopicArn"]
    url, qarn = queue(sqs)
    aws("sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs", "--notification-endpoint", qarn)
    mid = aws("sns", "publish", "--topic-arn", arn, "--message", "from cli")["MessageId"]
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert body["MessageId"] == mid and body["Message"] == "from cli"


def test_state_survives_restart_and_kill9(sns, sqs, overcast, client):
    arn = sns.create_topic(Name=uniq(), Attributes={"DisplayName": "durable"})["TopicArn"]
    url, qarn = queue(sqs)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    overcast.restart()
    s2 = client("sns")
    assert s2.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "durable"
    assert s2.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
    overcast.kill9()
    s3 = client("sns")
    s3.publish(TopicArn=arn, Message="after crash")
    assert receive(client("sqs"), url)[0]["Body"] == "after crash"


def test_lambda_subscription_invoked(sns, sqs, client, overcast):
    from test_events import lambda_forwarding_to_queue
    url, _ = queue(sqs)
    fn_arn = lambda_forwarding_to_queue(client, overcast, url)
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sns.publish(TopicArn=topic, Message="to lambda")
    record = json.loads(receive(sqs, url, wait=10)[0]["Body"])["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["Sns"]["Message"] == "to lambda"


def test_eventbridge_target_publishes_to_sns(sns, sqs, client):
    events = client("events")
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    url, qarn = queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    src = uniq("com.eb")
    rule = uniq("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [src]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": topic}])
    events.put_events(Entries=[{"Source": src, "DetailType": "T", "Detail": json.dumps({"via": "sns"})}])
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert body["source"] == src and body["detail"] == {"via": "sns"}


def test_platform_applications_and_endpoints(sns, overcast):
    app = sns.create_platform_application(Name=uniq("app"), Platform="GCM",
                                          Attributes={"PlatformCredential": "server-key"})["PlatformApplicationArn"]
    assert ":app/GCM/" in app
    attrs = sns.get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"]
    assert "PlatformCredential" not in attrs and attrs["Enabled"] == "true"
    ep = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token-1", CustomUserData="u1")["EndpointArn"]
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token-1", CustomUserData="u1")["EndpointArn"] == ep
    assert sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"]["Token"] == "device-token-1"
    assert [e["EndpointArn"] for e in sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]] == [ep]
    mid = sns.publish(TargetArn=ep, Message="push!")["MessageId"]
    push = [m for m in captured(overcast) if m.get("messageId") == mid][0]
    assert push["protocol"] == "application" and push["token"] == "device-token-1" and push["message"] == "push!"
    sns.set_endpoint_attributes(EndpointArn=ep, Attributes={"Enabled": "false"})
    with pytest.raises(ClientError) as e:
        sns.publish(TargetArn=ep, Message="x")
    assert code(e) == "EndpointDisabled"
    sns.delete_platform_application(PlatformApplicationArn=app)
    with pytest.raises(ClientError) as e:
        sns.get_endpoint_attributes(EndpointArn=ep)
    assert code(e) == "NotFound"


def test_http_delivery_retries_on_the_virtual_clock(sns, overcast):
    import requests as rq
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append(body)
            # Fail the first notification, accept everything else.
            ok = body["Type"] != "Notification" or len([g for g in got if g["Type"] == "Notification"]) > 1
            self.send_response(200 if ok else 500)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        arn = sns.create_topic(Name=uniq())["TopicArn"]
        sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"http://127.0.0.1:{srv.server_port}/",
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        sns.confirm_subscription(TopicArn=arn, Token=got[0]["Token"])
        mid = sns.publish(TopicArn=arn, Message="retry me")["MessageId"]
        notes = lambda: [g for g in got if g["Type"] == "Notification"]
        # The first attempt failed (500) and its retry is armed 20 s later on the virtual clock.
        first = wait_delivery(overcast, sub, mid, 1, "failed")
        assert first["errorMessage"] == "endpoint answered 500"
        assert first["nextAttemptAt"] == pytest.approx(first["time"] + 20, abs=0.01)
        assert len(notes()) == 1
        rq.post(overcast.url + "/_overcast/clock", json={"advance": 21}, timeout=10)
        assert wait_delivery(overcast, sub, mid, 2, "delivered")["nextAttemptAt"] is None
        for _ in range(100):
            if len(notes()) > 1:
                break
            time.sleep(0.05)
        assert [n["Message"] for n in notes()] == ["retry me", "retry me"]
        assert sub.startswith(arn)
    finally:
        srv.shutdown()
        rq.post(overcast.url + "/_overcast/clock", json={"set": time.time()}, timeout=10)


def signature_verifies(n, tmp_path, text=None):
    """Whether notification `n`'s Signature verifies, with OpenSSL, against the certificate at
    its SigningCertURL over its string to sign (or `text`)."""
    import base64
    import subprocess
    digest = {"1": "-sha1", "2": "-sha256"}[n["SignatureVersion"]]
    cert = fetch(n["SigningCertURL"])
    (tmp_path / "cert.pem").write_bytes(cert)
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(tmp_path / "cert.pem")],
                         capture_output=True, check=True).stdout
    (tmp_path / "pub.pem").write_bytes(pub)
    (tmp_path / "data").write_text(string_to_sign(n) if text is None else text)
    (tmp_path / "sig").write_bytes(base64.b64decode(n["Signature"]))
    ok = subprocess.run(["openssl", "dgst", digest, "-verify", str(tmp_path / "pub.pem"),
                         "-signature", str(tmp_path / "sig"), str(tmp_path / "data")], capture_output=True)
    return ok.returncode == 0


def string_to_sign(n):
    return "".join(f"{k}\n{n[k]}\n" for k in ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"])


@pytest.mark.parametrize("version", ["1", "2"])
def test_signatures_verify_against_the_served_certificate(sns, sqs, overcast, tmp_path, version):
    arn = sns.create_topic(Name=uniq(), Attributes={"SignatureVersion": version})["TopicArn"]
    url, qarn = queue(sqs)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=arn, Message="signed", Subject="sub")
    n = json.loads(receive(sqs, url)[0]["Body"])
    assert n["SignatureVersion"] == version
    assert signature_verifies(n, tmp_path)
    assert not signature_verifies(n, tmp_path, string_to_sign(n).replace("signed", "tampered"))


@pytest.mark.parametrize("setting", ["http", "https://sns.example.test:9443/", "bogus"])
def test_sns_url_setting(tmp_path, setting):
    """`--sns-url`: `http` keeps plain-HTTP URLs on the caller's host, a full base URL is used
    as given (without its trailing slash), anything else stops the server at start."""
    import boto3
    import subprocess
    from conftest import BIN, Overcast
    if setting == "bogus":
        proc = subprocess.run([BIN, "--port", "0", "--ephemeral", "--sns-url", setting],
                              capture_output=True, text=True, timeout=20)
        assert proc.returncode != 0 and "--sns-url" in proc.stderr
        return
    server = Overcast(str(tmp_path / "data"), extra_args=["--ephemeral", "--sns-url", setting])
    server.start()
    try:
        make = lambda s: boto3.client(s, endpoint_url=server.url, region_name="us-east-1",
                                      aws_access_key_id="test", aws_secret_access_key="test")
        sns, sqs = make("sns"), make("sqs")
        base = server.url if setting == "http" else "https://sns.example.test:9443"
        arn = sns.create_topic(Name=uniq())["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="ops@example.com")
        conf = [m for m in captured(server) if m.get("topicArn") == arn][0]
        assert conf["subscribeUrl"].startswith(base + "/?Action=ConfirmSubscription&")
        assert json.loads(conf["message"])["SigningCertURL"] == base + "/_overcast/sns/SimpleNotificationService.pem"
        url, qarn = queue(sqs)
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        sns.publish(TopicArn=arn, Message="m")
        n = json.loads(receive(sqs, url)[0]["Body"])
        assert n["SigningCertURL"].startswith(base + "/") and n["UnsubscribeURL"].startswith(base + "/?Action=Unsubscribe&")
    finally:
        server.stop()
