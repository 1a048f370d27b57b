//! Content validation, inference of OpenAPI 3 schemas from events, and export.

use serde_json::{json, Map, Value};

use crate::{SchemasError, SchemasResult};

/// Checks `content` is a valid document of `ty` (`OpenApi3` or `JSONSchemaDraft4`).
pub fn validate(ty: &str, content: &str) -> SchemasResult<Value> {
    let bad = |m: &str| SchemasError::BadRequestException(m.to_string());
    let doc: Value =
        serde_json::from_str(content).map_err(|_| bad("Schema content is not valid JSON."))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("Schema content must be a JSON object."))?;
    match ty {
        "OpenApi3" => {
            let v = obj.get("openapi").and_then(Value::as_str).unwrap_or("");
            if !v.starts_with("3.") {
                return Err(bad(
                    "Invalid OpenApi3 schema: the openapi field must be 3.x.",
                ));
            }
            if !obj.get("info").is_some_and(Value::is_object) {
                return Err(bad("Invalid OpenApi3 schema: the info object is required."));
            }
        }
        "JSONSchemaDraft4" => {
            if let Some(s) = obj.get("$schema") {
                if !s.as_str().is_some_and(|s| s.contains("draft-04")) {
                    return Err(bad(
                        "Invalid JSONSchemaDraft4 schema: $schema is not draft-04.",
                    ));
                }
            }
            if let Some(t) = obj.get("type") {
                if !(t.is_string() || t.is_array()) {
                    return Err(bad("Invalid JSONSchemaDraft4 schema: bad type."));
                }
            }
        }
        other => return Err(bad(&format!("Invalid schema type {other}."))),
    }
    Ok(doc)
}

/// A component name from free text (`My detail-type` → `MyDetailType`).
pub fn component_name(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'X');
    }
    out
}

fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "number"}),
        Value::Number(_) => json!({"type": "number", "format": "double"}),
        Value::String(_) => json!({"type": "string"}),
        Value::Array(a) => match a.first() {
            Some(x) => json!({"type": "array", "items": shape(x)}),
            None => json!({"type": "array", "items": {}}),
        },
        Value::Object(o) => {
            let props: Map<String, Value> = o.iter().map(|(k, v)| (k.clone(), shape(v))).collect();
            let required: Vec<&String> = o.keys().collect();
            json!({"type": "object", "required": required, "properties": props})
        }
    }
}

/// The OpenAPI 3 schema of an EventBridge event envelope.
pub fn infer_openapi(event: &Value) -> Value {
    let source = event.get("source").and_then(Value::as_str).unwrap_or("");
    let dt = event
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let detail_name = component_name(dt);
    let mut props = Map::new();
    let mut required = Vec::new();
    if let Some(o) = event.as_object() {
        for (k, v) in o {
            required.push(Value::String(k.clone()));
            let s = match k.as_str() {
                "detail" => json!({"$ref": format!("#/components/schemas/{detail_name}")}),
                "time" => json!({"type": "string", "format": "date-time"}),
                _ => shape(v),
            };
            props.insert(k.clone(), s);
        }
    }
    let detail = event
        .get("detail")
        .map(shape)
        .unwrap_or(json!({"type": "object"}));
    json!({
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": detail_name},
        "paths": {},
        "components": {"schemas": {
            "AWSEvent": {
                "type": "object",
                "required": required,
                "x-amazon-events-source": [source],
                "x-amazon-events-detail-type": [dt],
                "properties": props,
            },
            detail_name: detail,
        }}
    })
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        *x = Value::String(s.replace("#/components/schemas/", "#/definitions/"));
                    }
                } else {
                    rewrite_refs(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// Converts a schema document of `ty` to JSON Schema draft 4.
pub fn to_draft4(ty: &str, doc: &Value) -> Value {
    if ty == "JSONSchemaDraft4" {
        return doc.clone();
    }
    let mut comps = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let root_name = if comps.contains_key("AWSEvent") {
        Some("AWSEvent".to_string())
    } else {
        comps.keys().next().cloned()
    };
    let mut root = root_name
        .as_ref()
        .and_then(|n| comps.remove(n))
        .unwrap_or(json!({"type": "object"}));
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-04/schema#"),
    );
    if let Some(t) = doc.pointer("/info/title") {
        out.insert("title".into(), t.clone());
    }
    if !comps.is_empty() {
        out.insert("definitions".into(), Value::Object(comps));
    }
    if let Some(o) = root.as_object_mut() {
        for (k, v) in std::mem::take(o) {
            out.insert(k, v);
        }
    }
    let mut out = Value::Object(out);
    rewrite_refs(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert!(validate("OpenApi3", r#"{"openapi":"3.0.0","info":{}}"#).is_ok());
        assert!(validate("OpenApi3", r#"{"openapi":"2.0","info":{}}"#).is_err());
        assert!(validate("OpenApi3", "nope").is_err());
        assert!(validate("JSONSchemaDraft4", r#"{"type":"object"}"#).is_ok());
        assert!(validate("JSONSchemaDraft4", r#"[1]"#).is_err());
        assert!(validate("Avro", r#"{}"#).is_err());
    }

    #[test]
    fn infers_and_exports() {
        let ev = json!({"source": "my.app", "detail-type": "Order placed", "time": "x",
            "detail": {"id": 1, "items": [{"sku": "a"}]}});
        let doc = infer_openapi(&ev);
        assert_eq!(
            doc.pointer("/components/schemas/OrderPlaced/properties/id/type"),
            Some(&json!("number"))
        );
        let d4 = to_draft4("OpenApi3", &doc);
        assert_eq!(
            d4.pointer("/properties/detail/$ref"),
            Some(&json!("#/definitions/OrderPlaced"))
        );
    }
}
