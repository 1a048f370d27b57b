//! Code bindings: PutCodeBinding generates a source file (Java8, Python36, TypeScript3, Go1)
//! declaring one type per schema component with its properties; it is stored with the schema
//! and GetCodeBindingSource answers it in a zip, as AWS does.

use base64::Engine;
use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schemas::version;
use crate::state::Binding;
use crate::{infer, Schemas, SchemasError, SchemasResult};

/// Languages AWS generates bindings for.
pub const LANGUAGES: [&str; 4] = ["Java8", "Python36", "TypeScript3", "Go1"];

/// Binding input (all three operations).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindingInput {
    language: String,
    registry_name: String,
    schema_name: String,
    schema_version: Option<String>,
}

/// Put/DescribeCodeBinding output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindingOutput {
    creation_date: f64,
    last_modified: f64,
    schema_version: String,
    status: String,
}

/// GetCodeBindingSource output (a zip holding the generated source file).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceOutput {
    body: String,
}

fn check_language(l: &str) -> SchemasResult<()> {
    if LANGUAGES.contains(&l) {
        Ok(())
    } else {
        Err(SchemasError::BadRequestException(format!(
            "Invalid language {l}: one of {}.",
            LANGUAGES.join(", ")
        )))
    }
}

fn no_binding(i: &BindingInput) -> SchemasError {
    SchemasError::NotFoundException(format!(
        "No code binding for schema {} in {}.",
        i.schema_name, i.language
    ))
}

fn output(created: f64, n: u64) -> BindingOutput {
    BindingOutput {
        creation_date: created,
        last_modified: created,
        schema_version: n.to_string(),
        status: "CREATE_COMPLETE".into(),
    }
}

fn binding_key(language: &str, n: u64) -> String {
    format!("{language}/{n}")
}

/// PutCodeBinding (generation is immediate: the status is CREATE_COMPLETE).
pub async fn put_code_binding(
    svc: &Schemas,
    ctx: &RequestContext,
    input: BindingInput,
) -> SchemasResult<BindingOutput> {
    check_language(&input.language)?;
    let (reg, name) = (&input.registry_name, &input.schema_name);
    let (n, existing) = svc.read_schema(ctx, reg, name, |s| {
        let (n, v) = version(s, input.schema_version.as_deref())?;
        Ok(match s.bindings.get(&binding_key(&input.language, n)) {
            Some(b) => (n, Err(b.created)),
            None => {
                let doc: Value = serde_json::from_str(&v.content).unwrap_or_default();
                (n, Ok(generate(&input.language, &s.name, &v.r#type, &doc)))
            }
        })
    })?;
    let source = match existing {
        Err(created) => return Ok(output(created, n)),
        Ok(source) => source,
    };
    svc.change_schema(ctx, reg, name, |s| {
        s.bindings.insert(
            binding_key(&input.language, n),
            Binding {
                created: ctx.now,
                source,
            },
        );
        Ok(())
    })?;
    Ok(output(ctx.now, n))
}

fn find(
    svc: &Schemas,
    ctx: &RequestContext,
    input: &BindingInput,
) -> SchemasResult<(u64, Binding)> {
    check_language(&input.language)?;
    svc.read_schema(ctx, &input.registry_name, &input.schema_name, |s| {
        let (n, _) = version(s, input.schema_version.as_deref())?;
        let b = s
            .bindings
            .get(&binding_key(&input.language, n))
            .ok_or_else(|| no_binding(input))?;
        Ok((n, b.clone()))
    })
}

/// DescribeCodeBinding.
pub async fn describe_code_binding(
    svc: &Schemas,
    ctx: &RequestContext,
    input: BindingInput,
) -> SchemasResult<BindingOutput> {
    let (n, b) = find(svc, ctx, &input)?;
    Ok(output(b.created, n))
}

/// GetCodeBindingSource.
pub async fn get_code_binding_source(
    svc: &Schemas,
    ctx: &RequestContext,
    input: BindingInput,
) -> SchemasResult<SourceOutput> {
    let (_, b) = find(svc, ctx, &input)?;
    let file = file_name(&input.language, &input.schema_name);
    let zip = zip_stored(&file, b.source.as_bytes());
    Ok(SourceOutput {
        body: base64::engine::general_purpose::STANDARD.encode(zip),
    })
}

/// The path of the generated file inside the archive.
pub fn file_name(lang: &str, schema: &str) -> String {
    let base = infer::component_name(schema);
    match lang {
        "Java8" => format!("src/main/java/schema/{base}.java"),
        "Python36" => format!("schema/{}.py", base.to_ascii_lowercase()),
        "TypeScript3" => format!("lib/schema/{base}.ts"),
        _ => format!("schema/{}.go", base.to_ascii_lowercase()),
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive holding one file, stored (AWS answers bindings as a zip).
pub fn zip_stored(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let name = &name.as_bytes()[..usize::from(name_len)];
    // DOS date 1980-01-01 00:00.
    let (time, date) = (0u16, 0x21u16);
    let mut z = Vec::with_capacity(data.len() + 2 * name.len() + 100);
    z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    for v in [20u16, 0, 0, time, date] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, size, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&name_len.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd_offset = u32::try_from(z.len()).unwrap_or(u32::MAX);
    let cd_start = z.len();
    z.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    for v in [20u16, 20, 0, 0, time, date] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, size, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name_len, 0, 0, 0, 0] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    z.extend_from_slice(name);
    let cd_size = u32::try_from(z.len() - cd_start).unwrap_or(u32::MAX);
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&cd_size.to_le_bytes());
    z.extend_from_slice(&cd_offset.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// The types a schema declares: (name, properties, required).
fn types(schema: &str, ty: &str, doc: &Value) -> Vec<(String, Map<String, Value>)> {
    let props = |v: &Value| {
        v.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if ty == "OpenApi3" {
        if let Some(c) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, v) in c {
                out.push((infer::component_name(name), props(v)));
            }
        }
    } else {
        out.push((infer::component_name(schema), props(doc)));
        if let Some(d) = doc.get("definitions").and_then(Value::as_object) {
            for (name, v) in d {
                out.push((infer::component_name(name), props(v)));
            }
        }
    }
    if out.is_empty() {
        out.push((infer::component_name(schema), Map::new()));
    }
    out
}

/// A property's type in `lang`.
fn field_type(lang: &str, v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = infer::component_name(r.rsplit('/').next().unwrap_or(r));
        return match lang {
            "Go1" => format!("*{name}"),
            _ => name,
        };
    }
    let t = v.get("type").and_then(Value::as_str).unwrap_or("object");
    let item = || v.get("items").map(|i| field_type(lang, i));
    match (lang, t) {
        ("Java8", "string") => "String".into(),
        ("Java8", "number") => "Double".into(),
        ("Java8", "integer") => "Long".into(),
        ("Java8", "boolean") => "Boolean".into(),
        ("Java8", "array") => format!("List<{}>", item().unwrap_or("Object".into())),
        ("Java8", _) => "Object".into(),
        ("Python36", "string") => "str".into(),
        ("Python36", "number") => "float".into(),
        ("Python36", "integer") => "int".into(),
        ("Python36", "boolean") => "bool".into(),
        ("Python36", "array") => format!("List[{}]", item().unwrap_or("object".into())),
        ("Python36", _) => "object".into(),
        ("TypeScript3", "string") => "string".into(),
        ("TypeScript3", "number" | "integer") => "number".into(),
        ("TypeScript3", "boolean") => "boolean".into(),
        ("TypeScript3", "array") => format!("{}[]", item().unwrap_or("any".into())),
        ("TypeScript3", _) => "any".into(),
        (_, "string") => "string".into(),
        (_, "number") => "float64".into(),
        (_, "integer") => "int64".into(),
        (_, "boolean") => "bool".into(),
        (_, "array") => format!("[]{}", item().unwrap_or("interface{}".into())),
        _ => "interface{}".into(),
    }
}

/// An identifier for a property name in `lang`.
fn ident(lang: &str, name: &str) -> String {
    let camel = infer::component_name(name);
    match lang {
        "Go1" => camel,
        "Python36" => {
            let mut s = String::new();
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    s.push('_');
                }
                s.push(c.to_ascii_lowercase());
            }
            s
        }
        _ => {
            let mut c = camel.chars();
            match c.next() {
                Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                None => camel,
            }
        }
    }
}

/// Generates the source file of `schema` in `lang`.
pub fn generate(lang: &str, schema: &str, ty: &str, doc: &Value) -> String {
    let types = types(schema, ty, doc);
    let mut s = String::new();
    let header = format!("Generated by Overcast from schema {schema}.");
    match lang {
        "Java8" => {
            s += &format!("// {header}\npackage schema;\n\nimport java.util.List;\n");
            for (name, props) in &types {
                s += &format!("\npublic class {name} {{\n");
                for (p, v) in props {
                    let t = field_type(lang, v);
                    let id = ident(lang, p);
                    let cap = infer::component_name(p);
                    s += &format!("  private {t} {id};\n");
                    s += &format!("  public {t} get{cap}() {{ return {id}; }}\n");
                    s += &format!("  public void set{cap}({t} {id}) {{ this.{id} = {id}; }}\n");
                }
                s += "}\n";
            }
        }
        "Python36" => {
            s += &format!("# {header}\nfrom typing import List\n");
            for (name, props) in &types {
                s += &format!("\n\nclass {name}(object):\n");
                s += "    def __init__(self";
                for p in props.keys() {
                    s += &format!(", {}=None", ident(lang, p));
                }
                s += "):\n";
                if props.is_empty() {
                    s += "        pass\n";
                }
                for (p, v) in props {
                    let id = ident(lang, p);
                    s += &format!(
                        "        self.{id} = {id}  # type: {}\n",
                        field_type(lang, v)
                    );
                }
            }
        }
        "TypeScript3" => {
            s += &format!("// {header}\n");
            for (name, props) in &types {
                s += &format!("\nexport class {name} {{\n");
                for (p, v) in props {
                    s += &format!("  '{p}': {};\n", field_type(lang, v));
                }
                s += "}\n";
            }
        }
        _ => {
            s += &format!("// {header}\npackage schema\n");
            for (name, props) in &types {
                s += &format!("\ntype {name} struct {{\n");
                for (p, v) in props {
                    s += &format!(
                        "\t{} {} `json:\"{p}\"`\n",
                        ident(lang, p),
                        field_type(lang, v)
                    );
                }
                s += "}\n";
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generates_each_language() {
        let doc = infer::infer_openapi(&json!({"source": "a", "detail-type": "Order",
            "detail": {"orderId": "x", "total": 1.5}}));
        let py = generate("Python36", "a@Order", "OpenApi3", &doc);
        assert!(py.contains("class Order(object):"), "{py}");
        assert!(py.contains("self.order_id = order_id"), "{py}");
        let java = generate("Java8", "a@Order", "OpenApi3", &doc);
        assert!(java.contains("private Double total;"), "{java}");
        let ts = generate("TypeScript3", "a@Order", "OpenApi3", &doc);
        assert!(ts.contains("'detail': Order;"), "{ts}");
        let go = generate("Go1", "a@Order", "OpenApi3", &doc);
        assert!(go.contains("OrderId string `json:\"orderId\"`"), "{go}");
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let z = zip_stored("a.txt", b"hi");
        assert_eq!(&z[..4], b"PK\x03\x04");
        assert_eq!(&z[z.len() - 22..z.len() - 18], b"PK\x05\x06");
    }
}
