"""STS end to end: who am I, temporary credentials that really authenticate later requests,
federation (web identity, SAML), and the exact error codes for bad input."""
import base64
import json
import subprocess
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE_ACCOUNT = "111111111111"


def role_arn(name="deployer", path="/"):
    return f"arn:aws:iam::{ROLE_ACCOUNT}:role{path}{name}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def session_client(client, service, creds):
    return client(
        service,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def lax(client):
    """A client that leaves input validation to the server."""
    return client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def jwt(claims):
    return f"{b64url({'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{b64url(claims)}.c2lnbmF0dXJl"


# --- GetCallerIdentity -------------------------------------------------------------------------

def test_caller_identity_of_default_keys_is_the_account_root(client):
    ident = client("sts").get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ident["Arn"] == "arn:aws:iam::000000000000:root"
    assert ident["UserId"] == "000000000000"


def test_twelve_digit_key_selects_that_account(client):
    ident = client("sts", aws_access_key_id="222222222222").get_caller_identity()
    assert ident["Account"] == "222222222222"
    assert ident["Arn"] == "arn:aws:iam::222222222222:root"


def test_cli_get_caller_identity(aws):
    out = aws("sts", "get-caller-identity")
    assert out["Account"] == "000000000000"
    assert out["Arn"] == "arn:aws:iam::000000000000:root"


# --- AssumeRole --------------------------------------------------------------------------------

def test_assume_role_credentials_authenticate_as_the_role(client):
    sts = client("sts")
    before = time.time()
    out = sts.assume_role(RoleArn=role_arn(path="/team/"), RoleSessionName="alice", DurationSeconds=1800)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert len(creds["SessionToken"]) > 100
    lifetime = creds["Expiration"].timestamp() - before
    assert 1790 <= lifetime <= 1810
    user = out["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/deployer/alice"
    role_id, session = user["AssumedRoleId"].split(":")
    assert role_id.startswith("AROA") and len(role_id) == 21 and session == "alice"
    assert "PackedPolicySize" not in out

    ident = session_client(client, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/deployer/alice"
    assert ident["Account"] == ROLE_ACCOUNT
    assert ident["UserId"] == user["AssumedRoleId"]

    # The role id is stable per role; another session of the same role shares it.
    again = sts.assume_role(RoleArn=role_arn(path="/team/"), RoleSessionName="bob")
    assert again["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:bob"
    other = sts.assume_role(RoleArn=role_arn("other"), RoleSessionName="bob")
    assert not other["AssumedRoleUser"]["AssumedRoleId"].startswith(role_id)


def test_assume_role_default_duration_is_one_hour(client):
    before = time.time()
    creds = client("sts").assume_role(RoleArn=role_arn(), RoleSessionName="s-default")["Credentials"]
    assert 3590 <= creds["Expiration"].timestamp() - before <= 3610


def test_assume_role_with_policy_and_tags_reports_packed_size(client):
    policy = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    out = client("sts").assume_role(
        RoleArn=role_arn(), RoleSessionName="tagged", Policy=policy,
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}],
        TransitiveTagKeys=["team"], ExternalId="ext-123", SourceIdentity="alice@example.com")
    assert 0 < out["PackedPolicySize"] <= 100
    assert out["SourceIdentity"] == "alice@example.com"


def test_role_chaining_is_limited_to_one_hour(client):
    creds = client("sts").assume_role(RoleArn=role_arn(), RoleSessionName="first")["Credentials"]
    chained = session_client(client, "sts", creds)
    with pytest.raises(ClientError) as e:
        chained.assume_role(RoleArn=role_arn("second"), RoleSessionName="second", DurationSeconds=7200)
    assert error_code(e) == "ValidationError"
    out = chained.assume_role(RoleArn=role_arn("second"), RoleSessionName="second")
    ident = session_client(client, "sts", out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/second/second"


@pytest.mark.parametrize("arn", [
    "arn:aws:iam::12345:role/x",
    "arn:aws:iam::111111111111:user/someone",
    "arn:aws:s3:::111111111111:role/bucket",
    "arn:aws:iam:us-east-1:111111111111:role/r",
])
def test_assume_role_rejects_invalid_role_arns(client, arn):
    with pytest.raises(ClientError) as e:
        client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error_code(e) == "ValidationError"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_assume_role_input_validation_codes(client):
    sts = client("sts")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn(), RoleSessionName="bad name!")
    assert error_code(e) == "ValidationError"
    assert "roleSessionName" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lax(client).assume_role(RoleArn=role_arn(), RoleSessionName="s1", DurationSeconds=60)
    assert error_code(e) == "ValidationError"
    assert "durationSeconds" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lax(client).assume_role(RoleArn=role_arn(), RoleSessionName="x")
    assert error_code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn(), RoleSessionName="s1", DurationSeconds=43201)
    assert error_code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn(), RoleSessionName="s1", Policy="{not json")
    assert error_code(e) == "MalformedPolicyDocument"
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{'b' * 60}/{i}"} for i in range(60)]})
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn(), RoleSessionName="s1", Policy=big)
    assert error_code(e) == "PackedPolicyTooLarge"


def test_cli_assume_role(aws):
    out = aws("sts", "assume-role", "--role-arn", role_arn("cli-role"), "--role-session-name", "cli")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/cli-role/cli"
    creds = out["Credentials"]
    ident = aws("sts", "get-caller-identity", env={
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    })
    assert ident["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/cli-role/cli"


def test_expired_session_credentials_are_refused(client, overcast):
    creds = client("sts").assume_role(RoleArn=role_arn(), RoleSessionName="shortlived",
                                      DurationSeconds=900)["Credentials"]
    sts = session_client(client, "sts", creds)
    assert sts.get_caller_identity()["Arn"].endswith("/shortlived")
    overcast.clock(advance=1000)
    try:
        with pytest.raises(ClientError) as e:
            sts.get_caller_identity()
        assert error_code(e) == "ExpiredToken"
    finally:
        overcast.clock(set=time.time())


def test_credentials_survive_restart(client, overcast):
    creds = client("sts").assume_role(RoleArn=role_arn("durable"), RoleSessionName="keep")["Credentials"]
    overcast.kill9()
    ident = session_client(client, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/durable/keep"


# --- GetSessionToken / GetFederationToken / AssumeRoot -------------------------------------------

def test_get_session_token_for_the_caller(client):
    sts = client("sts")
    out = sts.get_session_token(DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    ident = session_client(client, "sts", creds).get_caller_identity()
    assert ident["Arn"] == "arn:aws:iam::000000000000:root"
    # Session credentials cannot mint more session tokens.
    with pytest.raises(ClientError) as e:
        session_client(client, "sts", creds).get_session_token()
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        sts.get_session_token(DurationSeconds=129601)
    assert error_code(e) == "ValidationError"


def test_get_federation_token(client):
    out = client("sts").get_federation_token(Name="carol", DurationSeconds=900)
    assert out["FederatedUser"]["Arn"] == "arn:aws:sts::000000000000:federated-user/carol"
    assert out["FederatedUser"]["FederatedUserId"] == "000000000000:carol"
    ident = session_client(client, "sts", out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::000000000000:federated-user/carol"
    assert ident["UserId"] == "000000000000:carol"
    with pytest.raises(ClientError) as e:
        lax(client).get_federation_token(Name="x")
    assert error_code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        client("sts").get_federation_token(Name="bad name")
    assert error_code(e) == "ValidationError"


def test_assume_root_gives_the_member_account_root(client):
    out = client("sts").assume_root(
        TargetPrincipal="333333333333",
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"})
    ident = session_client(client, "sts", out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:iam::333333333333:root"
    assert ident["Account"] == "333333333333"
    with pytest.raises(ClientError) as e:
        client("sts").assume_root(TargetPrincipal="333333333333",
                                  TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert error_code(e) == "ValidationError"


# --- GetAccessKeyInfo / DecodeAuthorizationMessage -----------------------------------------------

def test_get_access_key_info(client):
    sts = client("sts")
    creds = sts.assume_role(RoleArn=role_arn(), RoleSessionName="keyinfo")["Credentials"]
    assert sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == ROLE_ACCOUNT
    assert sts.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")["Account"] == "000000000000"


def test_decode_authorization_message(client):
    doc = {"allowed": False, "context": {"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}}
    encoded = base64.b64encode(json.dumps(doc).encode()).decode()
    out = client("sts").decode_authorization_message(EncodedMessage=encoded)
    assert json.loads(out["DecodedMessage"]) == doc
    with pytest.raises(ClientError) as e:
        client("sts").decode_authorization_message(EncodedMessage="definitely not a message")
    assert error_code(e) == "InvalidAuthorizationMessageException"


# --- Federation ----------------------------------------------------------------------------------

def unsigned_sts(client):
    from botocore import UNSIGNED
    return client("sts", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def test_assume_role_with_web_identity(client):
    token = jwt({"sub": "user-123", "aud": "my-app", "iss": "https://token.actions.githubusercontent.com",
                 "exp": int(time.time()) + 3600})
    out = unsigned_sts(client).assume_role_with_web_identity(
        RoleArn=role_arn("oidc"), RoleSessionName="gh", WebIdentityToken=token)
    assert out["SubjectFromWebIdentityToken"] == "user-123"
    assert out["Audience"] == "my-app"
    assert out["Provider"] == f"arn:aws:iam::{ROLE_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/oidc/gh"
    ident = session_client(client, "sts", out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/oidc/gh"


def test_web_identity_token_errors(client):
    sts = unsigned_sts(client)
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role_arn(), RoleSessionName="s1", WebIdentityToken="not-a-jwt")
    assert error_code(e) == "InvalidIdentityToken"
    expired = jwt({"sub": "u", "aud": "a", "iss": "https://idp.example.com", "exp": int(time.time()) - 60})
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role_arn(), RoleSessionName="s1", WebIdentityToken=expired)
    assert error_code(e) == "ExpiredTokenException"


SAML = """<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
  <saml:Issuer>https://idp.example.com/saml</saml:Issuer>
  <saml:Assertion>
    <saml:Issuer>https://idp.example.com/saml</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">dave@example.com</saml:NameID>
      <saml:SubjectConfirmation><saml:SubjectConfirmationData NotOnOrAfter="2099-01-01T00:00:00Z" Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation>
    </saml:Subject>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>dave</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""


def test_assume_role_with_saml(client):
    out = unsigned_sts(client).assume_role_with_saml(
        RoleArn=role_arn("saml-role"), PrincipalArn=f"arn:aws:iam::{ROLE_ACCOUNT}:saml-provider/MyIdP",
        SAMLAssertion=base64.b64encode(SAML.encode()).decode())
    assert out["Subject"] == "dave@example.com"
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == "https://idp.example.com/saml"
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    assert len(out["NameQualifier"]) == 28
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/saml-role/dave"
    ident = session_client(client, "sts", out["Credentials"]).get_caller_identity()
    assert ident["Account"] == ROLE_ACCOUNT
    with pytest.raises(ClientError) as e:
        unsigned_sts(client).assume_role_with_saml(
            RoleArn=role_arn("saml-role"), PrincipalArn=f"arn:aws:iam::{ROLE_ACCOUNT}:saml-provider/MyIdP",
            SAMLAssertion=base64.b64encode(b"<not-saml/>").decode())
    assert error_code(e) == "InvalidIdentityToken"


# --- GetWebIdentityToken: signed JWTs verified with openssl against the issuer's JWKS ---

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return der(0x02, b)


def jwk_to_pem(jwk):
    """SubjectPublicKeyInfo PEM of an RSA or P-384 JWK (no crypto library in the venv)."""
    if jwk["kty"] == "RSA":
        alg = der(0x30, bytes.fromhex("06092a864886f70d0101010500"))
        key = der(0x30, der_int(b64url_decode(jwk["n"])) + der_int(b64url_decode(jwk["e"])))
    else:
        assert jwk["crv"] == "P-384"
        alg = der(0x30, bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06052b81040022"))
        key = b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
    spki = der(0x30, alg + der(0x03, b"\0" + key))
    body = base64.encodebytes(spki).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def openssl_verifies(token, jwk, tmp_path):
    head, payload, sig = token.split(".")
    sig = b64url_decode(sig)
    if jwk["kty"] == "EC":  # JWS r||s → DER ECDSA-Sig-Value
        half = len(sig) // 2
        sig = der(0x30, der_int(sig[:half]) + der_int(sig[half:]))
    (tmp_path / "pub.pem").write_text(jwk_to_pem(jwk))
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "data").write_bytes(f"{head}.{payload}".encode())
    digest = "-sha256" if jwk["alg"] == "RS256" else "-sha384"
    out = subprocess.run(["openssl", "dgst", digest, "-verify", str(tmp_path / "pub.pem"),
                          "-signature", str(tmp_path / "sig"), str(tmp_path / "data")],
                         capture_output=True, text=True)
    return out.returncode == 0 and "Verified OK" in out.stdout


def enable_outbound_federation(client):
    """IAM owns the switch; while IAM does not implement it, STS treats it as on."""
    try:
        client("iam").enable_outbound_web_identity_federation()
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("NotImplemented", "FeatureEnabled")


@pytest.mark.parametrize("alg", ["RS256", "ES384"])
def test_web_identity_token_is_a_jwt_verifiable_through_oidc_discovery(overcast, client, alg, tmp_path):
    enable_outbound_federation(client)
    sts = client("sts")
    now = int(overcast.clock()["now"])
    out = sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm=alg,
                                     DurationSeconds=900,
                                     Tags=[{"Key": "job-id", "Value": "job-1"}])
    token = out["WebIdentityToken"]
    head, payload, _ = token.split(".")
    header = json.loads(b64url_decode(head))
    claims = json.loads(b64url_decode(payload))
    assert header["alg"] == alg and header["typ"] == "JWT" and header["kid"]
    assert claims["aud"] == "https://api.example.com"
    assert claims["sub"] == "arn:aws:iam::000000000000:root"
    assert now - 2 <= claims["iat"] <= now + 2 and claims["exp"] == claims["iat"] + 900
    assert abs(out["Expiration"].timestamp() - claims["exp"]) < 1
    uuid.UUID(claims["jti"])
    aws_claims = claims["https://sts.amazonaws.com/"]
    assert aws_claims["aws_account"] == "000000000000"
    assert aws_claims["source_region"] == "us-east-1"
    assert aws_claims["request_tags"] == {"job-id": "job-1"}
    # The issuer is account-specific and serves OIDC discovery.
    iss = claims["iss"]
    assert iss.startswith(overcast.url + "/_overcast/sts/")
    config = overcast.get(iss[len(overcast.url):] + "/.well-known/openid-configuration")
    assert config["issuer"] == iss
    assert alg in config["id_token_signing_alg_values_supported"]
    jwks = overcast.get(config["jwks_uri"][len(overcast.url):])
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert openssl_verifies(token, jwk, tmp_path)
    # A tampered token does not verify.
    forged = claims | {"sub": "arn:aws:iam::000000000000:role/admin"}
    tampered = ".".join([head, b64url(forged), token.split(".")[2]])
    assert not openssl_verifies(tampered, jwk, tmp_path)
    # Same account, same issuer and key on the next call; two audiences become a list.
    again = sts.get_web_identity_token(Audience=["a", "b"], SigningAlgorithm=alg)
    c2 = json.loads(b64url_decode(again["WebIdentityToken"].split(".")[1]))
    assert c2["iss"] == iss and c2["aud"] == ["a", "b"] and c2["exp"] - c2["iat"] == 300
    assert openssl_verifies(again["WebIdentityToken"], jwk, tmp_path)


def test_web_identity_token_errors(client):
    enable_outbound_federation(client)
    sts = lax(client)
    for bad in [dict(Audience=["a"], SigningAlgorithm="HS256"),
                dict(Audience=["a"], SigningAlgorithm="RS256", DurationSeconds=59),
                dict(Audience=["a"], SigningAlgorithm="RS256", DurationSeconds=3601),
                dict(Audience=[], SigningAlgorithm="RS256"),
                dict(Audience=["a"], SigningAlgorithm="ES384",
                     Tags=[{"Key": "k", "Value": "v"}, {"Key": "K", "Value": "w"}])]:
        with pytest.raises(ClientError) as e:
            sts.get_web_identity_token(**bad)
        assert error_code(e) == "ValidationError", bad
    # Session credentials cannot mint a token that outlives the session.
    creds = client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    with pytest.raises(ClientError) as e:
        session_client(client, "sts", creds).get_web_identity_token(
            Audience=["a"], SigningAlgorithm="ES384", DurationSeconds=3600)
    assert error_code(e) == "SessionDurationEscalationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_web_identity_token_of_a_role_session_names_the_role(client):
    enable_outbound_federation(client)
    creds = client("sts").assume_role(RoleArn=role_arn("jwt-role"), RoleSessionName="jwt-session",
                                      Tags=[{"Key": "team", "Value": "data"}])["Credentials"]
    enable_outbound_federation(lambda svc: session_client(client, svc, creds))
    out = session_client(client, "sts", creds).get_web_identity_token(
        Audience=["x"], SigningAlgorithm="ES384", DurationSeconds=60)
    claims = json.loads(b64url_decode(out["WebIdentityToken"].split(".")[1]))
    assert claims["sub"] == role_arn("jwt-role")
    assert claims["https://sts.amazonaws.com/"]["aws_account"] == ROLE_ACCOUNT
    assert claims["https://sts.amazonaws.com/"]["principal_tags"] == {"team": "data"}


def test_web_identity_token_keys_survive_restart(overcast, client, tmp_path):
    enable_outbound_federation(client)
    out = client("sts").get_web_identity_token(Audience=["a"], SigningAlgorithm="ES384")
    token = out["WebIdentityToken"]
    iss = json.loads(b64url_decode(token.split(".")[1]))["iss"]
    overcast.kill9()
    jwks = overcast.get(iss[len(overcast.url):] + "/.well-known/jwks.json")
    kid = json.loads(b64url_decode(token.split(".")[0]))["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    assert openssl_verifies(token, jwk, tmp_path)
    again = client("sts").get_web_identity_token(Audience=["a"], SigningAlgorithm="ES384")
    assert json.loads(b64url_decode(again["WebIdentityToken"].split(".")[0]))["kid"] == kid


# --- GetDelegatedAccessToken: trade-in tokens for temporary credentials ---

def test_delegated_access_token_exchanges_a_trade_in_token_once(overcast, client):
    principal = f"arn:aws:iam::{ROLE_ACCOUNT}:user/alice"
    token = overcast.post("/_overcast/sts/trade-in-tokens",
                          {"PrincipalArn": principal, "ExpiresIn": 600,
                           "SessionDuration": 1800})["TradeInToken"]
    out = client("sts").get_delegated_access_token(TradeInToken=token)
    assert out["AssumedPrincipal"] == principal
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    remaining = creds["Expiration"].timestamp() - overcast.clock()["now"]
    assert 1790 <= remaining <= 1801
    ident = session_client(client, "sts", creds).get_caller_identity()
    assert ident["Arn"] == principal and ident["Account"] == ROLE_ACCOUNT
    # A trade-in token is exchanged once.
    with pytest.raises(ClientError) as e:
        client("sts").get_delegated_access_token(TradeInToken=token)
    assert error_code(e) == "ExpiredTradeInTokenException"


def test_delegated_access_token_errors(overcast, client):
    token = overcast.post("/_overcast/sts/trade-in-tokens",
                          {"PrincipalArn": f"arn:aws:iam::{ROLE_ACCOUNT}:role/r",
                           "ExpiresIn": 60})["TradeInToken"]
    overcast.clock(advance=61)
    with pytest.raises(ClientError) as e:
        client("sts").get_delegated_access_token(TradeInToken=token)
    assert error_code(e) == "ExpiredTradeInTokenException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for bad in [str(uuid.uuid4()), token[:-2] + "AA"]:
        with pytest.raises(ClientError) as e:
            client("sts").get_delegated_access_token(TradeInToken=bad)
        assert error_code(e) == "AccessDenied"
