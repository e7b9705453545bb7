//! Applying PATCH operations to a resource document: RFC 7644 §3.5.2.1 (add), §3.5.2.2
//! (remove), §3.5.2.3 (replace), plus the Okta and Entra forms of CLIENTS.md.

use serde_json::{Map, Value};

use super::PatchPath;
use super::{PatchOpKind, PatchOperation};
use crate::error::{ScimError, ScimType};
use crate::filter::{CompValue, Filter, matches_element, validate_element};
use crate::json::{key_ci, remove_ci};
use crate::path::AttrPath;
use crate::schema::{AttributeDef, Mutability, Resolved, ResourceSchemas, Undeclared, is_schema_urn};
use crate::value::{
    Kept, Mode, changed_attributes, check_primary, coerce, container_mut, is_extension_key, kept_attributes, normalize,
    refuse_undeclared,
};

/// Apply `ops` in order, all-or-nothing: the work happens on a copy that replaces `doc` only
/// if every operation succeeds and the result is still a valid resource. Returns the
/// top-level attributes that changed (URN-qualified for extension attributes).
pub fn apply_patch(
    schemas: &ResourceSchemas,
    doc: &mut Value,
    ops: &[PatchOperation],
) -> Result<Vec<String>, ScimError> {
    if !doc.is_object() {
        return Err(ScimError::invalid_syntax("the resource must be a JSON object"));
    }
    let mut work = doc.clone();
    for op in ops {
        match (&op.path, &op.value) {
            (Some(path), value) if whole_extension(schemas, &work, path).is_some() => {
                let ext = whole_extension(schemas, &work, path).unwrap_or_default();
                match (op.op, value) {
                    (PatchOpKind::Remove, _) => {
                        if let Some(obj) = work.as_object_mut() {
                            obj.retain(|k, _| !k.eq_ignore_ascii_case(&ext));
                        }
                    }
                    (_, Some(v @ Value::Object(_))) => {
                        let attrs: Map<String, Value> = std::iter::once((ext.to_owned(), v.clone())).collect();
                        apply_pathless(schemas, &mut work, op.op, &attrs)?
                    }
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "'{ext}' takes an object of its attributes"
                        )));
                    }
                }
            }
            (Some(path), value) => apply_path(schemas, &mut work, op.op, path, value.as_ref())?,
            (None, Some(Value::Object(attrs))) if op.op != PatchOpKind::Remove => {
                apply_pathless(schemas, &mut work, op.op, attrs)?
            }
            _ => {
                return Err(ScimError::bad_request(
                    ScimType::NoTarget,
                    "the operation has no target",
                ));
            }
        }
    }
    let result = normalize(schemas, &work, Mode::Stored)?;
    let changed = changed_attributes(schemas, doc, &result);
    if schemas.undeclared == Undeclared::Reject {
        // What was kept before the provider turned to `reject` may stay, or be removed; it
        // may not be set.
        let set: Vec<String> = kept_attributes(schemas, &result)
            .iter()
            .map(Kept::qualified)
            .filter(|n| changed.contains(n))
            .collect();
        if !set.is_empty() {
            return Err(refuse_undeclared(&set));
        }
    }
    *doc = result;
    Ok(changed)
}

/// Path-less add/replace: each key is an attribute (any case, dotted, URN-qualified) or an
/// extension URN holding an object of attributes. Unknown keys are ignored as on POST;
/// read-only keys too (Okta repeats the group's `id`), unless they try to change the `id`.
fn apply_pathless(
    schemas: &ResourceSchemas,
    work: &mut Value,
    op: PatchOpKind,
    attrs: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (key, v) in attrs {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schemas.extension(key) {
            for (name, v) in v.as_object().into_iter().flatten() {
                if let Some(attr) = ext.attribute(name) {
                    if attr.mutability != Mutability::ReadOnly {
                        set(
                            work,
                            op,
                            Resolved {
                                schema: ext,
                                attr,
                                sub: None,
                            },
                            Some(v),
                        )?;
                    }
                }
            }
            continue;
        }
        let path = AttrPath::parse(key).ok();
        if path.as_ref().and_then(|p| schemas.resolve(p)).is_none() && is_extension_key(schemas, &listed(work), key) {
            // A whole extension object no schema declares: add merges its attributes,
            // replace puts it in place of the old one.
            let Value::Object(given) = v else {
                return Err(ScimError::invalid_value(format!(
                    "'{key}' takes an object of its attributes"
                )));
            };
            if let Some(obj) = work.as_object_mut() {
                let name = key_ci(obj, key).unwrap_or_else(|| key.to_owned());
                match (op, obj.get_mut(&name)) {
                    (PatchOpKind::Add, Some(Value::Object(have))) => have.extend(given.clone()),
                    _ => {
                        obj.insert(name, Value::Object(given.clone()));
                    }
                }
            }
            continue;
        }
        let Some(r) = path.as_ref().and_then(|p| schemas.resolve(p)) else {
            // Not declared: kept as sent (the whole document is checked against the
            // provider's rule for undeclared attributes afterwards).
            set_kept(schemas, work, op, key, path.as_ref(), Some(v))?;
            continue;
        };
        if r.attr.mutability == Mutability::ReadOnly || r.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
            let current = work.get("id");
            if r.attr.name == "id" && current.is_some() && current != Some(v) {
                return Err(ScimError::mutability("attribute 'id' is readOnly"));
            }
            continue;
        }
        set(work, op, r, Some(v))?;
    }
    Ok(())
}

/// A path naming a whole extension (`urn:...:enterprise:2.0:User`), declared or kept as
/// sent: the URN parses as a prefix plus a last segment, and the two together name it.
fn whole_extension(schemas: &ResourceSchemas, work: &Value, path: &PatchPath) -> Option<String> {
    if path.filter.is_some() || path.sub.is_some() || path.attr.sub.is_some() {
        return None;
    }
    let uri = path.attr.uri.as_deref()?;
    let whole = format!("{uri}:{}", path.attr.name);
    if let Some(ext) = schemas.extension(&whole) {
        return Some(ext.id.clone());
    }
    (schemas.resolve(&path.attr).is_none() && is_extension_key(schemas, &listed(work), &whole)).then_some(whole)
}

/// The URIs a document's `schemas` lists.
fn listed(work: &Value) -> Vec<&str> {
    work.get("schemas")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Add, replace or remove an attribute no schema declares, kept as sent: a top-level key,
/// or a key inside an extension object (`urn:...:acme:2.0:User:costCenter`). Filters and
/// sub-attributes need a declared attribute.
fn set_kept(
    schemas: &ResourceSchemas,
    work: &mut Value,
    op: PatchOpKind,
    key: &str,
    path: Option<&AttrPath>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(obj) = work.as_object_mut() else {
        return Ok(());
    };
    let (container, name): (&mut Map<String, Value>, String) = match path.and_then(|p| p.uri.as_deref()) {
        Some(uri) if is_schema_urn(uri) => {
            let name = path.map(|p| p.name.clone()).unwrap_or_default();
            if path.is_some_and(|p| p.sub.is_some()) {
                return Err(ScimError::invalid_path(format!(
                    "'{key}' names a part of an undeclared attribute: declare it to address its parts"
                )));
            }
            let ext = key_ci(obj, uri).unwrap_or_else(|| uri.to_owned());
            if op == PatchOpKind::Remove && !obj.contains_key(&ext) {
                return Ok(());
            }
            let entry = obj.entry(ext).or_insert_with(|| Value::Object(Map::new()));
            let Some(inner) = entry.as_object_mut() else {
                return Err(ScimError::invalid_value(format!(
                    "'{uri}' is not an object of attributes"
                )));
            };
            (inner, name)
        }
        _ => {
            if schemas.core().attribute(key).is_some() {
                return Ok(());
            }
            let name = key_ci(obj, key).unwrap_or_else(|| key.to_owned());
            (obj, name)
        }
    };
    let name = key_ci(container, &name).unwrap_or(name);
    match (op, value) {
        (PatchOpKind::Remove, _) | (_, None) | (_, Some(Value::Null)) => {
            container.shift_remove(&name);
        }
        (PatchOpKind::Add, Some(Value::Array(items))) => match container.get_mut(&name) {
            Some(Value::Array(have)) => have.extend(items.iter().cloned()),
            _ => {
                container.insert(name, Value::Array(items.clone()));
            }
        },
        (_, Some(v)) => {
            container.insert(name, v.clone());
        }
    }
    Ok(())
}

fn apply_path(
    schemas: &ResourceSchemas,
    work: &mut Value,
    op: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(r) = schemas.resolve(&path.attr) else {
        if path.filter.is_some() {
            return Err(ScimError::invalid_path(format!(
                "'{path}' filters an attribute no schema declares: declare it to filter its values"
            )));
        }
        let key = path.attr.to_string();
        return set_kept(schemas, work, op, &key, Some(&path.attr), value);
    };
    let sub = match &path.sub {
        Some(name) => Some(
            r.attr
                .sub_attribute(name)
                .ok_or_else(|| ScimError::invalid_path(format!("unknown sub-attribute in '{path}'")))?,
        ),
        None => r.sub,
    };
    if r.attr.mutability == Mutability::ReadOnly || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
        return Err(ScimError::mutability(format!("'{path}' is readOnly")));
    }
    match &path.filter {
        None => set(work, op, r, value),
        Some(filter) => set_filtered(work, op, r, filter, sub, value),
    }
}

fn immutable_guard(r: &Resolved, old: Option<&Value>, new: Option<&Value>) -> Result<(), ScimError> {
    if r.attr.mutability == Mutability::Immutable && old.is_some_and(|o| !o.is_null()) && old != new {
        return Err(ScimError::mutability(format!(
            "attribute '{}' is immutable",
            r.schema.attribute_name(&r.attr.name)
        )));
    }
    Ok(())
}

/// Add, replace or remove an attribute or a sub-attribute addressed without a filter.
fn set(work: &mut Value, op: PatchOpKind, r: Resolved, value: Option<&Value>) -> Result<(), ScimError> {
    let attr = r.attr;
    let Some(obj) = container_mut(work, r.schema, op != PatchOpKind::Remove) else {
        return Ok(());
    };
    let existing = remove_ci(obj, &attr.name);
    let updated = match r.sub {
        None => set_whole(op, attr, existing.clone(), value)?,
        Some(sub) => set_sub(op, attr, sub, existing.clone(), value)?,
    };
    immutable_guard(&r, existing.as_ref(), updated.as_ref())?;
    if let Some(v) = updated {
        obj.insert(attr.name.clone(), v);
    }
    Ok(())
}

fn set_whole(
    op: PatchOpKind,
    attr: &AttributeDef,
    existing: Option<Value>,
    value: Option<&Value>,
) -> Result<Option<Value>, ScimError> {
    let new = match value {
        Some(v) => coerce(attr, v, Mode::Input)?,
        None => None,
    };
    Ok(match (op, existing, new) {
        // Entra's `{"op":"Remove","path":"members","value":[{"value":id}]}`: only those go.
        (PatchOpKind::Remove, Some(Value::Array(items)), Some(Value::Array(gone))) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter(|i| !gone.iter().any(|g| same_element(i, g)))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        (PatchOpKind::Remove, _, _) => None,
        (PatchOpKind::Add, existing, None) => existing,
        (PatchOpKind::Replace, _, None) => None,
        (PatchOpKind::Add, Some(Value::Array(mut items)), Some(Value::Array(new))) => {
            let first_new = items.len();
            for n in new {
                if !items.contains(&n) {
                    items.push(n);
                }
            }
            let added: Vec<usize> = (first_new..items.len()).collect();
            demote_other_primaries(&mut items, &added);
            Some(Value::Array(items))
        }
        (_, Some(Value::Object(old)), Some(Value::Object(new))) if !attr.multi_valued => Some(merge(old, new)),
        (_, _, new) => new,
    })
}

/// Complex add/replace merges sub-attributes (RFC 7644 §3.5.2.3), except when a reference's
/// `value` changes: then its display names belong to the old target and go too.
fn merge(mut old: Map<String, Value>, new: Map<String, Value>) -> Value {
    if new.get("value").is_some_and(|v| old.get("value") != Some(v)) {
        return Value::Object(new);
    }
    old.extend(new);
    Value::Object(old)
}

/// Multi-valued elements are the same if their `value`s are, else if they are equal.
fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// RFC 7644 §3.5.2: setting one value primary makes the others non-primary.
fn demote_other_primaries(items: &mut [Value], changed: &[usize]) {
    let promoted = changed
        .iter()
        .any(|&i| items.get(i).and_then(|v| v.get("primary")) == Some(&Value::Bool(true)));
    if !promoted {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !changed.contains(&i) {
            if let Some(p) = item.get_mut("primary").filter(|p| **p == Value::Bool(true)) {
                *p = Value::Bool(false);
            }
        }
    }
}

/// `name.givenName` on a single complex attribute, or `emails.primary` on every element of a
/// multi-valued one.
fn set_sub(
    op: PatchOpKind,
    attr: &AttributeDef,
    sub: &AttributeDef,
    existing: Option<Value>,
    value: Option<&Value>,
) -> Result<Option<Value>, ScimError> {
    let new = match (op, value) {
        (PatchOpKind::Remove, _) | (_, None) => None,
        (_, Some(v)) => coerce(sub, v, Mode::Input)?,
    };
    let mut put = |elem: &mut Map<String, Value>| {
        remove_ci(elem, &sub.name);
        if let Some(v) = &new {
            elem.insert(sub.name.clone(), v.clone());
        }
    };
    Ok(match existing {
        Some(Value::Array(mut items)) if attr.multi_valued => {
            items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut put);
            items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
            (!items.is_empty()).then_some(Value::Array(items))
        }
        _ if attr.multi_valued => None,
        existing => {
            let mut obj = match existing {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            put(&mut obj);
            (!obj.is_empty()).then_some(Value::Object(obj))
        }
    })
}

/// Operations on `attr[filter]` and `attr[filter].sub` of a multi-valued complex attribute.
fn set_filtered(
    work: &mut Value,
    op: PatchOpKind,
    r: Resolved,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = r.attr;
    if !attr.is_complex() || !attr.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "'{}' is not a multi-valued complex attribute",
            attr.name
        )));
    }
    validate_element(filter, attr).map_err(|e| ScimError::invalid_path(e.detail))?;
    let Some(obj) = container_mut(work, r.schema, op != PatchOpKind::Remove) else {
        return Ok(());
    };
    let mut items = match remove_ci(obj, &attr.name) {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let mut hits: Vec<usize> = (0..items.len())
        .filter(|&i| matches_element(filter, attr, &items[i]))
        .collect();
    match (op, sub) {
        (PatchOpKind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !hits.contains(&(i - 1))
            });
            hits.clear();
        }
        (PatchOpKind::Remove, Some(sub)) => {
            for &i in &hits {
                if let Some(o) = items[i].as_object_mut() {
                    remove_ci(o, &sub.name);
                }
            }
            items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
        }
        (_, _) if hits.is_empty() => {
            // Entra: an add (or replace) on a filtered path that matches nothing creates the
            // element the filter describes, e.g. emails[type eq "work"].value -> {type, value}.
            let conds = filter.eq_conditions().ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::NoTarget,
                    format!("no value of '{}' matches the filter", attr.name),
                )
            })?;
            let mut elem = Map::new();
            for (path, v) in conds {
                elem.insert(path.name.clone(), comp_to_json(v));
            }
            let elem = Value::Object(elem);
            let elem = set_in_element(op, attr, sub, elem, value)?;
            // The element made must be one the path selects: else a retry makes another.
            if !matches_element(filter, attr, &elem) {
                return Err(ScimError::invalid_value(format!(
                    "the new value of '{}' does not match the filter of the path",
                    attr.name
                )));
            }
            items.push(elem);
            hits.push(items.len() - 1);
        }
        (_, _) => {
            for &i in &hits {
                let old = std::mem::take(&mut items[i]);
                items[i] = set_in_element(op, attr, sub, old, value)?;
            }
        }
    }
    demote_other_primaries(&mut items, &hits);
    check_primary(attr, &items)?;
    if !items.is_empty() {
        obj.insert(attr.name.clone(), Value::Array(items));
    }
    Ok(())
}

/// One selected element after add/replace: the sub-attribute set, or the whole element
/// merged (add) or replaced (replace, RFC 7644 §3.5.2.3).
fn set_in_element(
    op: PatchOpKind,
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
    elem: Value,
    value: Option<&Value>,
) -> Result<Value, ScimError> {
    let mut elem = match elem {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    match sub {
        Some(sub) => {
            remove_ci(&mut elem, &sub.name);
            if let Some(v) = value.map(|v| coerce(sub, v, Mode::Input)).transpose()?.flatten() {
                elem.insert(sub.name.clone(), v);
            }
        }
        None => {
            let single = AttributeDef {
                multi_valued: false,
                ..attr.clone()
            };
            let new = value.map(|v| coerce(&single, v, Mode::Input)).transpose()?.flatten();
            match (op, new) {
                (PatchOpKind::Replace, Some(Value::Object(new))) => elem = new,
                (_, Some(Value::Object(new))) => elem.extend(new),
                _ => {}
            }
        }
    }
    let single = AttributeDef {
        multi_valued: false,
        ..attr.clone()
    };
    Ok(coerce(&single, &Value::Object(elem), Mode::Stored)?.unwrap_or(Value::Object(Map::new())))
}

fn comp_to_json(v: &CompValue) -> Value {
    match v {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Str(s) => Value::String(s.clone()),
    }
}
