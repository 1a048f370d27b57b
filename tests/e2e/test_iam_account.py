"""IAM's recent account-level operations: outbound web identity federation, account
properties, Organizations root-access features (no organization), role templates, human
readable summaries, and temporary delegation requests across two accounts."""
import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PARTNER, OWNER = "111111111111", "222222222222"


@pytest.fixture
def iam(client):
    return client("iam")


def code(fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_outbound_web_identity_federation(iam):
    try:  # other modules' tests may have turned it on (the server is shared)
        iam.disable_outbound_web_identity_federation()
    except ClientError:
        pass
    assert code(iam.get_outbound_web_identity_federation_info)[0] == "FeatureDisabled"
    assert code(iam.disable_outbound_web_identity_federation)[0] == "FeatureDisabled"
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.startswith("https://") and issuer.endswith(".tokens.sts.global.api.aws")
    assert code(iam.enable_outbound_web_identity_federation)[0] == "FeatureEnabled"
    info = iam.get_outbound_web_identity_federation_info()
    assert info["IssuerIdentifier"] == issuer and info["JwtVendingEnabled"] is True
    iam.disable_outbound_web_identity_federation()
    assert code(iam.get_outbound_web_identity_federation_info)[0] == "FeatureDisabled"


def test_account_properties_and_organizations_features(iam, overcast):
    iam.put_account_properties(Properties={"color": "blue"})
    overcast.restart()
    assert iam.get_account_properties()["Properties"] == {"color": "blue"}
    for op in (iam.list_organizations_features, iam.enable_organizations_root_sessions,
               iam.disable_organizations_root_sessions, iam.enable_organizations_root_credentials_management,
               iam.disable_organizations_root_credentials_management):
        assert code(op)[0] == "OrganizationNotFoundException"
    job = iam.generate_organizations_access_report(EntityPath="o-a1b2c3d4e5/r-f6g7h8i9j0example")["JobId"]
    report = iam.get_organizations_access_report(JobId=job)
    assert report["JobStatus"] == "FAILED"
    assert report["ErrorDetails"]["Code"] == "OrganizationNotFoundException"
    assert code(iam.get_organizations_access_report, JobId="0" * 36)[0] == "NoSuchEntity"


def test_role_templates_and_summaries(iam):
    arn = "arn:aws:iam::aws:role-template/Example"
    assert code(iam.get_role_template_version, TemplateArn=arn) == ("NoSuchEntity", 404)
    assert code(iam.acquire_role, TemplateArn=arn) == ("NoSuchEntity", 404)
    pol = iam.create_policy(PolicyName="summary-me", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": "*"}]}))["Policy"]["Arn"]
    out = iam.get_human_readable_summary(EntityArn=pol)
    assert out["SummaryState"] == "AVAILABLE"
    assert "Allows s3:GetObject on arn:aws:s3:::b/*" in out["SummaryContent"]
    assert "Denies s3:DeleteObject on *" in out["SummaryContent"]
    assert code(iam.get_human_readable_summary, EntityArn="arn:aws:iam::000000000000:role/nope")[0] == "NoSuchEntity"


def test_delegation_requests_between_accounts(client, overcast):
    partner = client("iam", aws_access_key_id=PARTNER, aws_secret_access_key="x")
    owner = client("iam", aws_access_key_id=OWNER, aws_secret_access_key="x")
    stranger = client("iam", aws_access_key_id="333333333333", aws_secret_access_key="x")
    base = dict(Description="Deploy our agent", Permissions={"PolicyTemplateArn": "arn:aws:iam::aws:policy-template/X"},
                RequestorWorkflowId="workflow-1", NotificationChannel=f"arn:aws:sns:us-east-1:{PARTNER}:partner")
    unchecked = client("iam", aws_access_key_id=PARTNER, aws_secret_access_key="x",
                       config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert code(unchecked.create_delegation_request, SessionDuration=60, **base) == ("ValidationError", 400)
    rid = partner.create_delegation_request(OwnerAccountId=OWNER, SessionDuration=3600, **base)["DelegationRequestId"]
    r = owner.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]
    assert (r["State"], r["RequestorId"]) == ("UNASSIGNED", f"arn:aws:iam::{PARTNER}:root")
    assert code(stranger.get_delegation_request, DelegationRequestId=rid)[0] == "NoSuchEntity"
    assert code(owner.accept_delegation_request, DelegationRequestId=rid)[0] == "InvalidInput"  # not associated
    owner.associate_delegation_request(DelegationRequestId=rid)
    assert code(partner.accept_delegation_request, DelegationRequestId=rid)[0] == "InvalidInput"  # not the owner
    assert code(partner.send_delegation_token, DelegationRequestId=rid)[0] == "InvalidInput"  # not accepted
    owner.update_delegation_request(DelegationRequestId=rid, Notes="looks fine")
    owner.accept_delegation_request(DelegationRequestId=rid)
    overcast.kill9()
    r = partner.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]
    assert (r["State"], r["Notes"], r["ApproverId"]) == ("ACCEPTED", "looks fine", f"arn:aws:iam::{OWNER}:root")
    partner.send_delegation_token(DelegationRequestId=rid)
    assert owner.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["State"] == "FINALIZED"
    assert [x["DelegationRequestId"] for x in owner.list_delegation_requests()["DelegationRequests"]] == [rid]
    assert stranger.list_delegation_requests()["DelegationRequests"] == []
    rid2 = partner.create_delegation_request(SessionDuration=900, **base)["DelegationRequestId"]
    owner.associate_delegation_request(DelegationRequestId=rid2)
    owner.reject_delegation_request(DelegationRequestId=rid2, Notes="no thanks")
    r = partner.get_delegation_request(DelegationRequestId=rid2)["DelegationRequest"]
    assert (r["State"], r["RejectionReason"]) == ("REJECTED", "no thanks")
    assert code(owner.get_delegation_request, DelegationRequestId="dr-missingmissing0000")[0] == "NoSuchEntity"
