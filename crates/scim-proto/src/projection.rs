//! `attributes` / `excludedAttributes`: RFC 7644 §3.4.2.5 and §3.9, with the `returned`
//! characteristic of RFC 7643 §2.2 (always, never, default, request).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::json::{get_ci_mut, remove_ci};
use crate::path::AttrPath;
use crate::schema::{Resolved, ResourceKind, Returned, resolve, schema_by_id};
use crate::value::{container_mut, lookup, strip_never_returned};

/// One entry of an attribute list: a path, or a whole extension named by its URN.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Path(AttrPath),
    Schema(&'static str),
}

impl Item {
    fn parse(s: &str) -> Result<Self, ScimError> {
        if let Some(schema) = schema_by_id(s) {
            return Ok(Item::Schema(schema.id));
        }
        AttrPath::parse(s)
            .map(Item::Path)
            .map_err(|e| ScimError::invalid_value(e.detail))
    }
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
    pub fn includes(&self, kind: ResourceKind, attr: &str) -> bool {
        let Some(r) = AttrPath::parse(attr).ok().and_then(|p| resolve(kind, &p)) else {
            return self.attributes.is_empty();
        };
        let names = |item: &Item, whole_only: bool| match item {
            Item::Schema(id) => *id == r.schema.id,
            Item::Path(p) => {
                (!whole_only || p.sub.is_none())
                    && resolve(kind, p).is_some_and(|o| o.schema.id == r.schema.id && o.attr.name == r.attr.name)
            }
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
    /// attributes never survive.
    pub fn apply(&self, kind: ResourceKind, doc: &mut Value) {
        strip_never_returned(kind, doc);
        if !self.attributes.is_empty() {
            let src = std::mem::take(doc);
            *doc = self.select(kind, &src);
        } else {
            for item in &self.excluded {
                exclude(kind, doc, item);
            }
            drop_request_only(kind, doc);
        }
        drop_empty_extensions(kind, doc);
    }

    fn select(&self, kind: ResourceKind, src: &Value) -> Value {
        let Some(src_obj) = src.as_object() else {
            return src.clone();
        };
        let mut out = Value::Object(Map::new());
        let schemas = std::iter::once(kind.core_schema()).chain(kind.extensions().iter().copied());
        for schema in schemas {
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
            match item {
                Item::Schema(id) => {
                    if let Some(schema) = kind.extension(id) {
                        for attr in &schema.attributes {
                            paths.push(Resolved {
                                schema,
                                attr,
                                sub: None,
                            });
                        }
                    }
                }
                Item::Path(p) => paths.extend(resolve(kind, p)),
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

/// Copy the attribute (or only its sub-attribute) `r` from `src` into `out`.
fn copy(out: &mut Value, src: &Value, r: Resolved) {
    let Some(value) = lookup(src, &r) else { return };
    let Some(target) = container_mut(out, r.schema, true) else {
        return;
    };
    let Some(sub) = r.sub else {
        target.insert(r.attr.name.into(), value.clone());
        return;
    };
    let pick = |v: &Value| -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = v.as_object().and_then(|o| crate::json::get_ci(o, sub.name)) {
            m.insert(sub.name.into(), s.clone());
        }
        m
    };
    let merged = match (target.shift_remove(r.attr.name), value) {
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
    target.insert(r.attr.name.into(), merged);
}

fn exclude(kind: ResourceKind, doc: &mut Value, item: &Item) {
    let r = match item {
        Item::Schema(id) => {
            if kind.extension(id).is_some() {
                doc.as_object_mut().and_then(|o| remove_ci(o, id));
            }
            return;
        }
        Item::Path(p) => match resolve(kind, p) {
            Some(r) if r.attr.returned != Returned::Always => r,
            _ => return,
        },
    };
    let Some(obj) = container_mut(doc, r.schema, false) else {
        return;
    };
    let Some(sub) = r.sub else {
        remove_ci(obj, r.attr.name);
        return;
    };
    if sub.returned == Returned::Always {
        return;
    }
    match get_ci_mut(obj, r.attr.name) {
        Some(Value::Array(items)) => {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                remove_ci(item, sub.name);
            }
        }
        Some(Value::Object(o)) => {
            remove_ci(o, sub.name);
        }
        _ => {}
    }
}

/// `returned: request` attributes appear only when asked for by name.
fn drop_request_only(kind: ResourceKind, doc: &mut Value) {
    for schema in std::iter::once(kind.core_schema()).chain(kind.extensions().iter().copied()) {
        let Some(obj) = container_mut(doc, schema, false) else {
            continue;
        };
        for attr in schema.all_attributes().filter(|a| a.returned == Returned::Request) {
            remove_ci(obj, attr.name);
        }
    }
}

fn drop_empty_extensions(kind: ResourceKind, doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else { return };
    for ext in kind.extensions() {
        if crate::json::get_ci(obj, ext.id)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            remove_ci(obj, ext.id);
        }
    }
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
            .apply(crate::schema::ResourceKind::User, &mut doc);
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
        let g = crate::schema::ResourceKind::Group;
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
                .includes(crate::schema::ResourceKind::User, "password")
        );
    }

    #[test]
    fn malformed_attribute_lists_are_invalid_value() {
        let e = Projection::parse(Some("name..x"), None).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::error::ScimType::InvalidValue));
    }
}
