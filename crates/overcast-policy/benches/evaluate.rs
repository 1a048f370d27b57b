//! Policy evaluation throughput (issue target: >= 1,000,000 simple evaluations/s on one
//! core). `cargo bench -p overcast-policy --bench evaluate`; the time per evaluation is the
//! reciprocal of the rate.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use overcast_policy::{authorize, parse, Authorization, Caller, Context, PolicyKind, Request};

/// The guide's least-privilege task policy.
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::app-static-assets/*"},
    {"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111111111111:notification-queue"},
    {"Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters"],"Resource":"arn:aws:ssm:us-east-1:111111111111:parameter/prod/*"}]}"#;

fn evaluate(c: &mut Criterion) {
    let identity = [Arc::new(
        parse(POLICY, PolicyKind::Identity).expect("policy"),
    )];
    let a = Authorization {
        identity: &identity,
        ..Default::default()
    };
    let context = Context::new();
    let caller = Caller {
        arn: "arn:aws:iam::111111111111:user/app",
        account: "111111111111",
        role_arn: None,
        service: None,
        federated: None,
    };
    let request = |action, resource| Request {
        action,
        resource,
        caller,
        context: &context,
    };
    let allowed = request(
        "ssm:GetParameter",
        "arn:aws:ssm:us-east-1:111111111111:parameter/prod/db",
    );
    let denied = request("s3:PutObject", "arn:aws:s3:::app-static-assets/x");
    assert!(authorize(&a, &allowed).allowed() && !authorize(&a, &denied).allowed());
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Elements(2));
    g.bench_function("allow+implicit deny", |b| {
        b.iter(|| {
            let x = authorize(&a, std::hint::black_box(&allowed)).allowed();
            let y = authorize(&a, std::hint::black_box(&denied)).allowed();
            (x, y)
        })
    });
    g.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
