//! `query` and `ec2` protocols: form-encoded `Action=...&Version=...` requests, XML responses.
//!
//! Requests: form parameters (POST body and URL query) are split on `.` into a tree, which
//! is then read along the input shape:
//! - structure members by `locationName` (member or target shape), else member name; in ec2
//!   by `queryName`, else the `locationName` with its first letter upper-cased, else the
//!   member name;
//! - lists as `Name.member.N` (`Name.{member locationName}.N`), flattened lists as
//!   `{member locationName or Name}.N`, ec2 lists always as `Name.N`;
//! - maps as `Name.entry.N.key` / `.value` (key/value locationNames override), flattened
//!   maps as `Name.N.key`;
//! - scalars converted to their type (timestamps ISO 8601 → epoch seconds, blobs stay
//!   base64).
//!
//! Responses: `<{Op}Response><{Op}Result>..</{Op}Result><ResponseMetadata>..` (query) or
//! `<{Op}Response><requestId>..` (ec2), written by the shared XML writer.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Map, Value};

use super::xml::{self, Flavor, Writer};
use super::{ErrorInfo, Route};
use crate::body::Body;
use crate::error::{codes, AwsError};
use crate::model::{Member, ServiceModel, Shape, ShapeType};
use crate::protocol::Protocol;

/// Most `.`-separated components a parameter name may have (deeper ones are ignored).
const MAX_COMPONENTS: usize = 32;

/// One node of the parameter tree: `A.B.1=x` is `A` → `B` → `1` with value `x`.
#[derive(Default, Debug)]
struct Node<'a> {
    value: Option<&'a str>,
    children: BTreeMap<&'a str, Node<'a>>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, key: &'a str, value: &'a str) {
        let mut node = self;
        for part in key.split('.') {
            node = node.children.entry(part).or_default();
        }
        node.value = Some(value);
    }

    fn child(&self, name: &str) -> Option<&Node<'a>> {
        self.children.get(name)
    }

    /// `Name=` with nothing below: how clients send an empty list.
    fn is_empty_marker(&self) -> bool {
        self.children.is_empty() && self.value.is_some_and(str::is_empty)
    }

    /// Children named `1`, `2`, ... in numeric order.
    fn indexed(&self) -> Vec<&Node<'a>> {
        let mut items: Vec<(u64, &Node<'a>)> = self
            .children
            .iter()
            .filter_map(|(k, v)| k.parse::<u64>().ok().filter(|n| *n >= 1).map(|n| (n, v)))
            .collect();
        items.sort_unstable_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    fn has_indexed(&self) -> bool {
        self.children
            .keys()
            .any(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// Decodes form parameters into the input value.
pub fn decode(
    route: &Route,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Value, AwsError> {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    if let Some(q) = parts.uri.query() {
        pairs.extend(form_urlencoded::parse(q.as_bytes()));
    }
    if parts.method != http::Method::GET {
        pairs.extend(form_urlencoded::parse(body));
    }
    let mut value = decode_params(route.model, route.protocol, route.operation.input, &pairs)?;
    if let (Some(member), Some(input), Some(obj)) = (
        crate::quirks::query_member_from_path(route.model.name()),
        route.operation.input,
        value.as_object_mut(),
    ) {
        let path = parts.uri.path();
        let has_member = route.model.shape(input).member(member).is_some();
        if has_member && !obj.contains_key(member) && path.len() > 1 {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()));
            if let Some(host) = host {
                obj.insert(
                    member.to_string(),
                    Value::String(format!("http://{host}{path}")),
                );
            }
        }
    }
    Ok(value)
}

/// Decodes already-split form parameters (`(name, value)` pairs) into a value of the input
/// shape `input` (an empty object when the operation has no input).
pub fn decode_params<K: AsRef<str>, V: AsRef<str>>(
    model: &ServiceModel,
    protocol: Protocol,
    input: Option<crate::model::ShapeId>,
    pairs: &[(K, V)],
) -> Result<Value, AwsError> {
    let mut root = Node::default();
    for (k, v) in pairs {
        let (k, v) = (k.as_ref(), v.as_ref());
        if k == "Action"
            || k == "Version"
            || k.starts_with("X-Amz-")
            || k.is_empty()
            || k.bytes().filter(|b| *b == b'.').count() >= MAX_COMPONENTS
        {
            continue;
        }
        root.insert(k, v);
    }
    let Some(input) = input else {
        return Ok(Value::Object(Map::new()));
    };
    let d = Decoder {
        model,
        ec2: protocol == Protocol::Ec2,
    };
    d.structure(model.shape(input), &root).map(Value::Object)
}

struct Decoder<'m> {
    model: &'m ServiceModel,
    ec2: bool,
}

impl<'m> Decoder<'m> {
    /// The parameter name component of a member.
    fn wire_name<'a>(&self, m: &'a Member) -> Cow<'a, str>
    where
        'm: 'a,
    {
        if !self.ec2 {
            return Cow::Borrowed(xml::member_name(self.model, m));
        }
        if let Some(q) = m.query_name.as_deref() {
            return Cow::Borrowed(q);
        }
        match xml::serialized_name(self.model, m) {
            Some(n) => {
                let mut c = n.chars();
                match c.next() {
                    Some(f) if f.is_lowercase() => {
                        let mut s = String::with_capacity(n.len());
                        s.extend(f.to_uppercase());
                        s.push_str(c.as_str());
                        Cow::Owned(s)
                    }
                    _ => Cow::Borrowed(n),
                }
            }
            None => Cow::Borrowed(&m.name),
        }
    }

    fn bad_value(&self, name: &str, text: &str, expected: &str) -> AwsError {
        let msg = format!("Value ({text}) for parameter {name} is invalid. Expected {expected}.");
        if crate::quirks::query_parameter_errors(self.model.name()) {
            AwsError::invalid_parameter_value(msg)
        } else {
            AwsError::new(codes::VALIDATION_ERROR, msg).with_status(400)
        }
    }

    fn structure(&self, shape: &Shape, node: &Node<'_>) -> Result<Map<String, Value>, AwsError> {
        let mut out = Map::new();
        for m in &shape.members {
            let target = self.model.shape(m.shape);
            let v = if target.kind == ShapeType::List {
                self.list_member(m, target, node)?
            } else {
                let name = self.wire_name(m);
                match node.child(&name) {
                    Some(child) => self.value(m, child, &name)?,
                    None => None,
                }
            };
            if let Some(v) = v {
                out.insert(m.name.clone(), v);
            }
        }
        Ok(out)
    }

    /// A list-typed structure member, looked up in `parent` in the forms clients send
    /// (the model's form first, then the other query forms, leniently).
    fn list_member(
        &self,
        m: &Member,
        list: &Shape,
        parent: &Node<'_>,
    ) -> Result<Option<Value>, AwsError> {
        let name = self.wire_name(m);
        let Some(item) = list.member.as_deref() else {
            return Ok(None);
        };
        if self.ec2 {
            return match parent.child(&name) {
                Some(n) => self.items(item, n, &name),
                None => Ok(None),
            };
        }
        let item_name = xml::serialized_name(self.model, item);
        let attempts: [(&str, Option<&str>); 3] = if xml::is_flattened(self.model, m) {
            let key = item_name.unwrap_or(&name);
            [(key, None), (&name, None), (&name, Some("member"))]
        } else {
            let via = item_name.unwrap_or("member");
            [(&name, Some(via)), (&name, None), (&name, Some("member"))]
        };
        for (key, via) in attempts {
            let Some(n) = parent.child(key) else {
                continue;
            };
            if n.is_empty_marker() {
                return Ok(Some(Value::Array(Vec::new())));
            }
            let n = match via {
                Some(v) => match n.child(v) {
                    Some(n) => n,
                    None => continue,
                },
                None if n.has_indexed() => n,
                None => continue,
            };
            return self.items(item, n, key);
        }
        Ok(None)
    }

    /// The items `N` under `node`.
    fn items(&self, item: &Member, node: &Node<'_>, name: &str) -> Result<Option<Value>, AwsError> {
        if node.is_empty_marker() {
            return Ok(Some(Value::Array(Vec::new())));
        }
        let mut out = Vec::new();
        for n in node.indexed() {
            if let Some(v) = self.value(item, n, name)? {
                out.push(v);
            }
        }
        Ok(Some(Value::Array(out)))
    }

    /// The value of member `m` at `node`.
    fn value(&self, m: &Member, node: &Node<'_>, name: &str) -> Result<Option<Value>, AwsError> {
        let shape = self.model.shape(m.shape);
        match shape.kind {
            ShapeType::Structure => {
                if node.children.is_empty() {
                    return Ok(None);
                }
                self.structure(shape, node).map(|o| Some(Value::Object(o)))
            }
            ShapeType::List => {
                // A list directly inside a list or map value.
                let Some(item) = shape.member.as_deref() else {
                    return Ok(None);
                };
                if self.ec2 || xml::is_flattened(self.model, m) || node.is_empty_marker() {
                    return self.items(item, node, name);
                }
                let via = xml::serialized_name(self.model, item).unwrap_or("member");
                match node
                    .child(via)
                    .or_else(|| node.has_indexed().then_some(node))
                {
                    Some(n) => self.items(item, n, name),
                    None => Ok(None),
                }
            }
            ShapeType::Map => self.map(m, shape, node, name),
            _ => match node.value {
                Some(text) => xml::scalar_value(shape, text)
                    .map(Some)
                    .map_err(|expected| self.bad_value(name, text, expected)),
                None => Ok(None),
            },
        }
    }

    fn map(
        &self,
        m: &Member,
        shape: &Shape,
        node: &Node<'_>,
        name: &str,
    ) -> Result<Option<Value>, AwsError> {
        let (Some(key), Some(value)) = (shape.key.as_deref(), shape.value.as_deref()) else {
            return Ok(None);
        };
        if node.is_empty_marker() {
            return Ok(Some(Value::Object(Map::new())));
        }
        let entries = if self.ec2 || xml::is_flattened(self.model, m) {
            node
        } else {
            match node.child("entry") {
                Some(n) => n,
                None if node.has_indexed() => node,
                None => return Ok(None),
            }
        };
        let key_name = self.wire_name(key);
        let value_name = self.wire_name(value);
        let mut out = Map::new();
        for e in entries.indexed() {
            let Some(k) = e.child(&key_name).and_then(|k| k.value) else {
                continue;
            };
            let Some(vnode) = e.child(&value_name) else {
                continue;
            };
            if let Some(v) = self.value(value, vnode, name)? {
                out.insert(k.to_string(), v);
            }
        }
        Ok(Some(Value::Object(out)))
    }
}

/// The XML namespace of query responses of `model`.
fn namespace(model: &ServiceModel, protocol: Protocol) -> Cow<'_, str> {
    if protocol == Protocol::Ec2 {
        Cow::Owned(crate::quirks::ec2_namespace(&model.info.api_version))
    } else {
        xml::xml_namespace(model)
    }
}

/// Encodes `<OpResponse><OpResult>...</OpResult><ResponseMetadata>...` (query) or
/// `<OpResponse><requestId>..</requestId>...` (ec2).
pub fn encode(route: &Route, output: &Value, request_id: &str) -> Response<Body> {
    let bytes = encode_bytes(
        route.model,
        route.operation,
        route.protocol,
        output,
        request_id,
    );
    super::response(StatusCode::OK, "text/xml", bytes)
}

/// The response document of [`encode`].
pub fn encode_bytes(
    model: &ServiceModel,
    op: &crate::model::Operation,
    protocol: Protocol,
    output: &Value,
    request_id: &str,
) -> Vec<u8> {
    let ec2 = protocol == Protocol::Ec2;
    let writer = Writer::new(model, if ec2 { Flavor::Ec2 } else { Flavor::Query });
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    out.push_str(&op.name);
    out.push_str("Response xmlns=\"");
    xml::escape_attr(&mut out, &namespace(model, protocol));
    out.push_str("\">");
    let empty = Map::new();
    let obj = output.as_object().unwrap_or(&empty);
    if ec2 {
        xml::text_element(&mut out, "requestId", request_id);
        if let Some(shape) = op.output {
            writer.members(&mut out, model.shape(shape), obj);
        }
    } else {
        if let Some(shape) = op.output {
            let wrapper_buf;
            let wrapper = match op.result_wrapper.as_deref() {
                Some(w) => w,
                None => {
                    wrapper_buf = format!("{}Result", op.name);
                    &wrapper_buf
                }
            };
            out.push('<');
            out.push_str(wrapper);
            out.push('>');
            writer.members(&mut out, model.shape(shape), obj);
            xml::close(&mut out, wrapper);
        }
        out.push_str("<ResponseMetadata>");
        xml::text_element(&mut out, "RequestId", request_id);
        out.push_str("</ResponseMetadata>");
    }
    out.push_str("</");
    out.push_str(&op.name);
    out.push_str("Response>");
    out.into_bytes()
}

/// Encodes `<ErrorResponse>` (query) or `<Response><Errors>` (ec2).
pub fn encode_error(
    model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
    info: &ErrorInfo,
    request_id: &str,
) -> Response<Body> {
    let bytes = error_bytes(model, protocol, err, info, request_id);
    super::response(info.status, "text/xml", bytes)
}

/// The error document of [`encode_error`].
pub fn error_bytes(
    model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
    info: &ErrorInfo,
    request_id: &str,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if protocol == Protocol::Ec2 {
        out.push_str("<Response><Errors><Error>");
        xml::text_element(&mut out, "Code", &info.query_code);
        xml::text_element(&mut out, "Message", &err.message);
        out.push_str("</Error></Errors>");
        xml::text_element(&mut out, "RequestID", request_id);
        out.push_str("</Response>");
        return out.into_bytes();
    }
    out.push_str("<ErrorResponse");
    if let Some(m) = model {
        out.push_str(" xmlns=\"");
        xml::escape_attr(&mut out, &namespace(m, protocol));
        out.push('"');
    }
    out.push_str("><Error>");
    xml::text_element(
        &mut out,
        "Type",
        if info.sender_fault {
            "Sender"
        } else {
            "Receiver"
        },
    );
    xml::text_element(&mut out, "Code", &info.query_code);
    xml::text_element(&mut out, "Message", &err.message);
    xml::write_fields(&mut out, &err.fields);
    out.push_str("</Error>");
    xml::text_element(&mut out, "RequestId", request_id);
    out.push_str("</ErrorResponse>");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    fn route(service: &str, op: &str) -> Route {
        let model = model(service).unwrap();
        let protocol = if service == "ec2" {
            Protocol::Ec2
        } else {
            Protocol::Query
        };
        Route {
            model,
            operation: model.operation(op).unwrap(),
            protocol,
            labels: Vec::new(),
        }
    }

    fn parts(method: &str, uri: &str) -> http::request::Parts {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost:4566")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn decode_form(service: &str, op: &str, form: &str) -> Result<Value, AwsError> {
        let r = route(service, op);
        decode(&r, &parts("POST", "/"), &Bytes::from(form.to_string()))
    }

    fn text(resp: Response<Body>) -> String {
        use http_body_util::BodyExt;
        let body = resp.into_body();
        let bytes = futures_lite_block(body.collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Polls a future that is ready immediately (full bodies).
    fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("body not ready"),
        }
    }

    #[test]
    fn sqs_create_queue_flattened_attribute_and_tag_maps() {
        let v = decode_form(
            "sqs",
            "CreateQueue",
            "Action=CreateQueue&Version=2012-11-05&QueueName=q1\
             &Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40\
             &Attribute.2.Name=DelaySeconds&Attribute.2.Value=5\
             &Tag.1.Key=env&Tag.1.Value=prod",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "QueueName": "q1",
                "Attributes": {"VisibilityTimeout": "40", "DelaySeconds": "5"},
                "tags": {"env": "prod"}
            })
        );
    }

    #[test]
    fn sqs_send_message_with_message_attributes() {
        let v = decode_form(
            "sqs",
            "SendMessage",
            "Action=SendMessage&QueueUrl=http%3A%2F%2Flocalhost%3A4566%2F000000000000%2Fq1\
             &MessageBody=hello+world%21&DelaySeconds=3\
             &MessageAttribute.1.Name=color&MessageAttribute.1.Value.DataType=String\
             &MessageAttribute.1.Value.StringValue=blue\
             &MessageAttribute.2.Name=bin&MessageAttribute.2.Value.DataType=Binary\
             &MessageAttribute.2.Value.BinaryValue=AAEC\
             &MessageSystemAttribute.1.Name=AWSTraceHeader\
             &MessageSystemAttribute.1.Value.DataType=String\
             &MessageSystemAttribute.1.Value.StringValue=Root%3D1",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "QueueUrl": "http://localhost:4566/000000000000/q1",
                "MessageBody": "hello world!",
                "DelaySeconds": 3,
                "MessageAttributes": {
                    "color": {"DataType": "String", "StringValue": "blue"},
                    "bin": {"DataType": "Binary", "BinaryValue": "AAEC"}
                },
                "MessageSystemAttributes": {
                    "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}
                }
            })
        );
    }

    #[test]
    fn sqs_receive_message_attribute_names() {
        let v = decode_form(
            "sqs",
            "ReceiveMessage",
            "Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&AttributeName.2=SenderId\
             &MessageAttributeName.1=All&MaxNumberOfMessages=10&WaitTimeSeconds=0",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "QueueUrl": "u",
                "AttributeNames": ["All", "SenderId"],
                "MessageAttributeNames": ["All"],
                "MaxNumberOfMessages": 10,
                "WaitTimeSeconds": 0
            })
        );
    }

    #[test]
    fn sqs_batch_entries_in_numeric_order() {
        let v = decode_form(
            "sqs",
            "SendMessageBatch",
            "QueueUrl=u&SendMessageBatchRequestEntry.10.Id=j&SendMessageBatchRequestEntry.10.MessageBody=J\
             &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=B\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=A\
             &SendMessageBatchRequestEntry.1.DelaySeconds=7\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=1",
        )
        .unwrap();
        assert_eq!(
            v["Entries"],
            json!([
                {"Id": "a", "MessageBody": "A", "DelaySeconds": 7,
                 "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}}},
                {"Id": "b", "MessageBody": "B"},
                {"Id": "j", "MessageBody": "J"}
            ])
        );
    }

    #[test]
    fn sqs_queue_url_comes_from_the_path_when_absent() {
        let r = route("sqs", "SendMessage");
        let v = decode(
            &r,
            &parts("POST", "/000000000000/q1"),
            &Bytes::from_static(b"Action=SendMessage&MessageBody=x"),
        )
        .unwrap();
        assert_eq!(v["QueueUrl"], "http://localhost:4566/000000000000/q1");
        // An explicit QueueUrl wins.
        let v = decode(
            &r,
            &parts("POST", "/000000000000/q1"),
            &Bytes::from_static(b"Action=SendMessage&MessageBody=x&QueueUrl=other"),
        )
        .unwrap();
        assert_eq!(v["QueueUrl"], "other");
    }

    #[test]
    fn get_requests_read_the_url_query() {
        let r = route("sts", "GetCallerIdentity");
        let v = decode(
            &r,
            &parts(
                "GET",
                "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Date=x",
            ),
            &Bytes::new(),
        )
        .unwrap();
        assert_eq!(v, json!({}));
        let r = route("sqs", "GetQueueUrl");
        let v = decode(
            &r,
            &parts("GET", "/?Action=GetQueueUrl&QueueName=q%201"),
            &Bytes::new(),
        )
        .unwrap();
        assert_eq!(v, json!({"QueueName": "q 1"}));
    }

    #[test]
    fn sts_assume_role_member_lists() {
        let v = decode_form(
            "sts",
            "AssumeRole",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr\
             &RoleSessionName=s&DurationSeconds=900\
             &Tags.member.1.Key=team&Tags.member.1.Value=blue\
             &Tags.member.2.Key=env&Tags.member.2.Value=dev\
             &PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess\
             &TransitiveTagKeys.member.1=team",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "RoleArn": "arn:aws:iam::000000000000:role/r",
                "RoleSessionName": "s",
                "DurationSeconds": 900,
                "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}],
                "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                "TransitiveTagKeys": ["team"]
            })
        );
    }

    #[test]
    fn empty_list_marker_decodes_to_empty_list() {
        let v = decode_form(
            "sts",
            "AssumeRole",
            "RoleArn=a&RoleSessionName=s&PolicyArns=",
        )
        .unwrap();
        assert_eq!(v["PolicyArns"], json!([]));
    }

    #[test]
    fn ec2_run_instances_flattened_lists_and_query_names() {
        let v = decode_form(
            "ec2",
            "RunInstances",
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=2\
             &SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2\
             &TagSpecification.1.ResourceType=instance\
             &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web\
             &TagSpecification.1.Tag.2.Key=env&TagSpecification.1.Tag.2.Value=dev\
             &DryRun=false&ClientToken=tok&Placement.AvailabilityZone=us-east-1a\
             &NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId=subnet-1",
        )
        .unwrap();
        assert_eq!(v["ImageId"], "ami-1");
        assert_eq!(v["MinCount"], 1);
        assert_eq!(v["MaxCount"], 2);
        assert_eq!(v["SecurityGroupIds"], json!(["sg-1", "sg-2"]));
        assert_eq!(
            v["TagSpecifications"],
            json!([{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "dev"}]}])
        );
        assert_eq!(v["DryRun"], false);
        assert_eq!(v["ClientToken"], "tok");
        assert_eq!(v["Placement"], json!({"AvailabilityZone": "us-east-1a"}));
        assert_eq!(v["NetworkInterfaces"][0]["DeviceIndex"], 0);
        assert_eq!(v["NetworkInterfaces"][0]["SubnetId"], "subnet-1");
    }

    #[test]
    fn ec2_describe_vpcs_filters() {
        let v = decode_form(
            "ec2",
            "DescribeVpcs",
            "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&VpcId.1=vpc-3",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]}],
                "VpcIds": ["vpc-3"]
            })
        );
    }

    #[test]
    fn bad_scalars_are_parameter_errors() {
        let e = decode_form(
            "sqs",
            "ReceiveMessage",
            "QueueUrl=u&MaxNumberOfMessages=ten",
        )
        .unwrap_err();
        assert_eq!(e.code, codes::INVALID_PARAMETER_VALUE);
        assert!(e.message.contains("MaxNumberOfMessages"), "{}", e.message);
        let e = decode_form(
            "sts",
            "AssumeRole",
            "RoleArn=a&RoleSessionName=s&DurationSeconds=x",
        )
        .unwrap_err();
        assert_eq!(e.code, codes::VALIDATION_ERROR);
        assert_eq!(e.status, Some(StatusCode::BAD_REQUEST));
        let e =
            decode_form("ec2", "RunInstances", "MinCount=1&MaxCount=1&DryRun=maybe").unwrap_err();
        assert_eq!(e.code, codes::INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn garbage_input_never_panics() {
        let ops = [
            ("sqs", "SendMessageBatch"),
            ("sqs", "CreateQueue"),
            ("sts", "AssumeRole"),
            ("ec2", "RunInstances"),
            ("ec2", "DescribeVpcs"),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"=&.%123MemberEntryTagKeyValueName.1.2.member.entry..&&==%zz%FF\xff\x00";
        for (svc, op) in ops {
            for _ in 0..300 {
                let len = (next() % 200) as usize;
                let body: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                let r = route(svc, op);
                let _ = decode(&r, &parts("POST", "/"), &Bytes::from(body));
            }
        }
        // Pathological names: very deep, empty components, huge indexes.
        let deep = format!("Tags{}=1", ".member".repeat(5000));
        let _ = decode_form("sts", "AssumeRole", &deep);
        let _ = decode_form(
            "sts",
            "AssumeRole",
            "Tags.member.99999999999999999999.Key=x&..=&.=.",
        );
        let _ = decode_form("ec2", "RunInstances", "TagSpecification.0.Tag.-1.Key=x");
    }

    #[test]
    fn encodes_sts_get_caller_identity() {
        let r = route("sts", "GetCallerIdentity");
        let out = json!({
            "UserId": "AKIAIOSFODNN7EXAMPLE",
            "Account": "000000000000",
            "Arn": "arn:aws:iam::000000000000:root"
        });
        let resp = encode(&r, &out, "req-1");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/xml");
        assert_eq!(
            text(resp),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><UserId>AKIAIOSFODNN7EXAMPLE</UserId>\
             <Account>000000000000</Account><Arn>arn:aws:iam::000000000000:root</Arn>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
        );
    }

    #[test]
    fn encodes_sts_assume_role_timestamps_iso8601() {
        let r = route("sts", "AssumeRole");
        let out = json!({
            "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s",
                            "SessionToken": "t", "Expiration": 1_700_000_000.0},
            "AssumedRoleUser": {"AssumedRoleId": "AROA1:s", "Arn": "arn"},
            "PackedPolicySize": 6
        });
        let body =
            String::from_utf8(encode_bytes(r.model, r.operation, r.protocol, &out, "id")).unwrap();
        assert!(
            body.contains(
                "<AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>\
             <SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>\
             <Expiration>2023-11-14T22:13:20Z</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>AROA1:s</AssumedRoleId><Arn>arn</Arn>\
             </AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
            ),
            "{body}"
        );
    }

    #[test]
    fn encodes_operation_without_output() {
        let r = route("sqs", "DeleteQueue");
        let body = String::from_utf8(encode_bytes(
            r.model,
            r.operation,
            r.protocol,
            &json!({}),
            "x",
        ))
        .unwrap();
        assert!(
            body.ends_with(
                "<DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DeleteQueueResponse>"
            ),
            "{body}"
        );
    }

    #[test]
    fn encodes_sqs_receive_message_flattened() {
        let r = route("sqs", "ReceiveMessage");
        let out = json!({"Messages": [{
            "MessageId": "m1",
            "ReceiptHandle": "rh",
            "MD5OfBody": "md5",
            "Body": "a<b & \"c\"\r\n",
            "Attributes": {"SenderId": "AID", "SentTimestamp": "1700000000000"},
            "MessageAttributes": {"color": {"StringValue": "blue", "DataType": "String"}}
        }, {"MessageId": "m2", "Body": "x"}]});
        let body =
            String::from_utf8(encode_bytes(r.model, r.operation, r.protocol, &out, "x")).unwrap();
        // Member order follows the merged model (alphabetical for overlaid models today),
        // so check the pieces.
        for piece in [
            "<ReceiveMessageResult><Message>",
            "<MessageId>m1</MessageId>",
            "<ReceiptHandle>rh</ReceiptHandle>",
            "<MD5OfBody>md5</MD5OfBody>",
            "<Body>a&lt;b &amp; \"c\"&#xD;\n</Body>",
            "<Attribute><Name>SenderId</Name><Value>AID</Value></Attribute>\
             <Attribute><Name>SentTimestamp</Name><Value>1700000000000</Value></Attribute>",
            "<MessageAttribute><Name>color</Name><Value>",
            "<StringValue>blue</StringValue>",
            "<DataType>String</DataType>",
            "</Value></MessageAttribute>",
            "</Message><Message>",
            "<MessageId>m2</MessageId>",
            "</Message></ReceiveMessageResult>",
        ] {
            assert!(body.contains(piece), "{piece} missing in {body}");
        }
        assert_eq!(body.matches("<Message>").count(), 2);
    }

    #[test]
    fn encodes_sqs_get_queue_attributes_and_list_queues() {
        let r = route("sqs", "GetQueueAttributes");
        let out = json!({"Attributes": {"VisibilityTimeout": "30"}});
        let body =
            String::from_utf8(encode_bytes(r.model, r.operation, r.protocol, &out, "x")).unwrap();
        assert!(
            body.contains(
                "<GetQueueAttributesResult><Attribute><Name>VisibilityTimeout</Name>\
             <Value>30</Value></Attribute></GetQueueAttributesResult>"
            ),
            "{body}"
        );
        let r = route("sqs", "ListQueues");
        let out = json!({"QueueUrls": ["u1", "u2"]});
        let body =
            String::from_utf8(encode_bytes(r.model, r.operation, r.protocol, &out, "x")).unwrap();
        assert!(body.contains(
            "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"
        ), "{body}");
    }

    #[test]
    fn encodes_ec2_describe_vpcs() {
        let r = route("ec2", "DescribeVpcs");
        let out = json!({"Vpcs": [{
            "VpcId": "vpc-1",
            "CidrBlock": "10.0.0.0/16",
            "State": "available",
            "IsDefault": true,
            "Tags": [{"Key": "Name", "Value": "main"}]
        }]});
        let body =
            String::from_utf8(encode_bytes(r.model, r.operation, r.protocol, &out, "rid")).unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>rid</requestId><vpcSet><item><isDefault>true</isDefault>\
             <tagSet><item><key>Name</key><value>main</value></item></tagSet>\
             <vpcId>vpc-1</vpcId><state>available</state><cidrBlock>10.0.0.0/16</cidrBlock>\
             </item></vpcSet></DescribeVpcsResponse>"
        );
    }

    fn info(status: u16, code: &str, sender: bool) -> ErrorInfo {
        ErrorInfo {
            status: StatusCode::from_u16(status).unwrap(),
            query_code: code.to_string(),
            sender_fault: sender,
        }
    }

    #[test]
    fn query_error_envelope() {
        let m = model("sqs").unwrap();
        let err = AwsError::new("QueueDoesNotExist", "The specified queue does not exist.")
            .with_field("Detail", "d<1>");
        let resp = encode_error(
            Some(m),
            Protocol::Query,
            &err,
            &info(400, "AWS.SimpleQueueService.NonExistentQueue", true),
            "rid",
        );
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            text(resp),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error>\
             <Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>\
             <Message>The specified queue does not exist.</Message><Detail>d&lt;1&gt;</Detail>\
             </Error><RequestId>rid</RequestId></ErrorResponse>"
        );
        let body = String::from_utf8(error_bytes(
            None,
            Protocol::Query,
            &AwsError::internal("boom"),
            &info(500, "InternalFailure", false),
            "r",
        ))
        .unwrap();
        assert!(
            body.contains(
                "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
            ),
            "{body}"
        );
    }

    #[test]
    fn ec2_error_envelope() {
        let m = model("ec2").unwrap();
        let err = AwsError::new("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist");
        let body = String::from_utf8(error_bytes(
            Some(m),
            Protocol::Ec2,
            &err,
            &info(400, "InvalidVpcID.NotFound", true),
            "rid",
        ))
        .unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
             <Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message>\
             </Error></Errors><RequestID>rid</RequestID></Response>"
        );
    }
}
