"""SQS over the query protocol, as older SDKs and hand-written clients speak it: form-encoded
`Action=...&Version=2012-11-05` POSTs, SigV4-signed, to the endpoint and to queue URLs, with
XML answers in the SQS namespace and AWS's query error codes."""
import hashlib
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = "http://queue.amazonaws.com/doc/2012-11-05/"
N = {"s": NS}


def uniq(prefix="qq"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(url, action, params=None, access_key="test"):
    """POSTs a signed query request; returns (status, parsed XML root)."""
    form = {"Action": action, "Version": "2012-11-05", **(params or {})}
    body = urllib.parse.urlencode(form)
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(access_key, "test"), "sqs", "us-east-1").add_auth(req)
    resp = requests.post(url, data=body, headers=dict(req.headers), timeout=30)
    assert resp.headers["content-type"].startswith("text/xml"), resp.headers
    return resp.status_code, ET.fromstring(resp.content)


def text(root, path):
    el = root.find(path, N)
    assert el is not None, (path, ET.tostring(root))
    return el.text


def error_code(root):
    assert root.tag == f"{{{NS}}}ErrorResponse", ET.tostring(root)
    return text(root, "s:Error/s:Code")


def create(overcast, name=None, **attrs):
    params = {"QueueName": name or uniq()}
    for i, (k, v) in enumerate(attrs.items(), 1):
        params[f"Attribute.{i}.Name"] = k
        params[f"Attribute.{i}.Value"] = v
    status, root = call(overcast.url + "/", "CreateQueue", params)
    assert status == 200, ET.tostring(root)
    return text(root, "s:CreateQueueResult/s:QueueUrl")


def test_create_send_receive_delete(overcast):
    name = uniq()
    url = create(overcast, name, VisibilityTimeout="40")
    assert url == f"{overcast.url}/000000000000/{name}"

    status, root = call(url, "SendMessage", {
        "MessageBody": "query body",
        "MessageAttribute.1.Name": "color",
        "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "red",
        "MessageAttribute.2.Name": "bin",
        "MessageAttribute.2.Value.DataType": "Binary",
        "MessageAttribute.2.Value.BinaryValue": "AAEC",
    })
    assert status == 200
    assert root.tag == f"{{{NS}}}SendMessageResponse"
    assert text(root, "s:SendMessageResult/s:MD5OfMessageBody") == hashlib.md5(b"query body").hexdigest()
    message_id = text(root, "s:SendMessageResult/s:MessageId")
    md5_attrs = text(root, "s:SendMessageResult/s:MD5OfMessageAttributes")
    assert root.find("s:ResponseMetadata/s:RequestId", N) is not None

    # Posted to the queue URL without a QueueUrl parameter, as old clients do.
    status, root = call(url, "ReceiveMessage", {"AttributeName.1": "All", "MessageAttributeName.1": "All",
                                                 "MaxNumberOfMessages": "5"})
    assert status == 200
    [msg] = root.findall("s:ReceiveMessageResult/s:Message", N)
    assert text(msg, "s:MessageId") == message_id
    assert text(msg, "s:Body") == "query body"
    assert text(msg, "s:MD5OfMessageAttributes") == md5_attrs
    attrs = {text(a, "s:Name"): text(a, "s:Value") for a in msg.findall("s:Attribute", N)}
    assert attrs["ApproximateReceiveCount"] == "1" and attrs["SenderId"] == "000000000000"
    mattrs = {text(a, "s:Name"): a for a in msg.findall("s:MessageAttribute", N)}
    assert text(mattrs["color"], "s:Value/s:StringValue") == "red"
    assert text(mattrs["bin"], "s:Value/s:BinaryValue") == "AAEC"
    assert text(mattrs["bin"], "s:Value/s:DataType") == "Binary"
    handle = text(msg, "s:ReceiptHandle")

    status, root = call(overcast.url + "/", "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": handle})
    assert status == 200 and root.tag == f"{{{NS}}}DeleteMessageResponse"
    status, root = call(url, "ReceiveMessage")
    assert status == 200
    assert root.findall("s:ReceiveMessageResult/s:Message", N) == []


def test_attributes_and_listing(overcast):
    prefix = uniq("qlist")
    url = create(overcast, f"{prefix}-a", DelaySeconds="5")
    create(overcast, f"{prefix}-b")
    status, root = call(url, "GetQueueAttributes", {"QueueUrl": url, "AttributeName.1": "All"})
    assert status == 200
    attrs = {text(a, "s:Name"): text(a, "s:Value")
             for a in root.findall("s:GetQueueAttributesResult/s:Attribute", N)}
    assert attrs["DelaySeconds"] == "5"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{prefix}-a"
    status, root = call(url, "SetQueueAttributes", {"QueueUrl": url, "Attribute.1.Name": "DelaySeconds",
                                                    "Attribute.1.Value": "0"})
    assert status == 200
    status, root = call(overcast.url + "/", "ListQueues", {"QueueNamePrefix": prefix})
    urls = [u.text for u in root.findall("s:ListQueuesResult/s:QueueUrl", N)]
    assert sorted(urls) == [url, f"{overcast.url}/000000000000/{prefix}-b"]
    status, root = call(overcast.url + "/", "GetQueueUrl", {"QueueName": f"{prefix}-b"})
    assert text(root, "s:GetQueueUrlResult/s:QueueUrl").endswith(f"/{prefix}-b")
    status, root = call(url, "TagQueue", {"QueueUrl": url, "Tag.1.Key": "team", "Tag.1.Value": "x"})
    assert status == 200
    status, root = call(url, "ListQueueTags", {"QueueUrl": url})
    tags = {text(t, "s:Key"): text(t, "s:Value") for t in root.findall("s:ListQueueTagsResult/s:Tag", N)}
    assert tags == {"team": "x"}


def test_batches_over_query(overcast):
    url = create(overcast)
    status, root = call(url, "SendMessageBatch", {
        "QueueUrl": url,
        "SendMessageBatchRequestEntry.1.Id": "one",
        "SendMessageBatchRequestEntry.1.MessageBody": "first",
        "SendMessageBatchRequestEntry.2.Id": "two",
        "SendMessageBatchRequestEntry.2.MessageBody": "second",
        "SendMessageBatchRequestEntry.2.DelaySeconds": "901",
    })
    assert status == 200
    ok = root.findall("s:SendMessageBatchResult/s:SendMessageBatchResultEntry", N)
    assert [text(e, "s:Id") for e in ok] == ["one"]
    [failed] = root.findall("s:SendMessageBatchResult/s:BatchResultErrorEntry", N)
    assert text(failed, "s:Id") == "two"
    assert text(failed, "s:Code") == "InvalidParameterValue"
    assert text(failed, "s:SenderFault") == "true"

    params = {"QueueUrl": url}
    for i in range(1, 12):
        params[f"SendMessageBatchRequestEntry.{i}.Id"] = f"e{i}"
        params[f"SendMessageBatchRequestEntry.{i}.MessageBody"] = "x"
    status, root = call(url, "SendMessageBatch", params)
    assert status == 400
    assert error_code(root) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"

    status, root = call(url, "ReceiveMessage", {"QueueUrl": url})
    handle = text(root, "s:ReceiveMessageResult/s:Message/s:ReceiptHandle")
    status, root = call(url, "DeleteMessageBatch", {
        "QueueUrl": url,
        "DeleteMessageBatchRequestEntry.1.Id": "a",
        "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle,
    })
    assert status == 200
    assert [text(e, "s:Id") for e in root.findall("s:DeleteMessageBatchResult/s:DeleteMessageBatchResultEntry", N)] == ["a"]


def test_query_errors(overcast):
    status, root = call(overcast.url + "/", "GetQueueUrl", {"QueueName": uniq("missing")})
    assert status == 400
    assert error_code(root) == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(root, "s:Error/s:Type") == "Sender"
    assert text(root, "s:Error/s:Message") == "The specified queue does not exist."
    assert root.find("s:RequestId", N) is not None

    name = uniq()
    url = create(overcast, name, VisibilityTimeout="10")
    status, root = call(overcast.url + "/", "CreateQueue", {"QueueName": name, "Attribute.1.Name": "VisibilityTimeout",
                                                             "Attribute.1.Value": "11"})
    assert status == 400 and error_code(root) == "QueueAlreadyExists"
    status, root = call(url, "GetQueueAttributes", {"QueueUrl": url, "AttributeName.1": "Bogus"})
    assert status == 400 and error_code(root) == "InvalidAttributeName"
    status, root = call(url, "SendMessage", {"QueueUrl": url})
    assert status == 400 and error_code(root) == "MissingParameter"
    status, root = call(url, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": "11"})
    assert status == 400 and error_code(root) == "InvalidParameterValue"
    status, root = call(url, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": "garbage"})
    assert status == 400 and error_code(root) == "ReceiptHandleIsInvalid"
    status, root = call(url, "PurgeQueue", {"QueueUrl": url})
    assert status == 200
    status, root = call(url, "PurgeQueue", {"QueueUrl": url})
    assert status == 403 and error_code(root) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    status, root = call(url, "DeleteQueue", {"QueueUrl": url})
    assert status == 200
    status, root = call(url, "SendMessage", {"QueueUrl": url, "MessageBody": "x"})
    assert status == 400 and error_code(root) == "AWS.SimpleQueueService.NonExistentQueue"


def test_fifo_over_query(overcast):
    url = create(overcast, uniq() + ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sequence = []
    for body in ("a", "b"):
        status, root = call(url, "SendMessage", {"QueueUrl": url, "MessageBody": body, "MessageGroupId": "g"})
        assert status == 200
        sequence.append(int(text(root, "s:SendMessageResult/s:SequenceNumber")))
    assert sequence[0] < sequence[1]
    status, root = call(url, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": "10",
                                                "AttributeName.1": "MessageGroupId"})
    msgs = root.findall("s:ReceiveMessageResult/s:Message", N)
    assert [text(m, "s:Body") for m in msgs] == ["a", "b"]
    attrs = {text(a, "s:Name"): text(a, "s:Value") for a in msgs[0].findall("s:Attribute", N)}
    assert attrs == {"MessageGroupId": "g"}
