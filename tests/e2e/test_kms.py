"""KMS end to end: symmetric keys with real AES-256-GCM, ciphertext blobs that identify their
key and bind the encryption context, data keys, aliases (incl. AWS-managed ones), key states,
scheduled deletion and rotation on the virtual clock, HMAC keys, grants, policies, tags,
persistence across restarts, and the exact AWS error codes."""
import base64
import json
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def kms(client):
    return client("kms")


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


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]


def test_create_describe_list(kms):
    meta = new_key(kms, Description="app key", Tags=[{"TagKey": "team", "TagValue": "a"}])
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeyManager"] == "CUSTOMER" and meta["Origin"] == "AWS_KMS"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:000000000000:key/{meta['KeyId']}"
    for ref in (meta["KeyId"], meta["Arn"]):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["Description"] == "app key"
    ids = []
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        ids += [k["KeyId"] for k in page["Keys"]]
    assert meta["KeyId"] in ids
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "a"}]
    expect("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))
    expect("NotFoundException", kms.describe_key, KeyId="alias/does-not-exist")
    expect("ValidationException", kms.create_key, KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")
    expect("UnsupportedOperationException", kms.create_key, KeySpec="SM2")


def test_encrypt_decrypt_context_and_reencrypt(kms):
    key = new_key(kms)["KeyId"]
    ctx = {"purpose": "test", "app": "overcast"}
    out = kms.encrypt(KeyId=key, Plaintext=b"hello world", EncryptionContext=ctx)
    assert out["KeyId"].endswith(key) and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    assert b"hello world" not in blob
    # Decrypt without KeyId: the blob identifies its key.
    d = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
    assert d["Plaintext"] == b"hello world" and d["KeyId"].endswith(key)
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob,
           EncryptionContext={"purpose": "other", "app": "overcast"})
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"garbage" * 10)
    other = new_key(kms)["KeyId"]
    expect("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx, KeyId=other)
    re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx, DestinationKeyId=other)
    assert re["SourceKeyId"].endswith(key) and re["KeyId"].endswith(other)
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == b"hello world"
    expect("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"x" * 4097)


def test_data_keys_and_random(kms):
    key = new_key(kms)["KeyId"]
    dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key, NumberOfBytes=16)["Plaintext"]) == 16
    wp = kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_128")
    assert "Plaintext" not in wp
    assert len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 16
    expect("ValidationException", kms.generate_data_key, KeyId=key)
    assert len(kms.generate_random(NumberOfBytes=64)["Plaintext"]) == 64
    expect("ValidationException", kms.generate_random, NumberOfBytes=2000)


def test_aliases_and_aws_managed_keys(kms):
    key = new_key(kms)["KeyId"]
    name = f"alias/app-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key)
    expect("AlreadyExistsException", kms.create_alias, AliasName=name, TargetKeyId=key)
    expect("InvalidAliasNameException", kms.create_alias, AliasName="noprefix", TargetKeyId=key)
    blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    alias_arn = f"arn:aws:kms:us-east-1:000000000000:{name}"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key
    aliases = kms.list_aliases(KeyId=key)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [name]
    assert aliases[0]["AliasArn"] == alias_arn
    key2 = new_key(kms)["KeyId"]
    kms.update_alias(AliasName=name, TargetKeyId=key2)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key2
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via alias"
    kms.delete_alias(AliasName=name)
    expect("NotFoundException", kms.delete_alias, AliasName=name)
    # AWS-managed keys appear on first use of their alias.
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"] == managed["KeyId"]
    names = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/aws/secretsmanager" in names
    expect("UnsupportedOperationException", kms.disable_key, KeyId=managed["KeyId"])


def test_enable_disable_and_scheduled_deletion(kms, overcast):
    key = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    expect("DisabledException", kms.encrypt, KeyId=key, Plaintext=b"x")
    expect("DisabledException", kms.decrypt, CiphertextBlob=blob)
    kms.enable_key(KeyId=key)
    out = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    expect("KMSInvalidStateException", kms.encrypt, KeyId=key, Plaintext=b"x")
    expect("KMSInvalidStateException", kms.enable_key, KeyId=key)
    expect("ValidationException", kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=3)
    kms.cancel_key_deletion(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    overcast.clock(advance=8 * 86400)
    expect("NotFoundException", kms.describe_key, KeyId=key)


def test_rotation_keeps_old_material(kms, overcast):
    key = new_key(kms)["KeyId"]
    old = kms.encrypt(KeyId=key, Plaintext=b"before rotation")["CiphertextBlob"]
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    kms.rotate_key_on_demand(KeyId=key)
    new = kms.encrypt(KeyId=key, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    st = kms.get_key_rotation_status(KeyId=key)
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 90
    overcast.clock(advance=91 * 86400)
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "AUTOMATIC"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"


def test_hmac_keys(kms):
    key = new_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert key["MacAlgorithms"] == ["HMAC_SHA_256"]
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    ok = kms.verify_mac(KeyId=key["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert ok["MacValid"] is True
    expect("KMSInvalidMacException", kms.verify_mac, KeyId=key["KeyId"], Message=b"other",
           MacAlgorithm="HMAC_SHA_256", Mac=mac)
    expect("InvalidKeyUsageException", kms.generate_mac, KeyId=key["KeyId"], Message=b"m",
           MacAlgorithm="HMAC_SHA_512")
    expect("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")


def test_grants_policies_tags(kms):
    key = new_key(kms)["KeyId"]
    g = kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::000000000000:role/app",
                         RetiringPrincipal="arn:aws:iam::000000000000:role/admin",
                         Operations=["Encrypt", "Decrypt"], Name="g1")
    again = kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::000000000000:role/app",
                             RetiringPrincipal="arn:aws:iam::000000000000:role/admin",
                             Operations=["Encrypt", "Decrypt"], Name="g1")
    assert again["GrantId"] == g["GrantId"]
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert [x["GrantId"] for x in grants] == [g["GrantId"]]
    assert grants[0]["Operations"] == ["Encrypt", "Decrypt"]
    retirable = kms.list_retirable_grants(RetiringPrincipal="arn:aws:iam::000000000000:role/admin")
    assert g["GrantId"] in [x["GrantId"] for x in retirable["Grants"]]
    kms.retire_grant(GrantToken=g["GrantToken"])
    assert kms.list_grants(KeyId=key)["Grants"] == []
    g2 = kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::000000000000:role/app",
                          Operations=["Decrypt"])
    kms.revoke_grant(KeyId=key, GrantId=g2["GrantId"])
    expect("NotFoundException", kms.revoke_grant, KeyId=key, GrantId=g2["GrantId"])
    expect("InvalidGrantTokenException", kms.retire_grant, GrantToken="nope")

    pol = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert pol["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::000000000000:root"
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    new_pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                        "Action": "kms:*", "Resource": "*"}]}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(new_pol))
    assert json.loads(kms.get_key_policy(KeyId=key)["Policy"]) == new_pol
    expect("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, Policy="not json")

    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=key, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    expect("TagException", kms.tag_resource, KeyId=key, Tags=[{"TagKey": "aws:x", "TagValue": "1"}])


def test_cli_encrypt_decrypt(kms, aws, tmp_path):
    key = new_key(kms)["KeyId"]
    plain = tmp_path / "plain"
    plain.write_bytes(b"from cli")
    out = aws("kms", "encrypt", "--key-id", key, "--plaintext", f"fileb://{plain}")
    blob = tmp_path / "blob"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    d = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert base64.b64decode(d["Plaintext"]) == b"from cli"


def test_state_and_material_survive_restart_and_kill9(kms, client, overcast):
    key = new_key(kms, Description="durable")["KeyId"]
    alias = f"alias/durable-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    blob = kms.encrypt(KeyId=alias, Plaintext=b"kms-keep-me-4417", EncryptionContext={"k": "v"})["CiphertextBlob"]
    overcast.restart()
    kms = client("kms")
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"kms-keep-me-4417"
    kms.rotate_key_on_demand(KeyId=key)
    blob2 = kms.encrypt(KeyId=alias, Plaintext=b"after")["CiphertextBlob"]
    overcast.kill9()
    kms = client("kms")
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["Description"] == "durable"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"kms-keep-me-4417"
    assert kms.decrypt(CiphertextBlob=blob2)["Plaintext"] == b"after"
    # Key material never reaches the data dir in clear: the state log holds wrapped bytes only.
    import os
    raw = b""
    for root, _, files in os.walk(overcast.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                raw += fh.read()
    assert b"kms-keep-me-4417" not in raw


def test_ssm_securestring_on_kms(kms, client):
    ssm = client("ssm")
    name = f"/kms-{uuid.uuid4().hex[:8]}/password"
    ssm.put_parameter(Name=name, Value="p4ss-default", Type="SecureString")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "p4ss-default"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "p4ss-default"
    # The default key is the AWS-managed alias/aws/ssm, created by KMS on first use.
    assert kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]["KeyManager"] == "AWS"
    key = new_key(kms)["KeyId"]
    custom = name + "-custom"
    ssm.put_parameter(Name=custom, Value="p4ss-custom", Type="SecureString", KeyId=key)
    assert ssm.get_parameter(Name=custom, WithDecryption=True)["Parameter"]["Value"] == "p4ss-custom"
    hist = ssm.get_parameter_history(Name=custom, WithDecryption=True)["Parameters"]
    assert hist[0]["Value"] == "p4ss-custom" and hist[0]["KeyId"] == key
    by_path = ssm.get_parameters_by_path(Path=name.rsplit("/", 1)[0], WithDecryption=True)["Parameters"]
    assert sorted(p["Value"] for p in by_path) == ["p4ss-custom", "p4ss-default"]
    # A disabled key fails as on AWS: InvalidKeyId carrying KMS's DisabledException.
    kms.disable_key(KeyId=key)
    err = expect("InvalidKeyId", ssm.get_parameter, Name=custom, WithDecryption=True)
    assert "DisabledException" in err["Error"]["Message"]
    expect("InvalidKeyId", ssm.put_parameter, Name=custom, Value="x", Type="SecureString",
           KeyId=key, Overwrite=True)
    kms.enable_key(KeyId=key)
    expect("InvalidKeyId", ssm.put_parameter, Name=name + "-missing", Value="x",
           Type="SecureString", KeyId=str(uuid.uuid4()))


SIGNING = {
    "RSA_2048": ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                 "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"],
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
}


@pytest.mark.parametrize("spec", sorted(SIGNING))
def test_asymmetric_sign_verify(kms, spec):
    hashlib = pytest.importorskip("hashlib")
    meta = new_key(kms, KeySpec=spec, KeyUsage="SIGN_VERIFY")
    assert meta["SigningAlgorithms"] == SIGNING[spec]
    pub = kms.get_public_key(KeyId=meta["KeyId"])
    assert pub["KeySpec"] == spec and pub["PublicKey"][0] == 0x30  # DER SEQUENCE
    for alg in SIGNING[spec]:
        sig = kms.sign(KeyId=meta["KeyId"], Message=b"payload", SigningAlgorithm=alg)["Signature"]
        ok = kms.verify(KeyId=meta["KeyId"], Message=b"payload", Signature=sig, SigningAlgorithm=alg)
        assert ok["SignatureValid"] is True
        expect("KMSInvalidSignatureException", kms.verify, KeyId=meta["KeyId"], Message=b"tampered",
               Signature=sig, SigningAlgorithm=alg)
    # MessageType=DIGEST signs a digest computed by the caller.
    alg = SIGNING[spec][0]
    h = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    d = h(b"payload").digest()
    sig = kms.sign(KeyId=meta["KeyId"], Message=d, MessageType="DIGEST", SigningAlgorithm=alg)["Signature"]
    assert kms.verify(KeyId=meta["KeyId"], Message=b"payload", Signature=sig,
                      SigningAlgorithm=alg)["SignatureValid"] is True
    expect("InvalidKeyUsageException", kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")


def test_signatures_verify_with_the_public_key_outside_kms(kms, tmp_path):
    """KMS signatures and public keys are standard: OpenSSL verifies them."""
    import shutil
    import subprocess
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cases = [("ECC_NIST_P256", "ECDSA_SHA_256", []),
             ("ECC_SECG_P256K1", "ECDSA_SHA_256", []),
             ("ECC_NIST_P384", "ECDSA_SHA_384", []),
             ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", []),
             ("RSA_2048", "RSASSA_PSS_SHA_256", ["-sigopt", "rsa_padding_mode:pss",
                                                 "-sigopt", "rsa_pss_saltlen:32"])]
    msg = tmp_path / "msg"
    msg.write_bytes(b"signed outside")
    for spec, alg, opts in cases:
        key = new_key(kms, KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyId"]
        sig = kms.sign(KeyId=key, Message=b"signed outside", SigningAlgorithm=alg)["Signature"]
        (tmp_path / "sig").write_bytes(sig)
        (tmp_path / "pub.der").write_bytes(kms.get_public_key(KeyId=key)["PublicKey"])
        digest = "-sha" + alg[-3:]
        proc = subprocess.run([openssl, "dgst", digest, "-verify", str(tmp_path / "pub.der"),
                               "-keyform", "DER", *opts, "-signature", str(tmp_path / "sig"), str(msg)],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "Verified OK" in proc.stdout, (spec, alg, proc.stdout, proc.stderr)


def test_rsa_oaep_encryption_and_data_key_pairs(kms):
    key = new_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    for alg in key["EncryptionAlgorithms"]:
        ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"rsa secret", EncryptionAlgorithm=alg)
        assert ct["EncryptionAlgorithm"] == alg
        pt = kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=ct["CiphertextBlob"], EncryptionAlgorithm=alg)
        assert pt["Plaintext"] == b"rsa secret"
    expect("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    expect("InvalidKeyUsageException", kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256")
    sym = new_key(kms)["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec="ECC_NIST_P256", EncryptionContext={"a": "b"})
    assert pair["PublicKey"][0] == 0x30 and pair["KeyPairSpec"] == "ECC_NIST_P256"
    opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext={"a": "b"})
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]
    nop = kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in nop and nop["PublicKey"]
    expect("UnsupportedOperationException", kms.generate_data_key_pair, KeyId=sym, KeyPairSpec="SM2")


def test_key_agreement(kms):
    a = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    b = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    assert a["KeyAgreementAlgorithms"] == ["ECDH"]
    pa = kms.get_public_key(KeyId=a["KeyId"])["PublicKey"]
    pb = kms.get_public_key(KeyId=b["KeyId"])["PublicKey"]
    s1 = kms.derive_shared_secret(KeyId=a["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=pb)
    s2 = kms.derive_shared_secret(KeyId=b["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=pa)
    assert s1["SharedSecret"] == s2["SharedSecret"] and len(s1["SharedSecret"]) == 32


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"])
def test_imported_key_material(kms, overcast, tmp_path, algorithm):
    import os
    import shutil
    import subprocess
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    key = new_key(kms, Origin="EXTERNAL")
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    expect("KMSInvalidStateException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm=algorithm,
                                           WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    (tmp_path / "m").write_bytes(material)
    (tmp_path / "pub.der").write_bytes(params["PublicKey"])
    md = "sha256" if algorithm.endswith("256") else "sha1"
    subprocess.run([openssl, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey",
                    str(tmp_path / "pub.der"), "-in", str(tmp_path / "m"), "-out", str(tmp_path / "w"),
                    "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                    "-pkeyopt", f"rsa_mgf1_md:{md}"], check=True, capture_output=True)
    wrapped = (tmp_path / "w").read_bytes()
    expect("InvalidImportTokenException", kms.import_key_material, KeyId=key["KeyId"],
           ImportToken=b"bogus-token", EncryptedKeyMaterial=wrapped,
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    kms.import_key_material(KeyId=key["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"with imported material")["CiphertextBlob"]
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    expect("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    # Re-import the same material (with an expiry): old ciphertext decrypts again.
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm=algorithm,
                                           WrappingKeySpec="RSA_2048")
    (tmp_path / "pub.der").write_bytes(params["PublicKey"])
    subprocess.run([openssl, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey",
                    str(tmp_path / "pub.der"), "-in", str(tmp_path / "m"), "-out", str(tmp_path / "w"),
                    "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                    "-pkeyopt", f"rsa_mgf1_md:{md}"], check=True, capture_output=True)
    import datetime
    valid_to = datetime.datetime.fromtimestamp(overcast.get("/_overcast/clock")["now"] + 3600,
                                               tz=datetime.timezone.utc)
    kms.import_key_material(KeyId=key["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=(tmp_path / "w").read_bytes(),
                            ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"with imported material"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    overcast.clock(advance=7200)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    expect("UnsupportedOperationException", kms.get_parameters_for_import, KeyId=new_key(kms)["KeyId"],
           WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")


def test_multi_region_keys(kms, client, overcast):
    west = client("kms", region_name="us-west-2")
    key = new_key(kms, MultiRegion=True)
    assert key["KeyId"].startswith("mrk-") and key["MultiRegion"] is True
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"everywhere")["CiphertextBlob"]
    out = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="us-west-2", Description="replica")
    rep = out["ReplicaKeyMetadata"]
    assert rep["Arn"] == f"arn:aws:kms:us-west-2:000000000000:key/{key['KeyId']}"
    assert rep["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    # Same key id and material: ciphertext from one region decrypts in the other.
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"everywhere"
    cfg = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "PRIMARY"
    assert [r["Region"] for r in cfg["ReplicaKeys"]] == ["us-west-2"]
    expect("AlreadyExistsException", kms.replicate_key, KeyId=key["KeyId"], ReplicaRegion="us-west-2")
    expect("UnsupportedOperationException", kms.replicate_key, KeyId=new_key(kms)["KeyId"],
           ReplicaRegion="us-west-2")
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    new_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"rotated")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"rotated"
    expect("UnsupportedOperationException", west.enable_key_rotation, KeyId=key["KeyId"])
    # Automatic rotation of the primary: the replica fetches the new material when it meets it.
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    overcast.clock(advance=91 * 86400)
    auto_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"auto-rotated")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=auto_blob)["Plaintext"] == b"auto-rotated"
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"everywhere"
    kms.update_primary_region(KeyId=key["KeyId"], PrimaryRegion="us-west-2")
    assert west.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"


def test_custom_key_stores_are_stored(kms):
    name = f"cks-{uuid.uuid4().hex[:8]}"
    sid = kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId="cluster-1234567abcd",
                                      TrustAnchorCertificate="-----BEGIN CERTIFICATE-----",
                                      KeyStorePassword="kmsuser-password")["CustomKeyStoreId"]
    assert sid.startswith("cks-")
    expect("CustomKeyStoreNameInUseException", kms.create_custom_key_store, CustomKeyStoreName=name,
           CloudHsmClusterId="cluster-1234567abcd", TrustAnchorCertificate="x", KeyStorePassword="kmsuser-password")
    st = kms.describe_custom_key_stores(CustomKeyStoreId=sid)["CustomKeyStores"][0]
    assert st["ConnectionState"] == "DISCONNECTED" and st["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    expect("CustomKeyStoreInvalidStateException", kms.create_key, CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    key = new_key(kms, CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    assert key["CustomKeyStoreId"] == sid and key["Origin"] == "AWS_CLOUDHSM"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in a store")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in a store"
    expect("CustomKeyStoreInvalidStateException", kms.delete_custom_key_store, CustomKeyStoreId=sid)
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    kms.update_custom_key_store(CustomKeyStoreId=sid, NewCustomKeyStoreName=name + "-renamed")
    assert kms.describe_custom_key_stores(CustomKeyStoreName=name + "-renamed")["CustomKeyStores"][0]["CustomKeyStoreId"] == sid
    expect("CustomKeyStoreHasCMKsException", kms.delete_custom_key_store, CustomKeyStoreId=sid)
    expect("CustomKeyStoreNotFoundException", kms.describe_custom_key_stores, CustomKeyStoreId="cks-1234567890abcdef0")


def test_key_last_usage(kms):
    key = new_key(kms)["KeyId"]
    out = kms.get_key_last_usage(KeyId=key)
    assert "KeyLastUsage" not in out and out["KeyCreationDate"] and out["TrackingStartDate"]
    kms.encrypt(KeyId=key, Plaintext=b"x")
    last = kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]
    assert last["Operation"] == "Encrypt" and last["KmsRequestId"]


def test_reset_then_keys_persist_again(kms, client, overcast):
    """After a reset the master key is written back before new material is wrapped with it."""
    overcast.reset()
    kms = client("kms")
    key = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"after reset")["CiphertextBlob"]
    overcast.restart()
    kms = client("kms")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after reset"


@pytest.mark.parametrize("spec", ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"])
def test_ml_kem_encapsulation(kms, spec):
    key = new_key(kms, KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
    assert key["EncapsulationAlgorithms"] == ["ML_KEM"]
    enc = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert len(enc["SharedSecret"]) == 32
    dec = kms.decapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM",
                          SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"])
    assert dec["SharedSecret"] == enc["SharedSecret"]
    assert kms.get_public_key(KeyId=key["KeyId"])["PublicKey"][0] == 0x30
    expect("InvalidKeyUsageException", kms.encapsulate, KeyId=new_key(kms)["KeyId"],
           EncapsulationAlgorithm="ML_KEM")
    expect("ValidationException", kms.create_key, KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")
