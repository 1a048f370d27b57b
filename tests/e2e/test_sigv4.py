"""SigV4 with --verify-signatures: default keys, wrong secrets, unsigned requests, presigned
expiry, STS temporary credentials (valid, tampered, expired on the virtual clock)."""
import datetime
import os
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Overcast


@pytest.fixture(scope="module")
def verifying(tmp_path_factory):
    base = tmp_path_factory.mktemp("verify")
    server = Overcast(str(base / "data"), extra_args=["--verify-signatures"])
    server.start()
    yield server
    server.stop()


def make(server, service, **kw):
    kw.setdefault("aws_access_key_id", "test")
    kw.setdefault("aws_secret_access_key", "test")
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}), **kw)


def test_default_keys_sign_correctly(verifying):
    sts = make(verifying, "sts")
    assert sts.get_caller_identity()["Account"] == "000000000000"
    sqs = make(verifying, "sqs")
    url = sqs.create_queue(QueueName="signed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1000)
    # 12-digit key ids select their account; secret is still "test".
    sts12 = make(verifying, "sts", aws_access_key_id="123456789012")
    assert sts12.get_caller_identity()["Account"] == "123456789012"


def test_wrong_secret_is_signature_does_not_match(verifying):
    sts = make(verifying, "sts", aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    sqs = make(verifying, "sqs", aws_secret_access_key="nope")
    with pytest.raises(ClientError) as e:
        sqs.list_queues()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unsigned_request_is_refused(verifying):
    req = urllib.request.Request(verifying.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 403
    assert b"MissingAuthenticationToken" in e.value.read()


def test_presigned_url_works_then_expires(verifying, monkeypatch):
    sts = make(verifying, "sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    body = urllib.request.urlopen(url, timeout=5).read()
    assert b"<Account>000000000000</Account>" in body
    # Outside S3, AWS accepts a presigned request for 15 minutes after X-Amz-Date.
    import botocore.auth
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: old)
    stale = sts.generate_presigned_url("get_caller_identity", ExpiresIn=3600, HttpMethod="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(stale, timeout=5)
    assert e.value.code == 403
    assert b"Signature expired" in e.value.read()


def test_tampered_presigned_url_is_refused(verifying):
    sts = make(verifying, "sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    bad = url.replace("GetCallerIdentity", "GetSessionToken")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=5)
    assert e.value.code == 403


def test_sts_temporary_credentials_verify_and_expire(verifying):
    sts = make(verifying, "sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/app", RoleSessionName="s1",
                            DurationSeconds=900)["Credentials"]
    temp = make(verifying, "sts", aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    ident = temp.get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::111111111111:assumed-role/app/s1"
    assert ident["Account"] == "111111111111"

    wrong_token = make(verifying, "sts", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"], aws_session_token="bogus")
    with pytest.raises(ClientError) as e:
        wrong_token.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"

    wrong_secret = make(verifying, "sts", aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key="x" * 40, aws_session_token=creds["SessionToken"])
    with pytest.raises(ClientError) as e:
        wrong_secret.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    verifying.clock(advance=901)
    with pytest.raises(ClientError) as e:
        temp.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "ExpiredToken"
