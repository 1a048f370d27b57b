"""S3 end to end (first slice): buckets, objects with streamed bodies and checksums, ranges and
conditions, copy, listing v1/v2, multipart through the transfer manager, the `aws s3` CLI,
virtual-host addressing, exact error codes, and persistence across restart and kill -9."""
import base64
import hashlib
import os
import socket
import uuid
import urllib.error
import zlib

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
VIRTUAL = Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1})
MiB = 1024 * 1024


@pytest.fixture
def s3(client):
    return client("s3", config=PATH)


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def expect(c, fn, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert code(e) == c, e.value.response
    return e.value.response


# --- buckets -----------------------------------------------------------------------------------

def test_bucket_lifecycle_and_errors(s3, client):
    name = f"life-{uuid.uuid4().hex[:10]}"
    out = s3.create_bucket(Bucket=name)
    assert out["Location"] == f"/{name}"
    # us-east-1 answers 200 to the owner re-creating its bucket.
    s3.create_bucket(Bucket=name)
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name in names and names == sorted(names)

    expect("InvalidBucketName", s3.create_bucket, Bucket="Bad_Name")
    expect("InvalidLocationConstraint", s3.create_bucket, Bucket=f"x-{uuid.uuid4().hex[:8]}",
           CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    # Bucket names are global: another account gets BucketAlreadyExists.
    other = client("s3", config=PATH, aws_access_key_id="111122223333")
    expect("BucketAlreadyExists", other.create_bucket, Bucket=name)
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]

    s3.put_object(Bucket=name, Key="k", Body=b"x")
    expect("BucketNotEmpty", s3.delete_bucket, Bucket=name)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    expect("NoSuchBucket", s3.delete_bucket, Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_regional_buckets(client):
    eu = client("s3", region_name="eu-west-1", config=PATH)
    name = f"eu-{uuid.uuid4().hex[:10]}"
    expect("IllegalLocationConstraintException", eu.create_bucket, Bucket=name)
    expect("IllegalLocationConstraintException", eu.create_bucket, Bucket=name,
           CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    expect("BucketAlreadyOwnedByYou", eu.create_bucket, Bucket=name,
           CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    page = eu.list_buckets(MaxBuckets=1, Prefix="eu-")
    assert len(page["Buckets"]) == 1
    eu.delete_bucket(Bucket=name)


# --- objects -----------------------------------------------------------------------------------

def test_put_get_head_with_metadata_and_checksums(s3, bucket):
    data = os.urandom(100_000)
    out = s3.put_object(Bucket=bucket, Key="dir/obj.bin", Body=data, Metadata={"color": "blue"},
                        ContentType="application/x-test", CacheControl="max-age=60",
                        ContentDisposition="attachment", ChecksumAlgorithm="SHA256")
    assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert out["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="dir/obj.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"color": "blue"}
    assert got["ContentType"] == "application/x-test"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["ChecksumSHA256"] == out["ChecksumSHA256"]
    assert "ContentEncoding" not in got  # aws-chunked is transport framing, never stored
    head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == out["ETag"]

    # CRC32 sent by the default SDK flow, verified against the trailer.
    s3.put_object(Bucket=bucket, Key="crc", Body=b"hello", ChecksumAlgorithm="CRC32")
    crc = base64.b64encode(zlib.crc32(b"hello").to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc

    sha1 = s3.put_object(Bucket=bucket, Key="sha1", Body=b"hello", ChecksumAlgorithm="SHA1")
    assert sha1["ChecksumSHA1"] == base64.b64encode(hashlib.sha1(b"hello").digest()).decode()

    plain = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert plain["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=bucket, Key="empty")["ContentType"] == "binary/octet-stream"


def test_digest_errors(s3, bucket):
    good = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    expect("BadDigest", s3.put_object, Bucket=bucket, Key="k", Body=b"data", ContentMD5=good)
    expect("InvalidDigest", s3.put_object, Bucket=bucket, Key="k", Body=b"data", ContentMD5="bm9wZQ==")
    expect("BadDigest", s3.put_object, Bucket=bucket, Key="k", Body=b"data",
           ChecksumCRC32=base64.b64encode(b"\0\0\0\0").decode())
    expect("NoSuchKey", s3.get_object, Bucket=bucket, Key="k")


def test_missing_keys_and_buckets(s3, bucket):
    r = expect("NoSuchKey", s3.get_object, Bucket=bucket, Key="nope/x")
    assert r["Error"]["Key"] == "nope/x"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    expect("NoSuchBucket", s3.get_object, Bucket="no-such-bucket-xyz", Key="k")
    expect("NoSuchBucket", s3.put_object, Bucket="no-such-bucket-xyz", Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="never-existed")  # idempotent


def test_ranges_and_conditions(s3, bucket):
    data = bytes(range(256)) * 4
    etag = s3.put_object(Bucket=bucket, Key="r", Body=data)["ETag"]
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == data[10:20]
    assert got["ContentRange"] == f"bytes 10-19/{len(data)}"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == data[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == data[1000:]
    expect("InvalidRange", s3.get_object, Bucket=bucket, Key="r", Range="bytes=5000-")

    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["ETag"] == etag
    expect("PreconditionFailed", s3.get_object, Bucket=bucket, Key="r", IfMatch='"abc"')
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    got = s3.get_object(Bucket=bucket, Key="r", ResponseContentType="text/x-over",
                        ResponseCacheControl="no-cache")
    assert got["ContentType"] == "text/x-over" and got["CacheControl"] == "no-cache"


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src key+1", Body=b"copy me", Metadata={"a": "1"},
                  ContentType="text/plain")
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src key+1"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src key+1",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/x")
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/x"
    expect("InvalidRequest", s3.copy_object, Bucket=bucket, Key="dst",
           CopySource={"Bucket": bucket, "Key": "dst"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "dst"},
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"c": "3"}
    expect("NoSuchKey", s3.copy_object, Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})


def test_delete_objects(s3, bucket):
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "zz"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
    assert "Deleted" not in out
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


# --- listing -----------------------------------------------------------------------------------

def test_list_objects_v2_and_v1(s3, bucket):
    keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d", "é", "sp ace"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    out = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in out["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert out["KeyCount"] == len(keys) and out["IsTruncated"] is False

    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "c/"]
    assert [o["Key"] for o in out["Contents"]] == ["b", "d", "sp ace", "é"]

    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys, key=lambda k: k.encode())

    out = s3.list_objects_v2(Bucket=bucket, Prefix="c/", StartAfter="c/x/1", FetchOwner=True)
    assert [o["Key"] for o in out["Contents"]] == ["c/y"] and "Owner" in out["Contents"][0]
    out = s3.list_objects_v2(Bucket=bucket, Prefix="sp")  # boto3 decodes encoding-type=url
    assert out["Contents"][0]["Key"] == "sp ace"

    v1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert v1["IsTruncated"] is True and v1["NextMarker"] == "b"
    v1 = s3.list_objects(Bucket=bucket, Marker="c/y")
    assert [o["Key"] for o in v1["Contents"]] == ["d", "sp ace", "é"]
    keys_pg = [o["Key"] for p in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}) for o in p.get("Contents", [])]
    assert keys_pg == sorted(keys, key=lambda k: k.encode())


# --- multipart ---------------------------------------------------------------------------------

def test_multipart_transfer_manager_and_ranged_download(s3, bucket, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(12 * MiB)
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(src), bucket, "big.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    md5s = b"".join(hashlib.md5(data[i:i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB))
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(dst), Config=cfg)  # ranged GETs in parallel
    assert dst.read_bytes() == data
    part = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={6 * MiB}-{6 * MiB + 99}")
    assert part["Body"].read() == data[6 * MiB:6 * MiB + 100]


def test_multipart_errors_and_listing(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"b" * 100)["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [(1, 100, e1), (2, 100, e2)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [up]
    expect("InvalidPartOrder", s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    expect("InvalidPart", s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}]})
    expect("EntityTooSmall", s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    # A single (last) part may be small.
    out = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                       MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}]})
    assert out["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"b" * 100
    expect("NoSuchUpload", s3.abort_multipart_upload, Bucket=bucket, Key="mp", UploadId=up)
    up2 = s3.create_multipart_upload(Bucket=bucket, Key="mp2")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=up2)
    expect("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="mp2", UploadId=up2, PartNumber=1, Body=b"x")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


# --- virtual-host addressing -------------------------------------------------------------------

def test_virtual_host_style(client, overcast, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    # The `client` fixture pins endpoint_url to 127.0.0.1, where boto3 never uses virtual hosts.
    vs3 = boto3.client("s3", endpoint_url=f"http://s3.localhost:{overcast.port}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test", config=VIRTUAL)
    hosts = []
    vs3.meta.events.register("before-send.s3.*", lambda request, **_: hosts.append(request.url))
    name = f"vh-{uuid.uuid4().hex[:10]}"
    vs3.create_bucket(Bucket=name)
    vs3.put_object(Bucket=name, Key="dir/k.txt", Body=b"virtual")
    assert vs3.get_object(Bucket=name, Key="dir/k.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket=name)["Contents"]] == ["dir/k.txt"]
    expect("NoSuchKey", vs3.get_object, Bucket=name, Key="missing")
    assert all(u.startswith(f"http://{name}.s3.localhost:") for u in hosts), hosts


# --- AWS CLI -----------------------------------------------------------------------------------

def test_aws_s3_cli(aws, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    assert aws.raw("s3", "mb", f"s3://{name}").returncode == 0
    f = tmp_path / "hello.txt"
    f.write_text("hello from the cli\n")
    r = aws.raw("s3", "cp", str(f), f"s3://{name}/docs/hello.txt")
    assert r.returncode == 0, r.stderr
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "one.txt").write_text("1")
    (d / "sub" / "two.txt").write_text("22")
    r = aws.raw("s3", "sync", str(d), f"s3://{name}/prefix")
    assert r.returncode == 0, r.stderr
    r = aws.raw("s3", "ls", f"s3://{name}", "--recursive")
    assert r.returncode == 0, r.stderr
    listed = sorted(line.split()[-1] for line in r.stdout.splitlines())
    assert listed == ["docs/hello.txt", "prefix/one.txt", "prefix/sub/two.txt"]
    r = aws.raw("s3", "cp", f"s3://{name}/docs/hello.txt", "-")
    assert r.returncode == 0 and r.stdout == "hello from the cli\n", r.stderr
    out = aws("s3api", "head-object", "--bucket", name, "--key", "prefix/sub/two.txt")
    assert out["ContentLength"] == 2
    r = aws.raw("s3", "mv", f"s3://{name}/prefix/one.txt", f"s3://{name}/moved/one.txt")
    assert r.returncode == 0, r.stderr
    listed = aws.raw("s3", "ls", f"s3://{name}", "--recursive").stdout
    assert "moved/one.txt" in listed and "prefix/one.txt" not in listed
    r = aws.raw("s3", "presign", f"s3://{name}/docs/hello.txt", "--expires-in", "60")
    assert r.returncode == 0, r.stderr
    import urllib.request
    assert urllib.request.urlopen(r.stdout.strip(), timeout=10).read() == b"hello from the cli\n"
    tampered = r.stdout.strip().replace("hello.txt", "hellO.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    r = aws.raw("s3", "rb", f"s3://{name}", "--force")
    assert r.returncode == 0, r.stderr
    assert aws.raw("s3api", "head-bucket", "--bucket", name).returncode != 0


# --- persistence -------------------------------------------------------------------------------

def test_objects_survive_restart_and_kill9(overcast, client, tmp_path):
    s3 = client("s3", config=PATH)
    name = f"dur-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    data = os.urandom(300_000)
    s3.put_object(Bucket=name, Key="k1", Body=data, Metadata={"m": "v"})
    up = s3.create_multipart_upload(Bucket=name, Key="pending")["UploadId"]
    s3.upload_part(Bucket=name, Key="pending", UploadId=up, PartNumber=1, Body=b"part")
    overcast.restart()
    s3 = client("s3", config=PATH)
    got = s3.get_object(Bucket=name, Key="k1")
    assert got["Body"].read() == data and got["Metadata"] == {"m": "v"}
    s3.put_object(Bucket=name, Key="k2", Body=b"after restart")
    s3.delete_object(Bucket=name, Key="k1")
    overcast.kill9()
    s3 = client("s3", config=PATH)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["k2"]
    assert s3.get_object(Bucket=name, Key="k2")["Body"].read() == b"after restart"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=name, Key="pending", UploadId=up)["Parts"]] == [1]
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# --- aws-chunked uploads with trailing checksums -------------------------------------------------

def chunked_put(overcast, bucket, key, payload, trailer_value, chunk=7, announce=True,
                extra=None):
    """PUT `payload` framed as aws-chunked (as SDKs do over TLS) with a CRC32 trailer."""
    import http.client
    body = b""
    for i in range(0, len(payload), chunk):
        piece = payload[i:i + chunk]
        body += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    body += b"0\r\n" + f"x-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", overcast.port, timeout=10)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00",
        "x-amz-date": "20240101T000000Z",
    }
    if not announce:
        del headers["x-amz-sdk-checksum-algorithm"]
    headers.update(extra or {})
    conn.request("PUT", f"/{bucket}/{key}", body=body, headers=headers)
    resp = conn.getresponse()
    out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    conn.close()
    return out


def test_aws_chunked_trailer_checksum(overcast, s3, bucket):
    payload = b"streamed in aws-chunked framing " * 10
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    status, headers, _ = chunked_put(overcast, bucket, "chunked", payload, crc)
    assert status == 200
    assert headers["etag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    assert headers["x-amz-checksum-crc32"] == crc
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    assert got["ChecksumCRC32"] == crc
    assert "ContentEncoding" not in got
    status, _, body = chunked_put(overcast, bucket, "bad", payload, "AAAAAA==")
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    assert "bad" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_unannounced_trailer_checksum_on_encrypted_upload(overcast, s3, bucket):
    """A trailer naming an algorithm no header announced is verified against the plaintext
    even when the object is stored encrypted (SSE-C here)."""
    key = os.urandom(32)
    sse = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5":
            base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    payload = b"encrypted at rest, checksummed in a trailer " * 40
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    status, headers, body = chunked_put(overcast, bucket, "sealed", payload, crc,
                                        announce=False, extra=sse)
    assert status == 200, body
    assert headers["x-amz-checksum-crc32"] == crc
    got = s3.get_object(Bucket=bucket, Key="sealed", ChecksumMode="ENABLED", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=key)
    assert got["Body"].read() == payload
    assert got["ChecksumCRC32"] == crc
    status, _, body = chunked_put(overcast, bucket, "sealed-bad", payload, "AAAAAA==",
                                  announce=False, extra=sse)
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    assert "sealed-bad" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_get_object_attributes(s3, bucket):
    data = b"attributes"
    s3.put_object(Bucket=bucket, Key="attr", Body=data, ChecksumAlgorithm="SHA256")
    out = s3.get_object_attributes(Bucket=bucket, Key="attr",
                                   ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum"])
    assert out["ETag"] == hashlib.md5(data).hexdigest()
    assert out["ObjectSize"] == len(data) and out["StorageClass"] == "STANDARD"
    assert out["Checksum"]["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    expect("NoSuchKey", s3.get_object_attributes, Bucket=bucket, Key="none", ObjectAttributes=["ETag"])


def test_conditional_writes(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")["ETag"]
    expect("PreconditionFailed", s3.put_object, Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    expect("PreconditionFailed", s3.put_object, Bucket=bucket, Key="once", Body=b"2", IfMatch='"0000"')
    s3.put_object(Bucket=bucket, Key="once", Body=b"3", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"3"
    expect("NoSuchKey", s3.put_object, Bucket=bucket, Key="absent", Body=b"x", IfMatch=first)


def test_options_this_slice_does_not_honour_answer_not_implemented(s3, bucket):
    # Accepting these and ignoring them would be a fake success.
    for kwargs in ({"WebsiteRedirectLocation": "/elsewhere"},):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="opt", Body=b"x", **kwargs)
        assert e.value.response["Error"]["Code"] == "NotImplemented"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert next(iter(kwargs)) in e.value.response["Error"]["Message"]
    expect("NoSuchKey", s3.get_object, Bucket=bucket, Key="opt")
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="opt", WebsiteRedirectLocation="/x")
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    # Defaults AWS applies anyway are accepted.
    s3.put_object(Bucket=bucket, Key="ok", Body=b"y", ACL="private", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == b"y"


def test_hot_small_objects_read_from_memory_stay_exact(s3, bucket):
    """Small bodies are served from an in-memory cache after their first read: overwrites,
    ranges, copies, versions, SSE-C and deletes must read exactly what is stored now."""
    s3.put_object(Bucket=bucket, Key="hot", Body=b"first version")
    for _ in range(2):  # the second read comes from the cache
        assert s3.get_object(Bucket=bucket, Key="hot")["Body"].read() == b"first version"
    s3.put_object(Bucket=bucket, Key="hot", Body=b"second!")
    got = s3.get_object(Bucket=bucket, Key="hot")
    assert got["Body"].read() == b"second!" and got["ContentLength"] == 7
    part = s3.get_object(Bucket=bucket, Key="hot", Range="bytes=2-4")
    assert part["Body"].read() == b"con" and part["ContentRange"] == "bytes 2-4/7"
    assert s3.get_object(Bucket=bucket, Key="hot", Range="bytes=-3")["Body"].read() == b"nd!"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "hot"})
    s3.put_object(Bucket=bucket, Key="hot", Body=b"third")
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"second!"
    assert s3.get_object(Bucket=bucket, Key="hot")["Body"].read() == b"third"
    # Versions keep their own bodies.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="ver", Body=b"v-one")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="ver")["Body"].read() == b"v-one"
    s3.put_object(Bucket=bucket, Key="ver", Body=b"v-two")
    assert s3.get_object(Bucket=bucket, Key="ver")["Body"].read() == b"v-two"
    assert s3.get_object(Bucket=bucket, Key="ver", VersionId=v1)["Body"].read() == b"v-one"
    # SSE-C: what is cached is the stored (encrypted) form; the key is still checked.
    key = os.urandom(32)  # botocore encodes it and adds its MD5
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"secret words", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=key)
    for _ in range(2):
        got = s3.get_object(Bucket=bucket, Key="sealed", SSECustomerAlgorithm="AES256",
                            SSECustomerKey=key)
        assert got["Body"].read() == b"secret words"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="sealed")
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    s3.delete_object(Bucket=bucket, Key="copy")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="copy")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def _s3_files(overcast, pattern):
    import glob
    return {p for p in glob.glob(os.path.join(overcast.data_dir, "blobs", "s3", *pattern))
            if os.path.isfile(p)}


def _allocated(path):
    return os.stat(path).st_blocks * 512


def _aligned(n):
    return -(-n // 4096) * 4096


def test_unreferenced_body_files_are_removed_at_start(overcast, s3, bucket):
    """Large bodies live in 256 shard directories per bucket, small ones in the bucket's pack
    file; files no record names (a PUT cut short by kill -9) are removed when Overcast starts,
    pack bytes no record names are cut, and named bodies are kept."""
    big = os.urandom(300 * 1024)
    before = _s3_files(overcast, ("*", "*", "*"))
    s3.put_object(Bucket=bucket, Key="kept", Body=big)
    s3.put_object(Bucket=bucket, Key="small", Body=b"still here")
    (body,) = _s3_files(overcast, ("*", "*", "*")) - before
    shard = os.path.dirname(body)
    assert len(os.path.basename(shard)) == 2
    (pack,) = [p for p in _s3_files(overcast, ("*", "pk-*")) if os.path.dirname(p) == os.path.dirname(shard)]
    size = os.path.getsize(pack)
    assert size == len(b"still here")
    orphans = [os.path.join(shard, "orphan-" + uuid.uuid4().hex),
               os.path.join(os.path.dirname(shard), "orphan-" + uuid.uuid4().hex),
               os.path.join(os.path.dirname(shard), "pk-" + str(uuid.uuid4()))]
    for o in orphans:
        with open(o, "wb") as f:
            f.write(b"half written")
    # A body appended to the pack whose record was never saved.
    with open(pack, "ab") as f:
        f.write(b"x" * 10000)
    overcast.kill9()
    assert not any(os.path.exists(o) for o in orphans)
    assert os.path.exists(body)
    assert os.path.getsize(pack) == size
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == big
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"still here"


def test_small_bodies_share_a_pack_and_give_back_freed_blocks(overcast, s3, bucket):
    """Small PutObject bodies are appended to one pack file per bucket instead of a file
    each. The blocks of an overwritten or deleted body are handed back to the filesystem once
    it has rested (one to two seconds), without touching its neighbours; every object reads exactly its
    own bytes before and after restarts."""
    import time
    before_files = _s3_files(overcast, ("*", "*", "*"))
    before_packs = _s3_files(overcast, ("*", "pk-*"))
    bodies = {"k%02d" % i: os.urandom(100 + i * 1000) for i in range(20)}
    for k, b in bodies.items():
        assert s3.put_object(Bucket=bucket, Key=k, Body=b)["ETag"] == '"%s"' % hashlib.md5(b).hexdigest()
    assert _s3_files(overcast, ("*", "*", "*")) == before_files
    (pack,) = _s3_files(overcast, ("*", "pk-*")) - before_packs
    everything = sum(_aligned(len(b)) for b in bodies.values())
    assert everything - 4096 < os.path.getsize(pack) <= everything
    full = _allocated(pack)
    assert full >= everything
    for k, b in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=k)  # cached from here on
        assert got["Body"].read() == b and got["ContentLength"] == len(b)
    # Half deleted, one overwritten: readable until punched, then their blocks go.
    gone = ["k%02d" % i for i in range(10)]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone]})
    s3.put_object(Bucket=bucket, Key="k10", Body=b"new")
    freed = sum(_aligned(len(bodies[k])) for k in gone + ["k10"])
    bodies = {k: b for k, b in bodies.items() if k not in gone}
    bodies["k10"] = b"new"
    time.sleep(2.2)
    s3.delete_object(Bucket=bucket, Key="k19")  # punches what has rested
    last = bodies.pop("k19")
    assert _allocated(pack) <= full - freed + 4096
    for k, b in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b, k
    assert s3.get_object(Bucket=bucket, Key="k15", Range="bytes=10-19")["Body"].read() == bodies["k15"][10:20]
    for k in gone + ["k19"]:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key=k)
        assert e.value.response["Error"]["Code"] == "NoSuchKey"
    # A restart keeps what records name and cuts the rest (k19 was the last body but one).
    overcast.restart()
    for k, b in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b, k
    assert _allocated(pack) <= full - freed - _aligned(len(last)) + 4096
    # New bodies go to a new pack after a restart; both are read alike after kill -9.
    s3.put_object(Bucket=bucket, Key="after", Body=b"after restart")
    bodies["after"] = b"after restart"
    overcast.kill9()
    for k, b in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b, k
    assert _s3_files(overcast, ("*", "*", "*")) == before_files


def test_get_object_torrent(s3, bucket):
    """GetObjectTorrent answers a bencoded BitTorrent metainfo: 256 KiB pieces hashed with
    SHA-1, the object's size and name, and the object's URL as a web seed."""
    body = os.urandom(600 * 1024)
    s3.put_object(Bucket=bucket, Key="dir/data.bin", Body=body)
    got = s3.get_object_torrent(Bucket=bucket, Key="dir/data.bin")["Body"].read()
    assert got.startswith(b"d8:announce") and got.endswith(b"e")
    pieces = b"".join(hashlib.sha1(body[i:i + 262144]).digest() for i in range(0, len(body), 262144))
    assert b"6:lengthi%de" % len(body) in got
    assert b"4:name8:data.bin12:piece lengthi262144e6:pieces60:" + pieces in got
    assert b"/" + bucket.encode() + b"/dir/data.bin" in got
    with pytest.raises(ClientError) as e:
        s3.get_object_torrent(Bucket=bucket, Key="missing")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"x", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=os.urandom(32))
    with pytest.raises(ClientError) as e:
        s3.get_object_torrent(Bucket=bucket, Key="sealed")
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
