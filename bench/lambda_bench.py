#!/usr/bin/env python3
"""Lambda benchmarks (issue 5 targets), reported as ratios measured in the same run:

  1. warm invoke p50 of a trivial python handler through the API vs a plain HTTP round trip
     to the same server (GET /_overcast/health) on the same keep-alive connection;
  2. cold start (first invoke of a new python function) vs starting python3 and importing
     what the bootstrap imports;
  3. 100 concurrent invocations of a handler sleeping 100 ms, on warm instances: wall time;
  4. response streaming (needs node): a streamifyResponse handler writes a chunk, sleeps
     500 ms, writes another; time to the first bytes of InvokeWithResponseStream vs the whole
     stream (first bytes must arrive ~500 ms before the end: not buffered).

Usage: bench/lambda_bench.py [path-to-overcast-binary]   (default target/debug/overcast,
or $OVERCAST_BIN). Starts its own server on a free loopback port with --ephemeral; every
load is bounded in count. Prints a table and writes bench/out/lambda.json.
"""
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OVERCAST_BIN", os.path.join(ROOT, "target/debug/overcast"))
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, t in files.items():
            z.writestr(n, t)
    return buf.getvalue()


class Api:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port)

    def req(self, method, path, body=None):
        headers = {"Authorization": AUTH, "X-Amz-Date": "20240101T000000Z"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data

    def create(self, name, code, timeout=30, runtime="python3.11", handler="lambda_function.lambda_handler"):
        import base64
        body = json.dumps({"FunctionName": name, "Runtime": runtime, "Role": "arn:aws:iam::000000000000:role/r",
                           "Handler": handler, "Timeout": timeout,
                           "Code": {"ZipFile": base64.b64encode(zip_of(code)).decode()}})
        st, data = self.req("POST", "/2015-03-31/functions", body)
        assert st == 201, data

    def invoke(self, name, payload=b"{}"):
        st, data = self.req("POST", f"/2015-03-31/functions/{name}/invocations", payload)
        assert st == 200, data
        return data


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    port = free_port()
    data = tempfile.mkdtemp(prefix="overcast-lambda-bench-")
    proc = subprocess.Popen([BIN, "serve", "--port", str(port), "--ephemeral"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data)
    try:
        deadline = time.time() + 20
        while True:
            try:
                Api(port).req("GET", "/_overcast/health")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        api = Api(port)
        results = {}

        # 1. warm invoke vs plain round trip
        api.create("trivial", {"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n"})
        for _ in range(50):
            api.invoke("trivial")
            api.req("GET", "/_overcast/health")
        inv, plain = [], []
        for _ in range(500):
            t = time.perf_counter(); api.req("GET", "/_overcast/health"); plain.append(time.perf_counter() - t)
            t = time.perf_counter(); api.invoke("trivial"); inv.append(time.perf_counter() - t)
        results["warm_invoke_p50_ms"] = statistics.median(inv) * 1000
        results["plain_http_p50_ms"] = statistics.median(plain) * 1000
        results["warm_invoke_p99_ms"] = pct(inv, 0.99) * 1000
        results["warm_minus_plain_p50_ms"] = results["warm_invoke_p50_ms"] - results["plain_http_p50_ms"]

        # 2. cold start vs python3 + bootstrap imports
        colds = []
        for i in range(8):
            n = f"cold{i}"
            api.create(n, {"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n"})
            t = time.perf_counter(); api.invoke(n); colds.append(time.perf_counter() - t)
        # The real interpreter (not a pyenv-style shim), as Overcast runs it.
        exe = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                             capture_output=True, text=True, check=True).stdout.strip()
        py = []
        for _ in range(8):
            t = time.perf_counter()
            subprocess.run([exe, "-c", "import http.client, json, os, sys, time, logging, importlib"], check=True)
            py.append(time.perf_counter() - t)
        results["cold_start_p50_ms"] = statistics.median(colds) * 1000
        results["python_start_import_p50_ms"] = statistics.median(py) * 1000
        results["cold_over_python_ratio"] = results["cold_start_p50_ms"] / results["python_start_import_p50_ms"]

        # 3. 100 concurrent 100 ms sleeps on warm instances
        api.create("sleepy", {"lambda_function.py": "import time\ndef lambda_handler(e, c):\n    time.sleep(0.1)\n    return 1\n"})
        conns = [Api(port) for _ in range(100)]

        def burst():
            errors = []
            barrier = threading.Barrier(100)

            def one(c):
                barrier.wait()
                try:
                    c.invoke("sleepy")
                except Exception as e:  # throttles or failures
                    errors.append(e)
            ts = [threading.Thread(target=one, args=(c,)) for c in conns]
            t = time.perf_counter()
            for x in ts:
                x.start()
            for x in ts:
                x.join()
            return time.perf_counter() - t, errors
        burst()  # warm 100 instances
        walls = []
        for _ in range(3):
            wall, errors = burst()
            walls.append(wall)
            results["concurrent_errors"] = len(errors)
        results["concurrent_100x100ms_wall_ms"] = statistics.median(walls) * 1000

        # 4. response streaming: first bytes vs the whole stream
        import shutil
        if shutil.which("node"):
            api.create("streamer", {"index.js": (
                "exports.handler = awslambda.streamifyResponse(async (e, s) => {\n"
                "  s.write('first');\n  await new Promise((r) => setTimeout(r, 500));\n"
                "  s.write('second');\n  s.end();\n});\n")}, runtime="nodejs20.x", handler="index.handler")
            firsts, totals = [], []
            for _ in range(6):
                c = http.client.HTTPConnection("127.0.0.1", port)
                t = time.perf_counter()
                c.request("POST", "/2021-11-15/functions/streamer/response-streaming-invocations", body=b"{}",
                          headers={"Authorization": AUTH, "X-Amz-Date": "20240101T000000Z"})
                r = c.getresponse()
                assert r.status == 200
                first = None
                while True:
                    chunk = r.read1(65536)
                    if not chunk:
                        break
                    if first is None:
                        first = time.perf_counter() - t
                totals.append(time.perf_counter() - t)
                firsts.append(first)
                c.close()
            results["stream_first_bytes_p50_ms"] = statistics.median(firsts[1:]) * 1000
            results["stream_complete_p50_ms"] = statistics.median(totals[1:]) * 1000

        os.makedirs(os.path.join(ROOT, "bench/out"), exist_ok=True)
        with open(os.path.join(ROOT, "bench/out/lambda.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(f"binary: {BIN}")
        print(f"warm invoke p50 {results['warm_invoke_p50_ms']:.3f} ms vs plain HTTP p50 {results['plain_http_p50_ms']:.3f} ms "
              f"-> +{results['warm_minus_plain_p50_ms']:.3f} ms (target <= 1 ms); p99 {results['warm_invoke_p99_ms']:.3f} ms")
        print(f"cold start p50 {results['cold_start_p50_ms']:.1f} ms vs python3+imports {results['python_start_import_p50_ms']:.1f} ms "
              f"-> x{results['cold_over_python_ratio']:.2f} (target <= 1.5)")
        print(f"100 concurrent 100 ms invocations (warm): {results['concurrent_100x100ms_wall_ms']:.0f} ms wall, "
              f"{results['concurrent_errors']} errors (target <= 300 ms, 0 errors)")
        if "stream_first_bytes_p50_ms" in results:
            print(f"response streaming (warm): first bytes p50 {results['stream_first_bytes_p50_ms']:.1f} ms, "
                  f"complete p50 {results['stream_complete_p50_ms']:.1f} ms (handler sleeps 500 ms between writes)")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
