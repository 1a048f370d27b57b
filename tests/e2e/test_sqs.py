"""SQS end to end with boto3 (JSON protocol) and the AWS CLI: queue lifecycle and attributes,
messages and their digests, visibility and delays on the virtual clock, real long polling,
FIFO ordering and deduplication, dead-letter redrive and move tasks, batches, tags,
permissions, persistence across restart and kill -9, and AWS's error codes."""
import hashlib
import json
import struct
import threading
import time
import uuid

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError


def uniq(prefix="q"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(autouse=True)
def back_to_real_time(overcast):
    """Tests here move the virtual clock; put it back so later test files see real time."""
    yield
    requests.post(overcast.url + "/_overcast/clock", json={"set": time.time()}, timeout=10)


@pytest.fixture
def sqs(client):
    return client("sqs")


@pytest.fixture
def lax(client):
    """A client that leaves input validation to the server."""
    return client("sqs", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def advance(overcast, seconds):
    r = requests.post(overcast.url + "/_overcast/clock", json={"advance": seconds}, timeout=10)
    assert r.status_code == 200, r.text


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes as AWS documents it (independent of the server's code)."""
    buf = b""
    for name in sorted(attrs):
        v = attrs[name]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(v["DataType"].encode())) + v["DataType"].encode()
        if "StringValue" in v:
            s = v["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(s)) + s
        else:
            b = v["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(b)) + b
    return hashlib.md5(buf).hexdigest()


def attrs_of(sqs, url, *names):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]


def counts(sqs, url):
    a = attrs_of(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed")
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


# --- queues -----------------------------------------------------------------------------


def test_queue_lifecycle_urls_and_listing(sqs, overcast):
    prefix = uniq("life")
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3)]
    assert urls[0] == f"{overcast.url}/000000000000/{prefix}-0"
    # Idempotent with the same attributes; QueueAlreadyExists with different ones.
    sqs.create_queue(QueueName=f"{prefix}-5", Attributes={"VisibilityTimeout": "40"})
    again = sqs.create_queue(QueueName=f"{prefix}-5", Attributes={"VisibilityTimeout": "40"})
    assert again["QueueUrl"].endswith(f"/{prefix}-5")
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=f"{prefix}-5", Attributes={"VisibilityTimeout": "41"})
    assert code(e) == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName=f"{prefix}-1")["QueueUrl"] == urls[1]

    listed = sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert sorted(listed) == sorted(urls + [again["QueueUrl"]])
    page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=3)
    assert len(page["QueueUrls"]) == 3 and "NextToken" in page
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=3, NextToken=page["NextToken"])
    assert len(rest["QueueUrls"]) == 1 and "NextToken" not in rest
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=uniq("none"))
    with pytest.raises(ClientError) as e:
        sqs.list_queues(MaxResults=1001)
    assert code(e) == "InvalidParameterValue"

    sqs.delete_queue(QueueUrl=urls[0])
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName=f"{prefix}-0")
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The name is free again at once (no 60 s quarantine).
    assert sqs.create_queue(QueueName=f"{prefix}-0")["QueueUrl"] == urls[0]


def test_queue_url_forms_and_cross_account(client, sqs):
    name = uniq("forms")
    sqs.create_queue(QueueName=name)
    for url in (f"https://sqs.us-east-1.amazonaws.com/000000000000/{name}",
                f"https://queue.amazonaws.com/000000000000/{name}",
                f"http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/{name}"):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert counts(sqs, f"http://anything/000000000000/{name}")[0] == 3
    other = client("sqs", aws_access_key_id="111111111111")
    ourl = other.create_queue(QueueName=name)["QueueUrl"]
    assert "/111111111111/" in ourl
    # The queue belongs to the account in its URL, whoever calls.
    sqs.send_message(QueueUrl=ourl, MessageBody="cross")
    assert other.receive_message(QueueUrl=ourl)["Messages"][0]["Body"] == "cross"
    arn = attrs_of(sqs, ourl, "QueueArn")["QueueArn"]
    assert arn == f"arn:aws:sqs:us-east-1:111111111111:{name}"
    assert other.get_queue_url(QueueName=name)["QueueUrl"] == ourl
    assert sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="111111111111")["QueueUrl"] == ourl


def test_queue_name_and_attribute_validation(sqs, lax):
    for bad in ("has space", "dot.name", "x" * 81):
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=bad)
        assert code(e) == "InvalidParameterValue", bad
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=uniq("nofifo"), Attributes={"FifoQueue": "true"})
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=uniq("x") + ".fifo")
    assert code(e) == "InvalidParameterValue"
    for name, value in (("VisibilityTimeout", "43201"), ("DelaySeconds", "901"), ("MaximumMessageSize", "1023"),
                        ("MessageRetentionPeriod", "59"), ("ReceiveMessageWaitTimeSeconds", "21"),
                        ("VisibilityTimeout", "abc")):
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=uniq("attr"), Attributes={name: value})
        assert code(e) == "InvalidAttributeValue", (name, value)
    with pytest.raises(ClientError) as e:
        lax.create_queue(QueueName=uniq("attr"), Attributes={"Bogus": "1"})
    assert code(e) == "InvalidAttributeName"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=uniq("attr"), Attributes={"ContentBasedDeduplication": "true"})
    assert code(e) == "InvalidAttributeName"
    url = sqs.create_queue(QueueName=uniq("attr"))["QueueUrl"]
    with pytest.raises(ClientError) as e:
        lax.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])
    assert code(e) == "InvalidAttributeName"
    with pytest.raises(ClientError) as e:
        lax.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "x"})
    assert code(e) == "InvalidAttributeName"


def test_queue_attributes_defaults_and_updates(sqs, overcast):
    name = uniq("attrs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    a = attrs_of(sqs, url)
    assert a["VisibilityTimeout"] == "30"
    assert a["MaximumMessageSize"] == "1048576"
    assert a["MessageRetentionPeriod"] == "345600"
    assert a["DelaySeconds"] == "0"
    assert a["ReceiveMessageWaitTimeSeconds"] == "0"
    assert a["SqsManagedSseEnabled"] == "true"
    assert a["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert a["ApproximateNumberOfMessages"] == "0"
    assert abs(int(a["CreatedTimestamp"]) - time.time()) < 3600 * 24 * 30
    assert "FifoQueue" not in a and "Policy" not in a and "RedrivePolicy" not in a
    advance(overcast, 5)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "100", "DelaySeconds": "3",
                                                       "KmsMasterKeyId": "alias/aws/sqs"})
    b = attrs_of(sqs, url, "VisibilityTimeout", "DelaySeconds", "LastModifiedTimestamp", "KmsMasterKeyId",
                 "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")
    assert b["VisibilityTimeout"] == "100" and b["DelaySeconds"] == "3"
    assert int(b["LastModifiedTimestamp"]) >= int(a["LastModifiedTimestamp"]) + 4
    assert b["KmsMasterKeyId"] == "alias/aws/sqs" and b["KmsDataKeyReusePeriodSeconds"] == "300"
    assert b["SqsManagedSseEnabled"] == "false"
    # No names, no attributes.
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    fifo = sqs.create_queue(QueueName=uniq("attrs") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    f = attrs_of(sqs, fifo)
    assert f["FifoQueue"] == "true" and f["ContentBasedDeduplication"] == "false"
    assert f["DeduplicationScope"] == "queue" and f["FifoThroughputLimit"] == "perQueue"


# --- messages ---------------------------------------------------------------------------


def test_send_receive_delete_with_attributes_and_digests(sqs):
    url = sqs.create_queue(QueueName=uniq("msg"))["QueueUrl"]
    attrs = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"},
        "meta.kind": {"DataType": "String.custom", "StringValue": "héllo 🎉"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello wörld", MessageAttributes=attrs,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                        "StringValue": "Root=1-abc"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello wörld".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}}
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(trace)
    assert len(sent["MessageId"]) == 36

    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    [m] = got["Messages"]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == "hello wörld"
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xfe"
    assert m["MessageAttributes"]["meta.kind"]["StringValue"] == "héllo 🎉"
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    a = m["Attributes"]
    assert a["SenderId"] == "000000000000"
    assert a["ApproximateReceiveCount"] == "1"
    assert a["AWSTraceHeader"] == "Root=1-abc"
    assert int(a["ApproximateFirstReceiveTimestamp"]) >= int(a["SentTimestamp"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)
    # Deleting again with the same handle succeeds.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    # Attribute name filters: prefixes and names; the digest covers what is returned.
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attrs)
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["meta.*", "color"],
                              AttributeNames=["SentTimestamp"], VisibilityTimeout=0)["Messages"]
    assert set(m["MessageAttributes"]) == {"meta.kind", "color"}
    assert m["MD5OfMessageAttributes"] == md5_of_attributes({k: attrs[k] for k in ("meta.kind", "color")})
    assert set(m["Attributes"]) == {"SentTimestamp"}
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "MessageAttributes" not in m and "Attributes" not in m


def test_message_validation_errors(sqs, lax):
    url = sqs.create_queue(QueueName=uniq("bad"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bell\x07")
    assert code(e) == "InvalidMessageContents"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert code(e) == "InvalidParameterValue"
    assert "Message must be shorter than 1024 bytes" in str(e.value)
    with pytest.raises(ClientError) as e:
        lax.send_message(QueueUrl=url, MessageBody="")
    assert code(e) == "MissingParameter"
    many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=many)
    assert code(e) == "InvalidParameterValue"
    for bad in ({"AWS.x": {"DataType": "String", "StringValue": "v"}},
                {"n": {"DataType": "Number", "StringValue": "abc"}},
                {"n": {"DataType": "Foo", "StringValue": "v"}},
                {"n": {"DataType": "String", "StringValue": ""}}):
        with pytest.raises(ClientError) as e:
            sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=bad)
        assert code(e) == "InvalidParameterValue", bad
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(e) == "InvalidParameterValue"
    for kwargs in ({"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
                   {"VisibilityTimeout": 43201}):
        with pytest.raises(ClientError) as e:
            lax.receive_message(QueueUrl=url, **kwargs)
        assert code(e) == "InvalidParameterValue", kwargs
    missing = url.rsplit("/", 1)[0] + "/" + uniq("missing")
    for call in (lambda: sqs.send_message(QueueUrl=missing, MessageBody="x"),
                 lambda: sqs.receive_message(QueueUrl=missing),
                 lambda: sqs.get_queue_attributes(QueueUrl=missing),
                 lambda: sqs.purge_queue(QueueUrl=missing),
                 lambda: sqs.delete_queue(QueueUrl=missing),
                 lambda: sqs.list_queue_tags(QueueUrl=missing)):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"


def test_visibility_timeout_on_the_virtual_clock(sqs, overcast):
    url = sqs.create_queue(QueueName=uniq("vis"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [first] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert counts(sqs, url) == (0, 1, 0)
    advance(overcast, 31)
    assert counts(sqs, url) == (1, 0, 0)
    [second] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # An old-but-valid handle still deletes on a standard queue.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_change_message_visibility(sqs, overcast):
    url = sqs.create_queue(QueueName=uniq("cmv"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [m] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    [m2] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=10)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=100)
    advance(overcast, 11)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(overcast, 90)
    [m3] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=5)["Messages"]
    advance(overcast, 6)
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=10)
    assert code(e) == "AWS.SimpleQueueService.MessageNotInflight"
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=10)
    assert code(e) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert code(e) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=43201)
    assert code(e) == "InvalidParameterValue"
    # A handle of another queue is not valid here.
    other = sqs.create_queue(QueueName=uniq("cmv"))["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=other, ReceiptHandle=m3["ReceiptHandle"])
    assert code(e) == "ReceiptHandleIsInvalid"


def test_delays_and_retention(sqs, overcast):
    url = sqs.create_queue(QueueName=uniq("delay"), Attributes={"DelaySeconds": "10"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="long delay", DelaySeconds=100)
    assert counts(sqs, url) == (1, 0, 2)
    [m] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert m["Body"] == "no delay"
    advance(overcast, 11)
    [m] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert m["Body"] == "queue delay"
    advance(overcast, 90)
    bodies = {x["Body"] for x in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]}
    assert "long delay" in bodies

    short = sqs.create_queue(QueueName=uniq("ret"), Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=short, MessageBody="old")
    advance(overcast, 61)
    sqs.send_message(QueueUrl=short, MessageBody="new")
    assert counts(sqs, short) == (1, 0, 0)
    msgs = sqs.receive_message(QueueUrl=short, MaxNumberOfMessages=10)["Messages"]
    assert [x["Body"] for x in msgs] == ["new"]


def test_long_polling_wakes_when_a_message_arrives(sqs, client):
    url = sqs.create_queue(QueueName=uniq("poll"))["QueueUrl"]
    sender = client("sqs")

    def send_later():
        time.sleep(1.0)
        sender.send_message(QueueUrl=url, MessageBody="late")

    t = threading.Thread(target=send_later)
    start = time.monotonic()
    t.start()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    elapsed = time.monotonic() - start
    t.join()
    assert [m["Body"] for m in got["Messages"]] == ["late"]
    assert 0.9 <= elapsed < 1.6, elapsed


def test_long_polling_waits_for_the_full_wait_time(sqs):
    url = sqs.create_queue(QueueName=uniq("poll"))["QueueUrl"]
    start = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    elapsed = time.monotonic() - start
    assert "Messages" not in got
    assert 1.9 <= elapsed < 3.0, elapsed
    # The queue attribute sets the default wait.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    start = time.monotonic()
    sqs.receive_message(QueueUrl=url)
    assert 0.9 <= time.monotonic() - start < 2.0


# --- batches ----------------------------------------------------------------------------


def test_batches(sqs, lax):
    url = sqs.create_queue(QueueName=uniq("batch"))["QueueUrl"]
    res = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
        {"Id": "c", "MessageBody": "bad\x01"},
    ])
    assert sorted(e["Id"] for e in res["Successful"]) == ["a", "b"]
    ok = {e["Id"]: e for e in res["Successful"]}
    assert ok["a"]["MD5OfMessageBody"] == hashlib.md5(b"one").hexdigest()
    assert ok["a"]["MD5OfMessageAttributes"] == md5_of_attributes({"k": {"DataType": "String", "StringValue": "v"}})
    [failed] = res["Failed"]
    assert failed["Id"] == "c" and failed["Code"] == "InvalidMessageContents" and failed["SenderFault"] is True

    for entries, expected in (
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)], "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": f"i{i}", "MessageBody": "x" * 300_000} for i in range(4)], "AWS.SimpleQueueService.BatchRequestTooLong"),
    ):
        with pytest.raises(ClientError) as e:
            lax.send_message_batch(QueueUrl=url, Entries=entries)
        assert code(e) == expected

    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["one", "two"]
    res = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "y", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
    ])
    assert [e["Id"] for e in res["Successful"]] == ["x"]
    assert res["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    res = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": msgs[1]["ReceiptHandle"]},
        {"Id": "y", "ReceiptHandle": "garbage"},
    ])
    assert [e["Id"] for e in res["Successful"]] == ["x"]
    assert res["Failed"][0]["Id"] == "y" and res["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, url) == (1, 0, 0)


# --- FIFO -------------------------------------------------------------------------------


def fifo_queue(sqs, **attrs):
    attributes = {"FifoQueue": "true", **attrs}
    return sqs.create_queue(QueueName=uniq("fifo") + ".fifo", Attributes=attributes)["QueueUrl"]


def test_fifo_ordering_groups_and_sequence_numbers(sqs):
    url = fifo_queue(sqs)
    seqs = []
    for group, body in (("g1", "1"), ("g2", "a"), ("g1", "2"), ("g2", "b"), ("g1", "3")):
        r = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)
        seqs.append(int(r["SequenceNumber"]))
        assert len(r["SequenceNumber"]) >= 20
    assert seqs == sorted(seqs) and len(set(seqs)) == 5

    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "1"
    # g1 has a message in flight: nothing more of g1 until it is deleted.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [x["Body"] for x in got] == ["a", "b"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g2"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "a"
    assert int(got[0]["Attributes"]["SequenceNumber"]) == seqs[1]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [x["Body"] for x in got] == ["2", "3"]


def test_fifo_errors(sqs, lax):
    url = fifo_queue(sqs)
    with pytest.raises(ClientError) as e:
        lax.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(e) == "MissingParameter"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code(e) == "InvalidParameterValue"
    assert "ContentBasedDeduplication" in str(e.value)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=5)
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="bad group", MessageDeduplicationId="d")
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert code(e) == "InvalidAttributeValue"


def test_fifo_deduplication_window_and_scopes(sqs, overcast):
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    dup = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert dup["MessageId"] == first["MessageId"]
    assert dup["SequenceNumber"] == first["SequenceNumber"]
    explicit = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g", MessageDeduplicationId="other")
    assert explicit["MessageId"] != first["MessageId"]
    assert counts(sqs, url)[0] == 2
    advance(overcast, 301)
    again = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert again["MessageId"] != first["MessageId"]
    assert counts(sqs, url)[0] == 3

    scoped = fifo_queue(sqs, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    a = sqs.send_message(QueueUrl=scoped, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
    b = sqs.send_message(QueueUrl=scoped, MessageBody="x", MessageGroupId="g2", MessageDeduplicationId="d")
    c = sqs.send_message(QueueUrl=scoped, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
    assert a["MessageId"] != b["MessageId"] and c["MessageId"] == a["MessageId"]


def test_fifo_receive_request_attempt_id(sqs):
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    for body in ("1", "2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1")["Messages"]
    retry = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["Body"] for m in first] == ["1", "2"]
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    # On a FIFO queue, an outdated handle cannot delete.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["1", "2"]
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert code(e) == "InvalidParameterValue"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])


# --- dead-letter queues -----------------------------------------------------------------


def make_dlq_pair(sqs, max_receive=2):
    dlq = sqs.create_queue(QueueName=uniq("dlq"))["QueueUrl"]
    dlq_arn = attrs_of(sqs, dlq, "QueueArn")["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})
    src = sqs.create_queue(QueueName=uniq("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return src, dlq, dlq_arn


def test_dead_letter_redrive(sqs):
    src, dlq, dlq_arn = make_dlq_pair(sqs)
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison",
                            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    for n in (1, 2):
        [m] = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    assert "Messages" not in sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)
    [d] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    assert d["MessageId"] == sent["MessageId"] and d["Body"] == "poison"
    assert d["MessageAttributes"]["k"]["StringValue"] == "v"
    assert d["Attributes"]["DeadLetterQueueSourceArn"] == attrs_of(sqs, src, "QueueArn")["QueueArn"]
    assert json.loads(attrs_of(sqs, src, "RedrivePolicy")["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    other = sqs.create_queue(QueueName=uniq("none"))["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=other)["queueUrls"] == []


def test_redrive_policy_validation_and_allow_policy(sqs):
    dlq = sqs.create_queue(QueueName=uniq("dlq"), Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})["QueueUrl"]
    dlq_arn = attrs_of(sqs, dlq, "QueueArn")["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=uniq("src"), Attributes={"RedrivePolicy": policy})
    assert code(e) == "InvalidParameterValue"
    src_name = uniq("src")
    src_arn = f"arn:aws:sqs:us-east-1:000000000000:{src_name}"
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [src_arn]})})
    sqs.create_queue(QueueName=src_name, Attributes={"RedrivePolicy": policy})
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=uniq("src"), Attributes={"RedrivePolicy": policy})
    assert code(e) == "InvalidParameterValue"
    missing = json.dumps({"deadLetterTargetArn": dlq_arn + "-missing", "maxReceiveCount": 3})
    for bad in (missing, "not json", json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0})):
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=uniq("src"), Attributes={"RedrivePolicy": bad})
        assert code(e) == "InvalidParameterValue"
    fifo_src = uniq("src") + ".fifo"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=fifo_src, Attributes={"FifoQueue": "true", "RedrivePolicy": policy})
    assert code(e) == "InvalidParameterValue"


def test_message_move_task(sqs):
    src, dlq, dlq_arn = make_dlq_pair(sqs, max_receive=1)
    for i in range(5):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    for _ in range(3):
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert counts(sqs, dlq)[0] == 5 and counts(sqs, src) == (0, 0, 0)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    deadline = time.time() + 10
    while True:
        [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        if task["Status"] != "RUNNING" or time.time() > deadline:
            break
        time.sleep(0.05)
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 5
    assert task["ApproximateNumberOfMessagesToMove"] == 5
    assert task["SourceArn"] == dlq_arn
    assert "TaskHandle" not in task
    msgs = sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in msgs) == [f"m{i}" for i in range(5)]
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in msgs)
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert code(e) == "InvalidParameterValue"

    # A throttled task can be cancelled while it runs.
    for m in msgs:
        sqs.change_message_visibility(QueueUrl=src, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert counts(sqs, dlq)[0] == 5
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=dlq_arn)
    assert code(e) == "InvalidParameterValue"
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved <= 2
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in tasks] == ["CANCELLED", "COMPLETED"]
    assert tasks[0]["MaxNumberOfMessagesPerSecond"] == 1

    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=dlq_arn + "-missing")
    assert code(e) == "ResourceNotFoundException"
    not_dlq = attrs_of(sqs, src, "QueueArn")["QueueArn"]
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=not_dlq)
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle="bogus")
    assert code(e) == "ResourceNotFoundException"


def wait_for_task(sqs, dlq_arn, pred, timeout=20):
    deadline = time.time() + timeout
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        if pred(tasks) or time.time() > deadline:
            return tasks
        time.sleep(0.1)


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_message_move_task_survives_restart(sqs, client, overcast, how):
    src, dlq, dlq_arn = make_dlq_pair(sqs, max_receive=1)
    for i in range(12):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    while counts(sqs, dlq)[0] < 12:
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    other = sqs.create_queue(QueueName=uniq("dest"))["QueueUrl"]
    other_arn = attrs_of(sqs, other, "QueueArn")["QueueArn"]
    # Throttled to 2 messages a second: 12 messages take ~6 s, so it is running at the restart.
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn,
                                         MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    getattr(overcast, how)()
    sqs = client("sqs")
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "RUNNING" and task["TaskHandle"] == handle
    assert task["ApproximateNumberOfMessagesToMove"] == 12
    assert task["DestinationArn"] == other_arn and task["MaxNumberOfMessagesPerSecond"] == 2
    # It resumes where it stopped and finishes.
    tasks = wait_for_task(sqs, dlq_arn, lambda t: t[0]["Status"] != "RUNNING")
    assert tasks[0]["Status"] == "COMPLETED"
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 12
    assert counts(sqs, dlq)[0] == 0 and counts(sqs, other)[0] == 12
    bodies = []
    while len(bodies) < 12:
        got = sqs.receive_message(QueueUrl=other, MaxNumberOfMessages=10).get("Messages", [])
        assert got
        bodies += [m["Body"] for m in got]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(12))
    # A cancelled task, then a restart: ListMessageMoveTasks still shows the whole history.
    for b in range(3):
        sqs.send_message(QueueUrl=src, MessageBody=f"again{b}")
    while counts(sqs, dlq)[0] < 3:
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    h2 = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    sqs.cancel_message_move_task(TaskHandle=h2)
    overcast.restart()
    sqs = client("sqs")
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in tasks] == ["CANCELLED", "COMPLETED"]
    assert tasks[1]["ApproximateNumberOfMessagesMoved"] == 12
    assert tasks[1]["DestinationArn"] == other_arn
    assert all("TaskHandle" not in t for t in tasks)
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert code(e) == "InvalidParameterValue"
    # A new task can start (none is left running).
    sqs.start_message_move_task(SourceArn=dlq_arn)
    tasks = wait_for_task(sqs, dlq_arn, lambda t: t[0]["Status"] != "RUNNING")
    assert tasks[0]["Status"] == "COMPLETED" and len(tasks) == 3


# --- AWS/SQS metrics in CloudWatch ---------------------------------------------------


def sqs_stat(cw, queue, metric, stat, now):
    out = cw.get_metric_statistics(
        Namespace="AWS/SQS", MetricName=metric,
        Dimensions=[{"Name": "QueueName", "Value": queue}],
        StartTime=now - 3600, EndTime=now + 3600, Period=60, Statistics=[stat])
    return [p[stat] for p in sorted(out["Datapoints"], key=lambda p: p["Timestamp"])]


def test_queue_metrics_reach_cloudwatch_every_minute(sqs, client, overcast):
    cw = client("cloudwatch")
    name, empty_name, idle_name = uniq("metrics"), uniq("empty"), uniq("idle")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    empty = sqs.create_queue(QueueName=empty_name)["QueueUrl"]
    sqs.create_queue(QueueName=idle_name)
    for body in ("a" * 10, "b" * 20, "c" * 30):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "d", "MessageBody": "d" * 40, "DelaySeconds": 900}])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=3600)["Messages"]
    assert len(got) == 2
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    for _ in range(2):
        assert "Messages" not in sqs.receive_message(QueueUrl=empty, WaitTimeSeconds=0)
    overcast.clock(advance=61)
    now = overcast.clock()["now"]
    deadline = time.time() + 10
    while not sqs_stat(cw, name, "NumberOfMessagesSent", "Sum", now) and time.time() < deadline:
        time.sleep(0.1)
    total = lambda metric, stat="Sum", q=name: sum(sqs_stat(cw, q, metric, stat, now))
    assert total("NumberOfMessagesSent") == 4
    assert total("NumberOfMessagesReceived") == 2
    assert total("NumberOfMessagesDeleted") == 1
    assert total("NumberOfEmptyReceives") == 0
    assert total("SentMessageSize", "SampleCount") == 4
    assert total("SentMessageSize", "Sum") == 100
    assert sqs_stat(cw, name, "SentMessageSize", "Maximum", now)[-1] == 40
    assert sqs_stat(cw, name, "SentMessageSize", "Minimum", now)[-1] == 10
    assert sqs_stat(cw, name, "ApproximateNumberOfMessagesVisible", "Maximum", now)[-1] == 1
    assert sqs_stat(cw, name, "ApproximateNumberOfMessagesNotVisible", "Maximum", now)[-1] == 1
    assert sqs_stat(cw, name, "ApproximateNumberOfMessagesDelayed", "Maximum", now)[-1] == 1
    assert sqs_stat(cw, name, "ApproximateAgeOfOldestMessage", "Maximum", now)[-1] >= 60
    # Empty receives count on their queue, which is active (zeros included) though empty.
    assert total("NumberOfEmptyReceives", q=empty_name) == 2
    assert total("NumberOfMessagesSent", q=empty_name) == 0
    assert sqs_stat(cw, empty_name, "NumberOfMessagesSent", "SampleCount", now)
    # A queue nobody touched publishes nothing.
    listed = cw.list_metrics(Namespace="AWS/SQS",
                             Dimensions=[{"Name": "QueueName", "Value": idle_name}])["Metrics"]
    assert listed == []
    names = {m["MetricName"] for m in cw.list_metrics(
        Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": name}])["Metrics"]}
    assert {"NumberOfMessagesSent", "ApproximateNumberOfMessagesVisible", "SentMessageSize"} <= names
    # The next minute counts afresh: nothing more was sent.
    overcast.clock(advance=60)
    later = overcast.clock()["now"]
    deadline = time.time() + 10
    while len(sqs_stat(cw, name, "NumberOfMessagesSent", "Sum", later)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    sums = sqs_stat(cw, name, "NumberOfMessagesSent", "Sum", later)
    assert len(sums) >= 2 and sums[-1] == 0 and sum(sums) == 4


# --- purge, tags, permissions -----------------------------------------------------------


def test_purge_queue(sqs, overcast):
    url = sqs.create_queue(QueueName=uniq("purge"))["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.receive_message(QueueUrl=url)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError) as e:
        sqs.purge_queue(QueueUrl=url)
    assert code(e) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    advance(overcast, 61)
    sqs.purge_queue(QueueUrl=url)


def test_tags(sqs):
    url = sqs.create_queue(QueueName=uniq("tags"), tags={"team": "a", "env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "cost": "1"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "cost": "1"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "cost"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_permissions_live_in_the_policy(sqs):
    url = sqs.create_queue(QueueName=uniq("perm"))["QueueUrl"]
    arn = attrs_of(sqs, url, "QueueArn")["QueueArn"]
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111111111111"], Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="rw", AWSAccountIds=["111111111111", "222222222222"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(attrs_of(sqs, url, "Policy")["Policy"])
    assert policy["Version"] == "2012-10-17"
    [send, rw] = policy["Statement"]
    assert send == {"Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                    "Action": "SQS:SendMessage", "Resource": arn}
    assert rw["Action"] == ["SQS:ReceiveMessage", "SQS:DeleteMessage"]
    assert len(rw["Principal"]["AWS"]) == 2
    with pytest.raises(ClientError) as e:
        sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111111111111"], Actions=["SendMessage"])
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.add_permission(QueueUrl=url, Label="x", AWSAccountIds=["111111111111"], Actions=["DeleteQueue"])
    assert code(e) == "InvalidParameterValue"
    sqs.remove_permission(QueueUrl=url, Label="send")
    assert [s["Sid"] for s in json.loads(attrs_of(sqs, url, "Policy")["Policy"])["Statement"]] == ["rw"]
    with pytest.raises(ClientError) as e:
        sqs.remove_permission(QueueUrl=url, Label="send")
    assert code(e) == "InvalidParameterValue"
    sqs.remove_permission(QueueUrl=url, Label="rw")
    assert "Policy" not in attrs_of(sqs, url)


# --- AWS CLI ----------------------------------------------------------------------------


def test_aws_cli(aws, overcast):
    name = uniq("cli")
    url = aws("sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=45")["QueueUrl"]
    assert url == f"{overcast.url}/000000000000/{name}"
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = aws("sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
              "--attribute-names", "All")
    [m] = got["Messages"]
    assert m["Body"] == "from the cli" and m["MessageAttributes"]["k"]["StringValue"] == "v"
    attrs = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "45" and attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    assert url in aws("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    aws("sqs", "delete-queue", "--queue-url", url)
    proc = aws.raw("sqs", "get-queue-url", "--queue-name", name)
    assert proc.returncode != 0
    assert "NonExistentQueue" in proc.stderr


# --- persistence ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_queues_and_messages_survive(sqs, client, overcast, how):
    name = uniq("persist")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "300"}, tags={"k": "v"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="visible",
                     MessageAttributes={"a": {"DataType": "Number", "StringValue": "1"}})
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    sqs.send_message(QueueUrl=url, MessageBody="deleted")
    got = {m["Body"]: m for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["deleted"]["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got["visible"]["ReceiptHandle"], VisibilityTimeout=0)
    fifo = fifo_queue(sqs, ContentBasedDeduplication="true")
    before = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g")

    # Virtual time is not part of the data directory: carry it over so deadlines keep meaning.
    virtual_now = requests.get(overcast.url + "/_overcast/clock", timeout=10).json()["now"]
    getattr(overcast, how)()
    if requests.get(overcast.url + "/_overcast/clock", timeout=10).json()["now"] < virtual_now:
        requests.post(overcast.url + "/_overcast/clock", json={"set": virtual_now}, timeout=10)
    sqs = client("sqs")

    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert attrs_of(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "300"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
    assert counts(sqs, url) == (1, 1, 0)
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert m["Body"] == "visible"
    assert m["MessageAttributes"]["a"]["StringValue"] == "1"
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    # The handle issued before the restart still works.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["in flight"]["ReceiptHandle"])
    assert counts(sqs, url) == (0, 1, 0)
    # FIFO: deduplication and sequence numbers carry on.
    dup = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g")
    assert dup["MessageId"] == before["MessageId"]
    after = sqs.send_message(QueueUrl=fifo, MessageBody="f2", MessageGroupId="g")
    assert int(after["SequenceNumber"]) > int(before["SequenceNumber"])
    got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [x["Body"] for x in got] == ["f1", "f2"]
