"""S3 bucket notifications to Lambda really invoke the function: the handler forwards what it
received to an SQS queue, and the test reads the S3 event records back from there."""
import json
import time

from test_lambda import create, uniq

S3_FORWARDER = {"lambda_function.py": """
import json, os, urllib.request
def send(queue_url, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/", method="POST",
        data=json.dumps({"QueueUrl": queue_url, "MessageBody": body}).encode(),
        headers={"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": "application/x-amz-json-1.0"})
    urllib.request.urlopen(req).read()
def lambda_handler(event, context):
    for r in event["Records"]:
        send(os.environ["OUT_QUEUE"], json.dumps({"record": r, "function": context.function_name}))
    return "ok"
"""}


def test_s3_notification_invokes_the_function(client):
    lam, s3, sqs = client("lambda"), client("s3"), client("sqs")
    out = sqs.create_queue(QueueName=uniq("s3-out"))["QueueUrl"]
    name = uniq("s3fn")
    fn_arn = create(lam, name, S3_FORWARDER, Environment={"Variables": {"OUT_QUEUE": out}})["FunctionArn"]
    bucket = uniq("notif-bucket")
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "to-lambda", "LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
        }]})
    s3.put_object(Bucket=bucket, Key="ignored/a.txt", Body=b"no")
    s3.put_object(Bucket=bucket, Key="uploads/b.txt", Body=b"hello")
    got = []
    deadline = time.time() + 20
    while not got and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            got.append(json.loads(m["Body"]))
    assert len(got) == 1, got
    rec = got[0]["record"]
    assert got[0]["function"] == name
    assert rec["eventSource"] == "aws:s3" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["bucket"]["name"] == bucket and rec["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert rec["s3"]["object"]["key"] == "uploads/b.txt" and rec["s3"]["object"]["size"] == 5
    assert rec["s3"]["configurationId"] == "to-lambda"
    # The filtered-out key produced no invocation.
    time.sleep(1)
    assert not sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages")
