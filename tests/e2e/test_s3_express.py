"""S3 Express One Zone directory buckets through boto3 (which signs with CreateSession
credentials, as against AWS): creation with the naming and location rules and their errors,
ListDirectoryBuckets kept apart from ListBuckets, HeadBucket's location, CreateSession,
RenameObject with its conditions, EXPRESS_ONEZONE objects, and persistence across a
restart."""
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
ZONE = "usw2-az1"


@pytest.fixture
def s3(client):
    return client("s3", region_name="us-west-2", config=PATH)


def directory_config(zone=ZONE, kind="AvailabilityZone"):
    return {"Location": {"Type": kind, "Name": zone},
            "Bucket": {"Type": "Directory", "DataRedundancy": "SingleAvailabilityZone"}}


@pytest.fixture
def dbucket(s3):
    name = f"d{uuid.uuid4().hex[:10]}--{ZONE}--x-s3"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=directory_config())
    return name


def expect(code, fn, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response


def test_directory_buckets_are_created_listed_and_headed(s3, dbucket):
    listed = s3.list_directory_buckets()["Buckets"]
    mine = [b for b in listed if b["Name"] == dbucket]
    assert mine and mine[0]["BucketRegion"] == "us-west-2"
    assert mine[0]["BucketArn"] == f"arn:aws:s3express:us-west-2:000000000000:bucket/{dbucket}"
    assert dbucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket=dbucket)
    assert head["BucketLocationType"] == "AvailabilityZone"
    assert head["BucketLocationName"] == ZONE
    expect("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=dbucket,
           CreateBucketConfiguration=directory_config())
    creds = s3.create_session(Bucket=dbucket, SessionMode="ReadOnly")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    expect("InvalidArgument", s3.create_session, Bucket=dbucket, SessionMode="Everything")
    page = s3.list_directory_buckets(MaxDirectoryBuckets=1)
    assert len(page["Buckets"]) == 1


def test_directory_bucket_naming_and_location_errors(s3):
    base = f"d{uuid.uuid4().hex[:10]}"
    # The zone in the name must be the configured zone.
    expect("InvalidBucketName", s3.create_bucket, Bucket=f"{base}--usw2-az2--x-s3",
           CreateBucketConfiguration=directory_config())
    # No dots or capitals in the base name.
    expect("InvalidBucketName", s3.create_bucket, Bucket=f"{base}.x--{ZONE}--x-s3",
           CreateBucketConfiguration=directory_config())
    # A zone of another region.
    expect("InvalidArgument", s3.create_bucket, Bucket=f"{base}--use1-az4--x-s3",
           CreateBucketConfiguration=directory_config("use1-az4"))
    # The suffix is reserved to directory buckets.
    expect("InvalidBucketName", s3.create_bucket, Bucket=f"{base}--{ZONE}--x-s3")
    # A directory-bucket configuration needs a directory-bucket name.
    expect("InvalidBucketName", s3.create_bucket, Bucket=base,
           CreateBucketConfiguration=directory_config())


def test_rename_object(s3, client, dbucket):
    s3.put_object(Bucket=dbucket, Key="a.txt", Body=b"alpha")
    s3.put_object(Bucket=dbucket, Key="taken.txt", Body=b"taken")
    s3.rename_object(Bucket=dbucket, Key="b.txt", RenameSource=f"{dbucket}/a.txt")
    listed = s3.list_objects_v2(Bucket=dbucket)["Contents"]
    assert [o["Key"] for o in listed] == ["b.txt", "taken.txt"]
    assert {o["StorageClass"] for o in listed} == {"EXPRESS_ONEZONE"}
    assert s3.head_object(Bucket=dbucket, Key="b.txt")["StorageClass"] == "EXPRESS_ONEZONE"
    expect("InvalidStorageClass", s3.put_object, Bucket=dbucket, Key="cold", Body=b"x",
           StorageClass="GLACIER")
    assert s3.get_object(Bucket=dbucket, Key="b.txt")["Body"].read() == b"alpha"
    expect("NoSuchKey", s3.get_object, Bucket=dbucket, Key="a.txt")
    expect("NoSuchKey", s3.rename_object, Bucket=dbucket, Key="c.txt",
           RenameSource=f"{dbucket}/a.txt")
    r = expect("PreconditionFailed", s3.rename_object, Bucket=dbucket, Key="taken.txt",
               RenameSource=f"{dbucket}/b.txt", DestinationIfNoneMatch="*")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 412
    expect("PreconditionFailed", s3.rename_object, Bucket=dbucket, Key="c.txt",
           RenameSource=f"{dbucket}/b.txt", SourceIfMatch='"0000"')
    # Renaming over an existing key replaces it.
    s3.rename_object(Bucket=dbucket, Key="taken.txt", RenameSource=f"{dbucket}/b.txt")
    assert s3.get_object(Bucket=dbucket, Key="taken.txt")["Body"].read() == b"alpha"
    general = client("s3", config=PATH)
    name = f"gp-{uuid.uuid4().hex[:10]}"
    general.create_bucket(Bucket=name)
    general.put_object(Bucket=name, Key="x", Body=b"x")
    expect("InvalidRequest", general.rename_object, Bucket=name, Key="y",
           RenameSource=f"{name}/x")


def test_directory_bucket_and_renamed_object_survive_restart(overcast, s3, dbucket):
    s3.put_object(Bucket=dbucket, Key="before.txt", Body=b"data")
    s3.rename_object(Bucket=dbucket, Key="after.txt", RenameSource=f"{dbucket}/before.txt")
    overcast.restart()
    assert dbucket in [b["Name"] for b in s3.list_directory_buckets()["Buckets"]]
    assert s3.get_object(Bucket=dbucket, Key="after.txt")["Body"].read() == b"data"
    expect("404", s3.head_object, Bucket=dbucket, Key="before.txt")
    overcast.kill9()
    assert s3.head_bucket(Bucket=dbucket)["BucketLocationName"] == ZONE
