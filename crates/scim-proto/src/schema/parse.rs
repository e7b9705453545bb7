//! Reading a schema definition (RFC 7643 §7) that an administrator declares as an extension,
//! with the characteristics' defaults of §2.2 and every mistake named: which attribute, and why.

use serde_json::{Map, Value};

use super::{AttrType, AttributeDef, Mutability, Returned, Schema, Uniqueness, is_schema_urn};
use crate::path::is_attr_name;

fn text<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{at}: '{key}' must be a string")),
    }
}

fn flag(obj: &Map<String, Value>, key: &str, at: &str) -> Result<bool, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{at}: '{key}' must be true or false")),
    }
}

fn strings(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Vec<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{at}: '{key}' must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("{at}: '{key}' must be a list of strings")),
    }
}

fn one_of<T: Copy>(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    default: T,
    names: &[(&str, T)],
) -> Result<T, String> {
    match text(obj, key, at)? {
        None => Ok(default),
        Some(s) => names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let allowed: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                format!("{at}: '{key}' is '{s}', not one of {}", allowed.join(", "))
            }),
    }
}

const TYPES: &[(&str, AttrType)] = &[
    ("string", AttrType::String),
    ("boolean", AttrType::Boolean),
    ("decimal", AttrType::Decimal),
    ("integer", AttrType::Integer),
    ("dateTime", AttrType::DateTime),
    ("binary", AttrType::Binary),
    ("reference", AttrType::Reference),
    ("complex", AttrType::Complex),
];

fn attribute(v: &Value, parent: Option<&str>) -> Result<AttributeDef, String> {
    let where_ = |name: &str| match parent {
        Some(p) => format!("attribute '{p}.{name}'"),
        None => format!("attribute '{name}'"),
    };
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{}: an attribute must be an object", where_("?")))?;
    let name = text(obj, "name", &where_("?"))?.ok_or_else(|| format!("{}: 'name' is missing", where_("?")))?;
    let at = where_(name);
    if !is_attr_name(name) || name.starts_with('$') {
        return Err(format!(
            "{at}: the name is not an ATTRNAME (RFC 7643 §2.1: a letter, then letters, digits, '-' or '_')"
        ));
    }
    let ty_name = text(obj, "type", &at)?.ok_or_else(|| format!("{at}: 'type' is missing"))?;
    let ty = TYPES
        .iter()
        .find(|(n, _)| *n == ty_name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            format!(
                "{at}: unknown type '{ty_name}' (one of string, boolean, decimal, integer, dateTime, binary, reference, complex)"
            )
        })?;
    let subs = match obj.get("subAttributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if ty == AttrType::Complex => {
            if parent.is_some() {
                return Err(format!(
                    "{at}: sub-attributes are nested twice (RFC 7643 §2.3.8: a complex attribute's sub-attributes may not be complex)"
                ));
            }
            let list = items
                .iter()
                .map(|s| attribute(s, Some(name)))
                .collect::<Result<Vec<_>, _>>()?;
            check_unique(&list, &at)?;
            list
        }
        Some(Value::Array(items)) if items.is_empty() => Vec::new(),
        Some(_) => return Err(format!("{at}: only a complex attribute has 'subAttributes'")),
    };
    if ty == AttrType::Complex && parent.is_some() {
        return Err(format!(
            "{at}: sub-attributes are nested twice (RFC 7643 §2.3.8: a complex attribute's sub-attributes may not be complex)"
        ));
    }
    if ty == AttrType::Complex && subs.is_empty() {
        return Err(format!("{at}: a complex attribute needs 'subAttributes'"));
    }
    Ok(AttributeDef {
        name: name.to_owned(),
        ty,
        multi_valued: flag(obj, "multiValued", &at)?,
        description: text(obj, "description", &at)?.unwrap_or_default().to_owned(),
        required: flag(obj, "required", &at)?,
        case_exact: flag(obj, "caseExact", &at)?,
        mutability: one_of(
            obj,
            "mutability",
            &at,
            Mutability::ReadWrite,
            &[
                ("readOnly", Mutability::ReadOnly),
                ("readWrite", Mutability::ReadWrite),
                ("immutable", Mutability::Immutable),
                ("writeOnly", Mutability::WriteOnly),
            ],
        )?,
        returned: one_of(
            obj,
            "returned",
            &at,
            Returned::Default,
            &[
                ("always", Returned::Always),
                ("never", Returned::Never),
                ("default", Returned::Default),
                ("request", Returned::Request),
            ],
        )?,
        uniqueness: one_of(
            obj,
            "uniqueness",
            &at,
            Uniqueness::None,
            &[
                ("none", Uniqueness::None),
                ("server", Uniqueness::Server),
                ("global", Uniqueness::Global),
            ],
        )?,
        canonical_values: strings(obj, "canonicalValues", &at)?,
        reference_types: strings(obj, "referenceTypes", &at)?,
        sub_attributes: subs,
    })
}

fn check_unique(attrs: &[AttributeDef], at: &str) -> Result<(), String> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs[..i].iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)) {
            return Err(format!("{at}: attribute '{}' is declared twice", a.name));
        }
    }
    Ok(())
}

impl Schema {
    /// A schema definition (RFC 7643 §7) declared as an extension: `id` a URN that is not
    /// one of scimd's own (core, enterprise), `attributes` with the characteristics of §2.2
    /// (absent ones take their defaults). The error names the bad attribute and why.
    pub fn parse_extension(doc: &Value) -> Result<Schema, String> {
        let obj = doc.as_object().ok_or("a schema must be a JSON object")?;
        let id = text(obj, "id", "the schema")?.ok_or("the schema has no 'id' (its URN)")?;
        if !is_schema_urn(id)
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_'))
        {
            return Err(format!(
                "the schema id '{id}' is not a URN of letters, digits and : . - _ (urn:...)"
            ));
        }
        if Schema::is_builtin_id(id) {
            return Err(format!(
                "'{id}' is one of scimd's own schemas (core or enterprise): an extension needs a URN of its own"
            ));
        }
        let list = match obj.get("attributes") {
            Some(Value::Array(items)) => items,
            _ => return Err("the schema has no 'attributes' list".into()),
        };
        let attributes = list.iter().map(|a| attribute(a, None)).collect::<Result<Vec<_>, _>>()?;
        check_unique(&attributes, "the schema")?;
        Ok(Schema {
            id: id.to_owned(),
            name: text(obj, "name", "the schema")?.unwrap_or_default().to_owned(),
            description: text(obj, "description", "the schema")?.unwrap_or_default().to_owned(),
            attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

    #[test]
    fn a_declared_schema_takes_the_rfc_defaults_and_prints_back() {
        let doc = json!({"id": ACME, "name": "Acme", "attributes": [
            {"name": "costCenter", "type": "string", "uniqueness": "server"},
            {"name": "badges", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"}, {"name": "issued", "type": "dateTime"}]}
        ]});
        let s = Schema::parse_extension(&doc).unwrap();
        let cc = s.attribute("costcenter").unwrap();
        assert_eq!(
            (cc.mutability, cc.returned, cc.uniqueness),
            (Mutability::ReadWrite, Returned::Default, Uniqueness::Server)
        );
        assert!(!cc.case_exact && !cc.required && !cc.multi_valued);
        let again = Schema::parse_extension(&s.to_json()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn mistakes_are_named_with_the_attribute_and_the_reason() {
        let bad = |attrs: Value| Schema::parse_extension(&json!({"id": ACME, "attributes": attrs})).unwrap_err();
        let e = bad(json!([{"name": "x", "type": "text"}]));
        assert!(e.contains("attribute 'x'") && e.contains("unknown type 'text'"), "{e}");
        let e = bad(json!([{"name": "a", "type": "complex", "subAttributes": [
            {"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}]));
        assert!(e.contains("'a.b'") && e.contains("nested twice"), "{e}");
        let e = bad(json!([{"name": "1st", "type": "string"}]));
        assert!(e.contains("'1st'") && e.contains("ATTRNAME"), "{e}");
        let e = bad(json!([{"name": "a b", "type": "string"}]));
        assert!(e.contains("ATTRNAME"), "{e}");
        let e = bad(json!([{"name": "x", "type": "string"}, {"name": "X", "type": "string"}]));
        assert!(e.contains("twice"), "{e}");
        let e = Schema::parse_extension(&json!({"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}))
            .unwrap_err();
        assert!(e.contains("scimd's own"), "{e}");
        let e = Schema::parse_extension(&json!({"id": "acme", "attributes": []})).unwrap_err();
        assert!(e.contains("not a URN"), "{e}");
    }
}
