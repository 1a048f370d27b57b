"""S3's deprecated lifecycle and notification forms (mapped onto the current stored
configurations), S3 Metadata configurations (V2 and V1) and the ABAC switch: round trips,
AWS's validation and not-found errors, and persistence across a restart."""
import json
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})


@pytest.fixture
def s3(client):
    return client("s3", config=PATH)


@pytest.fixture
def bucket(s3):
    name = f"more-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def expect(code, fn, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response


def test_deprecated_lifecycle_maps_onto_current_configuration(s3, bucket):
    s3.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "old-style", "Prefix": "logs/", "Status": "Enabled",
        "Transition": {"Days": 30, "StorageClass": "STANDARD_IA"},
        "Expiration": {"Days": 365},
    }]})
    current = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert current == [{"ID": "old-style", "Prefix": "logs/", "Status": "Enabled",
                        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
                        "Expiration": {"Days": 365}}]
    old = s3.get_bucket_lifecycle(Bucket=bucket)["Rules"]
    assert old == [{"ID": "old-style", "Prefix": "logs/", "Status": "Enabled",
                    "Transition": {"Days": 30, "StorageClass": "STANDARD_IA"},
                    "Expiration": {"Days": 365}}]
    # Both forms share one wire format (`?lifecycle`): a current configuration with a filter
    # reads back through the old form without it, as the old shape has no Filter.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "new", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
        "Expiration": {"Days": 7}}]})
    assert s3.get_bucket_lifecycle(Bucket=bucket)["Rules"] == [
        {"ID": "new", "Status": "Enabled", "Expiration": {"Days": 7}}]
    # The same checks as the current operation.
    expect("InvalidArgument", s3.put_bucket_lifecycle, Bucket=bucket,
           LifecycleConfiguration={"Rules": [{"Prefix": "", "Status": "Enabled",
                                              "Transition": {"Days": 10, "StorageClass": "STANDARD_IA"}}]})
    s3.delete_bucket_lifecycle(Bucket=bucket)
    expect("NoSuchLifecycleConfiguration", s3.get_bucket_lifecycle, Bucket=bucket)


def test_deprecated_notification_maps_onto_current_configuration(s3, client, bucket):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"old-notif-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    empty = s3.get_bucket_notification(Bucket=bucket)
    empty.pop("ResponseMetadata")
    assert empty == {}
    s3.put_bucket_notification(Bucket=bucket, NotificationConfiguration={
        "QueueConfiguration": {"Id": "q1", "Event": "s3:ObjectCreated:*", "Queue": arn}})
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert current["QueueConfigurations"] == [
        {"Id": "q1", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
    old = s3.get_bucket_notification(Bucket=bucket)["QueueConfiguration"]
    assert old["Queue"] == arn and old["Events"] == ["s3:ObjectCreated:*"] and old["Id"] == "q1"
    # Events are delivered as with the current form (after the s3:TestEvent).
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    bodies = []
    for _ in range(10):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(m["Body"]))
        if any("Records" in b for b in bodies):
            break
    assert any(b.get("Event") == "s3:TestEvent" for b in bodies)
    created = [r for b in bodies for r in b.get("Records", [])]
    assert created[0]["eventName"] == "ObjectCreated:Put"
    assert created[0]["s3"]["object"]["key"] == "hello.txt"
    expect("InvalidArgument", s3.put_bucket_notification, Bucket=bucket,
           NotificationConfiguration={"QueueConfiguration": {
               "Events": ["s3:ObjectCreated:*"],
               "Queue": "arn:aws:sqs:us-east-1:000000000000:does-not-exist"}})


def test_metadata_configuration_round_trip_and_errors(s3, bucket):
    expect("MetadataConfigurationNotFound", s3.get_bucket_metadata_configuration, Bucket=bucket)
    expect("InvalidArgument", s3.create_bucket_metadata_configuration, Bucket=bucket,
           MetadataConfiguration={"JournalTableConfiguration": {
               "RecordExpiration": {"Expiration": "ENABLED", "Days": 3}}})
    expect("InvalidRequest", s3.create_bucket_metadata_configuration, Bucket=bucket,
           MetadataConfiguration={"JournalTableConfiguration": {
               "RecordExpiration": {"Expiration": "DISABLED"},
               "EncryptionConfiguration": {"SseAlgorithm": "aws:kms"}}})
    s3.create_bucket_metadata_configuration(Bucket=bucket, MetadataConfiguration={
        "JournalTableConfiguration": {"RecordExpiration": {"Expiration": "ENABLED", "Days": 30}},
        "InventoryTableConfiguration": {"ConfigurationState": "ENABLED"}})
    expect("InvalidRequest", s3.create_bucket_metadata_configuration, Bucket=bucket,
           MetadataConfiguration={"JournalTableConfiguration": {
               "RecordExpiration": {"Expiration": "DISABLED"}}})
    r = s3.get_bucket_metadata_configuration(Bucket=bucket)
    res = r["GetBucketMetadataConfigurationResult"]["MetadataConfigurationResult"]
    assert res["DestinationResult"]["TableBucketType"] == "aws"
    assert res["JournalTableConfigurationResult"]["RecordExpiration"] == {
        "Expiration": "ENABLED", "Days": 30}
    assert res["InventoryTableConfigurationResult"]["ConfigurationState"] == "ENABLED"
    assert res["InventoryTableConfigurationResult"]["TableName"] == "inventory"
    s3.update_bucket_metadata_journal_table_configuration(
        Bucket=bucket, JournalTableConfiguration={"RecordExpiration": {"Expiration": "DISABLED"}})
    s3.update_bucket_metadata_inventory_table_configuration(
        Bucket=bucket, InventoryTableConfiguration={"ConfigurationState": "DISABLED"})
    res = s3.get_bucket_metadata_configuration(Bucket=bucket)[
        "GetBucketMetadataConfigurationResult"]["MetadataConfigurationResult"]
    assert res["JournalTableConfigurationResult"]["RecordExpiration"] == {"Expiration": "DISABLED"}
    assert res["InventoryTableConfigurationResult"] == {"ConfigurationState": "DISABLED"}
    r = expect("MethodNotAllowed", s3.get_bucket_metadata_table_configuration, Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 405
    s3.delete_bucket_metadata_configuration(Bucket=bucket)
    expect("MetadataConfigurationNotFound", s3.delete_bucket_metadata_configuration, Bucket=bucket)


def test_v1_metadata_table_and_abac(overcast, s3, bucket):
    table_bucket = "arn:aws:s3tables:us-east-1:000000000000:bucket/my-tables"
    expect("InvalidArgument", s3.create_bucket_metadata_table_configuration, Bucket=bucket,
           MetadataTableConfiguration={"S3TablesDestination": {
               "TableBucketArn": "arn:aws:s3:::nope", "TableName": "t"}})
    s3.create_bucket_metadata_table_configuration(Bucket=bucket, MetadataTableConfiguration={
        "S3TablesDestination": {"TableBucketArn": table_bucket, "TableName": "my_meta"}})
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Disabled"}
    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Enabled"})
    overcast.restart()
    r = s3.get_bucket_metadata_table_configuration(Bucket=bucket)[
        "GetBucketMetadataTableConfigurationResult"]
    dest = r["MetadataTableConfigurationResult"]["S3TablesDestinationResult"]
    assert r["Status"] == "ACTIVE"
    assert dest["TableBucketArn"] == table_bucket and dest["TableName"] == "my_meta"
    assert dest["TableArn"].startswith(table_bucket + "/table/")
    v2 = s3.get_bucket_metadata_configuration(Bucket=bucket)[
        "GetBucketMetadataConfigurationResult"]["MetadataConfigurationResult"]
    assert v2["DestinationResult"]["TableBucketType"] == "customer"
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Enabled"}
    s3.delete_bucket_metadata_table_configuration(Bucket=bucket)
    expect("MetadataConfigurationNotFound", s3.get_bucket_metadata_table_configuration,
           Bucket=bucket)
    expect("NoSuchBucket", s3.get_bucket_abac, Bucket=f"nope-{uuid.uuid4().hex[:8]}")


def test_object_annotations(overcast, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"v1")
    r = s3.put_object_annotation(Bucket=bucket, Key="doc.txt", AnnotationName="summary",
                                 AnnotationPayload="a short summary".encode())
    assert r["AnnotationName"] == "summary" and r["ETag"]
    s3.put_object_annotation(Bucket=bucket, Key="doc.txt", AnnotationName="sum-2",
                             AnnotationPayload=b"x")
    s3.put_object_annotation(Bucket=bucket, Key="doc.txt", AnnotationName="tags",
                             AnnotationPayload=json.dumps({"k": "v"}).encode())
    got = s3.get_object_annotation(Bucket=bucket, Key="doc.txt", AnnotationName="summary")
    assert got["AnnotationPayload"].read() == b"a short summary"
    assert got["ContentLength"] == len(b"a short summary") and got["ETag"] == r["ETag"]
    listed = s3.list_object_annotations(Bucket=bucket, Key="doc.txt", AnnotationPrefix="sum")
    assert [a["AnnotationName"] for a in listed["Annotations"]] == ["sum-2", "summary"]
    page = s3.list_object_annotations(Bucket=bucket, Key="doc.txt", MaxAnnotationResults=2)
    assert [a["AnnotationName"] for a in page["Annotations"]] == ["sum-2", "summary"]
    rest = s3.list_object_annotations(Bucket=bucket, Key="doc.txt",
                                      ContinuationToken=page["NextContinuationToken"])
    assert [a["AnnotationName"] for a in rest["Annotations"]] == ["tags"]
    expect("NoSuchAnnotation", s3.get_object_annotation, Bucket=bucket, Key="doc.txt",
           AnnotationName="nope")
    expect("NoSuchKey", s3.put_object_annotation, Bucket=bucket, Key="missing",
           AnnotationName="a", AnnotationPayload=b"x")
    expect("AnnotationNameTooLong", s3.put_object_annotation, Bucket=bucket, Key="doc.txt",
           AnnotationName="n" * 513, AnnotationPayload=b"x")
    r = expect("UnsupportedMediaType", s3.put_object_annotation, Bucket=bucket, Key="doc.txt",
               AnnotationName="bin", AnnotationPayload=b"\xff\xfe")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 415
    s3.delete_object_annotation(Bucket=bucket, Key="doc.txt", AnnotationName="sum-2")
    overcast.restart()
    names = [a["AnnotationName"]
             for a in s3.list_object_annotations(Bucket=bucket, Key="doc.txt")["Annotations"]]
    assert names == ["summary", "tags"]
    # A new object under the key starts without annotations.
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"v2")
    assert s3.list_object_annotations(Bucket=bucket, Key="doc.txt")["Annotations"] == []
    expect("NoSuchAnnotation", s3.get_object_annotation, Bucket=bucket, Key="doc.txt",
           AnnotationName="summary")


def test_update_object_encryption(overcast, s3, client, bucket):
    kms = client("kms")
    k1 = kms.create_key()["KeyMetadata"]["Arn"]
    k2 = kms.create_key()["KeyMetadata"]["Arn"]
    data = b"re-encrypt me " * 100
    etag = s3.put_object(Bucket=bucket, Key="obj", Body=data, ChecksumAlgorithm="SHA256")["ETag"]
    assert s3.head_object(Bucket=bucket, Key="obj")["ServerSideEncryption"] == "AES256"
    # SSE-S3 -> SSE-KMS under k1.
    s3.update_object_encryption(Bucket=bucket, Key="obj",
                                ObjectEncryption={"SSEKMS": {"KMSKeyArn": k1}})
    head = s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == k1
    assert head["ETag"] == etag and head["ChecksumSHA256"]
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == data
    # SSE-KMS k1 -> k2 with a Bucket Key: the data key is wrapped again, so k1 is not needed.
    s3.update_object_encryption(Bucket=bucket, Key="obj", ObjectEncryption={
        "SSEKMS": {"KMSKeyArn": k2, "BucketKeyEnabled": True}})
    kms.disable_key(KeyId=k1)
    overcast.restart()
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["SSEKMSKeyId"] == k2 and got["BucketKeyEnabled"] is True
    assert got["Body"].read() == data and got["ETag"] == etag
    # Errors: missing object, SSE-C objects, a key that does not exist.
    expect("NoSuchKey", s3.update_object_encryption, Bucket=bucket, Key="none",
           ObjectEncryption={"SSEKMS": {"KMSKeyArn": k2}})
    ckey = b"k" * 32
    s3.put_object(Bucket=bucket, Key="customer", Body=b"c", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=ckey)
    expect("InvalidRequest", s3.update_object_encryption, Bucket=bucket, Key="customer",
           ObjectEncryption={"SSEKMS": {"KMSKeyArn": k2}})
    missing = k2.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    expect("KMS.NotFoundException", s3.update_object_encryption, Bucket=bucket, Key="obj",
           ObjectEncryption={"SSEKMS": {"KMSKeyArn": missing}})
