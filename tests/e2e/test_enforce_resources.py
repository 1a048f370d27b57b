"""--enforce-iam with resource-based policies: S3 bucket policies, SQS queue policies, SNS
topic policies, KMS key policies (and KMS's delegation rule), Secrets Manager, Lambda,
EventBridge bus and Schemas registry policies. A resource policy can grant what identity
policies do not, and its explicit Deny wins even when identity policies allow; changes to a
policy take effect on the next request (the authorizer caches compiled policies)."""
import io
import json
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Overcast

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    server = Overcast(str(tmp_path_factory.mktemp("enforce-res") / "data"), extra_args=["--enforce-iam"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mk(enforced):
    def make(service, key="test", secret="test"):
        return boto3.client(service, endpoint_url=enforced.url, region_name=REGION,
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(retries={"max_attempts": 1}))
    return make


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user(mk, name, *statements):
    """An IAM user (with `statements` as its inline policy) and a client factory for it."""
    iam = mk("iam")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return lambda svc: mk(svc, k["AccessKeyId"], k["SecretAccessKey"])


def denied(fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def arn_user(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def test_s3_bucket_policy_grants_and_denies(mk):
    s3 = mk("s3")
    s3.create_bucket(Bucket="res-bucket")
    s3.put_object(Bucket="res-bucket", Key="public/a.txt", Body=b"a")
    s3.put_object(Bucket="res-bucket", Key="secret/b.txt", Body=b"b")
    reader = user(mk, "bucket-reader")("s3")
    admin = user(mk, "bucket-admin", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})("s3")
    code, status, msg = denied(reader.get_object, Bucket="res-bucket", Key="public/a.txt")
    assert (code, status) == ("AccessDenied", 403)
    assert msg == (f"User: {arn_user('bucket-reader')} is not authorized to perform: s3:GetObject on resource: "
                   "arn:aws:s3:::res-bucket/public/a.txt because no identity-based policy allows the s3:GetObject action")
    s3.put_bucket_policy(Bucket="res-bucket", Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": arn_user("bucket-reader")}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::res-bucket/public/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::res-bucket/secret/*"}))
    # Same account: the bucket policy alone grants.
    assert reader.get_object(Bucket="res-bucket", Key="public/a.txt")["Body"].read() == b"a"
    # Its explicit Deny wins over the admin's identity allow.
    assert admin.get_object(Bucket="res-bucket", Key="public/a.txt")["Body"].read() == b"a"
    code, status, msg = denied(admin.get_object, Bucket="res-bucket", Key="secret/b.txt")
    assert (code, status) == ("AccessDenied", 403)
    assert msg == (f"User: {arn_user('bucket-admin')} is not authorized to perform: s3:GetObject on resource: "
                   "arn:aws:s3:::res-bucket/secret/b.txt with an explicit deny in a resource-based policy")
    code, _, _ = denied(admin.delete_object, Bucket="res-bucket", Key="secret/b.txt")
    assert code == "AccessDenied"
    # Removing the policy takes effect at once.
    s3.delete_bucket_policy(Bucket="res-bucket")
    assert admin.get_object(Bucket="res-bucket", Key="secret/b.txt")["Body"].read() == b"b"
    assert denied(reader.get_object, Bucket="res-bucket", Key="public/a.txt")[0] == "AccessDenied"


def test_sqs_queue_policy_deny_wins_over_identity_allow(mk):
    sqs = mk("sqs")
    url = sqs.create_queue(QueueName="res-queue")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:res-queue"
    worker = user(mk, "queue-worker", {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})("sqs")
    assert worker.send_message(QueueUrl=url, MessageBody="1")["MessageId"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": doc(
        {"Effect": "Deny", "Principal": {"AWS": arn_user("queue-worker")}, "Action": "sqs:SendMessage",
         "Resource": arn})})
    code, status, msg = denied(worker.send_message, QueueUrl=url, MessageBody="2")
    assert (code, status) == ("AccessDenied", 403)
    assert msg == (f"User: {arn_user('queue-worker')} is not authorized to perform: sqs:SendMessage on resource: "
                   f"{arn} with an explicit deny in a resource-based policy")
    assert "Messages" in worker.receive_message(QueueUrl=url)  # only SendMessage is denied
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert worker.send_message(QueueUrl=url, MessageBody="3")["MessageId"]
    # A queue deleted and created again under its name has no policy.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": doc(
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn})})
    assert denied(worker.send_message, QueueUrl=url, MessageBody="4")[0] == "AccessDenied"
    sqs.create_queue(QueueName="res-queue-other")  # a change elsewhere keeps this queue's entry
    assert denied(worker.send_message, QueueUrl=url, MessageBody="5")[0] == "AccessDenied"
    sqs.delete_queue(QueueUrl=url)
    url = sqs.create_queue(QueueName="res-queue")["QueueUrl"]
    assert worker.send_message(QueueUrl=url, MessageBody="6")["MessageId"]


def test_repeated_allowed_calls_follow_policy_changes_at_once(mk):
    """An allowed call decided without its context is remembered per caller and resource;
    every IAM change and every resource policy change is seen by the very next call."""
    sqs = mk("sqs")
    urls = [sqs.create_queue(QueueName=f"memo-{i}")["QueueUrl"] for i in range(2)]
    arn0 = f"arn:aws:sqs:{REGION}:{ACCOUNT}:memo-0"
    iam = mk("iam")
    worker = user(mk, "memo-worker", {"Effect": "Allow", "Action": "sqs:SendMessage",
                                      "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:memo-*"})("sqs")
    time.sleep(1.6)  # creating queues unsettles resource policies for 1.5 s: nothing is kept
    for _ in range(3):
        for u in urls:
            assert worker.send_message(QueueUrl=u, MessageBody="x")["MessageId"]
    # An identity deny on one queue: that queue only, at once.
    iam.put_user_policy(UserName="memo-worker", PolicyName="deny", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": arn0}))
    assert denied(worker.send_message, QueueUrl=urls[0], MessageBody="x")[0] == "AccessDenied"
    assert worker.send_message(QueueUrl=urls[1], MessageBody="x")["MessageId"]
    iam.delete_user_policy(UserName="memo-worker", PolicyName="deny")
    assert worker.send_message(QueueUrl=urls[0], MessageBody="x")["MessageId"]
    # Another operation on the same queue is decided on its own.
    assert denied(worker.delete_message, QueueUrl=urls[0], ReceiptHandle="h")[0] == "AccessDenied"
    # The allowing policy goes away: nothing remembered survives.
    iam.delete_user_policy(UserName="memo-worker", PolicyName="p")
    for u in urls:
        assert denied(worker.send_message, QueueUrl=u, MessageBody="x")[0] == "AccessDenied"


def test_sns_topic_policy(mk):
    sns = mk("sns")
    topic = sns.create_topic(Name="res-topic")["TopicArn"]
    pub = user(mk, "publisher")("sns")
    code, status, msg = denied(pub.publish, TopicArn=topic, Message="x")
    assert (code, status) == ("AuthorizationError", 403)
    assert msg.endswith("because no identity-based policy allows the sns:Publish action")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=doc(
        {"Effect": "Allow", "Principal": {"AWS": arn_user("publisher")}, "Action": "sns:Publish", "Resource": topic}))
    assert pub.publish(TopicArn=topic, Message="x")["MessageId"]
    admin = user(mk, "sns-admin", {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})("sns")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic,
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": arn_user("publisher")}}},
        {"Effect": "Allow", "Principal": {"AWS": arn_user("publisher")}, "Action": "sns:Publish", "Resource": topic}))
    code, _, msg = denied(admin.publish, TopicArn=topic, Message="x")
    assert code == "AuthorizationError"
    assert msg.endswith("with an explicit deny in a resource-based policy")
    assert pub.publish(TopicArn=topic, Message="y")["MessageId"]


def test_kms_key_policy_must_delegate_to_the_account(mk):
    kms = mk("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/res-key", TargetKeyId=key["KeyId"])
    crypto = user(mk, "crypto", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})("kms")
    # The default key policy delegates to the account: the identity policy counts (also by alias).
    blob = crypto.encrypt(KeyId=key["KeyId"], Plaintext=b"hi")["CiphertextBlob"]
    assert crypto.encrypt(KeyId="alias/res-key", Plaintext=b"hi")["KeyId"] == key["Arn"]
    # A key policy without the account delegation: IAM policies no longer count.
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", BypassPolicyLockoutSafetyCheck=True, Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/key-admin"}, "Action": "kms:*",
         "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": arn_user("crypto")}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "web"}}}))
    code, status, msg = denied(crypto.encrypt, KeyId=key["KeyId"], Plaintext=b"hi")
    assert (code, status) == ("AccessDeniedException", 400)
    assert msg == (f"User: {arn_user('crypto')} is not authorized to perform: kms:Encrypt on resource: "
                   f"{key['Arn']} because no resource-based policy allows the kms:Encrypt action")
    assert denied(crypto.encrypt, KeyId="alias/res-key", Plaintext=b"hi")[0] == "AccessDeniedException"
    # The key policy's own grant, with its encryption-context condition.
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext={"app": "web"})["CiphertextBlob"]
    assert crypto.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionContext={"app": "web"})["Plaintext"] == b"ctx"
    blob2 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext={"app": "batch"})["CiphertextBlob"]
    assert denied(crypto.decrypt, CiphertextBlob=blob2, KeyId=key["KeyId"],
                  EncryptionContext={"app": "batch"})[0] == "AccessDeniedException"
    # Grants allow their grantee their operations, under their constraints, until revoked.
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_user("crypto"), Operations=["Encrypt"],
                             Constraints={"EncryptionContextSubset": {"team": "web"}})["GrantId"]
    assert crypto.encrypt(KeyId=key["KeyId"], Plaintext=b"g", EncryptionContext={"team": "web", "x": "y"})["KeyId"] == key["Arn"]
    assert denied(crypto.encrypt, KeyId=key["KeyId"], Plaintext=b"g",
                  EncryptionContext={"team": "ops"})[0] == "AccessDeniedException"
    assert denied(crypto.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256",
                  EncryptionContext={"team": "web"})[0] == "AccessDeniedException"
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant)
    assert denied(crypto.encrypt, KeyId=key["KeyId"], Plaintext=b"g",
                  EncryptionContext={"team": "web"})[0] == "AccessDeniedException"


def test_secrets_manager_resource_policy(mk):
    sm = mk("secretsmanager")
    arn = sm.create_secret(Name="res-secret", SecretString="s3cr3t")["ARN"]
    reader = user(mk, "secret-reader", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                       "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:res-secret-??????"})
    sm_r = reader("secretsmanager")
    assert sm_r.get_secret_value(SecretId="res-secret")["SecretString"] == "s3cr3t"
    assert sm_r.get_secret_value(SecretId=arn)["SecretString"] == "s3cr3t"
    sm.put_resource_policy(SecretId="res-secret", ResourcePolicy=doc(
        {"Effect": "Deny", "Principal": {"AWS": arn_user("secret-reader")}, "Action": "secretsmanager:GetSecretValue",
         "Resource": "*"}))
    code, status, msg = denied(sm_r.get_secret_value, SecretId="res-secret")
    assert (code, status) == ("AccessDeniedException", 400)
    assert msg == (f"User: {arn_user('secret-reader')} is not authorized to perform: secretsmanager:GetSecretValue "
                   f"on resource: {arn} with an explicit deny in a resource-based policy")
    # Another user, allowed by the policy alone.
    other = user(mk, "secret-other")("secretsmanager")
    assert denied(other.describe_secret, SecretId="res-secret")[0] == "AccessDeniedException"
    sm.put_resource_policy(SecretId="res-secret", ResourcePolicy=doc(
        {"Effect": "Allow", "Principal": {"AWS": arn_user("secret-other")}, "Action": "secretsmanager:DescribeSecret",
         "Resource": "*"}))
    assert other.describe_secret(SecretId="res-secret")["ARN"] == arn
    assert sm_r.get_secret_value(SecretId="res-secret")["SecretString"] == "s3cr3t"


def _zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return e\n")
    return b.getvalue()


def test_lambda_function_policy_with_qualifier(mk):
    lam = mk("lambda")
    fn = lam.create_function(FunctionName="res-fn", Runtime="python3.11", Handler="lambda_function.lambda_handler",
                             Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role", Code={"ZipFile": _zip()},
                             Publish=True)
    lam.create_alias(FunctionName="res-fn", Name="live", FunctionVersion=fn["Version"])
    dev = user(mk, "fn-reader")("lambda")
    code, status, msg = denied(dev.get_function, FunctionName="res-fn")
    assert (code, status) == ("AccessDeniedException", 403)
    assert msg == (f"User: {arn_user('fn-reader')} is not authorized to perform: lambda:GetFunction on resource: "
                   f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:res-fn because no identity-based policy allows the "
                   "lambda:GetFunction action")
    lam.add_permission(FunctionName="res-fn", Qualifier="live", StatementId="reader", Action="lambda:GetFunction",
                       Principal=arn_user("fn-reader"))
    # The alias's policy grants on the alias only.
    assert dev.get_function(FunctionName="res-fn", Qualifier="live")["Configuration"]["FunctionName"] == "res-fn"
    assert denied(dev.get_function, FunctionName="res-fn")[0] == "AccessDeniedException"
    lam.remove_permission(FunctionName="res-fn", Qualifier="live", StatementId="reader")
    assert denied(dev.get_function, FunctionName="res-fn", Qualifier="live")[0] == "AccessDeniedException"


def test_eventbridge_bus_policy(mk):
    ev = mk("events")
    ev.create_event_bus(Name="res-bus")
    sender = user(mk, "event-sender")("events")
    entry = {"Source": "app.orders", "DetailType": "created", "Detail": "{}", "EventBusName": "res-bus"}
    code, status, msg = denied(sender.put_events, Entries=[entry])
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"events:PutEvents on resource: arn:aws:events:{REGION}:{ACCOUNT}:event-bus/res-bus" in msg
    # A bus policy naming the account delegates to the account's identity policies...
    ev.put_permission(EventBusName="res-bus", Action="events:PutEvents", Principal=ACCOUNT, StatementId="acct")
    assert denied(sender.put_events, Entries=[entry])[0] == "AccessDeniedException"
    ev.remove_permission(EventBusName="res-bus", StatementId="acct")
    # ...one naming the user grants by itself.
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/res-bus"
    ev.put_permission(EventBusName="res-bus", Policy=doc(
        {"Sid": "user", "Effect": "Allow", "Principal": {"AWS": arn_user("event-sender")},
         "Action": "events:PutEvents", "Resource": bus}))
    assert sender.put_events(Entries=[entry])["FailedEntryCount"] == 0
    ev.remove_permission(EventBusName="res-bus", StatementId="user")
    assert denied(sender.put_events, Entries=[entry])[0] == "AccessDeniedException"


def test_schemas_registry_policy_deny(mk):
    sc = mk("schemas")
    sc.create_registry(RegistryName="res-registry")
    reg_arn = f"arn:aws:schemas:{REGION}:{ACCOUNT}:registry/res-registry"
    viewer = user(mk, "schema-viewer", {"Effect": "Allow", "Action": "schemas:*", "Resource": "*"})("schemas")
    assert viewer.describe_registry(RegistryName="res-registry")["RegistryName"] == "res-registry"
    sc.put_resource_policy(RegistryName="res-registry", Policy=doc(
        {"Sid": "deny", "Effect": "Deny", "Principal": {"AWS": arn_user("schema-viewer")},
         "Action": "schemas:DescribeRegistry", "Resource": reg_arn}))
    code, _, msg = denied(viewer.describe_registry, RegistryName="res-registry")
    assert code == "AccessDeniedException"
    assert msg.endswith("with an explicit deny in a resource-based policy")
    # Schemas of the registry are governed by its policy.
    sc.create_schema(RegistryName="res-registry", SchemaName="Order", Type="OpenApi3",
                     Content=json.dumps({"openapi": "3.0.0", "info": {"title": "Order", "version": "1"}, "paths": {}}))
    assert viewer.describe_schema(RegistryName="res-registry", SchemaName="Order")["SchemaName"] == "Order"
    sc.put_resource_policy(RegistryName="res-registry", Policy=doc(
        {"Sid": "deny", "Effect": "Deny", "Principal": {"AWS": arn_user("schema-viewer")},
         "Action": ["schemas:DescribeRegistry", "schemas:DescribeSchema"], "Resource": "*"}))
    code, _, msg = denied(viewer.describe_schema, RegistryName="res-registry", SchemaName="Order")
    assert code == "AccessDeniedException"
    assert f"schemas:DescribeSchema on resource: arn:aws:schemas:{REGION}:{ACCOUNT}:schema/res-registry/Order" in msg
    sc.delete_resource_policy(RegistryName="res-registry")
    assert viewer.describe_registry(RegistryName="res-registry")["RegistryName"] == "res-registry"


def test_table_covers_other_services_with_their_resources(mk):
    logs = mk("logs")
    logs.create_log_group(logGroupName="/app/allowed")
    logs.create_log_group(logGroupName="/app/other")
    writer = user(mk, "log-writer", {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                     "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/allowed:*"})("logs")
    writer.create_log_stream(logGroupName="/app/allowed", logStreamName="s")
    code, _, msg = denied(writer.create_log_stream, logGroupName="/app/other", logStreamName="s")
    assert code == "AccessDeniedException"
    assert f"logs:CreateLogStream on resource: arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/other:log-stream:s" in msg
    cw_user = user(mk, "metrics", {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                                   "Condition": {"StringEquals": {"cloudwatch:namespace": "App"}}})("cloudwatch")
    cw_user.put_metric_data(Namespace="App", MetricData=[{"MetricName": "m", "Value": 1}])
    code, _, msg = denied(cw_user.put_metric_data, Namespace="Other", MetricData=[{"MetricName": "m", "Value": 1}])
    assert code == "AccessDenied"
    assert "cloudwatch:PutMetricData on resource: *" in msg
    sched = user(mk, "scheduler-user")("scheduler")
    code, _, msg = denied(sched.get_schedule, Name="nightly")
    assert code == "AccessDeniedException"
    assert f"scheduler:GetSchedule on resource: arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/nightly" in msg


def test_policy_changed_by_another_service_takes_effect(mk, enforced):
    """A queue policy set through an in-process call (a Scheduler universal target calling
    sqs:SetQueueAttributes) retires the authorizer's cached copy like a client's call does."""
    import time
    sqs = mk("sqs")
    url = sqs.create_queue(QueueName="changed-inside")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:changed-inside"
    worker = user(mk, "inside-worker", {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})("sqs")
    time.sleep(1.6)  # past the settle window of those changes: the next answer is cached
    assert worker.send_message(QueueUrl=url, MessageBody="cached allow")["MessageId"]
    deny = doc({"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn})
    mk("scheduler").create_schedule(
        Name="set-policy", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sqs:setQueueAttributes",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
                "Input": json.dumps({"QueueUrl": url, "Attributes": {"Policy": deny}})})
    enforced.clock(advance=61)
    for _ in range(100):
        if sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes"):
            break
        time.sleep(0.05)
    mk("scheduler").delete_schedule(Name="set-policy")
    assert denied(worker.send_message, QueueUrl=url, MessageBody="now denied")[0] == "AccessDenied"


def test_kms_forward_access_sessions(mk):
    """A service acting for a principal (S3 reading an SSE-KMS object, Secrets Manager
    decrypting a secret) makes KMS authorize that principal, with kms:ViaService and
    aws:CalledVia set; AWS-managed keys are usable through their own service only."""
    kms, s3 = mk("kms"), mk("s3")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="fas-bucket")
    s3.put_object(Bucket="fas-bucket", Key="cmk", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    s3.put_object(Bucket="fas-bucket", Key="managed", Body=b"y", ServerSideEncryption="aws:kms")
    s3_only = user(mk, "fas-s3-only", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    code, status, msg = denied(s3_only("s3").get_object, Bucket="fas-bucket", Key="cmk")
    assert (code, status) == ("AccessDenied", 403)
    assert msg.startswith(f"User: {arn_user('fas-s3-only')} is not authorized to perform: kms:Decrypt on resource: {key}")
    # aws/s3: any principal of the account may use it through S3, none directly.
    assert s3_only("s3").get_object(Bucket="fas-bucket", Key="managed")["Body"].read() == b"y"
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=managed, Plaintext=b"direct")["CiphertextBlob"]
    anyone = user(mk, "fas-kms-all", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    assert denied(anyone("kms").decrypt, CiphertextBlob=blob)[0] == "AccessDeniedException"

    def via(name, condition):
        return user(mk, name, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key, "Condition": condition})
    through_s3 = via("fas-via-s3", {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})
    assert through_s3("s3").get_object(Bucket="fas-bucket", Key="cmk")["Body"].read() == b"x"
    own = kms.encrypt(KeyId=key, Plaintext=b"direct")["CiphertextBlob"]
    assert denied(through_s3("kms").decrypt, CiphertextBlob=own)[0] == "AccessDeniedException"
    called = via("fas-called-via", {"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3.amazonaws.com"]}})
    assert called("s3").get_object(Bucket="fas-bucket", Key="cmk")["Body"].read() == b"x"
    wrong = via("fas-via-sm", {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}})
    assert denied(wrong("s3").get_object, Bucket="fas-bucket", Key="cmk")[0] == "AccessDenied"
    # Secrets Manager: its managed key follows Secrets Manager permissions; a customer key
    # needs KMS permissions too.
    sm = mk("secretsmanager")
    sm.create_secret(Name="fas-secret", SecretString="s")
    sm.create_secret(Name="fas-secret-cmk", SecretString="t", KmsKeyId=key)
    reader = user(mk, "fas-sm", {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"})
    assert reader("secretsmanager").get_secret_value(SecretId="fas-secret")["SecretString"] == "s"
    code, status, msg = denied(reader("secretsmanager").get_secret_value, SecretId="fas-secret-cmk")
    assert (code, msg) == ("AccessDeniedException", "Access to KMS is not allowed")


def test_resource_policies_hold_after_restart(mk, enforced):
    sqs = mk("sqs")
    url = sqs.create_queue(QueueName="durable-res-queue")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:durable-res-queue"
    u = user(mk, "durable-worker", {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": doc(
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn})})
    assert denied(u("sqs").send_message, QueueUrl=url, MessageBody="x")[0] == "AccessDenied"
    enforced.kill9()
    assert denied(u("sqs").send_message, QueueUrl=url, MessageBody="x")[0] == "AccessDenied"
    assert "Messages" not in u("sqs").receive_message(QueueUrl=url)


def test_last_used_data_survives_kill9(mk, enforced):
    import time
    iam = mk("iam")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="last-used-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="last-used-role", PolicyName="p",
                        PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}))
    assert iam.get_role(RoleName="last-used-role")["Role"]["RoleLastUsed"] == {}
    u = user(mk, "last-used-user", {"Effect": "Allow", "Action": ["sts:AssumeRole", "sqs:ListQueues"], "Resource": "*"})
    key = iam.list_access_keys(UserName="last-used-user")["AccessKeyMetadata"][0]["AccessKeyId"]
    creds = u("sts").assume_role(RoleArn=role, RoleSessionName="sess")["Credentials"]
    boto3.client("sqs", endpoint_url=enforced.url, region_name="eu-west-1", aws_access_key_id=creds["AccessKeyId"],
                 aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]).list_queues()
    u("sqs").list_queues()
    time.sleep(1.2)  # the write-behind interval (0.5 s) has passed
    enforced.kill9()
    iam = mk("iam")
    last = iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]
    assert (last["ServiceName"], last["Region"]) == ("sqs", REGION)
    used = iam.get_role(RoleName="last-used-role")["Role"]["RoleLastUsed"]
    assert used["Region"] == "eu-west-1" and "LastUsedDate" in used
    job = iam.generate_service_last_accessed_details(Arn=role)["JobId"]
    by_ns = {s["ServiceNamespace"]: s for s in iam.get_service_last_accessed_details(JobId=job)["ServicesLastAccessed"]}
    assert by_ns["sqs"]["LastAuthenticatedEntity"] == role
    assert by_ns["sqs"]["TotalAuthenticatedEntities"] == 1
