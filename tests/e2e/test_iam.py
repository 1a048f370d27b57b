"""IAM end to end: entities, policies and versions, keys that sign at once, MFA with real
TOTP codes, the credential report, simulation, trust policies in STS, and durability."""
import base64
import hashlib
import hmac
import json
import struct
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import AwsCliError

ACCOUNT = "000000000000"
S3_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::app-static-assets/*"}]}
TRUST_ECS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code(err):
    return err.value.response["Error"]["Code"]


def totp(seed_b32, t):
    key = base64.b32decode(seed_b32)
    h = hmac.new(key, struct.pack(">Q", int(t // 30)), hashlib.sha1).digest()
    o = h[19] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def test_users_groups_membership_and_errors(client):
    iam = client("iam")
    u, g = name("user"), name("group")
    out = iam.create_user(UserName=u, Path="/eng/", Tags=[{"Key": "team", "Value": "red"}])["User"]
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/{u}"
    assert out["UserId"].startswith("AIDA") and len(out["UserId"]) == 21
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=u.upper())
    assert code(e) == "EntityAlreadyExists"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="nobody-" + u)
    assert code(e) == "NoSuchEntity"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad name!")
    assert code(e) == "ValidationError"
    assert iam.get_user(UserName=u)["User"]["Tags"] == [{"Key": "team", "Value": "red"}]
    iam.create_group(GroupName=g)
    iam.add_user_to_group(GroupName=g, UserName=u)
    got = iam.get_group(GroupName=g)
    assert [x["UserName"] for x in got["Users"]] == [u]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g]
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=g)
    assert code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=u)
    assert code(e) == "DeleteConflict"
    iam.remove_user_from_group(GroupName=g, UserName=u)
    iam.delete_group(GroupName=g)
    assert u in [x["UserName"] for x in iam.list_users(PathPrefix="/eng/")["Users"]]
    iam.tag_user(UserName=u, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_user(UserName=u, TagKeys=["team"])
    assert iam.list_user_tags(UserName=u)["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.delete_user(UserName=u)


def test_managed_policies_versions_and_attachments(client):
    iam = client("iam")
    p, r = name("pol"), name("role")
    arn = iam.create_policy(PolicyName=p, PolicyDocument=json.dumps(S3_READ), Description="d")["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{p}"
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName=p, PolicyDocument=json.dumps(S3_READ))
    assert code(e) == "EntityAlreadyExists"
    for n in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_READ), SetAsDefault=(n == 4))
        assert v["PolicyVersion"]["VersionId"] == f"v{n}"
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_READ))
    assert code(e) == "LimitExceeded"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v4"
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert doc == S3_READ  # boto3 URL-decodes and parses IAM policy documents
    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v4")
    assert code(e) == "DeleteConflict"
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=json.dumps(TRUST_ECS), MaxSessionDuration=7200)
    assert iam.get_role(RoleName=r)["Role"]["AssumeRolePolicyDocument"] == TRUST_ECS
    iam.attach_role_policy(RoleName=r, PolicyArn=arn)
    iam.attach_role_policy(RoleName=r, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    attached = iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]
    assert {a["PolicyArn"] for a in attached} == {arn, "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    assert [x["RoleName"] for x in ents["PolicyRoles"]] == [r]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName=r, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nope")
    assert code(e) == "NoSuchEntity"
    iam.put_role_policy(RoleName=r, PolicyName="inline", PolicyDocument=json.dumps(S3_READ))
    assert iam.get_role_policy(RoleName=r, PolicyName="inline")["PolicyDocument"] == S3_READ
    assert iam.list_role_policies(RoleName=r)["PolicyNames"] == ["inline"]
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    mine = [d for d in details if d["RoleName"] == r][0]
    assert mine["RolePolicyList"][0]["PolicyDocument"] == S3_READ
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=r)
    assert code(e) == "DeleteConflict"
    iam.delete_role_policy(RoleName=r, PolicyName="inline")
    iam.detach_role_policy(RoleName=r, PolicyArn=arn)
    iam.detach_role_policy(RoleName=r, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_role(RoleName=r)
    for v in ["v1", "v2", "v3", "v5"]:
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)


@pytest.mark.parametrize("doc,message", [
    ("not json", "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]},
     "Policy statement must contain resources."),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]},
     "Policy statement must contain actions."),
    ({"Version": "2012-10-17", "Statement": [{"Action": "s3:*", "Resource": "*"}]},
     "Missing required field Effect"),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]},
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
])
def test_malformed_policy_documents(client, doc, message):
    iam = client("iam")
    body = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName=name("bad"), PolicyDocument=body)
    assert code(e) == "MalformedPolicyDocument"
    assert e.value.response["Error"]["Message"] == message


def test_trust_policy_must_name_a_principal(client):
    with pytest.raises(ClientError) as e:
        client("iam").create_role(RoleName=name("r"), AssumeRolePolicyDocument=json.dumps(S3_READ))
    assert code(e) == "MalformedPolicyDocument"


def test_access_keys_sign_requests_immediately(client):
    iam = client("iam")
    u = name("keyuser")
    iam.create_user(UserName=u)
    key = iam.create_access_key(UserName=u)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    sts = client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{u}"
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    iam.create_access_key(UserName=u)
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=u)
    assert code(e) == "LimitExceeded"
    iam.update_user(UserName=u, NewUserName=u + "-renamed")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{u}-renamed"


def test_virtual_mfa_requires_real_totp_codes(client):
    iam = client("iam")
    u = name("mfauser")
    iam.create_user(UserName=u)
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=u)["VirtualMFADevice"]
    seed = dev["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    with pytest.raises(ClientError) as e:
        iam.enable_mfa_device(UserName=u, SerialNumber=dev["SerialNumber"],
                              AuthenticationCode1="123456", AuthenticationCode2="654321")
    assert code(e) == "InvalidAuthenticationCode"
    now = time.time()
    iam.enable_mfa_device(UserName=u, SerialNumber=dev["SerialNumber"],
                          AuthenticationCode1=totp(seed, now - 30), AuthenticationCode2=totp(seed, now))
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=u)["MFADevices"]] == [dev["SerialNumber"]]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert dev["SerialNumber"] in [d["SerialNumber"] for d in assigned]


def test_credential_report_is_csv(client):
    iam = client("iam")
    u = name("report")
    iam.create_user(UserName=u)
    iam.create_login_profile(UserName=u, Password="Passw0rd!long")
    iam.create_access_key(UserName=u)
    iam.generate_credential_report()
    rep = iam.get_credential_report()
    assert rep["ReportFormat"] == "text/csv"
    lines = rep["Content"].decode().splitlines()
    assert lines[0].startswith("user,arn,user_creation_time,password_enabled")
    row = [ln for ln in lines if ln.startswith(u + ",")][0].split(",")
    assert row[3] == "true" and row[8] == "true"


def test_password_policy_alias_and_summary(client, aws):
    iam = client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireNumbers=True)
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 12
    u = name("pw")
    iam.create_user(UserName=u)
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=u, Password="short")
    assert code(e) == "PasswordPolicyViolation"
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert code(e) == "NoSuchEntity"
    aws("iam", "create-account-alias", "--account-alias", "overcast-test")
    assert aws("iam", "list-account-aliases")["AccountAliases"] == ["overcast-test"]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] >= 1 and summary["VersionsPerPolicyQuota"] == 5


def test_instance_profiles_and_service_linked_roles(client):
    iam = client("iam")
    r, ip = name("r"), name("ip")
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=json.dumps(TRUST_ECS))
    iam.create_instance_profile(InstanceProfileName=ip)
    iam.add_role_to_instance_profile(InstanceProfileName=ip, RoleName=r)
    got = iam.get_instance_profile(InstanceProfileName=ip)["InstanceProfile"]
    assert [x["RoleName"] for x in got["Roles"]] == [r]
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName=ip, RoleName=r)
    assert code(e) == "LimitExceeded"
    slr = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    assert slr["RoleName"] == "AWSServiceRoleForECS"
    assert slr["Path"] == "/aws-service-role/ecs.amazonaws.com/"
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="AWSServiceRoleForECS")
    assert code(e) == "UnmodifiableEntity"
    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForECS")["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_simulate_principal_and_custom_policy(client):
    iam = client("iam")
    u = name("sim")
    iam.create_user(UserName=u)
    iam.put_user_policy(UserName=u, PolicyName="s3", PolicyDocument=json.dumps(S3_READ))
    iam.put_user_policy(UserName=u, PolicyName="deny", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-static-assets/secret/*"}]}))
    res = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{u}", ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::app-static-assets/logo.png", "arn:aws:s3:::app-static-assets/secret/k"])["EvaluationResults"]
    decisions = {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in res}
    assert decisions == {
        ("s3:GetObject", "arn:aws:s3:::app-static-assets/logo.png"): "allowed",
        ("s3:GetObject", "arn:aws:s3:::app-static-assets/secret/k"): "explicitDeny",
        ("s3:PutObject", "arn:aws:s3:::app-static-assets/logo.png"): "implicitDeny",
        ("s3:PutObject", "arn:aws:s3:::app-static-assets/secret/k"): "implicitDeny",
    }
    allowed = [r for r in res if r["EvalDecision"] == "allowed"][0]
    assert allowed["MatchedStatements"][0]["SourcePolicyId"] == "s3"
    mfa = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
                                                  "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
    out = iam.simulate_custom_policy(PolicyInputList=[json.dumps(mfa)], ActionNames=["ec2:StopInstances"],
                                     ContextEntries=[{"ContextKeyName": "aws:MultiFactorAuthPresent",
                                                      "ContextKeyValues": ["true"], "ContextKeyType": "boolean"}])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    out = iam.simulate_custom_policy(PolicyInputList=[json.dumps(mfa)], ActionNames=["ec2:StopInstances"])
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"


def test_assume_role_evaluates_the_trust_policy(client):
    iam, sts = client("iam"), client("sts")
    r = name("trusting")
    trust_account = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "xyz"}}}]}
    arn = iam.create_role(RoleName=r, AssumeRolePolicyDocument=json.dumps(trust_account), MaxSessionDuration=7200)["Role"]["Arn"]
    role_id = iam.get_role(RoleName=r)["Role"]["RoleId"]
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1")
    assert code(e) == "AccessDenied"
    out = sts.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="xyz", DurationSeconds=7200)
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:s1"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="xyz", DurationSeconds=7201)
    assert code(e) == "ValidationError"
    # A role only ECS tasks may assume is not assumable by the account's root.
    ecs = name("ecs")
    ecs_arn = iam.create_role(RoleName=ecs, AssumeRolePolicyDocument=json.dumps(TRUST_ECS))["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=ecs_arn, RoleSessionName="s1")
    assert code(e) == "AccessDenied"


def test_cli_round_trip(aws, tmp_path):
    u = name("cli")
    aws("iam", "create-user", "--user-name", u)
    f = tmp_path / "p.json"
    f.write_text(json.dumps(S3_READ))
    aws("iam", "put-user-policy", "--user-name", u, "--policy-name", "p", "--policy-document", f"file://{f}")
    got = aws("iam", "get-user-policy", "--user-name", u, "--policy-name", "p")
    assert got["PolicyDocument"] == S3_READ
    with pytest.raises(AwsCliError) as e:
        aws("iam", "get-role", "--role-name", "missing-" + u)
    assert e.value.code == "NoSuchEntity"


def test_state_survives_restart_and_kill9(client, overcast):
    iam = client("iam")
    u, p = name("durable"), name("dpol")
    iam.create_user(UserName=u)
    arn = iam.create_policy(PolicyName=p, PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=u, PolicyArn=arn)
    key = iam.create_access_key(UserName=u)["AccessKey"]
    overcast.kill9()
    iam = client("iam")
    assert iam.get_user(UserName=u)["User"]["UserName"] == u
    assert [a["PolicyArn"] for a in iam.list_attached_user_policies(UserName=u)["AttachedPolicies"]] == [arn]
    sts = client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{u}")
    overcast.restart()
    assert client("iam").get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1


def test_oidc_provider_for_irsa_and_context_keys(client):
    iam = client("iam")
    host = f"oidc.eks.us-east-1.amazonaws.com/id/{uuid.uuid4().hex.upper()}"
    arn = iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"],
                                              ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    assert code(e) == "EntityAlreadyExists"
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="my-app")
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host and got["ClientIDList"] == ["sts.amazonaws.com", "my-app"]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert code(e) == "NoSuchEntity"
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {
        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringLike": {"s3:prefix": ["home/*"]}}}]}
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[json.dumps(doc)])["ContextKeyNames"]
    assert keys == ["aws:SourceIp", "s3:prefix"]


def _ssh_key():
    def field(b):
        return struct.pack(">I", len(b)) + b
    blob = field(b"ssh-rsa") + field(b"\x01\x00\x01") + field(b"\x00" + bytes(range(1, 129)))
    return "ssh-rsa " + base64.b64encode(blob).decode() + " user@host"


SSH_KEY = _ssh_key()


def test_ssh_keys_and_server_certificates(client):
    iam = client("iam")
    u = name("ssh")
    iam.create_user(UserName=u)
    key = iam.upload_ssh_public_key(UserName=u, SSHPublicKeyBody=SSH_KEY)["SSHPublicKey"]
    assert key["SSHPublicKeyId"].startswith("APKA") and key["Status"] == "Active"
    assert len(key["Fingerprint"].split(":")) == 16
    iam.update_ssh_public_key(UserName=u, SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive")
    got = iam.get_ssh_public_key(UserName=u, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH")["SSHPublicKey"]
    assert got["Status"] == "Inactive" and got["SSHPublicKeyBody"] == SSH_KEY
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName=u, SSHPublicKeyBody="not a key")
    assert code(e) == "InvalidInput"
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    c = name("cert")
    meta = iam.upload_server_certificate(ServerCertificateName=c, CertificateBody=pem,
                                         PrivateKey="-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----")["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{ACCOUNT}:server-certificate/{c}"
    assert iam.get_server_certificate(ServerCertificateName=c)["ServerCertificate"]["CertificateBody"] == pem
    iam.tag_server_certificate(ServerCertificateName=c, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_server_certificate_tags(ServerCertificateName=c)["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.delete_server_certificate(ServerCertificateName=c)
    with pytest.raises(ClientError) as e:
        iam.get_server_certificate(ServerCertificateName=c)
    assert code(e) == "NoSuchEntity"


def test_service_specific_credentials(client):
    iam = client("iam")
    u = name("codecommit")
    iam.create_user(UserName=u)
    c = iam.create_service_specific_credential(UserName=u, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    assert c["ServiceUserName"].startswith(u + "-at-") and c["ServicePassword"]
    listed = iam.list_service_specific_credentials(UserName=u)["ServiceSpecificCredentials"]
    assert [x["ServiceSpecificCredentialId"] for x in listed] == [c["ServiceSpecificCredentialId"]]
    assert "ServicePassword" not in listed[0]
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=u)
    assert code(e) == "DeleteConflict"
    reset = iam.reset_service_specific_credential(UserName=u, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != c["ServicePassword"]
    iam.delete_service_specific_credential(UserName=u, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    with pytest.raises(ClientError) as e:
        iam.create_service_specific_credential(UserName=u, ServiceName="s3.amazonaws.com")
    assert code(e) == "NotSupportedService"
    iam.delete_user(UserName=u)


def test_deleting_a_provider_of_the_other_kind_is_no_such_entity(client):
    """DeleteSAMLProvider with an OIDC provider's ARN (and the reverse) deletes nothing."""
    iam = client("iam")
    oidc = iam.create_open_id_connect_provider(
        Url=f"https://{name('idp')}.example.com", ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    saml = iam.create_saml_provider(
        Name=name("saml"), SAMLMetadataDocument="<EntityDescriptor>" + "x" * 1000 + "</EntityDescriptor>")["SAMLProviderArn"]
    with pytest.raises(ClientError) as e:
        iam.delete_saml_provider(SAMLProviderArn=oidc)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=saml)
    assert code(e) == "NoSuchEntity"
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)["ThumbprintList"] == ["a" * 40]
    assert "SAMLMetadataDocument" in iam.get_saml_provider(SAMLProviderArn=saml)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc)
    iam.delete_saml_provider(SAMLProviderArn=saml)


def test_identity_providers_survive_restart_and_kill9(client, overcast):
    iam = client("iam")
    oidc = iam.create_open_id_connect_provider(
        Url=f"https://{name('idp')}.example.com", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["b" * 40])["OpenIDConnectProviderArn"]
    saml = iam.create_saml_provider(
        Name=name("saml"), SAMLMetadataDocument="<EntityDescriptor>" + "y" * 1000 + "</EntityDescriptor>")["SAMLProviderArn"]
    overcast.restart()
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)["ClientIDList"] == ["sts.amazonaws.com"]
    overcast.kill9()
    assert saml in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    assert oidc in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc)
    iam.delete_saml_provider(SAMLProviderArn=saml)
