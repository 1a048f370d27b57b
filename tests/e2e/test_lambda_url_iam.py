"""AWS_IAM function URLs: requests must carry a valid SigV4 signature (service `lambda`) by a
principal allowed lambda:InvokeFunctionUrl — the function's own account, or one the
resource policy allows (with the lambda:FunctionUrlAuthType condition). Anything else is
403 {"Message": "Forbidden"}, as AWS answers."""
import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from test_lambda import ROLE, uniq, zip_bytes

HANDLER = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["rawPath"], "body": event.get("body")})}
"""


@pytest.fixture
def lam(client):
    return client("lambda")


def send(overcast, url, path="/", method="GET", body=None, key="test", secret="test", service="lambda",
         sign=True, presign=False, token=None):
    host = url.split("//", 1)[1].rstrip("/")
    full = f"http://{host}{path}"
    req = AWSRequest(method=method, url=full, data=body, headers={"Host": host})
    if sign:
        creds = Credentials(key, secret, token)
        if presign:
            SigV4QueryAuth(creds, service, "us-east-1", expires=300).add_auth(req)
        else:
            SigV4Auth(creds, service, "us-east-1").add_auth(req)
    # Send to 127.0.0.1 with the URL's host name (no DNS needed), keeping the signed headers.
    target = overcast.url + req.url.split(host, 1)[1]
    r = urllib.request.Request(target, data=body, method=method, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def forbidden(result):
    status, body = result
    return status == 403 and json.loads(body) == {"Message": "Forbidden"}


def test_aws_iam_url_requires_a_valid_signature(lam, overcast):
    name = uniq("iamurl")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes({"lambda_function.py": HANDLER})})
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]

    assert forbidden(send(overcast, url, sign=False))
    # The function's own account, signed for lambda: allowed (header and presigned forms, with a body).
    status, body = send(overcast, url, "/x?a=1", "POST", b'{"hello": 1}')
    assert status == 200 and json.loads(body) == {"path": "/x", "body": '{"hello": 1}'}
    status, body = send(overcast, url, "/p", presign=True)
    assert status == 200 and json.loads(body)["path"] == "/p"
    # Wrong secret, wrong service, tampered body: refused.
    assert forbidden(send(overcast, url, secret="not-the-secret"))
    assert forbidden(send(overcast, url, service="execute-api"))
    host = url.split("//", 1)[1].rstrip("/")
    req = AWSRequest(method="POST", url=f"http://{host}/", data=b"signed", headers={"Host": host})
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(req)
    tampered = urllib.request.Request(overcast.url + "/", data=b"changed", method="POST", headers=dict(req.headers.items()))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403

    # Another account needs the resource policy to allow it.
    other = "111111111111"
    assert forbidden(send(overcast, url, key=other))
    lam.add_permission(FunctionName=name, StatementId="other-account", Action="lambda:InvokeFunctionUrl",
                       Principal=other, FunctionUrlAuthType="AWS_IAM")
    status, _ = send(overcast, url, key=other)
    assert status == 200
    # A statement for another auth type does not count.
    third = "222222222222"
    lam.add_permission(FunctionName=name, StatementId="third-none", Action="lambda:InvokeFunctionUrl",
                       Principal=third, FunctionUrlAuthType="NONE")
    assert forbidden(send(overcast, url, key=third))
    lam.remove_permission(FunctionName=name, StatementId="other-account")
    assert forbidden(send(overcast, url, key=other))

    # Switching the URL to NONE opens it to unsigned requests.
    lam.update_function_url_config(FunctionName=name, AuthType="NONE")
    assert send(overcast, url, sign=False)[0] == 200


def test_aws_iam_url_with_role_session_credentials(lam, client, overcast):
    name = uniq("iamurl")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes({"lambda_function.py": HANDLER})})
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    creds = client("sts").assume_role(RoleArn="arn:aws:iam::000000000000:role/caller", RoleSessionName="url-caller")["Credentials"]
    status, _ = send(overcast, url, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert status == 200
    # A session key with a wrong token is refused.
    assert forbidden(send(overcast, url, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token="bogus"))


def test_aws_iam_url_under_enforce_iam(tmp_path):
    """With --enforce-iam, a same-account user needs lambda:InvokeFunctionUrl from its identity
    policies (or the function's resource policy)."""

    import boto3
    from botocore.config import Config

    from conftest import Overcast

    server = Overcast(str(tmp_path / "data"), extra_args=["--enforce-iam", "--ephemeral"])
    server.start()
    try:
        def make(service, key="test", secret="test"):
            return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                                aws_access_key_id=key, aws_secret_access_key=secret,
                                config=Config(retries={"max_attempts": 1}))
        lam, iam = make("lambda"), make("iam")
        name = uniq("iamurl")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_bytes({"lambda_function.py": HANDLER})})
        url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
        iam.create_user(UserName="caller")
        key = iam.create_access_key(UserName="caller")["AccessKey"]
        k, s = key["AccessKeyId"], key["SecretAccessKey"]
        assert forbidden(send(server, url, key=k, secret=s))
        iam.put_user_policy(UserName="caller", PolicyName="invoke-url", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": "*"}]}))
        assert send(server, url, key=k, secret=s)[0] == 200
        assert send(server, url)[0] == 200  # the account root
    finally:
        server.stop()
