"""EventBridge Schemas end to end with boto3: registries (with the AWS-managed aws.events and
discovered-schemas), versioned schemas, content validation, search, export to JSON Schema
draft 4, the AWS-published schemas of aws.events (which emitted events conform to), tags, resource policies, discoverers inferring schemas from events put on a bus,
code bindings, persistence across kill -9, and AWS's error codes."""
import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError
from conftest import AwsCliError

OPENAPI = {
    "openapi": "3.0.0",
    "info": {"version": "1.0.0", "title": "Order"},
    "paths": {},
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "properties": {"orderId": {"type": "string"}, "total": {"type": "number"}},
            }
        }
    },
}
DRAFT4 = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"id": {"type": "string"}},
}


def uniq(prefix="r"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def schemas(client):
    return client("schemas")


@pytest.fixture
def events(client):
    return client("events")


def test_managed_registries_exist(schemas):
    names = [r["RegistryName"] for r in schemas.list_registries()["Registries"]]
    assert "aws.events" in names and "discovered-schemas" in names
    aws = [r["RegistryName"] for r in schemas.list_registries(Scope="AWS")["Registries"]]
    assert aws == ["aws.events"]
    d = schemas.describe_registry(RegistryName="discovered-schemas")
    assert d["RegistryArn"].endswith(":registry/discovered-schemas")
    with pytest.raises(ClientError) as e:
        schemas.delete_registry(RegistryName="aws.events")
    assert code(e) == "ForbiddenException"


def test_registry_crud_and_errors(schemas):
    name = uniq()
    r = schemas.create_registry(RegistryName=name, Description="d", Tags={"k": "v"})
    assert r["RegistryArn"] == f"arn:aws:schemas:us-east-1:000000000000:registry/{name}"
    assert r["Tags"] == {"k": "v"}
    with pytest.raises(ClientError) as e:
        schemas.create_registry(RegistryName=name)
    assert code(e) == "ConflictException" and status(e) == 409
    assert schemas.update_registry(RegistryName=name, Description="d2")["Description"] == "d2"
    assert schemas.describe_registry(RegistryName=name)["Description"] == "d2"
    listed = schemas.list_registries(RegistryNamePrefix=name)["Registries"]
    assert [x["RegistryName"] for x in listed] == [name]
    schemas.delete_registry(RegistryName=name)
    with pytest.raises(ClientError) as e:
        schemas.describe_registry(RegistryName=name)
    assert code(e) == "NotFoundException" and status(e) == 404
    with pytest.raises(ClientError) as e:
        schemas.delete_registry(RegistryName=name)
    assert code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        schemas.create_registry(RegistryName="bad name!")
    assert code(e) == "BadRequestException" and status(e) == 400


def test_schema_versions(schemas):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    c = schemas.create_schema(
        RegistryName=reg, SchemaName="Order", Type="OpenApi3",
        Content=json.dumps(OPENAPI), Description="orders", Tags={"team": "a"},
    )
    assert c["SchemaVersion"] == "1" and c["Type"] == "OpenApi3"
    assert c["SchemaArn"].endswith(f":schema/{reg}/Order")
    with pytest.raises(ClientError) as e:
        schemas.create_schema(RegistryName=reg, SchemaName="Order", Type="OpenApi3",
                              Content=json.dumps(OPENAPI))
    assert code(e) == "ConflictException"
    v2 = dict(OPENAPI, info={"version": "2", "title": "Order"})
    u = schemas.update_schema(RegistryName=reg, SchemaName="Order", Content=json.dumps(v2))
    assert u["SchemaVersion"] == "2"
    d = schemas.describe_schema(RegistryName=reg, SchemaName="Order")
    assert d["SchemaVersion"] == "2" and json.loads(d["Content"]) == v2
    assert d["Description"] == "orders" and d["Tags"] == {"team": "a"}
    d1 = schemas.describe_schema(RegistryName=reg, SchemaName="Order", SchemaVersion="1")
    assert json.loads(d1["Content"]) == OPENAPI
    vs = schemas.list_schema_versions(RegistryName=reg, SchemaName="Order")["SchemaVersions"]
    assert [v["SchemaVersion"] for v in vs] == ["1", "2"]
    with pytest.raises(ClientError) as e:
        schemas.describe_schema(RegistryName=reg, SchemaName="Order", SchemaVersion="9")
    assert code(e) == "NotFoundException"
    schemas.delete_schema_version(RegistryName=reg, SchemaName="Order", SchemaVersion="1")
    vs = schemas.list_schema_versions(RegistryName=reg, SchemaName="Order")["SchemaVersions"]
    assert [v["SchemaVersion"] for v in vs] == ["2"]
    with pytest.raises(ClientError) as e:
        schemas.delete_schema_version(RegistryName=reg, SchemaName="Order", SchemaVersion="1")
    assert code(e) == "NotFoundException"
    # A new version after a deleted one never reuses its number.
    u = schemas.update_schema(RegistryName=reg, SchemaName="Order", Content=json.dumps(OPENAPI))
    assert u["SchemaVersion"] == "3"
    schemas.delete_schema(RegistryName=reg, SchemaName="Order")
    with pytest.raises(ClientError) as e:
        schemas.describe_schema(RegistryName=reg, SchemaName="Order")
    assert code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        schemas.create_schema(RegistryName=uniq("missing"), SchemaName="X", Type="OpenApi3",
                              Content=json.dumps(OPENAPI))
    assert code(e) == "NotFoundException"


@pytest.mark.parametrize("ty,content", [
    ("OpenApi3", "not json"),
    ("OpenApi3", json.dumps({"openapi": "2.0", "info": {}})),
    ("OpenApi3", json.dumps({"openapi": "3.0.0"})),
    ("JSONSchemaDraft4", "[1, 2]"),
    ("JSONSchemaDraft4", json.dumps({"$schema": "http://json-schema.org/draft-07/schema#"})),
])
def test_bad_content_is_bad_request(schemas, ty, content):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    with pytest.raises(ClientError) as e:
        schemas.create_schema(RegistryName=reg, SchemaName="S", Type=ty, Content=content)
    assert code(e) == "BadRequestException"
    assert schemas.list_schemas(RegistryName=reg)["Schemas"] == []


def test_list_prefix_pagination_and_search(schemas):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    for i in range(5):
        schemas.create_schema(RegistryName=reg, SchemaName=f"Order{i}", Type="JSONSchemaDraft4",
                              Content=json.dumps(DRAFT4))
    schemas.create_schema(RegistryName=reg, SchemaName="Invoice", Type="OpenApi3",
                          Content=json.dumps(OPENAPI), Description="billing documents")
    page = schemas.list_schemas(RegistryName=reg, Limit=2)
    assert len(page["Schemas"]) == 2 and "NextToken" in page
    seen = [s["SchemaName"] for s in page["Schemas"]]
    while "NextToken" in page:
        page = schemas.list_schemas(RegistryName=reg, Limit=2, NextToken=page["NextToken"])
        seen += [s["SchemaName"] for s in page["Schemas"]]
    assert sorted(seen) == sorted(["Invoice"] + [f"Order{i}" for i in range(5)])
    pre = schemas.list_schemas(RegistryName=reg, SchemaNamePrefix="Order")["Schemas"]
    assert len(pre) == 5 and all(s["VersionCount"] == 1 for s in pre)
    paginator = schemas.get_paginator("list_schemas")
    names = [s["SchemaName"] for p in paginator.paginate(RegistryName=reg, PaginationConfig={"PageSize": 4}) for s in p["Schemas"]]
    assert len(names) == 6
    found = schemas.search_schemas(RegistryName=reg, Keywords="billing")["Schemas"]
    assert [s["SchemaName"] for s in found] == ["Invoice"]
    assert found[0]["SchemaVersions"][0]["SchemaVersion"] == "1"
    assert schemas.search_schemas(RegistryName=reg, Keywords="nothing-like-it")["Schemas"] == []


def test_export_to_draft4(schemas):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    schemas.create_schema(RegistryName=reg, SchemaName="Order", Type="OpenApi3",
                          Content=json.dumps(OPENAPI))
    out = schemas.export_schema(RegistryName=reg, SchemaName="Order", Type="JSONSchemaDraft4")
    doc = json.loads(out["Content"])
    assert out["Type"] == "JSONSchemaDraft4" and out["SchemaVersion"] == "1"
    assert doc["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert doc["properties"]["orderId"] == {"type": "string"}
    with pytest.raises(ClientError) as e:
        schemas.export_schema(RegistryName=reg, SchemaName="Order", Type="OpenApi3")
    assert code(e) == "BadRequestException"
    with pytest.raises(ClientError) as e:
        schemas.export_schema(RegistryName=reg, SchemaName="Nope", Type="JSONSchemaDraft4")
    assert code(e) == "NotFoundException"


def test_tags(schemas):
    reg = uniq()
    arn = schemas.create_registry(RegistryName=reg)["RegistryArn"]
    sarn = schemas.create_schema(RegistryName=reg, SchemaName="S", Type="OpenApi3",
                                 Content=json.dumps(OPENAPI))["SchemaArn"]
    for a in (arn, sarn):
        schemas.tag_resource(ResourceArn=a, Tags={"a": "1", "b": "2"})
        schemas.untag_resource(ResourceArn=a, TagKeys=["a"])
        assert schemas.list_tags_for_resource(ResourceArn=a)["Tags"] == {"b": "2"}
    assert schemas.describe_registry(RegistryName=reg)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        schemas.list_tags_for_resource(
            ResourceArn=f"arn:aws:schemas:us-east-1:000000000000:registry/{uniq('none')}")
    assert code(e) == "NotFoundException"


def test_resource_policy(schemas):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    with pytest.raises(ClientError) as e:
        schemas.get_resource_policy(RegistryName=reg)
    assert code(e) == "NotFoundException"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "111111111111"},
        "Action": "schemas:DescribeSchema", "Resource": "*"}]})
    p = schemas.put_resource_policy(RegistryName=reg, Policy=policy)
    got = schemas.get_resource_policy(RegistryName=reg)
    assert json.loads(got["Policy"]) == json.loads(policy)
    assert got["RevisionId"] == p["RevisionId"]
    with pytest.raises(ClientError) as e:
        schemas.put_resource_policy(RegistryName=reg, Policy=policy, RevisionId="stale")
    assert code(e) == "PreconditionFailedException"
    p2 = schemas.put_resource_policy(RegistryName=reg, Policy=policy, RevisionId=p["RevisionId"])
    assert p2["RevisionId"] != p["RevisionId"]
    with pytest.raises(ClientError) as e:
        schemas.put_resource_policy(RegistryName=reg, Policy="{not json")
    assert code(e) == "BadRequestException"
    schemas.delete_resource_policy(RegistryName=reg)
    with pytest.raises(ClientError) as e:
        schemas.get_resource_policy(RegistryName=reg)
    assert code(e) == "NotFoundException"


def wait_for(fn, timeout=10):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def test_discoverer_infers_schemas_from_bus_events(schemas, events):
    bus = uniq("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    d = schemas.create_discoverer(SourceArn=bus_arn, Description="mine", Tags={"x": "y"})
    did = d["DiscovererId"]
    assert d["State"] == "STARTED" and d["SourceArn"] == bus_arn
    with pytest.raises(ClientError) as e:
        schemas.create_discoverer(SourceArn=bus_arn)
    assert code(e) == "ConflictException"
    assert schemas.describe_discoverer(DiscovererId=did)["Description"] == "mine"
    assert schemas.update_discoverer(DiscovererId=did, Description="new")["Description"] == "new"
    listed = schemas.list_discoverers(SourceArnPrefix=bus_arn)["Discoverers"]
    assert [x["DiscovererId"] for x in listed] == [did]

    source = uniq("my.app")
    name = f"{source}@OrderPlaced"

    def put(detail):
        r = events.put_events(Entries=[{"Source": source, "DetailType": "Order Placed",
                                        "Detail": json.dumps(detail), "EventBusName": bus}])
        assert r["FailedEntryCount"] == 0

    def versions():
        try:
            return [v["SchemaVersion"] for v in schemas.list_schema_versions(
                RegistryName="discovered-schemas", SchemaName=name)["SchemaVersions"]]
        except ClientError:
            return []

    put({"orderId": "o-1", "total": 3})
    assert wait_for(lambda: versions() == ["1"]) is True
    d1 = json.loads(schemas.describe_schema(RegistryName="discovered-schemas",
                                            SchemaName=name)["Content"])
    assert d1["openapi"].startswith("3.")
    props = d1["components"]["schemas"]["OrderPlaced"]["properties"]
    assert props["orderId"] == {"type": "string"} and props["total"]["type"] == "number"
    aws_event = d1["components"]["schemas"]["AWSEvent"]
    assert aws_event["x-amazon-events-source"] == [source]
    # Same shape: no new version; new shape: version 2.
    put({"orderId": "o-2", "total": 4})
    put({"orderId": "o-3", "total": 5, "coupon": "X"})
    assert wait_for(lambda: versions() == ["1", "2"]) is True
    c2 = json.loads(schemas.describe_schema(RegistryName="discovered-schemas",
                                            SchemaName=name)["Content"])
    assert "coupon" in c2["components"]["schemas"]["OrderPlaced"]["properties"]
    # Stopped: shapes are no longer recorded.
    assert schemas.stop_discoverer(DiscovererId=did)["State"] == "STOPPED"
    put({"somethingElse": True})
    time.sleep(0.5)
    assert versions() == ["1", "2"]
    assert schemas.start_discoverer(DiscovererId=did)["State"] == "STARTED"
    schemas.delete_discoverer(DiscovererId=did)
    with pytest.raises(ClientError) as e:
        schemas.describe_discoverer(DiscovererId=did)
    assert code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        schemas.start_discoverer(DiscovererId=did)
    assert code(e) == "NotFoundException"


def test_get_discovered_schema(schemas):
    ev = {"source": "a.b", "detail-type": "Thing", "detail": {"n": 1}}
    out = json.loads(schemas.get_discovered_schema(Events=[json.dumps(ev)], Type="OpenApi3")["Content"])
    assert out["components"]["schemas"]["Thing"]["properties"]["n"]["type"] == "number"
    with pytest.raises(ClientError) as e:
        schemas.get_discovered_schema(Events=["nope"], Type="OpenApi3")
    assert code(e) == "BadRequestException"


@pytest.mark.parametrize("lang,ext,needle", [
    ("Python36", ".py", "self.order_id = order_id"),
    ("Java8", ".java", "private String orderId;"),
    ("TypeScript3", ".ts", "'orderId': string;"),
    ("Go1", ".go", 'OrderId string `json:"orderId"`'),
])
def test_code_bindings(schemas, lang, ext, needle):
    reg = uniq()
    schemas.create_registry(RegistryName=reg)
    schemas.create_schema(RegistryName=reg, SchemaName="Order", Type="OpenApi3",
                          Content=json.dumps(OPENAPI))
    with pytest.raises(ClientError) as e:
        schemas.describe_code_binding(RegistryName=reg, SchemaName="Order", Language=lang)
    assert code(e) == "NotFoundException"
    p = schemas.put_code_binding(RegistryName=reg, SchemaName="Order", Language=lang)
    assert p["Status"] == "CREATE_COMPLETE" and p["SchemaVersion"] == "1"
    d = schemas.describe_code_binding(RegistryName=reg, SchemaName="Order", Language=lang)
    assert d["Status"] == "CREATE_COMPLETE"
    body = schemas.get_code_binding_source(RegistryName=reg, SchemaName="Order",
                                           Language=lang)["Body"]
    body = body.read() if hasattr(body, "read") else body
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None
        (name,) = z.namelist()
        assert name.endswith(ext)
        assert needle in z.read(name).decode()
    with pytest.raises(ClientError) as e:
        schemas.put_code_binding(RegistryName=reg, SchemaName="Order", Language="Cobol")
    assert code(e) == "BadRequestException"


def test_survives_kill9(overcast, schemas, events, client):
    reg = uniq()
    schemas.create_registry(RegistryName=reg, Tags={"k": "v"})
    schemas.create_schema(RegistryName=reg, SchemaName="S", Type="OpenApi3",
                          Content=json.dumps(OPENAPI))
    schemas.update_schema(RegistryName=reg, SchemaName="S", Content=json.dumps(
        dict(OPENAPI, info={"version": "2", "title": "x"})))
    schemas.put_resource_policy(RegistryName=reg, Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    schemas.put_code_binding(RegistryName=reg, SchemaName="S", Language="Go1")
    bus_arn = events.create_event_bus(Name=uniq("bus"))["EventBusArn"]
    did = schemas.create_discoverer(SourceArn=bus_arn)["DiscovererId"]
    schemas.stop_discoverer(DiscovererId=did)
    # A code binding is stored in the AWS-managed registry too; its schemas stay after restart.
    schemas.put_code_binding(RegistryName="aws.events", SchemaName="aws.events@ScheduledEvent", Language="Go1")
    overcast.kill9()
    s2 = client("schemas")
    assert s2.describe_code_binding(RegistryName="aws.events", SchemaName="aws.events@ScheduledEvent",
                                    Language="Go1")["Status"] == "CREATE_COMPLETE"
    assert "aws.s3@ObjectCreated" in [x["SchemaName"] for x in s2.list_schemas(RegistryName="aws.events")["Schemas"]]
    assert s2.describe_registry(RegistryName=reg)["Tags"] == {"k": "v"}
    vs = s2.list_schema_versions(RegistryName=reg, SchemaName="S")["SchemaVersions"]
    assert [v["SchemaVersion"] for v in vs] == ["1", "2"]
    assert s2.get_resource_policy(RegistryName=reg)["RevisionId"]
    assert s2.describe_code_binding(RegistryName=reg, SchemaName="S", Language="Go1")["Status"] == "CREATE_COMPLETE"
    assert s2.describe_discoverer(DiscovererId=did)["State"] == "STOPPED"


def test_aws_cli(aws, tmp_path):
    reg = uniq("cli")
    out = aws("schemas", "create-registry", "--registry-name", reg)
    assert out["RegistryName"] == reg
    aws("schemas", "create-schema", "--registry-name", reg, "--schema-name", "Order",
        "--type", "OpenApi3", "--content", json.dumps(OPENAPI))
    d = aws("schemas", "describe-schema", "--registry-name", reg, "--schema-name", "Order")
    assert d["SchemaVersion"] == "1" and json.loads(d["Content"]) == OPENAPI
    aws("schemas", "put-code-binding", "--registry-name", reg, "--schema-name", "Order",
        "--language", "Python36")
    target = tmp_path / "binding.zip"
    aws("schemas", "get-code-binding-source", "--registry-name", reg, "--schema-name", "Order",
        "--language", "Python36", str(target))
    assert zipfile.is_zipfile(target)
    with pytest.raises(AwsCliError) as e:
        aws("schemas", "describe-registry", "--registry-name", uniq("none"))
    assert e.value.code == "NotFoundException"


def conforms(value, schema, defs, path="$"):
    """A small JSON Schema draft 4 check (type, required, properties, items, $ref): the
    subset AWS's event schemas use. Returns the list of violations."""
    if "$ref" in schema:
        return conforms(value, defs[schema["$ref"].split("/")[-1]], defs, path)
    kinds = {"object": dict, "string": str, "array": list, "boolean": bool, "number": (int, float)}
    t = schema.get("type")
    if t and not isinstance(value, kinds[t]) or (t == "number" and isinstance(value, bool)):
        return [f"{path}: {value!r} is not {t}"]
    out = []
    if isinstance(value, dict):
        out += [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                out += conforms(value[k], sub, defs, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, x in enumerate(value):
            out += conforms(x, schema["items"], defs, f"{path}[{i}]")
    return out


def test_aws_events_registry_holds_the_schemas_of_emitted_events(schemas):
    names = [s["SchemaName"] for s in schemas.list_schemas(RegistryName="aws.events")["Schemas"]]
    for n in ["aws.s3@ObjectCreated", "aws.s3@ObjectDeleted", "aws.events@ScheduledEvent",
              "aws.cloudwatch@CloudWatchAlarmStateChange"]:
        assert n in names
    assert [s["SchemaName"] for s in schemas.list_schemas(RegistryName="aws.events", SchemaNamePrefix="aws.s3@")["Schemas"]] == \
        sorted(n for n in names if n.startswith("aws.s3@"))
    d = schemas.describe_schema(RegistryName="aws.events", SchemaName="aws.s3@ObjectCreated")
    assert d["Type"] == "OpenApi3" and d["SchemaVersion"] == "1"
    assert d["SchemaArn"] == "arn:aws:schemas:us-east-1:000000000000:schema/aws.events/aws.s3@ObjectCreated"
    doc = json.loads(d["Content"])
    env = doc["components"]["schemas"]["AWSEvent"]
    assert env["x-amazon-events-source"] == "aws.s3" and env["x-amazon-events-detail-type"] == "Object Created"
    assert env["properties"]["detail"] == {"$ref": "#/components/schemas/ObjectCreated"}
    found = schemas.search_schemas(RegistryName="aws.events", Keywords="alarm")["Schemas"]
    assert [s["SchemaName"] for s in found] == ["aws.cloudwatch@CloudWatchAlarmStateChange"]
    # Read-only, like every AWS-managed schema.
    with pytest.raises(ClientError) as e:
        schemas.delete_schema(RegistryName="aws.events", SchemaName="aws.s3@ObjectCreated")
    assert code(e) == "ForbiddenException"
    # Code bindings work on them.
    schemas.put_code_binding(RegistryName="aws.events", SchemaName="aws.s3@ObjectCreated", Language="Python36")
    body = schemas.get_code_binding_source(RegistryName="aws.events", SchemaName="aws.s3@ObjectCreated",
                                           Language="Python36")["Body"]
    body = body.read() if hasattr(body, "read") else body
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        src = z.read(z.namelist()[0]).decode()
    assert "class ObjectCreated" in src and "class Bucket" in src


def test_emitted_s3_and_scheduled_events_conform_to_their_aws_events_schemas(schemas, events, client, overcast):
    s3, sqs = client("s3"), client("sqs")
    url = sqs.create_queue(QueueName=uniq("q"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bucket = uniq("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    rule = uniq("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn}])
    tick = uniq("tick")
    events.put_rule(Name=tick, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=tick, Targets=[{"Id": "q", "Arn": qarn}])
    try:
        s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
        s3.delete_object(Bucket=bucket, Key="a.txt")
        overcast.clock(advance=61)
        got = {}
        deadline = time.time() + 10
        while len(got) < 3 and time.time() < deadline:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                e = json.loads(m["Body"])
                got.setdefault((e["source"], e["detail-type"]), e)
        assert set(got) == {("aws.s3", "Object Created"), ("aws.s3", "Object Deleted"), ("aws.events", "Scheduled Event")}
        for (source, dt), event in got.items():
            name = source + "@" + dt.replace(" ", "")
            exported = json.loads(schemas.export_schema(RegistryName="aws.events", SchemaName=name,
                                                        Type="JSONSchemaDraft4")["Content"])
            assert conforms(event, exported, exported.get("definitions", {})) == [], name
        # The check can fail: an event of another shape does not conform.
        bad = dict(got[("aws.s3", "Object Created")], detail={"bucket": "x"})
        exported = json.loads(schemas.export_schema(RegistryName="aws.events", SchemaName="aws.s3@ObjectCreated",
                                                    Type="JSONSchemaDraft4")["Content"])
        assert conforms(bad, exported, exported["definitions"])
    finally:
        events.remove_targets(Rule=tick, Ids=["q"])
        events.delete_rule(Name=tick)
