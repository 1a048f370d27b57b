"""SSM Parameter Store end to end: parameters, versions, selectors, labels, tiers, policies,
SecureString encryption at rest, search, tags, persistence and exact error codes."""
import json
import os
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def ssm(client):
    return client("ssm")


@pytest.fixture
def prefix():
    return f"/t{uuid.uuid4().hex[:10]}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def expect(code, fn, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    assert error_code(e) == code, e.value.response["Error"]
    return e.value.response["Error"]


# --- Put / Get ---------------------------------------------------------------------------------

def test_put_get_overwrite_and_versions(ssm, prefix):
    name = f"{prefix}/db/url"
    out = ssm.put_parameter(Name=name, Value="v1", Type="String", Description="db")
    assert (out["Version"], out["Tier"]) == (1, "Standard")
    err = expect("ParameterAlreadyExists", ssm.put_parameter, Name=name, Value="v2", Type="String")
    assert "overwrite" in err["Message"]
    out = ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert out["Version"] == 2 and out["Tier"] == "Standard"

    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Name"] == name
    assert p["Value"] == "v2"
    assert p["Version"] == 2
    assert p["Type"] == "String"
    assert p["DataType"] == "text"
    assert p["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"
    assert abs(p["LastModifiedDate"].timestamp() - time.time()) < 120
    assert "Selector" not in p

    old = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (old["Value"], old["Version"], old["Selector"], old["Name"]) == ("v1", 1, ":1", name)
    by_arn = ssm.get_parameter(Name=p["ARN"])["Parameter"]
    assert by_arn["Value"] == "v2"
    expect("ParameterVersionNotFound", ssm.get_parameter, Name=f"{name}:7")
    expect("ParameterNotFound", ssm.get_parameter, Name=f"{prefix}/missing")


def test_type_is_required_for_new_parameters_and_validated(ssm, prefix):
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/no-type", Value="x")
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/bad-type", Value="x", Type="Strung")
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/empty", Value="", Type="String")


@pytest.mark.parametrize("name,code", [
    ("has space", "ValidationException"),
    ("a/b", "ValidationException"),
    ("/a//b", "ValidationException"),
    ("/bad@char", "ValidationException"),
    ("ssm-thing", "ValidationException"),
    ("/SSM/thing", "ValidationException"),
    ("awsthing", "AccessDeniedException"),
    ("/aws/thing", "AccessDeniedException"),
    ("/" + "/".join(f"l{i}" for i in range(16)), "HierarchyLevelLimitExceededException"),
])
def test_name_rules(ssm, name, code):
    expect(code, ssm.put_parameter, Name=name, Value="x", Type="String")


def test_fifteen_levels_are_allowed(ssm, prefix):
    name = prefix + "".join(f"/l{i}" for i in range(14))
    assert ssm.put_parameter(Name=name, Value="deep", Type="String")["Version"] == 1


def test_string_list_and_description_kept_on_overwrite(ssm, prefix):
    name = f"{prefix}/list"
    ssm.put_parameter(Name=name, Value="a,b,c", Type="StringList", Description="letters")
    ssm.put_parameter(Name=name, Value="a,b,c,d", Overwrite=True)
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert d["Type"] == "StringList"
    assert d["Description"] == "letters"
    assert d["Version"] == 2
    assert d["LastModifiedUser"] == "arn:aws:iam::000000000000:root"


# --- SecureString --------------------------------------------------------------------------------

def test_secure_string_is_encrypted(ssm, prefix, overcast):
    name = f"{prefix}/secret"
    secret = f"pw-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString")
    sealed = ssm.get_parameter(Name=name)["Parameter"]
    assert sealed["Type"] == "SecureString"
    assert sealed["Value"] != secret
    opened = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert opened["Value"] == secret
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert d["KeyId"] == "alias/aws/ssm"
    # SecureStrings go through KMS: the customer key's alias must exist, as on AWS.
    kms = boto3.client("kms", endpoint_url=overcast.url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    try:
        kms.create_alias(AliasName="alias/my-key", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    except kms.exceptions.AlreadyExistsException:
        pass
    ssm.put_parameter(Name=f"{name}-cmk", Value=secret, Type="SecureString",
                      KeyId="alias/my-key")
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "KeyId", "Values": ["alias/my-key"]}])["Parameters"]
    assert [x["Name"] for x in d] == [f"{name}-cmk"]
    # Not stored in clear anywhere in the data directory.
    for root, _, files in os.walk(overcast.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert secret.encode() not in fh.read(), f
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/k", Value="x", Type="String",
           KeyId="alias/aws/ssm")


def test_get_parameters_mixes_found_and_invalid(ssm, prefix):
    ssm.put_parameter(Name=f"{prefix}/a", Value="1", Type="String")
    ssm.put_parameter(Name=f"{prefix}/b", Value="2", Type="SecureString")
    out = ssm.get_parameters(Names=[f"{prefix}/a", f"{prefix}/b", f"{prefix}/zz", f"{prefix}/a:9"],
                             WithDecryption=True)
    assert {p["Name"]: p["Value"] for p in out["Parameters"]} == {f"{prefix}/a": "1", f"{prefix}/b": "2"}
    assert sorted(out["InvalidParameters"]) == sorted([f"{prefix}/zz", f"{prefix}/a:9"])
    expect("ValidationException", ssm.get_parameters, Names=[f"{prefix}/{i}" for i in range(11)])


# --- Paths and search ----------------------------------------------------------------------------

def test_get_parameters_by_path(ssm, prefix):
    for n in ("app/x", "app/y", "app/sub/z", "other/w"):
        ssm.put_parameter(Name=f"{prefix}/{n}", Value=n, Type="String" if "y" not in n else "SecureString")
    one = ssm.get_parameters_by_path(Path=f"{prefix}/app")["Parameters"]
    assert sorted(p["Name"] for p in one) == [f"{prefix}/app/x", f"{prefix}/app/y"]
    rec = ssm.get_parameters_by_path(Path=f"{prefix}/app", Recursive=True, WithDecryption=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in rec} == {
        f"{prefix}/app/x": "app/x", f"{prefix}/app/y": "app/y", f"{prefix}/app/sub/z": "app/sub/z"}
    typed = ssm.get_parameters_by_path(Path=f"{prefix}/app", Recursive=True,
                                       ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}])
    assert [p["Name"] for p in typed["Parameters"]] == [f"{prefix}/app/y"]
    # Pagination.
    names, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = ssm.get_parameters_by_path(Path=prefix, Recursive=True, MaxResults=1, **kw)
        assert len(page["Parameters"]) <= 1
        names += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(names) == 4 and len(set(names)) == 4
    paginated = [p["Name"] for pg in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=True, PaginationConfig={"PageSize": 3}) for p in pg["Parameters"]]
    assert sorted(paginated) == sorted(names)
    expect("ValidationException", ssm.get_parameters_by_path, Path="no-slash")
    expect("InvalidFilterKey", ssm.get_parameters_by_path, Path=prefix,
           ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    expect("InvalidFilterOption", ssm.get_parameters_by_path, Path=prefix,
           ParameterFilters=[{"Key": "Label", "Option": "BeginsWith", "Values": ["x"]}])
    expect("ValidationException", ssm.get_parameters_by_path, Path=prefix, MaxResults=11)
    expect("InvalidNextToken", ssm.get_parameters_by_path, Path=prefix, NextToken="@@@")


def test_describe_parameters_filters(ssm, prefix):
    ssm.put_parameter(Name=f"{prefix}/d/one", Value="1", Type="String", Tags=[{"Key": "team", "Value": "red"}])
    ssm.put_parameter(Name=f"{prefix}/d/two", Value="2", Type="SecureString", Tier="Advanced")
    ssm.put_parameter(Name=f"{prefix}/d/sub/three", Value="3", Type="StringList")

    def names(**kw):
        return sorted(p["Name"] for p in ssm.describe_parameters(**kw)["Parameters"])

    assert names(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"{prefix}/d/"]}]) == [
        f"{prefix}/d/one", f"{prefix}/d/sub/three", f"{prefix}/d/two"]
    assert names(ParameterFilters=[{"Key": "Name", "Option": "Contains", "Values": [f"{prefix[1:]}/d/t"]}]) == [
        f"{prefix}/d/two"]
    assert names(ParameterFilters=[{"Key": "Path", "Values": [f"{prefix}/d"]}]) == [
        f"{prefix}/d/one", f"{prefix}/d/two"]
    assert names(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [f"{prefix}/d"]}]) == [
        f"{prefix}/d/one", f"{prefix}/d/sub/three", f"{prefix}/d/two"]
    path = [{"Key": "Path", "Option": "Recursive", "Values": [prefix]}]
    assert names(ParameterFilters=path + [{"Key": "Type", "Values": ["StringList"]}]) == [f"{prefix}/d/sub/three"]
    assert names(ParameterFilters=path + [{"Key": "Tier", "Values": ["Advanced"]}]) == [f"{prefix}/d/two"]
    assert names(ParameterFilters=path + [{"Key": "tag:team", "Values": ["red"]}]) == [f"{prefix}/d/one"]
    assert names(ParameterFilters=path + [{"Key": "DataType", "Values": ["text"]}]) == [
        f"{prefix}/d/one", f"{prefix}/d/sub/three", f"{prefix}/d/two"]
    assert names(Filters=[{"Key": "Name", "Values": [f"{prefix}/d/o"]}]) == [f"{prefix}/d/one"]
    expect("InvalidFilterKey", ssm.describe_parameters, ParameterFilters=[{"Key": "Label", "Values": ["x"]}])
    expect("InvalidFilterOption", ssm.describe_parameters,
           ParameterFilters=[{"Key": "Type", "Option": "Contains", "Values": ["String"]}])
    expect("InvalidFilterValue", ssm.describe_parameters, ParameterFilters=[{"Key": "Type", "Values": ["Nope"]}])
    expect("ValidationException", ssm.describe_parameters,
           Filters=[{"Key": "Name", "Values": ["x"]}], ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    page = ssm.describe_parameters(ParameterFilters=path, MaxResults=2)
    assert len(page["Parameters"]) == 2 and page["NextToken"]
    rest = ssm.describe_parameters(ParameterFilters=path, MaxResults=2, NextToken=page["NextToken"])
    assert len(rest["Parameters"]) == 1 and "NextToken" not in rest


def test_cli_put_get_describe(aws, prefix):
    name = f"{prefix}/cli"
    out = aws("ssm", "put-parameter", "--name", name, "--value", "hello", "--type", "String")
    assert out == {"Version": 1, "Tier": "Standard"}
    got = aws("ssm", "get-parameter", "--name", name)
    assert got["Parameter"]["Value"] == "hello"
    listed = aws("ssm", "get-parameters-by-path", "--path", prefix)
    assert [p["Name"] for p in listed["Parameters"]] == [name]
    desc = aws("ssm", "describe-parameters", "--parameter-filters", f"Key=Name,Values={name}")
    assert desc["Parameters"][0]["Name"] == name
    proc = aws.raw("ssm", "get-parameter", "--name", f"{prefix}/nope")
    assert proc.returncode != 0 and "ParameterNotFound" in proc.stderr
    aws("ssm", "delete-parameter", "--name", name)


# --- History and labels ---------------------------------------------------------------------------

def test_history_and_labels(ssm, prefix):
    name = f"{prefix}/lab"
    for i in range(1, 4):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod", "1bad", "awsx", "ok.v-1_x"])
    assert out["ParameterVersion"] == 1
    assert sorted(out["InvalidLabels"]) == ["1bad", "awsx"]
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "v1"
    # Labels move between versions; no version defaults to the latest.
    assert ssm.label_parameter_version(Name=name, Labels=["prod"])["ParameterVersion"] == 3
    p = ssm.get_parameter(Name=f"{name}:prod")["Parameter"]
    assert (p["Value"], p["Selector"]) == ("v3", ":prod")
    expect("ParameterVersionNotFound", ssm.get_parameter, Name=f"{name}:nolabel")
    expect("ParameterVersionNotFound", ssm.label_parameter_version, Name=name, ParameterVersion=9, Labels=["x"])
    expect("ParameterNotFound", ssm.label_parameter_version, Name=f"{prefix}/none", Labels=["x"])
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=[f"l{i}" for i in range(10)])
    expect("ParameterVersionLabelLimitExceeded", ssm.label_parameter_version, Name=name, ParameterVersion=2,
           Labels=["one-more"])

    hist = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h["Version"] for h in hist] == [1, 2, 3]
    assert [h["Value"] for h in hist] == ["v1", "v2", "v3"]
    assert hist[0]["Labels"] == ["ok.v-1_x"]
    assert hist[2]["Labels"] == ["prod"]
    assert all(h["Tier"] == "Standard" and h["DataType"] == "text" for h in hist)
    page = ssm.get_parameter_history(Name=name, MaxResults=2)
    assert [h["Version"] for h in page["Parameters"]] == [1, 2]
    rest = ssm.get_parameter_history(Name=name, MaxResults=2, NextToken=page["NextToken"])
    assert [h["Version"] for h in rest["Parameters"]] == [3]

    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["prod", "ghost"])
    assert out["RemovedLabels"] == ["prod"] and out["InvalidLabels"] == ["ghost"]
    expect("ParameterVersionNotFound", ssm.get_parameter, Name=f"{name}:prod")
    expect("ParameterNotFound", ssm.get_parameter_history, Name=f"{prefix}/none")

    # Label filter of GetParametersByPath answers with the labelled version.
    found = ssm.get_parameters_by_path(Path=prefix, ParameterFilters=[
        {"Key": "Label", "Option": "Equals", "Values": ["l3"]}])["Parameters"]
    assert [(p["Name"], p["Value"]) for p in found] == [(name, "v2")]


def test_secure_history_is_decrypted_on_request(ssm, prefix):
    name = f"{prefix}/sec-hist"
    ssm.put_parameter(Name=name, Value="one", Type="SecureString")
    ssm.put_parameter(Name=name, Value="two", Type="SecureString", Overwrite=True)
    hist = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in hist] == ["one", "two"]
    assert all(h["KeyId"] == "alias/aws/ssm" for h in hist)
    sealed = ssm.get_parameter_history(Name=name)["Parameters"]
    assert all(h["Value"] not in ("one", "two") for h in sealed)


def test_version_limit_and_labelled_oldest_version(ssm, prefix):
    name = f"{prefix}/many"
    for i in range(100):
        ssm.put_parameter(Name=name, Value=str(i), Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["keep"])
    err = expect("ParameterMaxVersionLimitExceeded", ssm.put_parameter, Name=name, Value="x", Overwrite=True)
    assert "Version 1" in err["Message"]
    ssm.label_parameter_version(Name=name, ParameterVersion=100, Labels=["keep"])
    assert ssm.put_parameter(Name=name, Value="101", Overwrite=True)["Version"] == 101
    hist = [h["Version"] for pg in ssm.get_paginator("get_parameter_history").paginate(Name=name)
            for h in pg["Parameters"]]
    assert len(hist) == 100 and hist[0] == 2 and hist[-1] == 101
    expect("ParameterVersionNotFound", ssm.get_parameter, Name=f"{name}:1")


# --- Tiers, policies, patterns, data types ---------------------------------------------------------

def test_tiers_and_value_sizes(ssm, prefix):
    big = "x" * 5000
    err = expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/big", Value=big, Type="String")
    assert "4096" in err["Message"]
    assert ssm.put_parameter(Name=f"{prefix}/big", Value=big, Type="String",
                             Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/huge", Value="x" * 8193, Type="String",
           Tier="Advanced")
    ssm.put_parameter(Name=f"{prefix}/adv", Value="small", Type="String", Tier="Advanced")
    err = expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/adv", Value="s", Overwrite=True,
                 Tier="Standard")
    assert "downgrade" in err["Message"]
    # Without a tier an advanced parameter stays advanced.
    assert ssm.put_parameter(Name=f"{prefix}/adv", Value="s2", Overwrite=True)["Tier"] == "Advanced"


def test_policies(ssm, prefix, overcast):
    name = f"{prefix}/expiring"
    at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 3600))
    policies = json.dumps([
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": at}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "15", "Unit": "Minutes"}},
    ])
    expect("InvalidPolicyAttributeException", ssm.put_parameter, Name=name, Value="x", Type="String",
           Tier="Advanced", Policies=policies)
    policies = json.dumps([
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": at}},
        {"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "20", "Unit": "Days"}},
    ])
    expect("ValidationException", ssm.put_parameter, Name=name, Value="x", Type="String", Policies=policies)
    expect("InvalidPolicyTypeException", ssm.put_parameter, Name=name, Value="x", Type="String",
           Tier="Advanced", Policies=json.dumps([{"Type": "SelfDestruct", "Version": "1.0"}]))
    out = ssm.put_parameter(Name=name, Value="x", Type="String", Tier="Intelligent-Tiering", Policies=policies)
    assert out["Tier"] == "Advanced"
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert sorted(p["PolicyType"] for p in d["Policies"]) == ["Expiration", "NoChangeNotification"]
    assert all(p["PolicyStatus"] == "Pending" for p in d["Policies"])
    overcast.clock(advance=7200)
    try:
        expect("ParameterNotFound", ssm.get_parameter, Name=name)
    finally:
        overcast.clock(set=time.time())


def test_allowed_pattern_and_data_types(ssm, prefix):
    name = f"{prefix}/port"
    ssm.put_parameter(Name=name, Value="8080", Type="String", AllowedPattern=r"^\d+$")
    err = expect("ParameterPatternMismatchException", ssm.put_parameter, Name=name, Value="http", Overwrite=True)
    assert r"^\d+$" in err["Message"]
    assert ssm.put_parameter(Name=name, Value="9090", Overwrite=True)["Version"] == 2
    expect("InvalidAllowedPatternException", ssm.put_parameter, Name=f"{prefix}/re", Value="x", Type="String",
           AllowedPattern="(")
    ami = f"{prefix}/ami"
    ssm.put_parameter(Name=ami, Value="ami-0123456789abcdef0", Type="String", DataType="aws:ec2:image")
    assert ssm.get_parameter(Name=ami)["Parameter"]["DataType"] == "aws:ec2:image"
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/ami2", Value="not-an-ami", Type="String",
           DataType="aws:ec2:image")
    expect("ValidationException", ssm.put_parameter, Name=f"{prefix}/dt", Value="x", Type="String",
           DataType="Text")


# --- Delete and tags ---------------------------------------------------------------------------------

def test_delete_parameter_and_parameters(ssm, prefix):
    ssm.put_parameter(Name=f"{prefix}/del1", Value="1", Type="String")
    ssm.put_parameter(Name=f"{prefix}/del2", Value="2", Type="String")
    ssm.delete_parameter(Name=f"{prefix}/del1")
    expect("ParameterNotFound", ssm.get_parameter, Name=f"{prefix}/del1")
    expect("ParameterNotFound", ssm.delete_parameter, Name=f"{prefix}/del1")
    out = ssm.delete_parameters(Names=[f"{prefix}/del2", f"{prefix}/ghost"])
    assert out["DeletedParameters"] == [f"{prefix}/del2"]
    assert out["InvalidParameters"] == [f"{prefix}/ghost"]
    # A deleted name starts again at version 1.
    assert ssm.put_parameter(Name=f"{prefix}/del2", Value="again", Type="String")["Version"] == 1


def test_tags(ssm, prefix):
    name = f"{prefix}/tagged"
    ssm.put_parameter(Name=name, Value="x", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    err = expect("ValidationException", ssm.put_parameter, Name=name, Value="y", Overwrite=True,
                 Tags=[{"Key": "b", "Value": "2"}])
    assert "tags and overwrite" in err["Message"]
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                             Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "updated"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "updated", "b": "2"}
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["a"])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "b", "Value": "2"}]
    expect("InvalidResourceId", ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId=f"{prefix}/no")
    expect("InvalidResourceType", ssm.list_tags_for_resource, ResourceType="Document", ResourceId="doc")
    expect("TooManyTagsError", ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=name,
           Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def test_parameters_are_per_region(client, prefix):
    east, west = client("ssm", region_name="us-east-1"), client("ssm", region_name="eu-west-1")
    east.put_parameter(Name=f"{prefix}/r", Value="east", Type="String")
    expect("ParameterNotFound", west.get_parameter, Name=f"{prefix}/r")
    west.put_parameter(Name=f"{prefix}/r", Value="west", Type="String")
    assert west.get_parameter(Name=f"{prefix}/r")["Parameter"]["ARN"].startswith("arn:aws:ssm:eu-west-1:")
    assert east.get_parameter(Name=f"{prefix}/r")["Parameter"]["Value"] == "east"


def test_other_operations_are_not_implemented(ssm):
    with pytest.raises(ClientError) as e:
        ssm.list_documents()
    assert error_code(e) == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


# --- Persistence -----------------------------------------------------------------------------------

def test_parameters_survive_restart_and_kill9(ssm, prefix, overcast, client):
    name = f"{prefix}/durable"
    ssm.put_parameter(Name=name, Value="v1", Type="String", Tags=[{"Key": "k", "Value": "v"}])
    ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    ssm.put_parameter(Name=f"{name}-secret", Value="top-secret-value", Type="SecureString")
    overcast.restart()
    ssm = client("ssm")
    assert ssm.get_parameter(Name=f"{name}:first")["Parameter"]["Value"] == "v1"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 2
    assert ssm.get_parameter(Name=f"{name}-secret", WithDecryption=True)["Parameter"]["Value"] == "top-secret-value"
    ssm.put_parameter(Name=name, Value="v3", Type="String", Overwrite=True)
    overcast.kill9()
    ssm = client("ssm")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v3"
    assert ssm.get_parameter(Name=f"{name}-secret", WithDecryption=True)["Parameter"]["Value"] == "top-secret-value"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "k", "Value": "v"}]
