"""Secrets Manager end to end: secrets encrypted through KMS, versions and AWS's exact
AWSCURRENT/AWSPENDING/AWSPREVIOUS movements, deletion windows and restore, listing with filters,
sort and pagination, binary secrets, random passwords, batch reads, resource policies, tags,
replication, rotation through a Lambda (skipped while Lambda answers NotImplemented), the
guides' Python helper verbatim, persistence, and the exact error codes."""
import base64
import io
import json
import logging
import os
import uuid
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sm(client):
    return client("secretsmanager")


@pytest.fixture
def kms(client):
    return client("kms")


@pytest.fixture
def name():
    return f"app/{uuid.uuid4().hex[:10]}/db"


@pytest.fixture(autouse=True)
def real_time_after(overcast):
    """Tests here move the virtual clock; put it back so later test files see real time."""
    yield
    import time
    overcast.clock(set=time.time())


def expect(code, fn, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response["Error"]
    return e.value.response


def stages(sm, sid):
    return sm.describe_secret(SecretId=sid)["VersionIdsToStages"]


def test_create_get_describe(sm, kms, name):
    out = sm.create_secret(Name=name, SecretString='{"user":"admin"}', Description="db",
                           Tags=[{"Key": "env", "Value": "prod"}])
    assert out["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-")
    assert len(out["ARN"]) == len(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-") + 6
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == '{"user":"admin"}'
    assert got["VersionStages"] == ["AWSCURRENT"] and got["VersionId"] == out["VersionId"]
    assert sm.get_secret_value(SecretId=out["ARN"])["Name"] == name
    # A partial ARN (without the random suffix) also names the secret.
    partial = out["ARN"][:-7]
    assert sm.get_secret_value(SecretId=partial)["ARN"] == out["ARN"]
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "db" and d["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "KmsKeyId" not in d
    assert d["VersionIdsToStages"] == {out["VersionId"]: ["AWSCURRENT"]}
    # The default key is the AWS-managed alias/aws/secretsmanager, made on first use.
    assert kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyManager"] == "AWS"
    expect("ResourceExistsException", sm.create_secret, Name=name, SecretString="x")
    expect("ResourceNotFoundException", sm.get_secret_value, SecretId="nope/never")
    expect("InvalidParameterException", sm.create_secret, Name=name + "2", SecretString="x",
           SecretBinary=b"y")


def test_version_stage_movements(sm, name):
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")
    assert v2["VersionStages"] == ["AWSCURRENT"]
    v2 = v2["VersionId"]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    tok = str(uuid.uuid4())
    p = sm.put_secret_value(SecretId=name, SecretString="three", ClientRequestToken=tok,
                            VersionStages=["AWSPENDING"])
    assert p["VersionId"] == tok
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], tok: ["AWSPENDING"]}
    # Idempotent retry with the same token and value; a different value conflicts.
    again = sm.put_secret_value(SecretId=name, SecretString="three", ClientRequestToken=tok,
                                VersionStages=["AWSPENDING"])
    assert again["VersionId"] == tok
    expect("ResourceExistsException", sm.put_secret_value, SecretId=name, SecretString="other",
           ClientRequestToken=tok)
    # Moving AWSCURRENT requires naming where it is; it leaves AWSPREVIOUS behind.
    expect("InvalidParameterException", sm.update_secret_version_stage, SecretId=name,
           VersionStage="AWSCURRENT", MoveToVersionId=tok)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=tok,
                                   RemoveFromVersionId=v2)
    assert stages(sm, name) == {v2: ["AWSPREVIOUS"], tok: ["AWSPENDING", "AWSCURRENT"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=tok)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    expect("InvalidParameterException", sm.update_secret_version_stage, SecretId=name,
           VersionStage="AWSCURRENT", RemoveFromVersionId=tok)
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in listed} == {v2, tok}
    deprecated = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in deprecated} == {v1, v2, tok}
    expect("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionId=str(uuid.uuid4()))
    expect("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionStage="NOPE")


def test_update_secret_binary_and_custom_key(sm, kms, name):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01binary", KmsKeyId=key)
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\x00\x01binary"
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key
    out = sm.update_secret(SecretId=name, SecretString="now a string", Description="changed")
    assert out["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now a string"
    assert sm.describe_secret(SecretId=name)["Description"] == "changed"
    out = sm.update_secret(SecretId=name, Description="only metadata")
    assert "VersionId" not in out
    # A disabled KMS key surfaces as AWS's encryption/decryption failures.
    kms.disable_key(KeyId=key)
    expect("DecryptionFailure", sm.get_secret_value, SecretId=name)
    expect("EncryptionFailure", sm.put_secret_value, SecretId=name, SecretString="x")
    kms.enable_key(KeyId=key)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now a string"
    expect("ResourceNotFoundException", sm.create_secret, Name=name + "-x", SecretString="v",
           KmsKeyId="alias/missing-key")
    # Changing the key re-encrypts the labelled versions: the old key can go.
    key2 = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.update_secret(SecretId=name, KmsKeyId=key2)
    kms.disable_key(KeyId=key)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now a string"
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key2


def test_delete_restore_and_force(sm, overcast, name):
    sm.create_secret(Name=name, SecretString="v")
    expect("InvalidParameterException", sm.delete_secret, SecretId=name, RecoveryWindowInDays=7,
           ForceDeleteWithoutRecovery=True)
    out = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert out["DeletionDate"]
    expect("InvalidRequestException", sm.get_secret_value, SecretId=name)
    expect("InvalidRequestException", sm.create_secret, Name=name, SecretString="v")
    assert sm.describe_secret(SecretId=name)["DeletedDate"]
    assert name not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert name in [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    overcast.clock(advance=8 * 86400)
    expect("ResourceNotFoundException", sm.describe_secret, SecretId=name)
    sm.create_secret(Name=name, SecretString="again")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    expect("ResourceNotFoundException", sm.describe_secret, SecretId=name)


def test_list_filters_sort_pagination(sm):
    prefix = f"list{uuid.uuid4().hex[:8]}"
    for i in range(5):
        sm.create_secret(Name=f"{prefix}/s{i}", SecretString="v", Description=f"desc {i}",
                         Tags=[{"Key": "idx", "Value": str(i)}])
    names = []
    for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 2}):
        assert len(page["SecretList"]) <= 2
        names += [s["Name"] for s in page["SecretList"]]
    assert names == [f"{prefix}/s{i}" for i in range(5)]
    desc = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}], SortBy="name", SortOrder="desc")
    assert [s["Name"] for s in desc["SecretList"]] == [f"{prefix}/s{i}" for i in reversed(range(5))]
    tagged = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]},
                                      {"Key": "tag-value", "Values": ["3"]}])
    assert [s["Name"] for s in tagged["SecretList"]] == [f"{prefix}/s3"]
    negated = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]},
                                       {"Key": "tag-value", "Values": ["!3"]}])
    assert len(negated["SecretList"]) == 4
    assert sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"][0]["SecretVersionsToStages"]
    expect("InvalidNextTokenException", sm.list_secrets, NextToken="bogus")


def test_batch_get_secret_value(sm):
    prefix = f"batch{uuid.uuid4().hex[:8]}"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}/{i}", SecretString=f"v{i}")
    out = sm.batch_get_secret_value(SecretIdList=[f"{prefix}/0", f"{prefix}/2", f"{prefix}/missing"])
    assert [v["SecretString"] for v in out["SecretValues"]] == ["v0", "v2"]
    assert out["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"
    assert out["Errors"][0]["SecretId"] == f"{prefix}/missing"
    page = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}], MaxResults=2)
    assert len(page["SecretValues"]) == 2 and page["NextToken"]
    rest = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}], MaxResults=2,
                                     NextToken=page["NextToken"])
    assert [v["SecretString"] for v in rest["SecretValues"]] == ["v2"]
    expect("InvalidParameterException", sm.batch_get_secret_value, SecretIdList=[f"{prefix}/0"],
           Filters=[{"Key": "name", "Values": [prefix]}])


def test_random_password(sm):
    p = sm.get_random_password()["RandomPassword"]
    assert len(p) == 32
    p = sm.get_random_password(PasswordLength=64, ExcludePunctuation=True, ExcludeUppercase=True,
                               ExcludeCharacters="abcdef", IncludeSpace=True,
                               RequireEachIncludedType=True)["RandomPassword"]
    assert len(p) == 64
    assert all(c.islower() or c.isdigit() or c == " " for c in p)
    assert not set("abcdef") & set(p) and " " in p
    expect("InvalidParameterException", sm.get_random_password, ExcludeNumbers=True,
           ExcludePunctuation=True, ExcludeUppercase=True, ExcludeLowercase=True)


def test_resource_policies_and_tags(sm, name):
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    private = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
               "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    assert sm.get_resource_policy(SecretId=name).get("ResourcePolicy") is None
    sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(private))
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == private
    expect("PublicPolicyException", sm.put_resource_policy, SecretId=name,
           ResourcePolicy=json.dumps(public), BlockPublicPolicy=True)
    expect("MalformedPolicyDocumentException", sm.put_resource_policy, SecretId=name,
           ResourcePolicy="not json")
    v = sm.validate_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(public))
    assert v["PolicyValidationPassed"] is False
    assert v["ValidationErrors"][0]["CheckName"] == "PUBLIC_ACCESS_CHECK"
    assert sm.validate_resource_policy(ResourcePolicy=json.dumps(private))["PolicyValidationPassed"] is True
    assert sm.list_resource_policies(SecretId=name)["ResourcePolicies"] == [{"PolicyName": "default"}]
    expect("InvalidParameterException", sm.put_resource_policy, SecretId=name,
           ResourcePolicy=json.dumps(private), PolicyName="other")
    sm.delete_resource_policy(SecretId=name)
    assert sm.get_resource_policy(SecretId=name).get("ResourcePolicy") is None
    assert sm.list_resource_policies(SecretId=name)["ResourcePolicies"] == []
    sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sm.untag_resource(SecretId=name, TagKeys=["a"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_replication(sm, client, name):
    west = client("secretsmanager", region_name="us-west-2")
    sm.create_secret(Name=name, SecretString="replicated")
    out = sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "us-west-2"}])
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert west.get_secret_value(SecretId=name)["SecretString"] == "replicated"
    assert west.describe_secret(SecretId=name)["PrimaryRegion"] == "us-east-1"
    sm.put_secret_value(SecretId=name, SecretString="updated")
    assert west.get_secret_value(SecretId=name)["SecretString"] == "updated"
    expect("InvalidRequestException", west.put_secret_value, SecretId=name, SecretString="x")
    west.stop_replication_to_replica(SecretId=name)
    assert "PrimaryRegion" not in west.describe_secret(SecretId=name)
    west.put_secret_value(SecretId=name, SecretString="standalone")
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "eu-west-1"}])
    eu = client("secretsmanager", region_name="eu-west-1")
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "updated"
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["eu-west-1"])
    expect("ResourceNotFoundException", eu.get_secret_value, SecretId=name)


def test_guide_get_secret_helper(sm, overcast, monkeypatch):
    sm.create_secret(Name="prod/db/password", SecretString=json.dumps({"password": "s3cret"})) \
        if "prod/db/password" not in [s["Name"] for s in sm.list_secrets()["SecretList"]] else None
    monkeypatch.setenv("AWS_ENDPOINT_URL", overcast.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    logger = logging.getLogger("guide")

    # --- verbatim from the guide ---
    def get_secret(secret_name):
        """Get secret from AWS Secrets Manager"""
        client = boto3.client('secretsmanager')

        try:
            response = client.get_secret_value(SecretId=secret_name)
            return json.loads(response['SecretString'])
        except ClientError as e:
            logger.error(f"Failed to get secret: {e}")
            raise

    DB_PASSWORD = get_secret('prod/db/password')
    # --- end of guide code ---
    assert DB_PASSWORD == {"password": "s3cret"}
    with pytest.raises(ClientError):
        get_secret("prod/db/missing")


def test_cli_round_trip(aws, name):
    out = aws("secretsmanager", "create-secret", "--name", name, "--secret-string", '{"k":"v"}')
    got = aws("secretsmanager", "get-secret-value", "--secret-id", out["ARN"])
    assert json.loads(got["SecretString"]) == {"k": "v"}
    try:
        aws("secretsmanager", "describe-secret", "--secret-id", "missing/secret")
        raise AssertionError("expected an error")
    except Exception as e:  # AwsCliError
        assert getattr(e, "code", None) == "ResourceNotFoundException"


ROTATION_CODE = '''
import os, boto3
def handler(event, context):
    sm = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step == "createSecret":
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString="rotated-" + token[:8],
                                VersionStages=["AWSPENDING"])
    elif step == "finishSecret":
        meta = sm.describe_secret(SecretId=arn)
        current = [v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s][0]
        if current != token:
            sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                           MoveToVersionId=token, RemoveFromVersionId=current)
'''


def test_rotation_with_lambda(sm, client, name, overcast):
    v1 = sm.create_secret(Name=name, SecretString="original")["VersionId"]
    lam = client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", ROTATION_CODE)
    try:
        fn = lam.create_function(FunctionName=f"rot-{uuid.uuid4().hex[:8]}", Runtime="python3.12",
                                 Role="arn:aws:iam::000000000000:role/rot", Handler="index.handler",
                                 Code={"ZipFile": buf.getvalue()},
                                 Environment={"Variables": {"AWS_ENDPOINT_URL": overcast.url}})
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NotImplemented", "ServiceUnavailable"):
            pytest.skip("Lambda is not implemented in this build")
        raise
    try:
        out = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn["FunctionArn"],
                               RotationRules={"AutomaticallyAfterDays": 30})
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NotImplemented", "ServiceUnavailable"):
            pytest.skip("Lambda Invoke is not implemented in this build")
        raise
    new = out["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "rotated-" + new[:8]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}
    d = sm.describe_secret(SecretId=name)
    assert d["RotationEnabled"] is True and d["LastRotatedDate"] and d["NextRotationDate"]
    sm.cancel_rotate_secret(SecretId=name)
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False


def test_rotate_secret_requires_a_function_and_records_config(sm, name):
    sm.create_secret(Name=name, SecretString="v")
    expect("InvalidRequestException", sm.rotate_secret, SecretId=name)
    sm.rotate_secret(SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:rot",
                     RotationRules={"ScheduleExpression": "rate(10 days)"}, RotateImmediately=False)
    d = sm.describe_secret(SecretId=name)
    assert d["RotationEnabled"] is True
    assert d["RotationRules"]["ScheduleExpression"] == "rate(10 days)"
    assert d["RotationLambdaARN"].endswith(":function:rot") and d["NextRotationDate"]
    sm.cancel_rotate_secret(SecretId=name)
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False


def test_secrets_survive_restart_and_kill9(sm, client, overcast, name):
    v1 = sm.create_secret(Name=name, SecretString="durable-secret-value-91")["VersionId"]
    sm.put_secret_value(SecretId=name, SecretBinary=b"\xffbin")
    overcast.restart()
    sm = client("secretsmanager")
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\xffbin"
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "durable-secret-value-91"
    sm.put_secret_value(SecretId=name, SecretString="post-restart-secret-77")
    overcast.kill9()
    sm = client("secretsmanager")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "post-restart-secret-77"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretBinary"] == b"\xffbin"
    raw = b""
    for root, _, files in os.walk(overcast.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                raw += fh.read()
    assert b"post-restart-secret-77" not in raw and b"durable-secret-value-91" not in raw


def test_cross_account_replica(sm, client, name):
    other_sm = client("secretsmanager", aws_access_key_id="111111111111")
    other_kms = client("kms", aws_access_key_id="111111111111")
    primary = sm.create_secret(Name=name, SecretString="shared across accounts")["ARN"]
    key = other_kms.create_key()["KeyMetadata"]["KeyId"]
    expect("InvalidParameterException", other_sm.create_secret, Name=name + "-r",
           CrossAccountPrimaryARN=primary, SecretString="x", KmsKeyId=key)
    replica = other_sm.create_secret(Name=name + "-r", CrossAccountPrimaryARN=primary, KmsKeyId=key)["ARN"]
    assert replica.split(":")[4] == "111111111111"
    out = sm.associate_cross_account_replica(SecretId=name, CrossAccountReplicaARN=replica)
    assert out["ReplicationStatus"] == "InSync"
    assert other_sm.get_secret_value(SecretId=replica)["SecretString"] == "shared across accounts"
    sm.put_secret_value(SecretId=name, SecretString="updated for both")
    assert other_sm.get_secret_value(SecretId=replica)["SecretString"] == "updated for both"
    expect("InvalidRequestException", other_sm.put_secret_value, SecretId=replica, SecretString="x")
    d = sm.describe_secret(SecretId=name)["CrossAccountReplicas"][0]
    assert d["ReplicaSecretARN"] == replica
    assert other_sm.describe_secret(SecretId=replica)["CrossAccountPrimary"]["PrimarySecretARN"] == primary
    expect("InvalidRequestException", sm.delete_secret, SecretId=name, ForceDeleteWithoutRecovery=True)
    sm.disassociate_cross_account_replica(SecretId=name, CrossAccountReplicaARN=replica)
    assert other_sm.describe_secret(SecretId=replica)["CrossAccountPrimary"]["ReplicationStatus"] == "Detached"
    sm.put_secret_value(SecretId=name, SecretString="not replicated")
    assert other_sm.get_secret_value(SecretId=replica)["SecretString"] == "updated for both"
    other_sm.stop_replication_to_replica(SecretId=replica)
    other_sm.put_secret_value(SecretId=replica, SecretString="standalone now")
