"""End-to-end fixtures: a real Overcast binary, real boto3 clients and the real AWS CLI.

Fixtures:
  overcast  (session) the running server: .url, .port, .data_dir, .restart(), .kill9(),
            .stop(), .start(), .clock(advance=..., set=..., freeze=...), .reset()
  client    factory: client("sqs", region_name="us-east-1", **kwargs) -> boto3 client
  aws       runs the AWS CLI: aws("sqs", "list-queues") -> parsed JSON (or {} when empty);
            raises AwsCliError (.returncode, .stderr, .code) on failure; aws.raw(...) returns
            the CompletedProcess.

The binary is $OVERCAST_BIN or target/debug/overcast (built by scripts/test).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("OVERCAST_BIN", os.path.join(ROOT, "target", "debug", "overcast"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Overcast:
    def __init__(self, data_dir, extra_args=(), env=None):
        self.port = free_port()
        self.env = dict(env or {})
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(data_dir), f"overcast-{self.port}.log")

    def start(self):
        log = open(self.log_path, "ab")
        args = [BIN, "serve", "--port", str(self.port), "--data-dir", self.data_dir, *self.extra_args]
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"overcast exited with {self.proc.returncode}; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/_overcast/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("overcast did not become healthy in 20 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def kill9(self):
        """SIGKILL (no clean shutdown), then start again on the same data dir."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.start()

    def post(self, path, body=None):
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"content-type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=10).read() or b"{}")

    def get(self, path):
        return json.loads(urllib.request.urlopen(self.url + path, timeout=10).read())

    def clock(self, **kwargs):
        return self.post("/_overcast/clock", kwargs)

    def reset(self):
        return self.post("/_overcast/reset")


@pytest.fixture(scope="session")
def overcast(tmp_path_factory):
    base = tmp_path_factory.mktemp("overcast")
    server = Overcast(str(base / "data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(overcast):
    def make(service, region_name="us-east-1", **kwargs):
        kwargs.setdefault("aws_access_key_id", "test")
        kwargs.setdefault("aws_secret_access_key", "test")
        kwargs.setdefault("config", Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60))
        return boto3.client(service, endpoint_url=overcast.url, region_name=region_name, **kwargs)
    return make


class AwsCliError(Exception):
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        m = re.search(r"\(([A-Za-z0-9.]+)\) when calling", proc.stderr or "")
        self.code = m.group(1) if m else None
        super().__init__(f"aws exited {proc.returncode}: {proc.stderr.strip()}")


class AwsCli:
    def __init__(self, overcast):
        self.overcast = overcast
        venv_aws = os.path.join(ROOT, ".venv", "bin", "aws")
        self.exe = venv_aws if os.path.exists(venv_aws) else shutil.which("aws")
        self.home = tempfile.mkdtemp(prefix="overcast-cli-")

    def env(self, extra=None):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.path.join(self.home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "credentials"),
            "AWS_PAGER": "",
        })
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        env.update(extra or {})
        return env

    def raw(self, *args, env=None, input=None):
        cmd = [self.exe, "--endpoint-url", self.overcast.url, "--output", "json", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(env), input=input, timeout=120)

    def __call__(self, *args, env=None, input=None):
        proc = self.raw(*args, env=env, input=input)
        if proc.returncode != 0:
            raise AwsCliError(proc)
        out = proc.stdout.strip()
        return json.loads(out) if out else {}


@pytest.fixture(scope="session")
def aws(overcast):
    return AwsCli(overcast)
