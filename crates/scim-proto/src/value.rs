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
use crate::schema::{
    AttrType, AttributeDef, Mutability, Resolved, ResourceSchemas, Returned, Schema, Undeclared, is_schema_urn,
};

/// Whether read-only attributes in the input are client noise to drop (a request body) or
/// server data to keep (a stored document being re-normalised after PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Input,
    Stored,
}

/// Validate and normalise a client-supplied resource body for create or replace: canonical
/// attribute names and order, coerced types, read-only attributes dropped, required
/// attributes and single `primary` enforced. Attributes no schema declares are kept as sent
/// (or refused, as `schemas.undeclared` says). The result carries no `id`/`meta`.
pub fn normalize_resource(schemas: &ResourceSchemas, body: &Value) -> Result<Value, ScimError> {
    normalize(schemas, body, Mode::Input)
}

/// An attribute no schema declares, as kept in a document: top-level (`uri` is `None`) or
/// inside an extension object no schema declares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Kept {
    pub uri: Option<String>,
    pub name: String,
    /// The JSON type seen: string, number, boolean, object, array.
    pub json_type: &'static str,
}

impl Kept {
    /// `name`, or `urn:...:name` inside an extension.
    pub fn qualified(&self) -> String {
        match &self.uri {
            Some(uri) => format!("{uri}:{}", self.name),
            None => self.name.clone(),
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Is `key` (not a declared attribute) the URN of a whole extension object rather than a
/// URN-qualified attribute? It is when the body's `schemas` lists it, or when it ends in the
/// resource type's name (`urn:...:acme:2.0:User`), as RFC 7643 §3.3 extension URNs do.
pub(crate) fn is_extension_key(schemas: &ResourceSchemas, listed: &[&str], key: &str) -> bool {
    is_schema_urn(key)
        && (listed.iter().any(|u| u.eq_ignore_ascii_case(key))
            || key
                .rsplit(':')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(schemas.kind.name())))
}

/// What a document keeps that no schema declares, in document order.
pub fn kept_attributes(schemas: &ResourceSchemas, doc: &Value) -> Vec<Kept> {
    let Some(obj) = doc.as_object() else { return Vec::new() };
    let listed = listed_schemas(obj);
    let mut out = Vec::new();
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
            continue;
        }
        if let Some(ext) = schemas.extension(key) {
            for (name, v) in v.as_object().into_iter().flatten() {
                if ext.attribute(name).is_none() {
                    out.push(Kept {
                        uri: Some(ext.id.clone()),
                        name: name.clone(),
                        json_type: json_type(v),
                    });
                }
            }
            continue;
        }
        if is_extension_key(schemas, &listed, key) {
            for (name, v) in v.as_object().into_iter().flatten() {
                out.push(Kept {
                    uri: Some(key.clone()),
                    name: name.clone(),
                    json_type: json_type(v),
                });
            }
            continue;
        }
        if AttrPath::parse(key).ok().and_then(|p| schemas.resolve(&p)).is_none() {
            out.push(Kept {
                uri: None,
                name: key.clone(),
                json_type: json_type(v),
            });
        }
    }
    out
}

fn listed_schemas(obj: &Map<String, Value>) -> Vec<&str> {
    match get_ci(obj, "schemas") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The detail of a refusal to keep undeclared attributes.
pub(crate) fn refuse_undeclared(names: &[String]) -> ScimError {
    ScimError::invalid_value(format!(
        "undeclared attribute{} {}: declare {} with `scimd provider schema add` (an RFC 7643 §7 schema), \
         or set the provider to keep undeclared attributes",
        if names.len() == 1 { "" } else { "s" },
        names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
        if names.len() == 1 { "it" } else { "them" },
    ))
}

/// Normalise a stored document (read-only attributes kept, `schemas` optional): whether its
/// values fit the schemas' types and rules.
pub fn normalize_stored(schemas: &ResourceSchemas, doc: &Value) -> Result<Value, ScimError> {
    normalize(schemas, doc, Mode::Stored)
}

pub(crate) fn normalize(schemas: &ResourceSchemas, body: &Value, mode: Mode) -> Result<Value, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    let listed = check_schemas(schemas, obj, mode)?;
    let core = schemas.core();
    let exts: Vec<&Schema> = schemas.extension_schemas().collect();
    let mut core_vals = Map::new();
    let mut ext_vals: Vec<Map<String, Value>> = vec![Map::new(); exts.len()];
    // What no schema declares, kept as sent: top-level attributes, and extension objects.
    let mut kept_top = Map::new();
    let mut kept_ext: Map<String, Value> = Map::new();
    let mut undeclared: Vec<String> = Vec::new();
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(i) = exts.iter().position(|s| s.id.eq_ignore_ascii_case(key)) {
            match v {
                Value::Null => {}
                Value::Object(attrs) => {
                    for (name, v) in attrs {
                        match exts[i].attribute(name) {
                            Some(attr) => {
                                put(attr, None, v, &mut ext_vals[i], mode).map_err(|e| qualified(e, &exts[i].id))?
                            }
                            None => {
                                undeclared.push(format!("{}:{name}", exts[i].id));
                                ext_vals[i].insert(name.clone(), v.clone());
                            }
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
        // Dotted and URN-qualified keys resolve like paths.
        let path = AttrPath::parse(key).ok();
        if let Some(r) = path.as_ref().and_then(|p| schemas.resolve(p)) {
            let target = match exts.iter().position(|s| s.id == r.schema.id) {
                Some(i) => &mut ext_vals[i],
                None => &mut core_vals,
            };
            put(r.attr, r.sub, v, target, mode).map_err(|e| match r.schema.id == core.id {
                true => e,
                false => qualified(e, &r.schema.id),
            })?;
            continue;
        }
        if v.is_null() {
            continue;
        }
        if is_extension_key(schemas, &listed, key) {
            let Value::Object(attrs) = v else {
                return Err(ScimError::invalid_value(format!(
                    "'{key}' must be an object of extension attributes"
                )));
            };
            let into = kept_ext.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            for (name, v) in attrs {
                undeclared.push(format!("{key}:{name}"));
                if let Some(o) = into.as_object_mut() {
                    o.insert(name.clone(), v.clone());
                }
            }
            continue;
        }
        match path.as_ref().and_then(|p| p.uri.as_deref()) {
            // `urn:...:acme:2.0:User:costCenter` as a key (Entra, a path-less replace): an
            // attribute of an extension no schema declares.
            Some(uri) if is_schema_urn(uri) => {
                let name = path.as_ref().map(|p| p.name.clone()).unwrap_or_default();
                undeclared.push(format!("{uri}:{name}"));
                let into = kept_ext
                    .entry(uri.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(o) = into.as_object_mut() {
                    match path.as_ref().and_then(|p| p.sub.clone()) {
                        Some(sub) => {
                            let entry = o.entry(name).or_insert_with(|| Value::Object(Map::new()));
                            if let Some(e) = entry.as_object_mut() {
                                e.insert(sub, v.clone());
                            }
                        }
                        None => {
                            o.insert(name, v.clone());
                        }
                    }
                }
            }
            _ => {
                undeclared.push(key.clone());
                kept_top.insert(key.clone(), v.clone());
            }
        }
    }
    if schemas.undeclared == Undeclared::Reject && mode == Mode::Input && !undeclared.is_empty() {
        return Err(refuse_undeclared(&undeclared));
    }

    let mut out = Map::new();
    let mut uris = vec![Value::String(core.id.clone())];
    uris.extend(
        exts.iter()
            .zip(&ext_vals)
            .filter(|(_, m)| !m.is_empty())
            .map(|(s, _)| Value::String(s.id.clone())),
    );
    uris.extend(
        kept_ext
            .iter()
            .filter(|(_, v)| v.as_object().is_some_and(|o| !o.is_empty()))
            .map(|(k, _)| Value::String(k.clone())),
    );
    out.insert("schemas".into(), Value::Array(uris));
    let ordered: Vec<&AttributeDef> = core.all_attributes().collect();
    let (meta, rest) = ordered
        .split_last()
        .ok_or_else(|| ScimError::invalid_syntax("empty schema"))?;
    for def in rest {
        if let Some(v) = core_vals.remove(&def.name) {
            out.insert(def.name.clone(), v);
        }
    }
    out.extend(kept_top);
    for (schema, mut vals) in exts.iter().zip(ext_vals) {
        if !vals.is_empty() {
            let mut ordered = Map::new();
            for def in &schema.attributes {
                if let Some(v) = vals.remove(&def.name) {
                    ordered.insert(def.name.clone(), v);
                }
            }
            // Undeclared attributes of a declared extension, kept as sent after the declared.
            ordered.extend(vals);
            out.insert(schema.id.clone(), Value::Object(ordered));
        }
    }
    for (k, v) in kept_ext {
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            out.insert(k, v);
        }
    }
    if let Some(v) = core_vals.remove(&meta.name) {
        out.insert(meta.name.clone(), v);
    }
    let out = Value::Object(out);
    check_required(schemas, &out)?;
    Ok(out)
}

/// The URIs of `schemas`: the core schema must be among them; one that names no declared
/// schema is an undeclared extension (kept, or refused with the rest).
fn check_schemas<'o>(
    schemas: &ResourceSchemas,
    obj: &'o Map<String, Value>,
    mode: Mode,
) -> Result<Vec<&'o str>, ScimError> {
    let uris: Vec<&str> = match get_ci(obj, "schemas") {
        None | Some(Value::Null) if mode == Mode::Stored => return Ok(Vec::new()),
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
    if schemas.undeclared == Undeclared::Reject && mode == Mode::Input {
        let unknown: Vec<String> = uris
            .iter()
            .filter(|u| schemas.schema(u).is_none())
            .map(|u| (*u).to_owned())
            .collect();
        if !unknown.is_empty() {
            return Err(refuse_undeclared(&unknown));
        }
    }
    if let Some(bad) = uris.iter().find(|u| !is_schema_urn(u)) {
        return Err(ScimError::invalid_value(format!(
            "'{bad}' in 'schemas' is not a schema URN"
        )));
    }
    let core = &schemas.core().id;
    if !uris.iter().any(|u| u.eq_ignore_ascii_case(core)) {
        return Err(ScimError::invalid_value(format!("'schemas' must contain '{core}'")));
    }
    Ok(uris)
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
            target.insert(attr.name.clone(), Value::Array(Vec::new()))
        }
        None => match coerce(attr, v, mode)? {
            Some(c) => target.insert(attr.name.clone(), c),
            None => target.remove(&attr.name),
        },
        // `"name.givenName": "x"` as a key: merge into the complex value.
        Some(sub) if !attr.multi_valued => {
            let partial = Value::Object(Map::from_iter([(sub.name.to_string(), v.clone())]));
            let merged = match (target.remove(&attr.name), coerce(attr, &partial, mode)?) {
                (Some(Value::Object(mut old)), Some(Value::Object(new))) => {
                    old.extend(new);
                    Some(Value::Object(old))
                }
                (old, new) => new.or(old),
            };
            match merged {
                Some(m) => target.insert(attr.name.clone(), m),
                None => None,
            }
        }
        Some(_) => None,
    };
    Ok(())
}

/// The attributes whose values differ between two documents, by the names the audit log
/// records: top-level, URN-qualified in extensions, undeclared ones as they were sent. Against
/// an empty document, every attribute `after` holds.
pub fn changed_attributes(schemas: &ResourceSchemas, before: &Value, after: &Value) -> Vec<String> {
    let mut changed: Vec<String> = Vec::new();
    // Undeclared attributes too, by their (URN-qualified) names.
    let kept = |doc| kept_attributes(schemas, doc);
    for k in kept(before).into_iter().chain(kept(after)) {
        let name = k.qualified();
        let get = |doc: &Value| match &k.uri {
            None => doc.get(&k.name).cloned(),
            Some(uri) => doc.get(uri).and_then(|e| e.get(&k.name)).cloned(),
        };
        if get(before) != get(after) && !changed.contains(&name) {
            changed.push(name);
        }
    }
    for schema in schemas.all() {
        for attr in schema.all_attributes().filter(|a| a.name != "schemas") {
            let get = |doc| container(doc, schema).and_then(|c| get_ci(c, &attr.name));
            if get(before) != get(after) {
                changed.push(
                    Resolved {
                        schema,
                        attr,
                        sub: None,
                    }
                    .qualified_name(),
                );
            }
        }
    }
    changed
}

/// An error about an extension attribute names it with its schema URN, as clients map it.
fn qualified(mut e: ScimError, uri: &str) -> ScimError {
    if let Some(rest) = e.detail.strip_prefix("attribute '") {
        e.detail = format!("attribute '{uri}:{rest}");
    }
    e
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
                if let Some(v) = vals.remove(&sub.name) {
                    ordered.insert(sub.name.clone(), v);
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
        get_ci(obj, &schema.id)?.as_object()
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
    let key = match crate::json::key_ci(obj, &schema.id) {
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
    get_ci(container(doc, r.schema)?, &r.attr.name)
}

fn check_required(schemas: &ResourceSchemas, doc: &Value) -> Result<(), ScimError> {
    for ext in schemas.extensions().iter().filter(|e| e.required) {
        if container(doc, &ext.schema).is_none_or(Map::is_empty) {
            return Err(ScimError::invalid_value(format!(
                "the extension '{}' is required",
                ext.schema.id
            )));
        }
    }
    for schema in schemas.all() {
        for def in schema
            .attributes
            .iter()
            .filter(|d| d.required && d.mutability != Mutability::ReadOnly)
        {
            let v = container(doc, schema).and_then(|c| get_ci(c, &def.name));
            let missing = match v {
                None => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(v) => is_unassigned(v),
            };
            // An extension's required attributes bind only when the extension is used.
            if missing && (schema.is_core() || container(doc, schema).is_some()) {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{}' is required",
                    schema.attribute_name(&def.name)
                )));
            }
        }
    }
    Ok(())
}

/// PUT must not change an immutable attribute that already has a value (RFC 7644 §3.5.1).
/// Checks top-level attributes and sub-attributes of single-valued complex ones; elements of
/// multi-valued attributes have no identity to compare by.
pub fn check_immutable(schemas: &ResourceSchemas, old: &Value, new: &Value) -> Result<(), ScimError> {
    for schema in schemas.all() {
        let get = |doc, def: &AttributeDef| container(doc, schema).and_then(|c| get_ci(c, &def.name)).cloned();
        for def in schema.all_attributes() {
            let (before, after) = (get(old, def), get(new, def));
            if def.mutability == Mutability::Immutable {
                if before.as_ref().is_some_and(|b| !is_unassigned(b)) && before != after {
                    return Err(ScimError::mutability(format!(
                        "attribute '{}' is immutable",
                        schema.attribute_name(&def.name)
                    )));
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
                    .and_then(|o| get_ci(o, &sub.name));
                let a = after
                    .as_ref()
                    .and_then(|a| a.as_object())
                    .and_then(|o| get_ci(o, &sub.name));
                if b.is_some_and(|b| !is_unassigned(b)) && b != a {
                    return Err(ScimError::mutability(format!(
                        "attribute '{}.{}' is immutable",
                        schema.attribute_name(&def.name),
                        sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Drop every attribute with `returned: never` (the password): nothing of it may be echoed.
pub fn strip_never_returned(schemas: &ResourceSchemas, doc: &mut Value) {
    for schema in schemas.all() {
        let Some(obj) = container_mut(doc, schema, false) else {
            continue;
        };
        for def in schema.all_attributes() {
            if def.returned == Returned::Never {
                remove_ci(obj, &def.name);
                continue;
            }
            let never: Vec<&str> = def
                .sub_attributes
                .iter()
                .filter(|s| s.returned == Returned::Never)
                .map(|s| s.name.as_str())
                .collect();
            if never.is_empty() {
                continue;
            }
            let Some(v) = crate::json::get_ci_mut(obj, &def.name) else {
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
