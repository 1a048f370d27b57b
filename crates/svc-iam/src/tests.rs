use super::*;
use overcast_core::Input;
use serde_json::json;

async fn call(
    svc: &Arc<dyn Service>,
    ctx: &RequestContext,
    op: &'static str,
    v: Value,
) -> Result<Value, AwsError> {
    svc.call(
        ctx,
        op,
        Input {
            value: v,
            body: None,
        },
    )
    .await
    .map(|o| o.value)
}

#[tokio::test]
async fn users_policies_and_enforcement() {
    let core = Core::ephemeral();
    let svc = service(&core);
    let ctx = RequestContext::test("iam", "CreateUser");
    call(&svc, &ctx, "CreateUser", json!({"UserName": "alice"}))
        .await
        .unwrap();
    let e = call(&svc, &ctx, "CreateUser", json!({"UserName": "ALICE"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "EntityAlreadyExistsException");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:q"}]}"#;
    call(
        &svc,
        &ctx,
        "PutUserPolicy",
        json!({"UserName": "alice", "PolicyName": "p", "PolicyDocument": doc}),
    )
    .await
    .unwrap();
    let e = call(
        &svc,
        &ctx,
        "PutUserPolicy",
        json!({"UserName": "alice", "PolicyName": "p", "PolicyDocument": "{}"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocumentException");
    let k = call(&svc, &ctx, "CreateAccessKey", json!({"UserName": "alice"}))
        .await
        .unwrap();
    let key = k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    let p = core.identities.resolve(Some(&key));
    assert_eq!(p.arn, "arn:aws:iam::000000000000:user/alice");
    let authz = core.identities.authorizer().unwrap();
    let sqs = RequestContext {
        principal_arn: p.arn.clone(),
        principal_id: p.id.clone(),
        access_key: Some(key.clone()),
        ..RequestContext::test("sqs", "SendMessage")
    };
    authz
        .authorize(
            &sqs,
            &json!({"QueueUrl": "http://localhost:4566/000000000000/q", "MessageBody": "x"}),
        )
        .await
        .unwrap();
    let e = authz
        .authorize(
            &sqs,
            &json!({"QueueUrl": "http://localhost:4566/000000000000/other"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    assert_eq!(e.message, "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:other because no identity-based policy allows the sqs:SendMessage action");
    let ssm = RequestContext {
        operation: "GetParameter",
        service: "ssm",
        ..sqs.clone()
    };
    assert_eq!(
        authz
            .authorize(&ssm, &json!({"Name": "/prod/db"}))
            .await
            .unwrap_err()
            .code,
        "AccessDeniedException"
    );
    // Deleting the key forgets it.
    call(
        &svc,
        &ctx,
        "DeleteUserPolicy",
        json!({"UserName": "alice", "PolicyName": "p"}),
    )
    .await
    .unwrap();
    assert!(authz
        .authorize(
            &sqs,
            &json!({"QueueUrl": "http://localhost:4566/000000000000/q"})
        )
        .await
        .is_err());
    let e = call(&svc, &ctx, "DeleteUser", json!({"UserName": "alice"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "DeleteConflictException");
    call(
        &svc,
        &ctx,
        "DeleteAccessKey",
        json!({"UserName": "alice", "AccessKeyId": key}),
    )
    .await
    .unwrap();
    assert!(core.identities.get(&key).is_none());
    call(&svc, &ctx, "DeleteUser", json!({"UserName": "alice"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn policy_versions_limit_and_default() {
    let core = Core::ephemeral();
    let svc = service(&core);
    let ctx = RequestContext::test("iam", "CreatePolicy");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let p = call(
        &svc,
        &ctx,
        "CreatePolicy",
        json!({"PolicyName": "p", "PolicyDocument": doc}),
    )
    .await
    .unwrap();
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(arn, "arn:aws:iam::000000000000:policy/p");
    for n in 2..=5 {
        let v = call(
            &svc,
            &ctx,
            "CreatePolicyVersion",
            json!({"PolicyArn": arn, "PolicyDocument": doc, "SetAsDefault": n == 3}),
        )
        .await
        .unwrap();
        assert_eq!(v["PolicyVersion"]["VersionId"], format!("v{n}"));
    }
    let e = call(
        &svc,
        &ctx,
        "CreatePolicyVersion",
        json!({"PolicyArn": arn, "PolicyDocument": doc}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "LimitExceededException");
    let got = call(&svc, &ctx, "GetPolicy", json!({"PolicyArn": arn}))
        .await
        .unwrap();
    assert_eq!(got["Policy"]["DefaultVersionId"], "v3");
    let e = call(
        &svc,
        &ctx,
        "DeletePolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v3"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "DeleteConflictException");
}

#[test]
fn totp_matches_rfc6238() {
    // RFC 6238 test vector (SHA-1): T = 59 s → 94287082 (8 digits) → 287082.
    assert_eq!(
        credentials::totp(b"12345678901234567890", 59 / 30),
        "287082"
    );
    assert_eq!(
        credentials::totp(b"12345678901234567890", 1111111109 / 30),
        "081804"
    );
}

#[test]
fn resource_templates() {
    let ctx = RequestContext::test("ssm", "GetParameters");
    let r = authz::resources(
        "arn:aws:ssm:{region}:{account}:parameter/{Names[]|param}",
        &ctx,
        &json!({"Names": ["/prod/a", "b"]}),
    );
    assert_eq!(
        r,
        vec![
            "arn:aws:ssm:us-east-1:000000000000:parameter/prod/a",
            "arn:aws:ssm:us-east-1:000000000000:parameter/b"
        ]
    );
    let r = authz::resources(
        "arn:aws:s3:::{Bucket}/{Key}",
        &ctx,
        &json!({"Bucket": "b", "Key": "k/x"}),
    );
    assert_eq!(r, vec!["arn:aws:s3:::b/k/x"]);
    // Queue URLs name their account; a dotted member path; a missing member.
    let q = "arn:aws:sqs:{region}:{QueueUrl|queue_account}:{QueueUrl|queue}";
    let r = authz::resources(
        q,
        &ctx,
        &json!({"QueueUrl": "http://localhost:4566/111122223333/jobs/"}),
    );
    assert_eq!(r, vec!["arn:aws:sqs:us-east-1:111122223333:jobs"]);
    let r = authz::resources("x:{A.B}:{C|bus}:{D}", &ctx, &json!({"A": {"B": "b"}}));
    assert_eq!(r, vec!["x:b:default:*"]);
    let r = authz::resources("{Names[]|param}/{Bucket}", &ctx, &json!({"Bucket": "k"}));
    assert_eq!(r, vec!["*/k"]);
}

/// `cargo test -p svc-iam -- --ignored --nocapture authorize_cost`: one authorization of an
/// IAM user holding 10 managed policies × 20 statements.
#[tokio::test]
#[ignore]
async fn authorize_cost() {
    let core = Core::ephemeral();
    let svc = service(&core);
    let ctx = RequestContext::test("iam", "CreateUser");
    call(&svc, &ctx, "CreateUser", json!({"UserName": "bench"}))
        .await
        .unwrap();
    for p in 0..10 {
        let statements: Vec<Value> = (0..20)
            .map(|s| {
                let last = p == 9 && s == 19;
                json!({"Effect": "Allow",
                    "Action": if last { "sqs:SendMessage".to_string() } else { format!("sqs:Get{p}x{s}*") },
                    "Resource": if last { "arn:aws:sqs:us-east-1:000000000000:bench".to_string() } else { format!("arn:aws:sqs:us-east-1:000000000000:q-{p}-{s}-*") }})
            })
            .collect();
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let out = call(
            &svc,
            &ctx,
            "CreatePolicy",
            json!({"PolicyName": format!("p{p}"), "PolicyDocument": doc}),
        )
        .await
        .unwrap();
        call(
            &svc,
            &ctx,
            "AttachUserPolicy",
            json!({"UserName": "bench", "PolicyArn": out["Policy"]["Arn"]}),
        )
        .await
        .unwrap();
    }
    let k = call(&svc, &ctx, "CreateAccessKey", json!({"UserName": "bench"}))
        .await
        .unwrap();
    let key = k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    let p = core.identities.resolve(Some(&key));
    let sqs = RequestContext {
        principal_arn: p.arn.clone(),
        principal_id: p.id.clone(),
        access_key: Some(key),
        ..RequestContext::test("sqs", "SendMessage")
    };
    let input = json!({"QueueUrl": "http://localhost:4566/000000000000/bench", "MessageBody": "x"});
    let authz = core.identities.authorizer().unwrap().clone();
    // The fastest of 40 batches: a loaded machine's preemptions inflate the others.
    let (batches, per) = (40, 10_000);
    let mut best = f64::MAX;
    for _ in 0..batches {
        let t = std::time::Instant::now();
        for _ in 0..per {
            authz.authorize(&sqs, &input).await.unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e9 / per as f64);
    }
    println!("{best:.0} ns per authorization (fastest batch of {per})");
}

#[tokio::test]
async fn federated_users_get_their_source_user_policies() {
    use overcast_core::identity::{Credential, Principal};
    let core = Core::ephemeral();
    let svc = service(&core);
    let ctx = RequestContext::test("iam", "CreateUser");
    call(&svc, &ctx, "CreateUser", json!({"UserName": "broker"}))
        .await
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}"#;
    call(
        &svc,
        &ctx,
        "PutUserPolicy",
        json!({"UserName": "broker", "PolicyName": "p", "PolicyDocument": doc}),
    )
    .await
    .unwrap();
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "SourceArn".into(),
        json!("arn:aws:iam::000000000000:user/broker"),
    );
    attributes.insert("SessionPolicy".into(), json!(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#));
    let arn = "arn:aws:sts::000000000000:federated-user/guest".to_string();
    core.identities
        .register(Credential {
            access_key_id: "ASIAFED".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".into()),
            expiration: None,
            principal: Principal {
                account_id: "000000000000".into(),
                arn: arn.clone(),
                id: "000000000000:guest".into(),
            },
            attributes,
        })
        .unwrap();
    let fed = RequestContext {
        principal_arn: arn,
        access_key: Some("ASIAFED".into()),
        ..RequestContext::test("sqs", "ListQueues")
    };
    core.identities
        .authorizer()
        .unwrap()
        .authorize(&fed, &json!({}))
        .await
        .unwrap();
    let create = RequestContext {
        operation: "CreateQueue",
        ..fed
    };
    assert!(core
        .identities
        .authorizer()
        .unwrap()
        .authorize(&create, &json!({"QueueName": "q"}))
        .await
        .is_err());
}

#[test]
fn resource_templates_of_the_member_table() {
    let of = |svc: &'static str, op: &'static str, input: Value| {
        let ctx = RequestContext::test(svc, op);
        authz::request_of(&ctx, &input)
    };
    let (a, r) = of(
        "kms",
        "Encrypt",
        json!({"KeyId": "1234abcd", "Plaintext": "eA=="}),
    );
    assert_eq!(a, "kms:Encrypt");
    assert_eq!(r, vec!["arn:aws:kms:us-east-1:000000000000:key/1234abcd"]);
    let (_, r) = of("kms", "Decrypt", json!({"KeyId": "alias/app"}));
    assert_eq!(r, vec!["arn:aws:kms:us-east-1:000000000000:alias/app"]);
    let (a, r) = of(
        "lambda",
        "Invoke",
        json!({"FunctionName": "f", "Qualifier": "live"}),
    );
    assert_eq!(a, "lambda:InvokeFunction");
    assert_eq!(
        r,
        vec!["arn:aws:lambda:us-east-1:000000000000:function:f:live"]
    );
    let (_, r) = of(
        "lambda",
        "GetFunction",
        json!({"FunctionName": "arn:aws:lambda:us-east-1:111111111111:function:g"}),
    );
    assert_eq!(r, vec!["arn:aws:lambda:us-east-1:111111111111:function:g"]);
    let (a, r) = of(
        "events",
        "PutEvents",
        json!({"Entries": [{"Source": "a"}, {"EventBusName": "orders", "Source": "b"}]}),
    );
    assert_eq!(a, "events:PutEvents");
    assert_eq!(
        r,
        vec!["arn:aws:events:us-east-1:000000000000:event-bus/orders"]
    );
    let (_, r) = of("events", "PutEvents", json!({"Entries": [{"Source": "a"}]}));
    assert_eq!(
        r,
        vec!["arn:aws:events:us-east-1:000000000000:event-bus/default"]
    );
    let (_, r) = of(
        "events",
        "PutRule",
        json!({"Name": "r", "EventBusName": "orders"}),
    );
    assert_eq!(
        r,
        vec!["arn:aws:events:us-east-1:000000000000:rule/orders/r"]
    );
    let (_, r) = of("events", "PutTargets", json!({"Rule": "r", "Targets": []}));
    assert_eq!(r, vec!["arn:aws:events:us-east-1:000000000000:rule/r"]);
    let (a, r) = of("s3", "GetBucketCors", json!({"Bucket": "b"}));
    assert_eq!(
        (a.as_str(), r[0].as_str()),
        ("s3:GetBucketCORS", "arn:aws:s3:::b")
    );
    let (a, r) = of("s3", "GetObjectTagging", json!({"Bucket": "b", "Key": "k"}));
    assert_eq!(
        (a.as_str(), r[0].as_str()),
        ("s3:GetObjectTagging", "arn:aws:s3:::b/k")
    );
    let (_, r) = of(
        "s3",
        "DeleteObjects",
        json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}}),
    );
    assert_eq!(r, vec!["arn:aws:s3:::b/x", "arn:aws:s3:::b/y"]);
    let (_, r) = of(
        "sns",
        "Publish",
        json!({"TopicArn": "arn:aws:sns:us-east-1:000000000000:t", "Message": "m"}),
    );
    assert_eq!(r, vec!["arn:aws:sns:us-east-1:000000000000:t"]);
    let (_, r) = of(
        "sns",
        "Publish",
        json!({"PhoneNumber": "+15555550100", "Message": "m"}),
    );
    assert_eq!(r, vec!["*"]);
    let (_, r) = of(
        "sns",
        "Unsubscribe",
        json!({"SubscriptionArn": "arn:aws:sns:us-east-1:000000000000:t:abc"}),
    );
    assert_eq!(r, vec!["arn:aws:sns:us-east-1:000000000000:t"]);
    let (_, r) = of(
        "secretsmanager",
        "GetSecretValue",
        json!({"SecretId": "db"}),
    );
    assert_eq!(
        r,
        vec!["arn:aws:secretsmanager:us-east-1:000000000000:secret:db"]
    );
    let (_, r) = of("secretsmanager", "CreateSecret", json!({"Name": "db"}));
    assert_eq!(
        r,
        vec!["arn:aws:secretsmanager:us-east-1:000000000000:secret:db-??????"]
    );
    let (a, r) = of(
        "logs",
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    );
    assert_eq!(a, "logs:PutLogEvents");
    assert_eq!(
        r,
        vec!["arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:s"]
    );
    let (a, r) = of(
        "cloudwatch",
        "DeleteAlarms",
        json!({"AlarmNames": ["a", "b"]}),
    );
    assert_eq!(a, "cloudwatch:DeleteAlarms");
    assert_eq!(r.len(), 2);
    let (_, r) = of("scheduler", "GetSchedule", json!({"Name": "s"}));
    assert_eq!(
        r,
        vec!["arn:aws:scheduler:us-east-1:000000000000:schedule/default/s"]
    );
    let (_, r) = of(
        "schemas",
        "DescribeSchema",
        json!({"RegistryName": "r", "SchemaName": "s"}),
    );
    assert_eq!(r, vec!["arn:aws:schemas:us-east-1:000000000000:schema/r/s"]);
}

#[test]
fn service_condition_keys() {
    let ctx = RequestContext::test("kms", "Encrypt");
    let mut c = overcast_policy::Context::new();
    authz::input_keys(
        &mut c,
        &ctx,
        &json!({"KeyId": "k", "EncryptionContext": {"app": "web"}, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    );
    assert_eq!(c.first("kms:EncryptionContext:app"), Some("web"));
    assert_eq!(c.first("kms:EncryptionContextKeys"), Some("app"));
    assert_eq!(c.first("kms:CallerAccount"), Some("000000000000"));
    assert_eq!(
        c.first("kms:EncryptionAlgorithm"),
        Some("SYMMETRIC_DEFAULT")
    );
    let ctx = RequestContext::test("events", "PutEvents");
    let mut c = overcast_policy::Context::new();
    authz::input_keys(
        &mut c,
        &ctx,
        &json!({"Entries": [{"Source": "a", "DetailType": "d"}]}),
    );
    assert_eq!(c.first("events:source"), Some("a"));
    let ctx = RequestContext::test("sns", "Subscribe");
    let mut c = overcast_policy::Context::new();
    authz::input_keys(&mut c, &ctx, &json!({"Protocol": "sqs", "TopicArn": "t"}));
    assert_eq!(c.first("sns:Protocol"), Some("sqs"));
}

#[test]
fn resource_policy_holders() {
    use crate::respol::holder;
    assert_eq!(holder("arn:aws:s3:::b/k/x"), "arn:aws:s3:::b");
    assert_eq!(holder("arn:aws:s3:::b"), "arn:aws:s3:::b");
    // Objects reached through an access point: its policy governs them.
    let ap = "arn:aws:s3:us-east-1:000000000000:accesspoint/ap";
    assert_eq!(holder(&format!("{ap}/object/k/x")), ap);
    assert_eq!(holder(ap), ap);
    assert_eq!(
        holder("arn:aws:schemas:us-east-1:000000000000:schema/r/s"),
        "arn:aws:schemas:us-east-1:000000000000:registry/r"
    );
    assert_eq!(
        holder("arn:aws:sqs:us-east-1:000000000000:q"),
        "arn:aws:sqs:us-east-1:000000000000:q"
    );
}

#[test]
fn resource_keys_name_what_decides_the_resources() {
    let key = |ctx: &RequestContext, input: Value| {
        let mut k = String::new();
        authz::resource_key(ctx, &input, &mut k).then_some(k)
    };
    let send = RequestContext::test("sqs", "SendMessage");
    let url = "http://localhost:4566/000000000000/q1";
    let a = key(&send, json!({"QueueUrl": url, "MessageBody": "one"}));
    let b = key(&send, json!({"QueueUrl": url, "MessageBody": "two"}));
    let c = key(
        &send,
        json!({"QueueUrl": format!("{url}x"), "MessageBody": "one"}),
    );
    assert!(a.is_some() && a == b && a != c);
    // Another operation, or another region, is another key.
    let delete = RequestContext::test("sqs", "DeleteMessage");
    assert_ne!(
        a,
        key(&delete, json!({"QueueUrl": url, "ReceiptHandle": "h"}))
    );
    let west = RequestContext {
        region: "us-west-2".into(),
        ..RequestContext::test("sqs", "SendMessage")
    };
    assert_ne!(
        a,
        key(&west, json!({"QueueUrl": url, "MessageBody": "one"}))
    );
    // A missing member differs from an empty one; a structure is not keyed.
    let get_user = RequestContext::test("iam", "GetUser");
    let none = key(&get_user, json!({}));
    assert!(none.is_some() && none != key(&get_user, json!({"UserName": ""})));
    assert_eq!(key(&get_user, json!({"UserName": {"x": 1}})), None);
}
