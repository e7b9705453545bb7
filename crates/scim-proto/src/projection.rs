//! `attributes` / `excludedAttributes`: RFC 7644 §3.4.2.5 and §3.9, with the `returned`
//! characteristic of RFC 7643 §2.2 (always, never, default, request).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::json::{get_ci_mut, key_ci, remove_ci};
use crate::path::AttrPath;
use crate::schema::{Resolved, ResourceSchemas, Returned, is_schema_urn};
use crate::value::{container_mut, lookup, strip_never_returned};

/// One entry of an attribute list: a path, or a whole extension named by its URN. Which one
/// a URN is depends on the schemas the list is applied with, so both readings are kept.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    raw: String,
    path: Option<AttrPath>,
}

impl Item {
    fn parse(s: &str) -> Result<Self, ScimError> {
        let path = AttrPath::parse(s).ok();
        if path.is_none() && !is_schema_urn(s) {
            return Err(ScimError::invalid_value(format!("invalid attribute path '{s}'")));
        }
        Ok(Item {
            raw: s.to_owned(),
            path,
        })
    }

    /// The extension (declared, or an object the document carries) the item names whole.
    fn whole_extension<'a>(&self, schemas: &'a ResourceSchemas, doc: &Value) -> Option<Whole<'a>> {
        if let Some(schema) = schemas.extension(&self.raw) {
            return Some(Whole::Declared(schema));
        }
        let obj = doc.as_object()?;
        (is_schema_urn(&self.raw) && schemas.resolve_opt(self.path.as_ref()).is_none())
            .then(|| key_ci(obj, &self.raw))
            .flatten()
            .filter(|k| obj.get(k).is_some_and(Value::is_object))
            .map(Whole::Kept)
    }
}

enum Whole<'a> {
    Declared(&'a crate::schema::Schema),
    Kept(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Projection {
    attributes: Vec<Item>,
    excluded: Vec<Item>,
}

fn parse_list(s: Option<&str>) -> Result<Vec<Item>, ScimError> {
    s.into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Item::parse)
        .collect()
}

/// Where an attribute no schema declares sits in a document: a top-level key, or a key of
/// an extension object no schema declares (`urn:...:acme:2.0:User:costCenter`).
fn kept_location(doc: &Value, path: &AttrPath) -> Option<(Option<String>, String)> {
    let obj = doc.as_object()?;
    match &path.uri {
        None => key_ci(obj, &path.name).map(|k| (None, k)),
        Some(uri) => {
            let ext = key_ci(obj, uri)?;
            let inner = obj.get(&ext)?.as_object()?;
            key_ci(inner, &path.name).map(|k| (Some(ext), k))
        }
    }
}

impl Projection {
    /// Comma-separated attribute paths, as in the query parameters.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        Ok(Projection {
            attributes: parse_list(attributes)?,
            excluded: parse_list(excluded)?,
        })
    }

    /// Neither list given: the default set of attributes.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether top-level attribute `attr` (e.g. "members", "groups", URN-qualified for
    /// extensions) appears in the output: lets the caller skip reading memberships at all.
    pub fn includes(&self, schemas: &ResourceSchemas, attr: &str) -> bool {
        let Some(r) = AttrPath::parse(attr).ok().and_then(|p| schemas.resolve(&p)) else {
            return self.attributes.is_empty();
        };
        let names = |item: &Item, whole_only: bool| {
            if schemas.extension(&item.raw).is_some_and(|s| s.id == r.schema.id) {
                return true;
            }
            item.path.as_ref().is_some_and(|p| {
                (!whole_only || p.sub.is_none())
                    && schemas
                        .resolve(p)
                        .is_some_and(|o| o.schema.id == r.schema.id && o.attr.name == r.attr.name)
            })
        };
        match r.attr.returned {
            Returned::Never => false,
            Returned::Always => true,
            _ if !self.attributes.is_empty() => self.attributes.iter().any(|i| names(i, false)),
            Returned::Request => false,
            Returned::Default => !self.excluded.iter().any(|i| names(i, true)),
        }
    }

    /// Project `doc` in place. `attributes` wins over `excludedAttributes` (RFC 7644 §3.9 says
    /// a request uses one or the other). `schemas` and `id` are always kept; `returned: never`
    /// attributes never survive. Attributes no schema declares are returned by default and
    /// may be asked for or excluded by name.
    pub fn apply(&self, schemas: &ResourceSchemas, doc: &mut Value) {
        strip_never_returned(schemas, doc);
        if !self.attributes.is_empty() {
            let src = std::mem::take(doc);
            *doc = self.select(schemas, &src);
        } else {
            for item in &self.excluded {
                exclude(schemas, doc, item);
            }
            drop_request_only(schemas, doc);
        }
        drop_empty_extensions(schemas, doc);
    }

    fn select(&self, schemas: &ResourceSchemas, src: &Value) -> Value {
        let Some(src_obj) = src.as_object() else {
            return src.clone();
        };
        let mut out = Value::Object(Map::new());
        for schema in schemas.all() {
            for attr in schema.all_attributes().filter(|a| a.returned == Returned::Always) {
                copy(
                    &mut out,
                    src,
                    Resolved {
                        schema,
                        attr,
                        sub: None,
                    },
                );
            }
        }
        // Sub-attribute requests first, whole attributes after, so "emails,emails.value" keeps all.
        let mut paths: Vec<Resolved> = Vec::new();
        for item in &self.attributes {
            match item.whole_extension(schemas, src) {
                Some(Whole::Declared(schema)) => {
                    for attr in &schema.attributes {
                        paths.push(Resolved {
                            schema,
                            attr,
                            sub: None,
                        });
                    }
                }
                Some(Whole::Kept(key)) => {
                    if let (Some(o), Some(v)) = (out.as_object_mut(), src_obj.get(&key)) {
                        o.insert(key, v.clone());
                    }
                }
                None => match item.path.as_ref().and_then(|p| schemas.resolve(p).map(|r| (p, r))) {
                    Some((_, r)) => paths.push(r),
                    None => {
                        if let Some(p) = &item.path
                            && let Some(at) = kept_location(src, p)
                        {
                            copy_kept(&mut out, src, at);
                        }
                    }
                },
            }
        }
        paths.sort_by_key(|r| r.sub.is_none());
        for r in paths.into_iter().filter(|r| r.attr.returned != Returned::Never) {
            copy(&mut out, src, r);
        }
        // Keep the stored (canonical) key order.
        let Value::Object(mut picked) = out else { return out };
        let mut ordered = Map::new();
        for key in src_obj.keys() {
            if let Some(v) = picked.shift_remove(key) {
                ordered.insert(key.clone(), v);
            }
        }
        ordered.extend(picked);
        Value::Object(ordered)
    }
}

/// Copy a kept (undeclared) attribute found at `at` from `src` into `out`.
fn copy_kept(out: &mut Value, src: &Value, at: (Option<String>, String)) {
    let (Some(o), Some(s)) = (out.as_object_mut(), src.as_object()) else {
        return;
    };
    match at {
        (None, key) => {
            if let Some(v) = s.get(&key) {
                o.insert(key, v.clone());
            }
        }
        (Some(ext), key) => {
            if let Some(v) = s.get(&ext).and_then(|e| e.get(&key)) {
                let target = o.entry(ext).or_insert_with(|| Value::Object(Map::new()));
                if let Some(t) = target.as_object_mut() {
                    t.insert(key, v.clone());
                }
            }
        }
    }
}

/// Copy the attribute (or only its sub-attribute) `r` from `src` into `out`.
fn copy(out: &mut Value, src: &Value, r: Resolved) {
    let Some(value) = lookup(src, &r) else { return };
    let Some(target) = container_mut(out, r.schema, true) else {
        return;
    };
    let Some(sub) = r.sub else {
        target.insert(r.attr.name.clone(), value.clone());
        return;
    };
    let pick = |v: &Value| -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = v.as_object().and_then(|o| crate::json::get_ci(o, &sub.name)) {
            m.insert(sub.name.clone(), s.clone());
        }
        m
    };
    let merged = match (target.shift_remove(&r.attr.name), value) {
        (Some(Value::Array(mut have)), Value::Array(items)) => {
            for (h, i) in have.iter_mut().zip(items) {
                if let Some(h) = h.as_object_mut() {
                    h.extend(pick(i));
                }
            }
            Value::Array(have)
        }
        (_, Value::Array(items)) => Value::Array(items.iter().map(|i| Value::Object(pick(i))).collect()),
        (Some(Value::Object(mut have)), v) => {
            have.extend(pick(v));
            Value::Object(have)
        }
        (_, v) => Value::Object(pick(v)),
    };
    target.insert(r.attr.name.clone(), merged);
}

fn exclude(schemas: &ResourceSchemas, doc: &mut Value, item: &Item) {
    match item.whole_extension(schemas, doc) {
        Some(Whole::Declared(schema)) => {
            let id = schema.id.clone();
            doc.as_object_mut().and_then(|o| remove_ci(o, &id));
            return;
        }
        Some(Whole::Kept(key)) => {
            doc.as_object_mut().and_then(|o| o.shift_remove(&key));
            return;
        }
        None => {}
    }
    let Some(p) = &item.path else { return };
    let r = match schemas.resolve(p) {
        Some(r) if r.attr.returned != Returned::Always => r,
        Some(_) => return,
        None => {
            if let Some(at) = kept_location(doc, p)
                && let Some(o) = doc.as_object_mut()
            {
                match at {
                    (None, key) => {
                        o.shift_remove(&key);
                    }
                    (Some(ext), key) => {
                        if let Some(e) = o.get_mut(&ext).and_then(Value::as_object_mut) {
                            e.shift_remove(&key);
                        }
                    }
                }
            }
            return;
        }
    };
    let Some(obj) = container_mut(doc, r.schema, false) else {
        return;
    };
    let Some(sub) = r.sub else {
        remove_ci(obj, &r.attr.name);
        return;
    };
    if sub.returned == Returned::Always {
        return;
    }
    match get_ci_mut(obj, &r.attr.name) {
        Some(Value::Array(items)) => {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                remove_ci(item, &sub.name);
            }
        }
        Some(Value::Object(o)) => {
            remove_ci(o, &sub.name);
        }
        _ => {}
    }
}

/// `returned: request` attributes appear only when asked for by name.
fn drop_request_only(schemas: &ResourceSchemas, doc: &mut Value) {
    for schema in schemas.all() {
        let Some(obj) = container_mut(doc, schema, false) else {
            continue;
        };
        for attr in schema.all_attributes().filter(|a| a.returned == Returned::Request) {
            remove_ci(obj, &attr.name);
        }
    }
}

/// Extension objects left empty by the projection go (`schemas` still lists them).
fn drop_empty_extensions(schemas: &ResourceSchemas, doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else { return };
    obj.retain(|k, v| {
        !(is_schema_urn(k) && !k.eq_ignore_ascii_case("schemas") && v.as_object().is_some_and(Map::is_empty))
            || schemas.core().id.eq_ignore_ascii_case(k)
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "userName": "jane",
            "name": {"familyName": "Doe", "givenName": "Jane"},
            "password": "secret",
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "department": "R&D"},
            "meta": {"resourceType": "User", "location": "https://x/Users/u1"}
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let mut doc = user();
        Projection::parse(attributes, excluded)
            .unwrap()
            .apply(crate::schema::ResourceKind::User.builtin(), &mut doc);
        doc
    }

    #[test]
    fn default_projection_drops_only_the_password() {
        let mut want = user();
        want.as_object_mut().unwrap().remove("password");
        assert_eq!(project(None, None), want);
    }

    #[test]
    fn attributes_keep_id_and_schemas_and_the_requested_paths() {
        let doc = project(Some("userName, name.givenName,emails.value,password"), None);
        assert_eq!(
            doc,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1", "userName": "jane",
                "name": {"givenName": "Jane"}, "emails": [{"value": "a@x"}, {"value": "b@x"}]})
        );
    }

    #[test]
    fn attributes_accept_urn_qualified_paths_and_whole_extensions() {
        let doc = project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        );
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
        let doc = project(Some(ENTERPRISE_USER_SCHEMA), None);
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA],
            json!({"employeeNumber": "7", "department": "R&D"})
        );
        assert!(doc.get("userName").is_none());
    }

    #[test]
    fn excluded_attributes_never_remove_id_or_schemas() {
        let doc = project(None, Some("id,schemas,emails,name.familyName,meta"));
        assert_eq!(doc["id"], "u1");
        assert!(doc.get("schemas").is_some() && doc.get("emails").is_none() && doc.get("meta").is_none());
        assert_eq!(doc["name"], json!({"givenName": "Jane"}));
    }

    #[test]
    fn excluding_every_extension_attribute_drops_the_extension_object() {
        let doc = project(None, Some("employeeNumber,department"));
        assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
    }

    #[test]
    fn includes_answers_whether_members_must_be_read() {
        let g = crate::schema::ResourceKind::Group.builtin();
        assert!(Projection::parse(None, None).unwrap().includes(g, "members"));
        assert!(!Projection::parse(None, Some("members")).unwrap().includes(g, "members"));
        assert!(
            !Projection::parse(Some("id,displayName"), None)
                .unwrap()
                .includes(g, "members")
        );
        assert!(
            Projection::parse(Some("members.value"), None)
                .unwrap()
                .includes(g, "members")
        );
        assert!(
            Projection::parse(Some("displayName"), Some("members"))
                .unwrap()
                .includes(g, "id")
        );
        assert!(
            !Projection::parse(None, None)
                .unwrap()
                .includes(crate::schema::ResourceKind::User.builtin(), "password")
        );
    }

    #[test]
    fn malformed_attribute_lists_are_invalid_value() {
        let e = Projection::parse(Some("name..x"), None).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::error::ScimType::InvalidValue));
    }
}
