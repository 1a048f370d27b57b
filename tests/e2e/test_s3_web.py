"""S3's browser-facing endpoints end to end: CORS preflights answered per the bucket's rules
(and refused like AWS), Access-Control headers on API responses, and static website hosting
at <bucket>.s3-website.localhost (index/error documents, redirects, the public-read check)."""
import json
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.config import Config

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})


@pytest.fixture
def s3(client):
    return client("s3", config=PATH)


@pytest.fixture
def bucket(s3):
    name = f"web-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(url, method="GET", headers=None, host=None):
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if host:
        req.add_header("Host", host)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_cors_preflight_and_response_headers(overcast, s3, bucket):
    url = f"{overcast.url}/{bucket}/photo.jpg"
    status, _, body = http(url, "OPTIONS", {"Origin": "https://app.example.com",
                                            "Access-Control-Request-Method": "PUT"})
    assert status == 403 and b"CORS is not enabled" in body
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
         "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    status, headers, _ = http(url, "OPTIONS", {
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Date"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
    # Wrong origin, method or header: refused.
    for h in ({"Origin": "https://evil.test", "Access-Control-Request-Method": "PUT"},
              {"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"},
              {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "authorization-x"}):
        status, _, body = http(url, "OPTIONS", h)
        assert status == 403 and b"<Code>AccessForbidden</Code>" in body
    # API responses carry the headers when the Origin matches.
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"img")
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "photo.jpg"})
    status, headers, body = http(get, headers={"Origin": "https://app.example.com"})
    assert status == 200 and body == b"img"
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    status, headers, _ = http(get, headers={"Origin": "https://evil.test"})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_static_website_hosting(overcast, s3, bucket):
    site = f"{bucket}.s3-website.localhost:{overcast.port}"
    base = f"http://127.0.0.1:{overcast.port}"
    status, _, body = http(base + "/", host=site)
    assert status == 404 and b"NoSuchWebsiteConfiguration" in body
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "old/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "new/", "HttpRedirectCode": "301"}}]})
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"not here", ContentType="text/html")
    # Not public yet (Block Public Access and no public policy): 403 like AWS.
    status, _, body = http(base + "/", host=site)
    assert status == 403 and b"AccessDenied" in body
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    status, headers, body = http(base + "/", host=site)
    assert status == 200 and body == b"<h1>home</h1>" and headers["Content-Type"] == "text/html"
    assert http(base + "/docs/", host=site)[2] == b"docs"
    status, headers, _ = http(base + "/docs", host=site)
    assert status == 302 and headers["Location"] == "/docs/"
    status, _, body = http(base + "/missing.png", host=site)
    assert status == 404 and body == b"not here"
    status, headers, _ = http(base + "/old/page.html", host=site)
    assert status == 301 and headers["Location"].endswith("/new/page.html")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}})
    status, headers, _ = http(base + "/a/b", host=site)
    assert status == 301 and headers["Location"] == "https://www.example.com/a/b"
    status, _, body = http(base + "/", host=f"no-such-bucket-web.s3-website.localhost:{overcast.port}")
    assert status == 404 and b"NoSuchBucket" in body


def _post_form(url, fields, filename, content, content_type="text/plain"):
    boundary = "----overcast" + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(url, data=b"".join(parts), method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_browser_post_uploads_with_signed_policies(s3, bucket):
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", Fields={"x-amz-meta-owner": "web"},
                                      Conditions=[["starts-with", "$key", "uploads/"],
                                                  ["content-length-range", 1, 1024],
                                                  {"x-amz-meta-owner": "web"}],
                                      ExpiresIn=300)
    status, headers, _ = _post_form(post["url"], post["fields"], "cat.txt", b"meow")
    assert status == 204, _
    got = s3.get_object(Bucket=bucket, Key="uploads/cat.txt")
    assert got["Body"].read() == b"meow" and got["Metadata"] == {"owner": "web"}
    assert got["ContentType"] == "text/plain"
    # success_action_status=201 answers a PostResponse document.
    post201 = s3.generate_presigned_post(bucket, "uploads/doc.txt", Fields={"success_action_status": "201"},
                                         Conditions=[{"success_action_status": "201"}])
    status, _, body = _post_form(post201["url"], post201["fields"], "doc.txt", b"d")
    assert status == 201 and b"<Key>uploads/doc.txt</Key>" in body
    # Violated conditions and bad signatures are refused.
    status, _, body = _post_form(post["url"], post["fields"], "big.txt", b"x" * 2000)
    assert status == 400 and b"EntityTooLarge" in body
    fields = dict(post["fields"], key="elsewhere/x.txt")
    status, _, body = _post_form(post["url"], fields, "x.txt", b"x")
    assert status == 403 and b"AccessDenied" in body
    forged = dict(post["fields"])
    sig = "x-amz-signature" if "x-amz-signature" in forged else "signature"
    forged[sig] = forged[sig][:-4] + "AAAA"
    status, _, body = _post_form(post["url"], forged, "x.txt", b"x")
    assert status == 403 and b"SignatureDoesNotMatch" in body
