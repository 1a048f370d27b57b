//! Evaluation logic, per AWS's documentation of policy evaluation.

use super::*;
use std::sync::Arc;

fn pol(doc: &str) -> Arc<Policy> {
    Arc::new(parse(doc, PolicyKind::Identity).unwrap())
}
fn res_pol(doc: &str) -> Policy {
    parse(doc, PolicyKind::Resource).unwrap()
}
fn caller<'a>(arn: &'a str, account: &'a str) -> Caller<'a> {
    Caller {
        arn,
        account,
        role_arn: None,
        service: None,
        federated: None,
    }
}
const USER: &str = "arn:aws:iam::111111111111:user/alice";

fn req<'a>(action: &'a str, resource: &'a str, ctx: &'a Context) -> Request<'a> {
    Request {
        action,
        resource,
        caller: caller(USER, "111111111111"),
        context: ctx,
    }
}

fn perr(doc: &str, kind: PolicyKind) -> String {
    parse(doc, kind).unwrap_err().0
}

#[test]
fn validation_messages() {
    use PolicyKind::*;
    assert_eq!(perr("{", Identity), "Syntax errors in policy.");
    assert_eq!(perr("[]", Identity), "Syntax errors in policy.");
    assert_eq!(
        perr(r#"{"Version":"2012-10-17"}"#, Identity),
        "Syntax errors in policy."
    );
    assert_eq!(
        perr(
            r#"{"Version":"2010-01-01","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Policy document must be version 2012-10-17 or greater."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Missing required field Effect"
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
            Identity
        ),
        "Policy statement must contain actions."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#,
            Identity
        ),
        "Policy statement must contain resources."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"getobject","Resource":"*"}]}"#,
            Identity
        ),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}"#,
            Identity
        ),
        "Resource bucket must be in ARN format or \"*\"."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Policy document should not specify a principal."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#,
            Trust
        ),
        "Missing required field Principal"
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}"#,
            Trust
        ),
        "Has prohibited field Resource"
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}]}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Statement IDs (SID) in a single policy must be unique."
    );
    assert!(perr(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}]}"#, Identity)
        .contains("invalid IP"));
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        perr(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Extra":1}]}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    // Single statement object, single strings, the 2008 version: all valid.
    parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        Identity,
    )
    .unwrap();
}

#[test]
fn explicit_deny_beats_allow() {
    let ctx = Context::new();
    let allow = pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    let deny = pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}"#,
    );
    let ids = [allow, deny];
    let a = Authorization {
        identity: &ids,
        ..Default::default()
    };
    assert!(authorize(&a, &req("s3:GetObject", "arn:aws:s3:::b/k", &ctx)).allowed());
    let d = authorize(&a, &req("s3:DeleteObject", "arn:aws:s3:::b/k", &ctx));
    assert_eq!(
        d,
        Decision::Deny {
            explicit: true,
            by: Source::Identity
        }
    );
    assert_eq!(
        d.message(USER, "s3:DeleteObject", "arn:aws:s3:::b/k"),
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: s3:DeleteObject on resource: arn:aws:s3:::b/k with an explicit deny in an identity-based policy"
    );
    // Nothing allows: implicit deny.
    let d = authorize(
        &a,
        &req(
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:111111111111:q",
            &ctx,
        ),
    );
    assert_eq!(
        d,
        Decision::Deny {
            explicit: false,
            by: Source::Identity
        }
    );
    assert_eq!(
        d.message(USER, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:q"),
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:111111111111:q because no identity-based policy allows the sqs:SendMessage action"
    );
    // No policies at all.
    assert!(!authorize(&Authorization::default(), &req("s3:GetObject", "*", &ctx)).allowed());
}

#[test]
fn not_action_not_resource() {
    let ctx = Context::new();
    let p = pol(
        r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}]}"#,
    );
    let r = |a, res| p.evaluate(&req(a, res, &ctx));
    assert_eq!(r("s3:GetObject", "arn:aws:s3:::public/x"), Effect::Allow);
    assert_eq!(r("iam:CreateUser", "*"), Effect::NotApplicable);
    assert_eq!(
        r("s3:GetObject", "arn:aws:s3:::secret/x"),
        Effect::NotApplicable
    );
    let mfa = pol(
        r#"{"Statement":[{"Effect":"Deny","NotAction":["iam:ChangePassword","sts:GetSessionToken"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    );
    assert_eq!(mfa.evaluate(&req("s3:ListBucket", "*", &ctx)), Effect::Deny);
    assert_eq!(
        mfa.evaluate(&req("iam:ChangePassword", "*", &ctx)),
        Effect::NotApplicable
    );
    let mut with_mfa = Context::new();
    with_mfa.set("aws:MultiFactorAuthPresent", "true");
    assert_eq!(
        mfa.evaluate(&req("s3:ListBucket", "*", &with_mfa)),
        Effect::NotApplicable
    );
}

#[test]
fn policy_variables() {
    let p = pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},
        {"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}"#,
    );
    let mut ctx = Context::new();
    ctx.set("aws:username", "alice")
        .set("aws:PrincipalTag/team", "red");
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "arn:aws:s3:::home/alice/a.txt", &ctx)),
        Effect::Allow
    );
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "arn:aws:s3:::home/bob/a.txt", &ctx)),
        Effect::NotApplicable
    );
    ctx.set("aws:ResourceTag/team", "red");
    assert_eq!(
        p.evaluate(&req("ec2:StartInstances", "*", &ctx)),
        Effect::Allow
    );
    ctx.set("aws:ResourceTag/team", "blue");
    assert_eq!(
        p.evaluate(&req("ec2:StartInstances", "*", &ctx)),
        Effect::NotApplicable
    );
    // An unresolvable variable matches nothing.
    let empty = Context::new();
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "arn:aws:s3:::home//a", &empty)),
        Effect::NotApplicable
    );
    assert_eq!(substitute("a${*}b${?}${$}", &empty).unwrap(), "a*b?$");
    // Without Version 2012-10-17, `${...}` is literal text.
    let old = pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    );
    assert_eq!(
        old.evaluate(&req("s3:GetObject", "arn:aws:s3:::home/alice/a", &ctx)),
        Effect::NotApplicable
    );
    assert_eq!(
        old.evaluate(&req(
            "s3:GetObject",
            "arn:aws:s3:::home/${aws:username}/a",
            &ctx
        )),
        Effect::Allow
    );
    assert_eq!(
        substitute("x/${aws:username, 'anon'}", &empty).unwrap(),
        "x/anon"
    );
}

#[test]
fn resource_policies_same_and_cross_account() {
    let ctx = Context::new();
    let bucket = res_pol(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
    );
    // Same account: the resource policy alone suffices.
    let a = Authorization {
        resource_policy: Some(&bucket),
        resource_account: Some("111111111111"),
        ..Default::default()
    };
    assert!(authorize(&a, &req("s3:GetObject", "arn:aws:s3:::b/k", &ctx)).allowed());
    // Cross account: both are needed.
    let a = Authorization {
        resource_policy: Some(&bucket),
        resource_account: Some("222222222222"),
        ..Default::default()
    };
    assert_eq!(
        authorize(&a, &req("s3:GetObject", "arn:aws:s3:::b/k", &ctx)),
        Decision::Deny {
            explicit: false,
            by: Source::Identity
        }
    );
    let ids = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )];
    let a = Authorization {
        identity: &ids,
        resource_policy: Some(&bucket),
        resource_account: Some("222222222222"),
        ..Default::default()
    };
    assert!(authorize(&a, &req("s3:GetObject", "arn:aws:s3:::b/k", &ctx)).allowed());
    assert_eq!(
        authorize(&a, &req("s3:PutObject", "arn:aws:s3:::b/k", &ctx)),
        Decision::Deny {
            explicit: false,
            by: Source::Resource
        }
    );
    let a = Authorization {
        identity: &ids,
        resource_account: Some("222222222222"),
        ..Default::default()
    };
    let d = authorize(&a, &req("s3:GetObject", "arn:aws:s3:::b/k", &ctx));
    assert!(d
        .message(USER, "s3:GetObject", "r")
        .ends_with("because no resource-based policy allows the s3:GetObject action"));
    // Account principals and explicit resource denies.
    let deny = res_pol(
        r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"111111111111"},"Action":"s3:*","Resource":"*"}]}"#,
    );
    let a = Authorization {
        identity: &ids,
        resource_policy: Some(&deny),
        ..Default::default()
    };
    assert_eq!(
        authorize(&a, &req("s3:GetObject", "x", &ctx)),
        Decision::Deny {
            explicit: true,
            by: Source::Resource
        }
    );
    // NotPrincipal.
    let np = res_pol(
        r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:*","Resource":"*"}]}"#,
    );
    assert_eq!(
        np.evaluate(&req("s3:GetObject", "x", &ctx)),
        Effect::NotApplicable
    );
    let bob = Request {
        caller: caller("arn:aws:iam::111111111111:user/bob", "111111111111"),
        ..req("s3:GetObject", "x", &ctx)
    };
    assert_eq!(np.evaluate(&bob), Effect::Deny);
}

#[test]
fn trust_policies_and_role_sessions() {
    let ctx = Context::new();
    let trust = parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com","AWS":"arn:aws:iam::111111111111:role/ci"},"Action":"sts:AssumeRole"}]}"#, PolicyKind::Trust).unwrap();
    let svc = Request {
        caller: Caller {
            service: Some("ecs-tasks.amazonaws.com"),
            ..caller("", "")
        },
        ..req("sts:AssumeRole", "*", &ctx)
    };
    assert_eq!(trust.evaluate(&svc), Effect::Allow);
    let session = Request {
        caller: Caller {
            role_arn: Some("arn:aws:iam::111111111111:role/ci"),
            ..caller(
                "arn:aws:sts::111111111111:assumed-role/ci/s",
                "111111111111",
            )
        },
        ..req("sts:AssumeRole", "*", &ctx)
    };
    assert_eq!(trust.evaluate(&session), Effect::Allow);
    assert_eq!(
        trust.evaluate(&req("sts:AssumeRole", "*", &ctx)),
        Effect::NotApplicable
    );
    let everyone = parse(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}]}"#, PolicyKind::Trust).unwrap();
    assert_eq!(
        everyone.evaluate(&req("sts:AssumeRole", "*", &ctx)),
        Effect::NotApplicable
    );
    let mut ext = Context::new();
    ext.set("sts:ExternalId", "xyz");
    assert_eq!(
        everyone.evaluate(&req("sts:AssumeRole", "*", &ext)),
        Effect::Allow
    );
}

#[test]
fn boundaries_sessions_and_scps() {
    let ctx = Context::new();
    let ids = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*","iam:*"],"Resource":"*"}]}"#,
    )];
    let boundary =
        pol(r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*"],"Resource":"*"}]}"#);
    let session = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )];
    let a = Authorization {
        identity: &ids,
        boundary: Some(&boundary),
        ..Default::default()
    };
    assert!(authorize(&a, &req("sqs:SendMessage", "*", &ctx)).allowed());
    assert_eq!(
        authorize(&a, &req("iam:CreateUser", "*", &ctx)),
        Decision::Deny {
            explicit: false,
            by: Source::Boundary
        }
    );
    let a = Authorization {
        session: Some(&session),
        ..a
    };
    assert!(authorize(&a, &req("s3:GetObject", "*", &ctx)).allowed());
    let d = authorize(&a, &req("sqs:SendMessage", "*", &ctx));
    assert_eq!(
        d,
        Decision::Deny {
            explicit: false,
            by: Source::Session
        }
    );
    assert!(d
        .message(USER, "sqs:SendMessage", "*")
        .ends_with("because no session policy allows the sqs:SendMessage action"));
    // The boundary alone grants nothing.
    let a = Authorization {
        boundary: Some(&boundary),
        ..Default::default()
    };
    assert!(!authorize(&a, &req("s3:GetObject", "*", &ctx)).allowed());
    let scps = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
    )];
    let a = Authorization {
        identity: &ids,
        scps: Some(&scps),
        ..Default::default()
    };
    assert!(authorize(&a, &req("s3:GetObject", "*", &ctx)).allowed());
    assert_eq!(
        authorize(&a, &req("s3:DeleteBucket", "*", &ctx)),
        Decision::Deny {
            explicit: true,
            by: Source::Scp
        }
    );
    let narrow = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )];
    let a = Authorization {
        identity: &ids,
        scps: Some(&narrow),
        ..Default::default()
    };
    assert_eq!(
        authorize(&a, &req("sqs:SendMessage", "*", &ctx)),
        Decision::Deny {
            explicit: false,
            by: Source::Scp
        }
    );
}

#[test]
fn global_condition_keys() {
    let p = pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{
        "IpAddress":{"aws:SourceIp":["127.0.0.0/8"]},
        "Bool":{"aws:SecureTransport":"false"},
        "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
        "StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"],"aws:PrincipalAccount":"111111111111"},
        "ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}}]}"#,
    );
    let mut ctx = Context::new();
    ctx.set("aws:SourceIp", "127.0.0.1")
        .set("aws:SecureTransport", "false")
        .set("aws:CurrentTime", condition::format_date(1_800_000_000.0))
        .set("aws:RequestedRegion", "us-east-1")
        .set("aws:PrincipalAccount", "111111111111")
        .set_all("aws:TagKeys", vec!["env".into()]);
    assert_eq!(p.evaluate(&req("s3:GetObject", "*", &ctx)), Effect::Allow);
    ctx.set_all("aws:TagKeys", vec!["env".into(), "owner".into()]);
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "*", &ctx)),
        Effect::NotApplicable
    );
    ctx.set_all("aws:TagKeys", vec![]);
    ctx.set("aws:CurrentTime", condition::format_date(1_900_000_000.0));
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "*", &ctx)),
        Effect::NotApplicable
    );
    ctx.set("aws:CurrentTime", condition::format_date(1_800_000_000.0));
    ctx.set("aws:SourceIp", "10.0.0.1");
    assert_eq!(
        p.evaluate(&req("s3:GetObject", "*", &ctx)),
        Effect::NotApplicable
    );
}

#[test]
fn kms_key_policy_gates_identity_policies() {
    let ctx = Context::new();
    let ids = [pol(
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    )];
    let key = "arn:aws:kms:us-east-1:111111111111:key/k";
    // The default key policy delegates to the account: identity policies count.
    let default = res_pol(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let a = Authorization {
        identity: &ids,
        resource_policy: Some(&default),
        resource_account: Some("111111111111"),
        resource_gates_identity: true,
        ..Default::default()
    };
    assert!(authorize(&a, &req("kms:Encrypt", key, &ctx)).allowed());
    // Without the delegation they do not: nothing allows, per the key policy.
    let other = res_pol(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let a = Authorization {
        resource_policy: Some(&other),
        ..a
    };
    let d = authorize(&a, &req("kms:Encrypt", key, &ctx));
    assert_eq!(
        d,
        Decision::Deny {
            explicit: false,
            by: Source::Resource
        }
    );
    assert!(d
        .message(USER, "kms:Encrypt", key)
        .ends_with("because no resource-based policy allows the kms:Encrypt action"));
    // A key policy naming the caller suffices without identity policies.
    let named = res_pol(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
    );
    let a = Authorization {
        identity: &[],
        resource_policy: Some(&named),
        ..a
    };
    assert!(authorize(&a, &req("kms:Decrypt", key, &ctx)).allowed());
    assert!(!authorize(&a, &req("kms:Encrypt", key, &ctx)).allowed());
    // A delegation limited by action delegates only those actions.
    let partial = res_pol(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"kms:Describe*","Resource":"*"}]}"#,
    );
    let a = Authorization {
        identity: &ids,
        resource_policy: Some(&partial),
        ..a
    };
    assert!(authorize(&a, &req("kms:DescribeKey", key, &ctx)).allowed());
    assert!(!authorize(&a, &req("kms:Encrypt", key, &ctx)).allowed());
}

#[test]
fn account_principals_delegate_to_identity_policies() {
    let ctx = Context::new();
    let to_account = res_pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let to_alice = res_pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let key = "arn:aws:kms:us-east-1:111111111111:key/k";
    let mut a = Authorization {
        resource_policy: Some(&to_account),
        resource_account: Some("111111111111"),
        ..Default::default()
    };
    // The account named: alice still needs an identity-based allow.
    assert_eq!(
        authorize(&a, &req("kms:Decrypt", key, &ctx)),
        Decision::Deny {
            explicit: false,
            by: Source::Identity
        }
    );
    let ids = [pol(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#,
    )];
    a.identity = &ids;
    assert!(authorize(&a, &req("kms:Decrypt", key, &ctx)).allowed());
    // The account's root is the account.
    let root = Request {
        caller: caller("arn:aws:iam::111111111111:root", "111111111111"),
        ..req("kms:Encrypt", key, &ctx)
    };
    a.identity = &[];
    assert!(authorize(&a, &root).allowed());
    // A policy naming alice grants by itself.
    a.resource_policy = Some(&to_alice);
    assert!(authorize(&a, &req("kms:Encrypt", key, &ctx)).allowed());
}
