//! Pattern language tests, named after the AWS behaviour they check.

use serde_json::{json, Value};

use super::*;

fn m(pattern: Value, event: Value) -> bool {
    Pattern::from_value(&pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(&event)
}

fn invalid(pattern: &str) -> String {
    Pattern::parse(pattern)
        .expect_err("should be invalid")
        .reason()
        .to_string()
}

fn ec2() -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {
            "instance-id": "i-1234567890abcdef0", "state": "terminated",
            "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.123",
            "location": "us-east-1a", "tags": ["prod", "web"],
            "nested": {"a": {"b": "deep"}}
        }
    })
}

#[test]
fn exact_values_and_arrays_are_or() {
    assert!(m(json!({"source": ["aws.ec2"]}), ec2()));
    assert!(m(json!({"source": ["aws.s3", "aws.ec2"]}), ec2()));
    assert!(!m(json!({"source": ["aws.s3"]}), ec2()));
    assert!(m(
        json!({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}),
        ec2()
    ));
    assert!(!m(
        json!({"source": ["aws.ec2"], "detail": {"state": ["running"]}}),
        ec2()
    ));
    assert!(m(json!({"detail": {"c-count": [5]}}), ec2()));
    assert!(m(json!({"detail": {"c-count": [5.0]}}), ec2()));
    assert!(!m(json!({"detail": {"c-count": ["5"]}}), ec2()));
    assert!(m(
        json!({"detail": {"nested": {"a": {"b": ["deep"]}}}}),
        ec2()
    ));
}

#[test]
fn event_arrays_match_any_element() {
    assert!(m(json!({"detail": {"tags": ["web"]}}), ec2()));
    assert!(m(
        json!({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}),
        ec2()
    ));
    assert!(!m(json!({"detail": {"tags": ["db"]}}), ec2()));
}

#[test]
fn objects_in_arrays_match_element_by_element() {
    let ev = json!({"detail": {"items": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]}});
    assert!(m(
        json!({"detail": {"items": {"b": [1], "c": [2]}}}),
        ev.clone()
    ));
    assert!(m(json!({"detail": {"items": {"b": [3]}}}), ev.clone()));
    assert!(!m(json!({"detail": {"items": {"b": [1], "c": [4]}}}), ev));
}

#[test]
fn null_and_booleans_and_empty_strings() {
    let ev = json!({"detail": {"a": null, "b": true, "c": ""}});
    assert!(m(json!({"detail": {"a": [null]}}), ev.clone()));
    assert!(m(json!({"detail": {"b": [true]}}), ev.clone()));
    assert!(!m(json!({"detail": {"b": [false]}}), ev.clone()));
    assert!(m(json!({"detail": {"c": [""]}}), ev.clone()));
    assert!(!m(json!({"detail": {"d": [null]}}), ev));
}

#[test]
fn prefix_suffix_and_ignore_case() {
    assert!(m(json!({"time": [{"prefix": "2017-12-22"}]}), ec2()));
    assert!(!m(json!({"time": [{"prefix": "2018"}]}), ec2()));
    assert!(m(
        json!({"detail": {"location": [{"suffix": "-1a"}]}}),
        ec2()
    ));
    assert!(m(
        json!({"source": [{"prefix": {"equals-ignore-case": "AWS."}}]}),
        ec2()
    ));
    assert!(m(
        json!({"source": [{"suffix": {"equals-ignore-case": "EC2"}}]}),
        ec2()
    ));
    assert!(m(
        json!({"source": [{"equals-ignore-case": "AWS.Ec2"}]}),
        ec2()
    ));
    assert!(!m(
        json!({"source": [{"equals-ignore-case": "AWS.S3"}]}),
        ec2()
    ));
    assert!(!m(json!({"detail": {"c-count": [{"prefix": "5"}]}}), ec2()));
}

#[test]
fn anything_but_forms() {
    assert!(m(
        json!({"detail": {"state": [{"anything-but": "running"}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"anything-but": ["terminated", "x"]}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"c-count": [{"anything-but": [1, 2]}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"c-count": [{"anything-but": 5}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"anything-but": {"suffix": "ated"}}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"anything-but": {"wildcard": "*min*"}}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"state": [{"anything-but": {"wildcard": ["run*", "stop*"]}}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["TERMINATED"]}}]}}),
        ec2()
    ));
    // A missing field never matches anything-but.
    assert!(!m(
        json!({"detail": {"missing": [{"anything-but": "x"}]}}),
        ec2()
    ));
    // Arrays: any element that is not excluded matches.
    assert!(m(
        json!({"detail": {"tags": [{"anything-but": "prod"}]}}),
        ec2()
    ));
}

#[test]
fn numeric_ranges() {
    assert!(m(
        json!({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"c-count": [{"numeric": [">", 5]}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"d-count": [{"numeric": ["<", 10]}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"x-limit": [{"numeric": ["=", 301.8]}]}}),
        ec2()
    ));
    assert!(m(
        json!({"detail": {"x-limit": [{"numeric": [">=", 300, "<", 302]}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"state": [{"numeric": [">", 0]}]}}),
        ec2()
    ));
}

#[test]
fn exists_on_leaves_only() {
    assert!(m(json!({"detail": {"c-count": [{"exists": true}]}}), ec2()));
    assert!(!m(
        json!({"detail": {"c-count": [{"exists": false}]}}),
        ec2()
    ));
    assert!(m(json!({"detail": {"nope": [{"exists": false}]}}), ec2()));
    assert!(!m(json!({"detail": {"nope": [{"exists": true}]}}), ec2()));
    // An object is not a leaf.
    assert!(!m(json!({"detail": {"nested": [{"exists": true}]}}), ec2()));
    // Absent parents make every child absent.
    assert!(m(json!({"other": {"x": [{"exists": false}]}}), ec2()));
    // Empty arrays count as absent.
    assert!(m(json!({"a": [{"exists": false}]}), json!({"a": []})));
    assert!(m(
        json!({"detail": {"state": ["running", {"exists": false}]}}),
        json!({"detail": {}})
    ));
}

#[test]
fn wildcard() {
    assert!(m(
        json!({"resources": [{"wildcard": "arn:aws:ec2:*:instance/*"}]}),
        ec2()
    ));
    assert!(m(json!({"source": [{"wildcard": "aws.*"}]}), ec2()));
    assert!(m(json!({"source": [{"wildcard": "*"}]}), ec2()));
    assert!(!m(json!({"source": [{"wildcard": "aws.s*"}]}), ec2()));
    assert!(m(
        json!({"a": [{"wildcard": "x\\*y"}]}),
        json!({"a": "x*y"})
    ));
    assert!(!m(
        json!({"a": [{"wildcard": "x\\*y"}]}),
        json!({"a": "xzy"})
    ));
    assert!(!m(
        json!({"a": [{"wildcard": "ab*ba"}]}),
        json!({"a": "aba"})
    ));
    assert_eq!(
        invalid(r#"{"a": [{"wildcard": "a**b"}]}"#),
        "Consecutive wildcard characters at pos 2"
    );
}

#[test]
fn cidr_blocks() {
    assert!(m(
        json!({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}),
        ec2()
    ));
    assert!(!m(
        json!({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}),
        ec2()
    ));
    assert!(m(
        json!({"a": [{"cidr": "2001:db8::/32"}]}),
        json!({"a": "2001:db8::1"})
    ));
    assert!(!m(
        json!({"a": [{"cidr": "2001:db8::/32"}]}),
        json!({"a": "10.0.0.1"})
    ));
    assert!(m(
        json!({"a": [{"cidr": "0.0.0.0/0"}]}),
        json!({"a": "8.8.8.8"})
    ));
    assert_eq!(
        invalid(r#"{"a": [{"cidr": "10.0.0/8"}]}"#),
        "Nonstandard IP address: 10.0.0/8"
    );
}

#[test]
fn or_alternatives() {
    let p = json!({"source": ["aws.ec2"], "$or": [
        {"detail": {"c-count": [{"numeric": [">", 10]}]}},
        {"detail": {"d-count": [{"numeric": ["<", 5]}]}}
    ]});
    assert!(m(p, ec2()));
    let p = json!({"$or": [{"source": ["x"]}, {"detail": {"state": ["nope"]}}]});
    assert!(!m(p, ec2()));
    let p = json!({"detail": {"$or": [{"state": ["terminated"]}, {"x": ["y"]}]}});
    assert!(m(p, ec2()));
}

#[test]
fn invalid_patterns_get_aws_reasons() {
    assert_eq!(
        invalid(r#"{"source": "aws.ec2"}"#),
        "\"source\" must be an object or an array"
    );
    assert_eq!(invalid(r#"[1]"#), "Filter is not an object");
    assert_eq!(
        invalid(r#"{"a": [{"foo": 1}]}"#),
        "Unrecognized match type foo"
    );
    assert_eq!(
        invalid(r#"{"a": [{"prefix": 1}]}"#),
        "prefix match pattern must be a string"
    );
    assert_eq!(
        invalid(r#"{"a": [{"exists": "yes"}]}"#),
        "exists match pattern must be either true or false."
    );
    assert_eq!(
        invalid(r#"{"a": [{"numeric": 5}]}"#),
        "Value of numeric must be an array."
    );
    assert_eq!(
        invalid(r#"{"a": [{"numeric": [">", 5, ">", 6]}]}"#),
        "Too many lower bounds in numeric match"
    );
    assert_eq!(
        invalid(r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#),
        "Bottom must be less than top"
    );
    assert_eq!(
        invalid(r#"{"a": [{"prefix": "a", "suffix": "b"}]}"#),
        "Only one key allowed in match expression"
    );
    assert_eq!(
        invalid(r#"{"a": [[1]]}"#),
        "Match value must be String, number, true, false, or null"
    );
    assert_eq!(
        invalid(r#"{"a": [{"anything-but": true}]}"#),
        "Value of anything-but must be an array or single string/number value."
    );
    assert_eq!(
        invalid(r#"{"a": [{"anything-but": {"foo": "x"}}]}"#),
        "Unsupported anything-but pattern: foo"
    );
    assert_eq!(invalid(r#"{"a": {}}"#), "Empty objects are not allowed");
    assert_eq!(
        invalid(r#"{"$or": [{"a": [1]}]}"#),
        "Or relationship must have at least 2 alternatives"
    );
    assert!(invalid("{not json").starts_with("Filter is not valid JSON"));
    assert!(Pattern::parse("{\"a\": [1]}").is_ok());
    assert_eq!(
        Pattern::parse(r#"{"source": "x"}"#)
            .unwrap_err()
            .event_pattern_message(),
        "Event pattern is not valid. Reason: \"source\" must be an object or an array"
    );
}

#[test]
fn required_strings_index_plain_leaves() {
    let p = Pattern::parse(r#"{"source": ["a", "b"], "detail-type": [{"prefix": "x"}]}"#).unwrap();
    assert_eq!(p.required_strings("source"), Some(vec!["a", "b"]));
    assert_eq!(p.required_strings("detail-type"), None);
    assert_eq!(p.required_strings("account"), None);
}

#[test]
fn sns_attribute_policies() {
    let p = FilterPolicy::parse(
        r#"{"store": ["example_corp"], "price": [{"numeric": [">=", 100]}], "colors": ["red"]}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap();
    let attrs = |price: &'static str| {
        vec![
            (
                "store",
                Attribute {
                    data_type: "String",
                    value: "example_corp",
                },
            ),
            (
                "price",
                Attribute {
                    data_type: "Number",
                    value: price,
                },
            ),
            (
                "colors",
                Attribute {
                    data_type: "String.Array",
                    value: "[\"blue\",\"red\"]",
                },
            ),
        ]
    };
    assert!(p.matches_attributes(attrs("150")));
    assert!(!p.matches_attributes(attrs("50")));
    assert!(!p.matches_attributes(Vec::new()));
    let err = FilterPolicy::parse(
        r#"{"a": {"b": ["c"]}}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap_err();
    assert_eq!(
        err.reason(),
        "Filter policy scope MessageAttributes does not support nested filter policy"
    );
    let err = FilterPolicy::parse(
        r#"{"a":[1],"b":[1],"c":[1],"d":[1],"e":[1],"f":[1]}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap_err();
    assert_eq!(err.reason(), "Filter policy can not have more than 5 keys");
}

#[test]
fn sns_body_policies() {
    let p = FilterPolicy::parse(
        r#"{"order": {"kind": ["big"]}}"#,
        FilterPolicyScope::MessageBody,
    )
    .unwrap();
    assert!(p.matches_body(r#"{"order": {"kind": "big"}}"#));
    assert!(!p.matches_body(r#"{"order": {"kind": "small"}}"#));
    assert!(!p.matches_body("not json"));
}
