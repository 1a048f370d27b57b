"""The guide's Node.js `getDbCredentials` snippet with aws-sdk-js v3
(@aws-sdk/client-secrets-manager) against Overcast. Needs `npm ci` in tests/e2e/js; skipped
when node or the node_modules are missing."""
import json
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
SDK = os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-secrets-manager")


@pytest.mark.skipif(NODE is None or not os.path.isdir(SDK),
                    reason="node or tests/e2e/js/node_modules missing (run npm ci in tests/e2e/js)")
def test_guide_get_db_credentials_with_aws_sdk_js(client, overcast):
    sm = client("secretsmanager")
    creds = {"username": "admin", "password": "rotated-password-xyz", "host": "db.local", "port": 3306}
    try:
        sm.create_secret(Name="myapp/prod/aurora-credentials", SecretString=json.dumps(creds))
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceExistsException"
        sm.put_secret_value(SecretId="myapp/prod/aurora-credentials", SecretString=json.dumps(creds))
    env = dict(os.environ, AWS_ENDPOINT_URL=overcast.url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run([NODE, "get_db_credentials.mjs"], cwd=JS_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == creds
