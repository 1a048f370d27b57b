"""Capacity providers and function scaling configs: stored with AWS's validation and errors;
a scaling config's MaxExecutionEnvironments really bounds concurrent invocations of the
version (the excess is throttled)."""
import concurrent.futures
import json

import pytest

from test_lambda import ROLE, code_err, uniq, zip_bytes

OPERATOR = "arn:aws:iam::000000000000:role/operator"
VPC = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}


@pytest.fixture
def lam(client):
    return client("lambda")


def provider(lam, **kw):
    name = uniq("cp")
    out = lam.create_capacity_provider(CapacityProviderName=name, VpcConfig=VPC,
                                       PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR}, **kw)
    return name, out["CapacityProvider"]


def test_capacity_provider_lifecycle(lam):
    name, cp = provider(lam, Tags={"team": "a"})
    arn = cp["CapacityProviderArn"]
    assert arn == f"arn:aws:lambda:us-east-1:000000000000:capacity-provider:{name}"
    assert cp["State"] == "Pending" and cp["CapacityProviderScalingConfig"]["ScalingMode"] == "Auto"
    got = lam.get_capacity_provider(CapacityProviderName=name)["CapacityProvider"]
    assert got["State"] == "Active" and got["VpcConfig"]["SubnetIds"] == VPC["SubnetIds"]
    assert lam.get_capacity_provider(CapacityProviderName=arn)["CapacityProvider"]["CapacityProviderArn"] == arn
    assert code_err(lam.create_capacity_provider, CapacityProviderName=name, VpcConfig=VPC,
                    PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR})[0] == "ResourceConflictException"
    assert code_err(lam.get_capacity_provider, CapacityProviderName=uniq("none"))[:2] == ("ResourceNotFoundException", 404)
    # Manual scaling needs policies; Auto takes none.
    assert code_err(lam.update_capacity_provider, CapacityProviderName=name,
                    CapacityProviderScalingConfig={"ScalingMode": "Manual"})[0] == "InvalidParameterValueException"
    up = lam.update_capacity_provider(CapacityProviderName=name, CapacityProviderScalingConfig={
        "ScalingMode": "Manual", "MaxVCpuCount": 64,
        "ScalingPolicies": [{"PredefinedMetricType": "LambdaCapacityProviderAverageCPUUtilization", "TargetValue": 60.0}]})
    assert up["CapacityProvider"]["CapacityProviderScalingConfig"]["MaxVCpuCount"] == 64
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=arn, Tags={"env": "dev"})
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}
    listed = [p["CapacityProviderArn"] for p in lam.list_capacity_providers(State="Active")["CapacityProviders"]]
    assert arn in listed
    assert code_err(lam.create_capacity_provider, CapacityProviderName=uniq("cp"), VpcConfig=VPC,
                    PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR},
                    InstanceRequirements={"AllowedInstanceTypes": ["m7g.large"], "ExcludedInstanceTypes": ["c7g.large"]})[0] == "InvalidParameterValueException"

    # A function on the provider keeps it from being deleted.
    fn = uniq("onprov")
    lam.create_function(FunctionName=fn, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes({"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n"})},
                        CapacityProviderConfig={"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": arn}})
    cfg = lam.get_function_configuration(FunctionName=fn)
    assert cfg["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]["CapacityProviderArn"] == arn
    versions = lam.list_function_versions_by_capacity_provider(CapacityProviderName=name)
    assert versions["CapacityProviderArn"] == arn
    assert [v["FunctionArn"].rsplit(":", 1)[1] for v in versions["FunctionVersions"]] == ["$LATEST"]
    assert code_err(lam.delete_capacity_provider, CapacityProviderName=name)[0] == "ResourceConflictException"
    lam.delete_function(FunctionName=fn)
    assert lam.delete_capacity_provider(CapacityProviderName=name)["CapacityProvider"]["State"] == "Deleting"
    assert code_err(lam.get_capacity_provider, CapacityProviderName=name)[0] == "ResourceNotFoundException"
    # A function cannot name a provider that does not exist.
    assert code_err(lam.create_function, FunctionName=uniq("x"), Runtime="python3.11", Role=ROLE, Handler="a.b",
                    Code={"ZipFile": zip_bytes({"a.py": ""})},
                    CapacityProviderConfig={"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": arn}})[0] == "InvalidParameterValueException"


def test_function_scaling_config_bounds_concurrency(lam):
    _, cp = provider(lam)
    fn = uniq("scaled")
    lam.create_function(FunctionName=fn, Runtime="python3.11", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_bytes({"lambda_function.py": "import time\ndef lambda_handler(e, c):\n    time.sleep(1.0)\n    return 'ok'\n"})},
                        CapacityProviderConfig={"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": cp["CapacityProviderArn"]}})
    v = lam.publish_version(FunctionName=fn)["Version"]
    assert code_err(lam.get_function_scaling_config, FunctionName=fn, Qualifier="99")[0] == "ResourceNotFoundException"
    assert code_err(lam.put_function_scaling_config, FunctionName=fn, Qualifier=v,
                    FunctionScalingConfig={"MinExecutionEnvironments": 5, "MaxExecutionEnvironments": 2})[0] == "InvalidParameterValueException"
    assert "FunctionState" in lam.put_function_scaling_config(FunctionName=fn, Qualifier="$LATEST.PUBLISHED",
                                                              FunctionScalingConfig={"MinExecutionEnvironments": 0, "MaxExecutionEnvironments": 2})
    got = lam.get_function_scaling_config(FunctionName=fn, Qualifier="$LATEST.PUBLISHED")
    assert got["RequestedFunctionScalingConfig"] == {"MinExecutionEnvironments": 0, "MaxExecutionEnvironments": 2}

    def call(_):
        try:
            return lam.invoke(FunctionName=fn, Qualifier=v)["Payload"].read().decode()
        except lam.exceptions.TooManyRequestsException:
            return "throttled"
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        results = list(pool.map(call, range(5)))
    assert results.count('"ok"') == 2 and results.count("throttled") == 3, results
    # $LATEST has no scaling config: not bounded by it.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        latest = list(pool.map(lambda _: json.loads(lam.invoke(FunctionName=fn)["Payload"].read()), range(3)))
    assert latest == ["ok"] * 3

    # Functions without a capacity provider have no scaling config.
    plain = uniq("plain")
    lam.create_function(FunctionName=plain, Runtime="python3.11", Role=ROLE, Handler="a.b", Code={"ZipFile": zip_bytes({"a.py": ""})})
    pv = lam.publish_version(FunctionName=plain)["Version"]
    assert code_err(lam.put_function_scaling_config, FunctionName=plain, Qualifier=pv,
                    FunctionScalingConfig={"MaxExecutionEnvironments": 1})[0] == "InvalidParameterValueException"
