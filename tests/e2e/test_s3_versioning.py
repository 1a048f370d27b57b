"""S3 versioning end to end: version ids on writes, version-specific reads, delete markers
(404/405 with x-amz-delete-marker), permanent version deletes restoring the previous version,
suspended buckets and the null version, ListObjectVersions paging, DeleteObjects with
versions, copying an old version back, and persistence across kill -9."""
import hashlib
import os
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
    name = f"ver-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def error(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response


def test_versions_markers_and_restores(s3, bucket):
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    got = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=v2)["VersionId"] == v2

    d = s3.delete_object(Bucket=bucket, Key="doc")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    r = error(s3.get_object, Bucket=bucket, Key="doc")
    assert r["Error"]["Code"] == "NoSuchKey"
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    r = error(s3.get_object, Bucket=bucket, Key="doc", VersionId=marker)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert r["Error"]["Code"] == "MethodNotAllowed"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    r = error(s3.get_object, Bucket=bucket, Key="doc", VersionId="A" * 32)
    assert r["Error"]["Code"] == "NoSuchVersion"

    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1]
    assert [v["IsLatest"] for v in listed["Versions"]] == [False, False]
    assert listed["DeleteMarkers"][0]["VersionId"] == marker and listed["DeleteMarkers"][0]["IsLatest"]

    # Removing the marker brings v2 back; deleting v2 permanently brings v1 back.
    d = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    # Copying an old version over the current one restores it as a new version.
    v3 = s3.put_object(Bucket=bucket, Key="doc", Body=b"three")["VersionId"]
    c = s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1})
    assert c["CopySourceVersionId"] == v1 and c["VersionId"] not in (v1, v3)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="doc")["Versions"]) == 3
    # A versioned bucket with only noncurrent versions is not empty.
    r = error(s3.delete_bucket, Bucket=bucket)
    assert r["Error"]["Code"] == "BucketNotEmpty"


def test_suspended_buckets_write_null_versions(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    out = s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert "VersionId" not in out or out["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"3")
    ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert ids == ["null", v1]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"3"
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [v1]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]
    r = error(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Off"})
    assert r["Error"]["Code"] == "MalformedXML"


def test_list_object_versions_paging_and_delete_objects(s3, bucket):
    ids = {}
    for key in ("a", "b", "c"):
        ids[key] = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * n)["VersionId"] for n in (1, 2)]
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=3)
    assert page["IsTruncated"] is True
    assert [(v["Key"], v["VersionId"]) for v in page["Versions"]] == [
        ("a", ids["a"][1]), ("a", ids["a"][0]), ("b", ids["b"][1])]
    assert page["NextKeyMarker"] == "b" and page["NextVersionIdMarker"] == ids["b"][1]
    rest = s3.list_object_versions(Bucket=bucket, KeyMarker="b", VersionIdMarker=ids["b"][1])
    assert [(v["Key"], v["VersionId"]) for v in rest["Versions"]] == [
        ("b", ids["b"][0]), ("c", ids["c"][1]), ("c", ids["c"][0])]
    assert rest["IsTruncated"] is False
    # Paginator (what boto3 users do).
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    assert sum(len(p.get("Versions", [])) for p in pages) == 6

    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": ids["a"][0]}, {"Key": "b"}]})
    by_key = {d["Key"]: d for d in out["Deleted"]}
    assert by_key["a"]["VersionId"] == ids["a"][0]
    assert by_key["b"]["DeleteMarker"] is True and by_key["b"]["DeleteMarkerVersionId"]
    listed = s3.list_object_versions(Bucket=bucket)
    assert {v["VersionId"] for v in listed["Versions"]} == {ids["a"][1], *ids["b"], *ids["c"]}
    assert [m["Key"] for m in listed["DeleteMarkers"]] == ["b"]


def test_versions_survive_kill9(overcast, s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="p", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="p", Body=b"second")
    marker = s3.delete_object(Bucket=bucket, Key="p")["VersionId"]
    overcast.kill9()
    listed = s3.list_object_versions(Bucket=bucket)
    assert len(listed["Versions"]) == 2 and listed["DeleteMarkers"][0]["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="p", VersionId=v1)["Body"].read() == b"first"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_managed_multipart_copy_uses_upload_part_copy(s3, bucket):
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(12 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.copy({"Bucket": bucket, "Key": "big.bin"}, bucket, "copy.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="copy.bin")
    assert head["ETag"].endswith('-3"')
    assert s3.get_object(Bucket=bucket, Key="copy.bin")["Body"].read() == data
    # Ranges and their errors.
    up = s3.create_multipart_upload(Bucket=bucket, Key="r")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="r", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "big.bin"}, CopySourceRange="bytes=0-9")
    assert part["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(data[:10]).hexdigest()
    r = error(s3.upload_part_copy, Bucket=bucket, Key="r", UploadId=up, PartNumber=2,
              CopySource={"Bucket": bucket, "Key": "big.bin"}, CopySourceRange=f"bytes=0-{len(data)}")
    assert r["Error"]["Code"] == "InvalidArgument"
    r = error(s3.upload_part_copy, Bucket=bucket, Key="r", UploadId="nope", PartNumber=2,
              CopySource={"Bucket": bucket, "Key": "big.bin"})
    assert r["Error"]["Code"] == "NoSuchUpload"


def test_object_lock_retention_and_legal_hold(s3):
    import datetime
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    r = error(s3.put_bucket_versioning, Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert r["Error"]["Code"] == "InvalidBucketState"
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    gov = s3.put_object(Bucket=name, Key="gov", Body=b"g")["VersionId"]
    ret = s3.get_object_retention(Bucket=name, Key="gov")["Retention"]
    assert ret["Mode"] == "GOVERNANCE"
    r = error(s3.delete_object, Bucket=name, Key="gov", VersionId=gov)
    assert r["Error"]["Code"] == "AccessDenied"
    # A plain delete only adds a marker; bypassing governance deletes the version.
    assert s3.delete_object(Bucket=name, Key="gov")["DeleteMarker"] is True
    s3.delete_object(Bucket=name, Key="gov", VersionId=gov, BypassGovernanceRetention=True)

    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    comp = s3.put_object(Bucket=name, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=until)["VersionId"]
    head = s3.head_object(Bucket=name, Key="comp")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    r = error(s3.delete_object, Bucket=name, Key="comp", VersionId=comp, BypassGovernanceRetention=True)
    assert r["Error"]["Code"] == "AccessDenied"
    r = error(s3.put_object_retention, Bucket=name, Key="comp", BypassGovernanceRetention=True,
              Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    assert r["Error"]["Code"] == "AccessDenied"

    hold = s3.put_object(Bucket=name, Key="hold", Body=b"h", ObjectLockMode="GOVERNANCE",
                         ObjectLockRetainUntilDate=until)["VersionId"]
    s3.put_object_legal_hold(Bucket=name, Key="hold", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=name, Key="hold")["LegalHold"]["Status"] == "ON"
    r = error(s3.delete_object, Bucket=name, Key="hold", VersionId=hold, BypassGovernanceRetention=True)
    assert r["Error"]["Code"] == "AccessDenied"
    s3.put_object_legal_hold(Bucket=name, Key="hold", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=name, Key="hold", VersionId=hold, BypassGovernanceRetention=True)

    plain = f"plain-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=plain)
    r = error(s3.put_object, Bucket=plain, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
              ObjectLockRetainUntilDate=until)
    assert r["Error"]["Code"] == "InvalidRequest"
    r = error(s3.get_object_lock_configuration, Bucket=plain)
    assert r["Error"]["Code"] == "ObjectLockConfigurationNotFoundError"
    r = error(s3.put_object_lock_configuration, Bucket=plain,
              ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert r["Error"]["Code"] == "InvalidBucketState"


def test_noncurrent_version_lifecycle_and_replication_config(overcast, s3, bucket):
    import time
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="logs/a")
    s3.put_object(Bucket=bucket, Key="data/b", Body=b"1")
    s3.put_object(Bucket=bucket, Key="data/b", Body=b"2")
    start = overcast.get("/_overcast/clock")["now"]
    try:
        overcast.clock(advance=3 * 86400)
        deadline = time.time() + 10
        listed = {}
        while time.time() < deadline:
            listed = s3.list_object_versions(Bucket=bucket)
            if not any(v["Key"] == "logs/a" for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])):
                break
            time.sleep(0.2)
        keys = [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
        assert "logs/a" not in keys
        assert keys.count("data/b") == 2
    finally:
        overcast.clock(set=start)

    r = error(s3.put_bucket_replication, Bucket=bucket,
              ReplicationConfiguration={"Role": "arn:aws:iam::000000000000:role/r", "Rules": []})
    assert r["Error"]["Code"] == "MalformedXML"
    cfg = {"Role": "arn:aws:iam::000000000000:role/replication",
           "Rules": [{"ID": "all", "Status": "Enabled", "Priority": 1, "Filter": {},
                      "DeleteMarkerReplication": {"Status": "Disabled"},
                      "Destination": {"Bucket": "arn:aws:s3:::replica-bucket"}}]}
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=cfg)
    assert s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"][0]["ID"] == "all"
    s3.delete_bucket_replication(Bucket=bucket)
    r = error(s3.get_bucket_replication, Bucket=bucket)
    assert r["Error"]["Code"] == "ReplicationConfigurationNotFoundError"
    plain = f"plain-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=plain)
    r = error(s3.put_bucket_replication, Bucket=plain, ReplicationConfiguration=cfg)
    assert r["Error"]["Code"] == "InvalidRequest"
