"""Lambda response streaming end to end: a Node.js handler wrapped in
`awslambda.streamifyResponse` writes chunks with pauses between them; InvokeWithResponseStream
delivers them as PayloadChunk events while the handler still runs, then InvokeComplete; a
RESPONSE_STREAM function URL streams the body (with the HttpResponseStream prelude's status
and headers) the same way."""
import http.client
import json
import shutil
import time

import pytest

from test_lambda import ROLE, code_err, uniq, zip_bytes  # noqa: F401

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

STREAMER = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.failEarly) throw new Error("before any byte");
  for (let i = 0; i < (event.n || 3); i++) {
    responseStream.write(`chunk-${i}:${Date.now()}\\n`);
    await sleep(event.pause || 300);
  }
  if (event.failLate) throw new TypeError("after some bytes");
  responseStream.write(`end:${Date.now()}\\n`);
  responseStream.end();
});
"""

URL_STREAMER = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: {"content-type": "text/plain", "x-streamed": "yes"},
  });
  for (let i = 0; i < 3; i++) {
    responseStream.write(`part-${i}:${Date.now()};`);
    await sleep(300);
  }
  responseStream.end();
});
"""


@pytest.fixture
def lam(client):
    return client("lambda")


def node_function(lam, code, **kw):
    name = uniq("stream")
    lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_bytes({"index.js": code})}, Timeout=10, **kw)
    return name


@needs_node
def test_chunks_arrive_while_the_handler_runs(lam):
    name = node_function(lam, STREAMER)
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"n": 3, "pause": 400}),
                                        LogType="Tail")
    assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST"
    chunks, complete = [], []
    for event in r["EventStream"]:
        if "PayloadChunk" in event:
            chunks.append((time.time() * 1000, event["PayloadChunk"]["Payload"].decode()))
        elif "InvokeComplete" in event:
            complete.append(event["InvokeComplete"])
    text = "".join(c for _, c in chunks)
    lines = text.strip().split("\n")
    assert [l.split(":")[0] for l in lines] == ["chunk-0", "chunk-1", "chunk-2", "end"]
    # One event per write, in order, as the handler wrote them.
    assert len(chunks) == 4
    written_end = int(lines[-1].split(":")[1])
    first_received = chunks[0][0]
    # The first chunk reached the client long before the handler finished (3 × 400 ms pauses).
    assert first_received < written_end - 600, (first_received, written_end)
    assert len(complete) == 1 and "ErrorCode" not in complete[0]
    assert "REPORT RequestId" in __import__("base64").b64decode(complete[0]["LogResult"]).decode()

    # The plain Invoke API answers the whole streamed body at once.
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 2, "pause": 10}))
    body = out["Payload"].read().decode()
    assert "FunctionError" not in out and [l.split(":")[0] for l in body.strip().split("\n")] == ["chunk-0", "chunk-1", "end"]


@needs_node
def test_errors_before_and_after_the_first_chunk(lam):
    name = node_function(lam, STREAMER)
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"failEarly": true}')
    events = list(r["EventStream"])
    assert not [e for e in events if "PayloadChunk" in e]
    done = [e["InvokeComplete"] for e in events if "InvokeComplete" in e]
    assert done[0]["ErrorCode"] == "Unhandled" and "before any byte" in done[0]["ErrorDetails"]

    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"failLate": true, "n": 2, "pause": 50}')
    events = list(r["EventStream"])
    chunks = [e["PayloadChunk"]["Payload"].decode() for e in events if "PayloadChunk" in e]
    assert [c.split(":")[0] for c in chunks] == ["chunk-0", "chunk-1"]
    done = [e["InvokeComplete"] for e in events if "InvokeComplete" in e]
    assert len(done) == 1 and done[0]["ErrorCode"] == "Unhandled"
    details = json.loads(done[0]["ErrorDetails"])
    assert details["errorType"] == "TypeError" and details["errorMessage"] == "after some bytes"

    # Bad input is refused before anything runs.
    assert code_err(lam.invoke_with_response_stream, FunctionName=name, Payload=b"{not json")[0] == "InvalidRequestContentException"
    assert code_err(lam.invoke_with_response_stream, FunctionName=uniq("nope"), Payload=b"{}")[0] == "ResourceNotFoundException"


@needs_node
def test_timeout_ends_the_stream_with_an_error(lam):
    name = node_function(lam, STREAMER)
    lam.update_function_configuration(FunctionName=name, Timeout=1)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"n": 10, "pause": 300}')
    events = list(r["EventStream"])
    chunks = [e for e in events if "PayloadChunk" in e]
    assert 1 <= len(chunks) < 10
    done = [e["InvokeComplete"] for e in events if "InvokeComplete" in e]
    assert done[0]["ErrorCode"] == "Unhandled" and "Task timed out after 1.00 seconds" in done[0]["ErrorDetails"]


@needs_node
def test_response_stream_function_url(lam, overcast):
    name = node_function(lam, URL_STREAMER)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    host = url.split("//", 1)[1].rstrip("/")
    conn = http.client.HTTPConnection("127.0.0.1", overcast.port, timeout=20)
    conn.request("GET", "/", headers={"Host": host})
    resp = conn.getresponse()
    assert resp.status == 201
    assert resp.getheader("x-streamed") == "yes" and resp.getheader("content-type") == "text/plain"
    assert resp.getheader("transfer-encoding") == "chunked"
    received = []
    while True:
        data = resp.read1(65536)
        if not data:
            break
        received.append((time.time() * 1000, data.decode()))
    conn.close()
    body = "".join(d for _, d in received)
    parts = [p for p in body.split(";") if p]
    assert [p.split(":")[0] for p in parts] == ["part-0", "part-1", "part-2"]
    last_written = int(parts[-1].split(":")[1])
    assert received[0][0] < last_written - 300, (received[0][0], last_written)


STREAMING_BOOTSTRAP = """#!/bin/sh
exec python3 - <<'PY'
import base64, json, os, socket, time, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.split(":")
while True:
    r = urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    event = json.loads(r.read())
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall((f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: {api}\\r\\n"
               "Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n"
               "Content-Type: text/plain\\r\\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\\r\\n\\r\\n").encode())
    for i in range(3):
        data = f"raw-{i}:{int(time.time() * 1000)};".encode()
        s.sendall(f"{len(data):x}\\r\\n".encode() + data + b"\\r\\n")
        time.sleep(0.3)
    trailer = b""
    if event.get("fail"):
        doc = json.dumps({"errorType": "Custom.Broken", "errorMessage": "stream broke"}).encode()
        trailer = (b"Lambda-Runtime-Function-Error-Type: Custom.Broken\\r\\n"
                   b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc) + b"\\r\\n")
    s.sendall(b"0\\r\\n" + trailer + b"\\r\\n")
    s.recv(4096)
    s.close()
PY
"""


def test_custom_runtime_streams_through_the_runtime_api(lam):
    name = uniq("rawstream")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="x.y", Timeout=10,
                        Code={"ZipFile": zip_bytes({"bootstrap": STREAMING_BOOTSTRAP}, {"bootstrap": 0o755})})
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    got = []
    for event in r["EventStream"]:
        if "PayloadChunk" in event:
            got.append((time.time() * 1000, event["PayloadChunk"]["Payload"].decode()))
        elif "InvokeComplete" in event:
            assert "ErrorCode" not in event["InvokeComplete"]
    parts = [p for p in "".join(c for _, c in got).split(";") if p]
    assert [p.split(":")[0] for p in parts] == ["raw-0", "raw-1", "raw-2"] and len(got) == 3
    assert got[0][0] < int(parts[-1].split(":")[1]) - 300
    # An error in the trailers ends the stream with InvokeComplete's ErrorCode.
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')
    events = list(r["EventStream"])
    assert len([e for e in events if "PayloadChunk" in e]) == 3
    done = [e["InvokeComplete"] for e in events if "InvokeComplete" in e][0]
    assert done["ErrorCode"] == "Unhandled" and json.loads(done["ErrorDetails"])["errorType"] == "Custom.Broken"


@needs_node
def test_client_leaving_mid_stream_leaves_the_function_usable(lam, overcast):
    name = node_function(lam, STREAMER)
    host = f"127.0.0.1:{overcast.port}"
    conn = http.client.HTTPConnection("127.0.0.1", overcast.port, timeout=20)
    conn.request("POST", f"/2021-11-15/functions/{name}/response-streaming-invocations",
                 body=json.dumps({"n": 4, "pause": 200}),
                 headers={"Host": host, "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read1(65536)
    conn.close()  # gone before the handler is done
    time.sleep(1.2)
    r = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"n": 1, "pause": 10}))
    text = "".join(e["PayloadChunk"]["Payload"].decode() for e in r["EventStream"] if "PayloadChunk" in e)
    assert [l.split(":")[0] for l in text.strip().split("\n")] == ["chunk-0", "end"]
