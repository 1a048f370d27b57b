"""--enforce-iam end to end: the guide's least-privilege ECS task policy attached to a role,
assumed, and enforced (its calls succeed, everything else is denied with AWS's message),
MFA-required policies, unknown keys, and the root default keys."""
import base64
import hashlib
import hmac
import json
import struct
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Overcast

ACCOUNT = "000000000000"
GUIDE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::app-static-assets/*"},
        {"Effect": "Allow", "Action": ["sqs:SendMessage"],
         "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:notification-queue"},
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
         "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/*"},
    ],
}


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    server = Overcast(str(tmp_path_factory.mktemp("enforce") / "data"), extra_args=["--enforce-iam", "--root-access-key", "AKIAROOTROOTROOT0000:root-secret"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mk(enforced):
    def make(service, key="test", secret="test", token=None):
        return boto3.client(service, endpoint_url=enforced.url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                            config=Config(retries={"max_attempts": 1}))
    return make


def totp(seed_b32, t):
    key = base64.b32decode(seed_b32)
    h = hmac.new(key, struct.pack(">Q", int(t // 30)), hashlib.sha1).digest()
    o = h[19] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def err(e):
    return e.value.response["Error"]


@pytest.fixture(scope="module")
def world(mk):
    """Root sets up the guide's resources, a deployer user and the ECS task role."""
    s3, sqs, ssm, iam = mk("s3"), mk("sqs"), mk("ssm"), mk("iam")
    s3.create_bucket(Bucket="app-static-assets")
    s3.put_object(Bucket="app-static-assets", Key="logo.png", Body=b"png")
    queue = sqs.create_queue(QueueName="notification-queue")["QueueUrl"]
    other = sqs.create_queue(QueueName="audit-queue")["QueueUrl"]
    ssm.put_parameter(Name="/prod/db-host", Value="db.internal", Type="String")
    ssm.put_parameter(Name="/dev/db-host", Value="dev.internal", Type="String")
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/deployer"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="ecs-task", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    pol = iam.create_policy(PolicyName="ecs-task-least-privilege", PolicyDocument=json.dumps(GUIDE_POLICY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="ecs-task", PolicyArn=pol)
    return {"queue": queue, "other": other, "key": key, "role": role}


def deployer(mk, world, service):
    return mk(service, world["key"]["AccessKeyId"], world["key"]["SecretAccessKey"])


def task(mk, world, service):
    creds = deployer(mk, world, "sts").assume_role(RoleArn=world["role"], RoleSessionName="task1")["Credentials"]
    return mk(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def test_user_without_permission_cannot_assume_the_role(mk, world):
    with pytest.raises(ClientError) as e:
        deployer(mk, world, "sts").assume_role(RoleArn=world["role"], RoleSessionName="task1")
    assert err(e)["Code"] == "AccessDenied"
    assert err(e)["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/deployer is not authorized to perform: sts:AssumeRole on resource: "
        f"{world['role']} because no identity-based policy allows the sts:AssumeRole action")
    # GetCallerIdentity needs no permission.
    assert deployer(mk, world, "sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/deployer"


def test_guide_policy_allows_exactly_its_calls(mk, world):
    mk("iam").put_user_policy(UserName="deployer", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": world["role"]}]}))
    s3, sqs, ssm = task(mk, world, "s3"), task(mk, world, "sqs"), task(mk, world, "ssm")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ecs-task/task1"
    # Allowed.
    assert s3.get_object(Bucket="app-static-assets", Key="logo.png")["Body"].read() == b"png"
    assert sqs.send_message(QueueUrl=world["queue"], MessageBody="hi")["MessageId"]
    assert ssm.get_parameter(Name="/prod/db-host")["Parameter"]["Value"] == "db.internal"
    assert len(ssm.get_parameters(Names=["/prod/db-host"])["Parameters"]) == 1
    # Everything else is denied, in each protocol's envelope.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="app-static-assets", Key="x", Body=b"x")
    assert err(e)["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err(e)["Message"] == (
        f"User: {session} is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::app-static-assets/x because no identity-based policy allows the s3:PutObject action")
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert err(e)["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=world["other"], MessageBody="hi")
    assert err(e)["Code"] == "AccessDenied"
    assert "sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:audit-queue" in err(e)["Message"]
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=world["queue"])
    assert err(e)["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/dev/db-host")
    assert err(e)["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/prod/new", Value="v", Type="String")
    assert err(e)["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        task(mk, world, "iam").list_users()
    assert err(e)["Code"] == "AccessDenied"


def test_session_policy_narrows_the_role(mk, world):
    narrow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    creds = deployer(mk, world, "sts").assume_role(RoleArn=world["role"], RoleSessionName="narrow",
                                                    Policy=json.dumps(narrow))["Credentials"]
    sqs = mk("sqs", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=world["queue"], MessageBody="hi")
    assert err(e)["Message"].endswith("because no session policy allows the sqs:SendMessage action")


def test_explicit_deny_and_mfa_required(mk, world):
    iam = mk("iam")
    iam.create_user(UserName="mfa-user")
    key = iam.create_access_key(UserName="mfa-user")["AccessKey"]
    iam.put_user_policy(UserName="mfa-user", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["iam:*", "sts:GetSessionToken"], "Resource": "*",
             "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}))
    s3 = mk("s3", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert err(e)["Message"].endswith("with an explicit deny in an identity-based policy")
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName="mfa-user")["VirtualMFADevice"]
    seed = dev["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    now = time.time()
    iam.enable_mfa_device(UserName="mfa-user", SerialNumber=dev["SerialNumber"],
                          AuthenticationCode1=totp(seed, now - 30), AuthenticationCode2=totp(seed, now))
    sts = mk("sts", key["AccessKeyId"], key["SecretAccessKey"])
    wrong = "000000" if totp(seed, now) != "000000" else "111111"
    with pytest.raises(ClientError) as e:
        sts.get_session_token(SerialNumber=dev["SerialNumber"], TokenCode=wrong)
    assert err(e)["Code"] == "AccessDenied"
    creds = sts.get_session_token(SerialNumber=dev["SerialNumber"], TokenCode=totp(seed, time.time()))["Credentials"]
    s3 = mk("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "Buckets" in s3.list_buckets()


def test_unknown_keys_and_bad_signatures_are_refused(mk, world):
    with pytest.raises(ClientError) as e:
        mk("sqs", "AKIAUNKNOWNUNKNOWN00", "whatever").list_queues()
    assert err(e)["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:
        mk("sqs", "test", "wrong-secret").list_queues()
    assert err(e)["Code"] in ("SignatureDoesNotMatch", "InvalidSignatureException")
    # The configured root pair is the default account's root.
    assert mk("sts", "AKIAROOTROOTROOT0000", "root-secret").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(ClientError) as e:
        mk("sts", "AKIAROOTROOTROOT0000", "test").get_caller_identity()
    assert err(e)["Code"] in ("SignatureDoesNotMatch", "InvalidSignatureException")
    # A 12-digit key id is that account's root.
    assert mk("sts", "111111111111", "test").get_caller_identity()["Arn"] == "arn:aws:iam::111111111111:root"
    mk("sqs", "111111111111", "test").list_queues()


def test_deactivated_key_stops_working(mk, world):
    iam = mk("iam")
    iam.create_user(UserName="temp")
    key = iam.create_access_key(UserName="temp")["AccessKey"]
    sts = mk("sts", key["AccessKeyId"], key["SecretAccessKey"])
    sts.get_caller_identity()
    iam.update_access_key(UserName="temp", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert err(e)["Code"] == "InvalidClientTokenId"


def test_federated_users_and_service_condition_keys(mk, world):
    iam = mk("iam")
    iam.create_user(UserName="broker")
    key = iam.create_access_key(UserName="broker")["AccessKey"]
    iam.put_user_policy(UserName="broker", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:GetFederationToken", "sqs:ListQueues"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::app-static-assets",
             "Condition": {"StringLike": {"s3:prefix": ["public/*"]}}}]}))
    s3 = mk("s3", key["AccessKeyId"], key["SecretAccessKey"])
    assert s3.list_objects_v2(Bucket="app-static-assets", Prefix="public/")["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="app-static-assets", Prefix="private/")
    assert err(e)["Code"] == "AccessDenied"
    only_sqs = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    creds = mk("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_federation_token(
        Name="guest", Policy=json.dumps(only_sqs))["Credentials"]
    fed = lambda svc: mk(svc, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "QueueUrls" in fed("sqs").list_queues()
    with pytest.raises(ClientError) as e:
        fed("s3").list_objects_v2(Bucket="app-static-assets", Prefix="public/")
    assert err(e)["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:  # the session policy allows it, the user does not
        fed("sqs").create_queue(QueueName="nope")
    assert err(e)["Message"].endswith("because no identity-based policy allows the sqs:CreateQueue action")


def test_queue_policy_grants_what_identity_policies_do_not(mk, world):
    sqs = mk("sqs")
    url = sqs.create_queue(QueueName="shared-queue")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:shared-queue"
    task_sqs = task(mk, world, "sqs")
    with pytest.raises(ClientError) as e:
        task_sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert err(e)["Code"] == "AccessDenied"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ecs-task"},
             "Action": "sqs:SendMessage", "Resource": arn}]})})
    assert task_sqs.send_message(QueueUrl=url, MessageBody="hi")["MessageId"]
    with pytest.raises(ClientError) as e:  # the queue policy grants SendMessage only
        task_sqs.receive_message(QueueUrl=url)
    assert err(e)["Message"].endswith("because no identity-based policy allows the sqs:ReceiveMessage action")


def test_service_last_accessed_details_come_from_recorded_calls(mk, world):
    task(mk, world, "ssm").get_parameter(Name="/prod/db-host")
    iam = mk("iam")
    job = iam.generate_service_last_accessed_details(Arn=world["role"])["JobId"]
    out = iam.get_service_last_accessed_details(JobId=job)
    assert out["JobStatus"] == "COMPLETED"
    by_ns = {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}
    assert set(by_ns) == {"s3", "sqs", "ssm"}
    assert by_ns["ssm"]["LastAuthenticatedEntity"] == world["role"]
    assert by_ns["ssm"]["TotalAuthenticatedEntities"] == 1
    assert "LastAuthenticated" in by_ns["ssm"]
    job = iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{ACCOUNT}:user/temp")["JobId"]
    assert iam.get_service_last_accessed_details(JobId=job)["ServicesLastAccessed"] == []
    with pytest.raises(ClientError) as e:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{ACCOUNT}:role/nope")
    assert err(e)["Code"] == "NoSuchEntity"


def test_policies_granting_service_access_and_entities(mk, world):
    iam = mk("iam")
    out = iam.list_policies_granting_service_access(Arn=world["role"], ServiceNamespaces=["sqs", "iam"])
    by_ns = {x["ServiceNamespace"]: x["Policies"] for x in out["PoliciesGrantingServiceAccess"]}
    assert [p["PolicyName"] for p in by_ns["sqs"]] == ["ecs-task-least-privilege"]
    assert by_ns["sqs"][0]["PolicyType"] == "MANAGED"
    assert by_ns["iam"] == []
    job = iam.generate_service_last_accessed_details(Arn=world["role"])["JobId"]
    ents = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="s3")["EntityDetailsList"]
    assert [e["EntityInfo"]["Name"] for e in ents] == ["ecs-task"]
    assert "LastAuthenticated" in ents[0]


def test_access_key_last_used_is_recorded(mk, world):
    iam = mk("iam")
    last = iam.get_access_key_last_used(AccessKeyId=world["key"]["AccessKeyId"])
    assert last["UserName"] == "deployer"
    assert last["AccessKeyLastUsed"]["ServiceName"] == "sts"
    assert last["AccessKeyLastUsed"]["Region"] == "us-east-1"
    iam.create_user(UserName="idle")
    idle = iam.create_access_key(UserName="idle")["AccessKey"]["AccessKeyId"]
    assert iam.get_access_key_last_used(AccessKeyId=idle)["AccessKeyLastUsed"]["ServiceName"] == "N/A"


def test_role_sessions_expire_on_the_virtual_clock(mk, world, enforced):
    creds = deployer(mk, world, "sts").assume_role(RoleArn=world["role"], RoleSessionName="short",
                                                    DurationSeconds=900)["Credentials"]
    sqs = mk("sqs", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    sqs.send_message(QueueUrl=world["queue"], MessageBody="before")
    enforced.clock(advance=901)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=world["queue"], MessageBody="after")
    assert err(e)["Code"] == "ExpiredToken"
