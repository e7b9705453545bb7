//! Resource validation and normalisation: RFC 7643 §2 (attribute types and characteristics),
//! §3 (resources, `schemas`, extensions), and the mutability rules of RFC 7644 §3.5.1.

#[cfg(test)]
mod tests;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ScimError;
use crate::json::{get_ci, is_unassigned, remove_ci};
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, Mutability, Resolved, ResourceKind, Returned, Schema, resolve};

/// Whether read-only attributes in the input are client noise to drop (a request body) or
/// server data to keep (a stored document being re-normalised after PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Input,
    Stored,
}

/// Validate and normalise a client-supplied resource body for create or replace: canonical
/// attribute names and order, coerced types, read-only and unknown attributes dropped,
/// required attributes and single `primary` enforced. The result carries no `id`/`meta`.
pub fn normalize_resource(kind: ResourceKind, body: &Value) -> Result<Value, ScimError> {
    normalize(kind, body, Mode::Input)
}

pub(crate) fn normalize(kind: ResourceKind, body: &Value, mode: Mode) -> Result<Value, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    check_schemas(kind, obj, mode)?;
    let core = kind.core_schema();
    let exts = kind.extensions();
    let mut core_vals = Map::new();
    let mut ext_vals: Vec<Map<String, Value>> = vec![Map::new(); exts.len()];
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(i) = exts.iter().position(|s| s.id.eq_ignore_ascii_case(key)) {
            match v {
                Value::Null => {}
                Value::Object(attrs) => {
                    for (name, v) in attrs {
                        if let Some(attr) = exts[i].attribute(name) {
                            put(attr, None, v, &mut ext_vals[i], mode)?;
                        }
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "'{key}' must be an object of extension attributes"
                    )));
                }
            }
            continue;
        }
        // Unknown attributes may be ignored (RFC 7644 §3.3); dotted and URN-qualified keys
        // resolve like paths.
        let Some(r) = AttrPath::parse(key).ok().and_then(|p| resolve(kind, &p)) else {
            continue;
        };
        let target = match exts.iter().position(|s| s.id == r.schema.id) {
            Some(i) => &mut ext_vals[i],
            None => &mut core_vals,
        };
        put(r.attr, r.sub, v, target, mode)?;
    }

    let mut out = Map::new();
    let mut schemas = vec![Value::String(core.id.to_string())];
    schemas.extend(
        exts.iter()
            .zip(&ext_vals)
            .filter(|(_, m)| !m.is_empty())
            .map(|(s, _)| Value::String(s.id.into())),
    );
    out.insert("schemas".into(), Value::Array(schemas));
    let ordered: Vec<&AttributeDef> = core.all_attributes().collect();
    let (meta, rest) = ordered
        .split_last()
        .ok_or_else(|| ScimError::invalid_syntax("empty schema"))?;
    for def in rest {
        if let Some(v) = core_vals.remove(def.name) {
            out.insert(def.name.into(), v);
        }
    }
    for (schema, mut vals) in exts.iter().zip(ext_vals) {
        if !vals.is_empty() {
            let mut ordered = Map::new();
            for def in &schema.attributes {
                if let Some(v) = vals.remove(def.name) {
                    ordered.insert(def.name.into(), v);
                }
            }
            out.insert(schema.id.into(), Value::Object(ordered));
        }
    }
    if let Some(v) = core_vals.remove(meta.name) {
        out.insert(meta.name.into(), v);
    }
    let out = Value::Object(out);
    check_required(kind, &out)?;
    Ok(out)
}

fn check_schemas(kind: ResourceKind, obj: &Map<String, Value>, mode: Mode) -> Result<(), ScimError> {
    let uris: Vec<&str> = match get_ci(obj, "schemas") {
        None | Some(Value::Null) if mode == Mode::Stored => return Ok(()),
        None | Some(Value::Null) => return Err(ScimError::invalid_syntax("'schemas' is required")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| ScimError::invalid_syntax("'schemas' must be an array of URIs"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimError::invalid_syntax("'schemas' must be an array of URIs")),
    };
    if let Some(unknown) = uris.iter().find(|u| kind.schema(u).is_none()) {
        return Err(ScimError::invalid_value(format!(
            "schema '{unknown}' is not supported for {}",
            kind.name()
        )));
    }
    let core = kind.core_schema().id;
    if !uris.iter().any(|u| u.eq_ignore_ascii_case(core)) {
        return Err(ScimError::invalid_value(format!("'schemas' must contain '{core}'")));
    }
    Ok(())
}

/// Store `v` for `attr` (or its sub-attribute `sub`) into `target`, under the canonical name.
fn put(
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
    v: &Value,
    target: &mut Map<String, Value>,
    mode: Mode,
) -> Result<(), ScimError> {
    if mode == Mode::Input && attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    match sub {
        // An explicit `[]` stays: on PUT, `"members": []` means "no members", while an absent
        // `members` leaves them alone (RFC 7643 §2.5 calls both unassigned; intent differs).
        None if attr.multi_valued && v.as_array().is_some_and(Vec::is_empty) => {
            target.insert(attr.name.into(), Value::Array(Vec::new()))
        }
        None => match coerce(attr, v, mode)? {
            Some(c) => target.insert(attr.name.into(), c),
            None => target.remove(attr.name),
        },
        // `"name.givenName": "x"` as a key: merge into the complex value.
        Some(sub) if !attr.multi_valued => {
            let partial = Value::Object(Map::from_iter([(sub.name.to_string(), v.clone())]));
            let merged = match (target.remove(attr.name), coerce(attr, &partial, mode)?) {
                (Some(Value::Object(mut old)), Some(Value::Object(new))) => {
                    old.extend(new);
                    Some(Value::Object(old))
                }
                (old, new) => new.or(old),
            };
            match merged {
                Some(m) => target.insert(attr.name.into(), m),
                None => None,
            }
        }
        Some(_) => None,
    };
    Ok(())
}

fn invalid(def: &AttributeDef, what: &str) -> ScimError {
    ScimError::invalid_value(format!("attribute '{}' must be {what}", def.name))
}

/// Coerce a client value to the attribute's type. `None` means unassigned (RFC 7643 §2.5).
pub(crate) fn coerce(def: &AttributeDef, v: &Value, mode: Mode) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items: Vec<&Value> = match v {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            // A single value where a list is expected: wrap it (lenient).
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(c) = coerce_single(def, item, mode)? {
                out.push(c);
            }
        }
        check_primary(def, &out)?;
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match v {
        // Entra sends the manager as `[{"value": id}]`: one element for a single value.
        Value::Array(items) if items.len() <= 1 => items.first().map_or(Ok(None), |i| coerce_single(def, i, mode)),
        Value::Array(_) => Err(invalid(def, "a single value, not a list")),
        v => coerce_single(def, v, mode),
    }
}

/// RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once.
pub(crate) fn check_primary(def: &AttributeDef, items: &[Value]) -> Result<(), ScimError> {
    let primaries = items
        .iter()
        .filter(|i| i.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            def.name
        )));
    }
    Ok(())
}

/// A `$ref` to a SCIM resource is derived by the server from `value` and its own base URL;
/// what a client sends there (often `null`, sometimes another system's URL) is not kept.
fn server_derived(parent: &AttributeDef, sub: &AttributeDef) -> bool {
    sub.name == "$ref"
        && parent.sub_attribute("value").is_some()
        && sub.reference_types.iter().any(|t| *t == "User" || *t == "Group")
}

fn coerce_single(def: &AttributeDef, v: &Value, mode: Mode) -> Result<Option<Value>, ScimError> {
    let out = match (def.ty, v) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Complex, Value::Object(obj)) => {
            let mut vals = Map::new();
            for (k, sv) in obj {
                let Some(sub) = def.sub_attribute(k) else { continue };
                if mode == Mode::Input && (sub.mutability == Mutability::ReadOnly || server_derived(def, sub)) {
                    continue;
                }
                if let Some(c) = coerce(sub, sv, mode)? {
                    vals.insert(sub.name.to_string(), c);
                }
            }
            let mut ordered = Map::new();
            for sub in &def.sub_attributes {
                if let Some(v) = vals.remove(sub.name) {
                    ordered.insert(sub.name.into(), v);
                }
            }
            if ordered.is_empty() {
                return Ok(None);
            }
            Value::Object(ordered)
        }
        // A bare scalar for a complex attribute with a `value`: Entra's manager id, `members: ["id"]`.
        (AttrType::Complex, Value::String(_) | Value::Number(_)) if def.sub_attribute("value").is_some() => {
            let obj = Value::Object(Map::from_iter([("value".to_string(), v.clone())]));
            return coerce_single(def, &obj, mode);
        }
        (AttrType::Complex, _) => return Err(invalid(def, "an object")),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) if s.is_empty() => {
            return Ok(None);
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => v.clone(),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::Number(n)) => Value::String(n.to_string()),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::Bool(b)) => Value::String(b.to_string()),
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => return Err(invalid(def, "a string")),
        (AttrType::Boolean, Value::Bool(_)) => v.clone(),
        // Entra sends "True"/"False".
        (AttrType::Boolean, Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Value::Bool(true),
        (AttrType::Boolean, Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Value::Bool(false),
        (AttrType::Boolean, _) => return Err(invalid(def, "a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (AttrType::Integer, Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => return Err(invalid(def, "an integer")),
        },
        (AttrType::Integer, Value::String(s)) => {
            Value::from(s.trim().parse::<i64>().map_err(|_| invalid(def, "an integer"))?)
        }
        (AttrType::Integer, _) => return Err(invalid(def, "an integer")),
        (AttrType::Decimal, Value::Number(_)) => v.clone(),
        (AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| invalid(def, "a decimal number"))?,
        (AttrType::Decimal, _) => return Err(invalid(def, "a decimal number")),
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => v.clone(),
        (AttrType::DateTime, _) => return Err(invalid(def, "an RFC 3339 dateTime")),
    };
    Ok(Some(out))
}

/// Where the attributes of `schema` live in a document: the document itself for the core
/// schema, the object under the extension URN otherwise (RFC 7643 §3.3).
pub(crate) fn container<'a>(doc: &'a Value, schema: &Schema) -> Option<&'a Map<String, Value>> {
    let obj = doc.as_object()?;
    if schema.is_core() {
        Some(obj)
    } else {
        get_ci(obj, schema.id)?.as_object()
    }
}

pub(crate) fn container_mut<'a>(
    doc: &'a mut Value,
    schema: &Schema,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let obj = doc.as_object_mut()?;
    if schema.is_core() {
        return Some(obj);
    }
    let key = match crate::json::key_ci(obj, schema.id) {
        Some(key) => key,
        None if create => {
            obj.insert(schema.id.to_string(), Value::Object(Map::new()));
            schema.id.to_string()
        }
        None => return None,
    };
    obj.get_mut(&key)?.as_object_mut()
}

/// The value of a resolved attribute (ignoring `sub`).
pub(crate) fn lookup<'a>(doc: &'a Value, r: &Resolved) -> Option<&'a Value> {
    get_ci(container(doc, r.schema)?, r.attr.name)
}

fn check_required(kind: ResourceKind, doc: &Value) -> Result<(), ScimError> {
    for schema in std::iter::once(kind.core_schema()).chain(kind.extensions().iter().copied()) {
        for def in schema
            .attributes
            .iter()
            .filter(|d| d.required && d.mutability != Mutability::ReadOnly)
        {
            let v = container(doc, schema).and_then(|c| get_ci(c, def.name));
            let missing = match v {
                None => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(v) => is_unassigned(v),
            };
            // An extension's required attributes bind only when the extension is used.
            if missing && (schema.is_core() || container(doc, schema).is_some()) {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{}' is required",
                    def.name
                )));
            }
        }
    }
    Ok(())
}

/// PUT must not change an immutable attribute that already has a value (RFC 7644 §3.5.1).
/// Checks top-level attributes and sub-attributes of single-valued complex ones; elements of
/// multi-valued attributes have no identity to compare by.
pub fn check_immutable(kind: ResourceKind, old: &Value, new: &Value) -> Result<(), ScimError> {
    for schema in std::iter::once(kind.core_schema()).chain(kind.extensions().iter().copied()) {
        let get = |doc, def: &AttributeDef| container(doc, schema).and_then(|c| get_ci(c, def.name)).cloned();
        for def in schema.all_attributes() {
            let (before, after) = (get(old, def), get(new, def));
            if def.mutability == Mutability::Immutable {
                if before.as_ref().is_some_and(|b| !is_unassigned(b)) && before != after {
                    return Err(ScimError::mutability(format!("attribute '{}' is immutable", def.name)));
                }
                continue;
            }
            if !def.is_complex() || def.multi_valued {
                continue;
            }
            for sub in def
                .sub_attributes
                .iter()
                .filter(|s| s.mutability == Mutability::Immutable)
            {
                let b = before
                    .as_ref()
                    .and_then(|b| b.as_object())
                    .and_then(|o| get_ci(o, sub.name));
                let a = after
                    .as_ref()
                    .and_then(|a| a.as_object())
                    .and_then(|o| get_ci(o, sub.name));
                if b.is_some_and(|b| !is_unassigned(b)) && b != a {
                    return Err(ScimError::mutability(format!(
                        "attribute '{}.{}' is immutable",
                        def.name, sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Drop every attribute with `returned: never` (the password): nothing of it may be echoed.
pub fn strip_never_returned(kind: ResourceKind, doc: &mut Value) {
    for schema in std::iter::once(kind.core_schema()).chain(kind.extensions().iter().copied()) {
        let Some(obj) = container_mut(doc, schema, false) else {
            continue;
        };
        for def in schema.all_attributes() {
            if def.returned == Returned::Never {
                remove_ci(obj, def.name);
                continue;
            }
            let never: Vec<&str> = def
                .sub_attributes
                .iter()
                .filter(|s| s.returned == Returned::Never)
                .map(|s| s.name)
                .collect();
            if never.is_empty() {
                continue;
            }
            let Some(v) = crate::json::get_ci_mut(obj, def.name) else {
                continue;
            };
            let items: Vec<&mut Value> = match v {
                Value::Array(items) => items.iter_mut().collect(),
                v => vec![v],
            };
            for item in items {
                if let Some(o) = item.as_object_mut() {
                    for name in &never {
                        remove_ci(o, name);
                    }
                }
            }
        }
    }
}
