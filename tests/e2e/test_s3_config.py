"""S3 bucket configurations and their effects: AWS's defaults for new buckets (Block Public
Access on, ACLs disabled, SSE-S3), round trips of every stored configuration with AWS's
not-found errors, bucket policies checked against Block Public Access, object tagging, event
notifications delivered to SQS, and lifecycle rules applied when the virtual clock moves
(the seed's STANDARD_IA-after-90-days pattern)."""
import hashlib
import json
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})


@pytest.fixture
def s3(client):
    return client("s3", config=PATH)


@pytest.fixture
def sqs(client):
    return client("sqs")


@pytest.fixture
def bucket(s3):
    name = f"cfg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def expect(code, fn, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response


def test_new_bucket_defaults_and_not_found_errors(s3, bucket):
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                   "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    notif = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in notif
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    r = expect("NoSuchBucketPolicy", s3.get_bucket_policy, Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 404
    expect("NoSuchCORSConfiguration", s3.get_bucket_cors, Bucket=bucket)
    expect("NoSuchTagSet", s3.get_bucket_tagging, Bucket=bucket)
    expect("NoSuchWebsiteConfiguration", s3.get_bucket_website, Bucket=bucket)
    expect("NoSuchLifecycleConfiguration", s3.get_bucket_lifecycle_configuration, Bucket=bucket)
    expect("NoSuchConfiguration", s3.get_bucket_metrics_configuration, Bucket=bucket, Id="m")
    expect("NoSuchBucket", s3.get_bucket_cors, Bucket="no-such-bucket-cfg")
    # Deleting the defaults: PAB and ownership then answer their not-found errors; encryption
    # returns to SSE-S3.
    s3.delete_public_access_block(Bucket=bucket)
    expect("NoSuchPublicAccessBlockConfiguration", s3.get_public_access_block, Bucket=bucket)
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    expect("OwnershipControlsNotFoundError", s3.get_bucket_ownership_controls, Bucket=bucket)
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    # CreateBucket's ObjectOwnership is honoured.
    other = f"own-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=other, ObjectOwnership="ObjectWriter")
    rules = s3.get_bucket_ownership_controls(Bucket=other)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]


def test_configuration_round_trips(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "web"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    expect("NoSuchTagSet", s3.get_bucket_tagging, Bucket=bucket)

    cors = {"CORSRules": [{"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT"],
                           "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == cors["CORSRules"]
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    r = expect("InvalidRequest", s3.put_bucket_cors, Bucket=bucket, CORSConfiguration=bad)
    assert "PATCH" in r["Error"]["Message"]
    s3.delete_bucket_cors(Bucket=bucket)
    expect("NoSuchCORSConfiguration", s3.get_bucket_cors, Bucket=bucket)

    website = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=website)
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"} and got["ErrorDocument"] == {"Key": "error.html"}
    expect("InvalidArgument", s3.put_bucket_website, Bucket=bucket,
           WebsiteConfiguration={"ErrorDocument": {"Key": "e.html"}})

    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/app"},
                      "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=kms)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == kms

    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"

    logs = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=logs)
    status = {"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "access/"}}
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status)
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"] == logs
    expect("InvalidTargetBucketForLogging", s3.put_bucket_logging, Bucket=bucket,
           BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "nope-no-such-b", "TargetPrefix": ""}})

    for i in ("b", "a"):
        s3.put_bucket_metrics_configuration(Bucket=bucket, Id=i, MetricsConfiguration={"Id": i})
    listed = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert [m["Id"] for m in listed["MetricsConfigurationList"]] == ["a", "b"]
    assert s3.get_bucket_metrics_configuration(Bucket=bucket, Id="a")["MetricsConfiguration"]["Id"] == "a"
    s3.delete_bucket_metrics_configuration(Bucket=bucket, Id="a")
    expect("NoSuchConfiguration", s3.delete_bucket_metrics_configuration, Bucket=bucket, Id="a")

    inv = {"Id": "inv", "IsEnabled": True, "IncludedObjectVersions": "Current",
           "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{logs}", "Format": "CSV"}},
           "Schedule": {"Frequency": "Daily"}}
    s3.put_bucket_inventory_configuration(Bucket=bucket, Id="inv", InventoryConfiguration=inv)
    assert s3.get_bucket_inventory_configuration(Bucket=bucket, Id="inv")["InventoryConfiguration"] == inv


def test_bucket_policy_and_block_public_access(s3, bucket):
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    r = expect("AccessDenied", s3.put_bucket_policy, Bucket=bucket, Policy=public)
    assert "BlockPublicPolicy" in r["Error"]["Message"]
    private = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=private)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(private)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    expect("MalformedPolicy", s3.put_bucket_policy, Bucket=bucket, Policy="not json")
    other = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                       "Resource": "arn:aws:s3:::someone-elses-bucket/*"}]})
    expect("MalformedPolicy", s3.put_bucket_policy, Bucket=bucket, Policy=other)

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    expect("NoSuchBucketPolicy", s3.get_bucket_policy, Bucket=bucket)


def test_acls_are_disabled_by_bucket_owner_enforced(s3, bucket):
    expect("AccessControlListNotSupported", s3.put_bucket_acl, Bucket=bucket, ACL="public-read")
    expect("AccessControlListNotSupported", s3.put_object, Bucket=bucket, Key="k", Body=b"x",
           ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    expect("AccessControlListNotSupported", s3.put_object_acl, Bucket=bucket, Key="k", ACL="public-read")
    # With ACLs enabled, public ACLs are still refused by BlockPublicAcls.
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    expect("AccessDenied", s3.put_bucket_acl, Bucket=bucket, ACL="public-read")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
               for g in grants)
    # Object ACLs, now that the bucket allows them.
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == ["FULL_CONTROL"]
    s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="pub")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)
    s3.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    assert len(s3.get_object_acl(Bucket=bucket, Key="pub")["Grants"]) == 1
    expect("NoSuchKey", s3.get_object_acl, Bucket=bucket, Key="missing")


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="env=dev&team=web%20ui")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "web ui"}]
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "a", "Value": "1"}]
    # Copies keep tags unless told to replace them.
    s3.copy_object(Bucket=bucket, Key="c1", CopySource=f"{bucket}/t")
    assert s3.get_object_tagging(Bucket=bucket, Key="c1")["TagSet"] == [{"Key": "a", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="c2", CopySource=f"{bucket}/t", TaggingDirective="REPLACE",
                   Tagging="x=y")
    assert s3.get_object_tagging(Bucket=bucket, Key="c2")["TagSet"] == [{"Key": "x", "Value": "y"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    dup = {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
    expect("InvalidTag", s3.put_object_tagging, Bucket=bucket, Key="t", Tagging=dup)
    many = {"TagSet": [{"Key": f"k{i}", "Value": ""} for i in range(11)]}
    expect("InvalidTag", s3.put_object_tagging, Bucket=bucket, Key="t", Tagging=many)
    expect("NoSuchKey", s3.get_object_tagging, Bucket=bucket, Key="missing")
    expect("InvalidTag", s3.put_object, Bucket=bucket, Key="bad", Body=b"x", Tagging="aws:x=1")


def receive(sqs, url, wait=5):
    out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait, MaxNumberOfMessages=10)
    msgs = out.get("Messages", [])
    for m in msgs:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in msgs]


def test_event_notifications_to_sqs(s3, sqs, bucket):
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "images", "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"},
                                               {"Name": "suffix", "Value": ".jpg"}]}}}]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got[0]["Id"] == "images" and got[0]["QueueArn"] == arn
    [test_event] = receive(sqs, url)
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == bucket

    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"ignored")
    s3.put_object(Bucket=bucket, Key="images/my cat.jpg", Body=b"meow")
    [event] = receive(sqs, url)
    [rec] = event["Records"]
    assert rec["eventSource"] == "aws:s3" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["awsRegion"] == "us-east-1" and rec["eventVersion"] == "2.1"
    assert rec["s3"]["configurationId"] == "images"
    assert rec["s3"]["bucket"]["name"] == bucket
    assert rec["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = rec["s3"]["object"]
    assert obj["key"] == "images/my+cat.jpg" and obj["size"] == 4
    assert obj["eTag"] == hashlib.md5(b"meow").hexdigest()

    s3.copy_object(Bucket=bucket, Key="images/copy.jpg", CopySource=f"{bucket}/images/my cat.jpg")
    [event] = receive(sqs, url)
    assert event["Records"][0]["eventName"] == "ObjectCreated:Copy"
    s3.delete_object(Bucket=bucket, Key="images/copy.jpg")
    [event] = receive(sqs, url)
    rec = event["Records"][0]
    assert rec["eventName"] == "ObjectRemoved:Delete" and "size" not in rec["s3"]["object"]

    missing = arn.rsplit(":", 1)[0] + ":no-such-queue"
    r = expect("InvalidArgument", s3.put_bucket_notification_configuration, Bucket=bucket,
               NotificationConfiguration={"QueueConfigurations": [
                   {"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    assert "Unable to validate" in r["Error"]["Message"]
    expect("InvalidArgument", s3.put_bucket_notification_configuration, Bucket=bucket,
           NotificationConfiguration={"QueueConfigurations": [
               {"QueueArn": arn, "Events": ["s3:ObjectExploded:*"]}]})
    # Clearing the configuration stops the events.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.put_object(Bucket=bucket, Key="images/late.jpg", Body=b"x")
    assert receive(sqs, url, wait=1) == []


def test_lifecycle_rules_follow_the_virtual_clock(overcast, s3, bucket):
    # The seed's production pattern: Block Public Access plus a transition to STANDARD_IA
    # after 90 days; and an expiration rule for temporary files.
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True})
    out = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "TransitionToIA", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Transitions": [{"Days": 90, "StorageClass": "STANDARD_IA"}]},
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}},
    ]})
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["TransitionToIA", "tmp"]
    expect("InvalidArgument", s3.put_bucket_lifecycle_configuration, Bucket=bucket,
           LifecycleConfiguration={"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {},
                                              "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]}]})

    big = b"a" * (200 * 1024)
    s3.put_object(Bucket=bucket, Key="assets/app.js", Body=big)
    s3.put_object(Bucket=bucket, Key="assets/small.css", Body=b"tiny")
    s3.put_object(Bucket=bucket, Key="tmp/scratch", Body=b"gone soon")
    start = overcast.get("/_overcast/clock")["now"]
    try:
        overcast.clock(advance=10 * 86400)
        deadline = time.time() + 10
        while time.time() < deadline:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
            if "tmp/scratch" not in keys:
                break
            time.sleep(0.2)
        assert "tmp/scratch" not in keys
        assert s3.head_object(Bucket=bucket, Key="assets/app.js").get("StorageClass") is None

        overcast.clock(advance=85 * 86400)
        deadline = time.time() + 10
        while time.time() < deadline:
            if s3.head_object(Bucket=bucket, Key="assets/app.js").get("StorageClass") == "STANDARD_IA":
                break
            time.sleep(0.2)
        assert s3.head_object(Bucket=bucket, Key="assets/app.js")["StorageClass"] == "STANDARD_IA"
        # Objects under 128 KiB are not transitioned (AWS's default minimum size).
        assert s3.head_object(Bucket=bucket, Key="assets/small.css").get("StorageClass") is None
        listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        assert listed["assets/app.js"] == "STANDARD_IA"
        assert s3.get_object(Bucket=bucket, Key="assets/app.js")["Body"].read() == big
    finally:
        overcast.clock(set=start)


def test_configurations_survive_restart(overcast, s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", Tagging="a=b")
    overcast.kill9()
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == [{"Key": "a", "Value": "b"}]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]


def test_presigned_urls_are_always_verified(s3, bucket):
    import urllib.error
    import urllib.request
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"secret report")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=60)
    assert urllib.request.urlopen(url, timeout=10).read() == b"secret report"
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=60)
    # (SigV2 signs Content-Type: send none, as the URL was signed without one.)
    req = urllib.request.Request(put, data=b"uploaded", method="PUT", headers={"Content-Type": ""})
    assert urllib.request.urlopen(req, timeout=10).status == 200
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"uploaded"

    tampered = url.replace("doc.txt", "up.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()

    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(short, timeout=10)
    body = e.value.read()
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body

    # A URL signed with another secret than the account's does not verify either.
    import boto3
    from botocore.config import Config as C
    wrong = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="not-the-secret",
                         config=C(s3={"addressing_style": "path"}))
    bad = wrong.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=10)
    assert e.value.code == 403


def test_sigv4_presigned_urls_are_always_verified(client, bucket):
    import urllib.error
    import urllib.request
    v4 = client("s3", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    v4.put_object(Bucket=bucket, Key="a.txt", Body=b"A")
    v4.put_object(Bucket=bucket, Key="b.txt", Body=b"B")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    assert urllib.request.urlopen(url, timeout=10).read() == b"A"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("a.txt", "b.txt"), timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()


def test_bad_input_gets_s3_error_codes_not_validation_exceptions(overcast, bucket):
    import urllib.error
    import urllib.request

    def call(method, path, data=None):
        req = urllib.request.Request(overcast.url + path, data=data, method=method)
        try:
            urllib.request.urlopen(req, timeout=10)
            return None
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, body = call("GET", f"/{bucket}?list-type=2&max-keys=abc")
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    status, body = call("POST", f"/{bucket}?delete",
                        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet></Delete>')
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    status, body = call("PUT", f"/{bucket}?tagging", b"<Tagging><TagSet><Tag>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body


def test_archived_objects_need_a_restore(overcast, s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="warm", Body=b"warm")
    assert s3.head_object(Bucket=bucket, Key="cold")["StorageClass"] == "GLACIER"
    assert s3.put_object(Bucket=bucket, Key="x", Body=b"1")["ServerSideEncryption"] == "AES256"
    r = expect("InvalidObjectState", s3.get_object, Bucket=bucket, Key="cold")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 403
    expect("InvalidObjectState", s3.restore_object, Bucket=bucket, Key="warm", RestoreRequest={"Days": 1})
    start = overcast.get("/_overcast/clock")["now"]
    try:
        s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={
            "Days": 2, "GlacierJobParameters": {"Tier": "Expedited"}})
        assert s3.head_object(Bucket=bucket, Key="cold")["Restore"] == 'ongoing-request="true"'
        r = expect("RestoreAlreadyInProgress", s3.restore_object, Bucket=bucket, Key="cold",
                   RestoreRequest={"Days": 2})
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 409
        expect("InvalidObjectState", s3.get_object, Bucket=bucket, Key="cold")
        overcast.clock(advance=6 * 60)
        head = s3.head_object(Bucket=bucket, Key="cold")
        assert head["Restore"].startswith('ongoing-request="false", expiry-date=')
        assert s3.get_object(Bucket=bucket, Key="cold")["Body"].read() == b"frozen"
        overcast.clock(advance=3 * 86400)
        expect("InvalidObjectState", s3.get_object, Bucket=bucket, Key="cold")
        assert "Restore" not in s3.head_object(Bucket=bucket, Key="cold")
    finally:
        overcast.clock(set=start)


def test_sse_c_objects_are_encrypted_at_rest_and_need_their_key(overcast, s3, bucket):
    import glob
    import os
    key = os.urandom(32)
    other = os.urandom(32)
    secret = b"the plans for world domination " * 100
    out = s3.put_object(Bucket=bucket, Key="secret", Body=secret, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert out["SSECustomerAlgorithm"] == "AES256" and out["SSECustomerKeyMD5"]
    got = s3.get_object(Bucket=bucket, Key="secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == secret
    part = s3.get_object(Bucket=bucket, Key="secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key,
                         Range="bytes=100-199")
    assert part["Body"].read() == secret[100:200]
    expect("InvalidRequest", s3.get_object, Bucket=bucket, Key="secret")
    expect("AccessDenied", s3.get_object, Bucket=bucket, Key="secret", SSECustomerAlgorithm="AES256",
           SSECustomerKey=other)
    # The bytes on disk are not the plaintext.
    files = [p for p in glob.glob(os.path.join(overcast.data_dir, "blobs", "s3", "**"), recursive=True)
             if os.path.isfile(p)]
    assert files
    for path in files:
        with open(path, "rb") as f:
            assert b"world domination" not in f.read()
    # Copy to a plain object (decrypting with the source key).
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "secret"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key)
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == secret
    # Multipart uploads with SSE-C: every part encrypted under the same key.
    from boto3.s3.transfer import TransferConfig
    big = os.urandom(11 * 1024 * 1024)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    import io
    s3.upload_fileobj(io.BytesIO(big), bucket, "mp", Config=cfg,
                      ExtraArgs={"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key})
    head = s3.head_object(Bucket=bucket, Key="mp", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ETag"].endswith('-3"')
    got = s3.get_object(Bucket=bucket, Key="mp", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == big
    across = s3.get_object(Bucket=bucket, Key="mp", SSECustomerAlgorithm="AES256", SSECustomerKey=key,
                           Range=f"bytes={5 * 1024 * 1024 - 10}-{5 * 1024 * 1024 + 9}")
    assert across["Body"].read() == big[5 * 1024 * 1024 - 10:5 * 1024 * 1024 + 10]
    expect("InvalidRequest", s3.get_object, Bucket=bucket, Key="mp")


def test_account_level_block_public_access(overcast, s3, bucket, monkeypatch):
    import socket
    import boto3
    # S3 Control's endpoint rules put the account id in the host name: resolve *.localhost.
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k))
    control = boto3.client("s3control", endpoint_url=f"http://localhost:{overcast.port}",
                           region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
                           config=Config(retries={"max_attempts": 1}))
    expect("NoSuchPublicAccessBlockConfiguration", control.get_public_access_block, AccountId="000000000000")
    # Bucket-level BPA off, account-level on: public policies are still refused.
    s3.delete_public_access_block(Bucket=bucket)
    control.put_public_access_block(AccountId="000000000000", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    got = control.get_public_access_block(AccountId="000000000000")["PublicAccessBlockConfiguration"]
    assert got["BlockPublicPolicy"] is True
    public = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    expect("AccessDenied", s3.put_bucket_policy, Bucket=bucket, Policy=public)
    control.delete_public_access_block(AccountId="000000000000")
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    expect("AccessDenied", control.get_public_access_block, AccountId="111122223333")


def test_sse_kms_objects_use_kms_data_keys(s3, client, bucket):
    kms = client("kms")
    key = kms.create_key()["KeyMetadata"]
    out = s3.put_object(Bucket=bucket, Key="k", Body=b"classified", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=key["KeyId"])
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == key["Arn"]
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"classified" and got["SSEKMSKeyId"] == key["Arn"]
    # Default bucket encryption with the AWS-managed key.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    out = s3.put_object(Bucket=bucket, Key="d", Body=b"default")
    assert out["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"default"
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/aws/s3" in aliases
    # A disabled key makes its objects unreadable, with KMS's error.
    kms.disable_key(KeyId=key["KeyId"])
    expect("KMS.DisabledException", s3.get_object, Bucket=bucket, Key="k")
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"classified"
    expect("KMS.NotFoundException", s3.put_object, Bucket=bucket, Key="x", Body=b"x",
           ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/does-not-exist")


def test_event_notifications_to_sns_and_eventbridge(s3, sqs, client, bucket):
    sns, events = client("sns"), client("events")
    url = sqs.create_queue(QueueName=f"fan-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"s3-events-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    rule = f"s3-created-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn}])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
        "EventBridgeConfiguration": {}})
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    got = []
    deadline = time.time() + 10
    while len([g for g in got if "Records" in g or g.get("source") == "aws.s3"]) < 2 and time.time() < deadline:
        got += receive(sqs, url, wait=1)
    via_sns = [g for g in got if "Records" in g]
    via_eb = [g for g in got if g.get("source") == "aws.s3"]
    assert via_sns and via_sns[0]["Records"][0]["s3"]["object"]["key"] == "report.csv"
    assert via_eb and via_eb[0]["detail-type"] == "Object Created"
    assert via_eb[0]["detail"]["object"]["key"] == "report.csv"
    assert via_eb[0]["detail"]["bucket"]["name"] == bucket
