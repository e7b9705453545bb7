//! PATCH: RFC 7644 §3.5.2 (PatchOp message, add/remove/replace), with the client forms of
//! CLIENTS.md (Okta, Entra). Parsing and the split of group member operations live here;
//! applying operations to a document is in `apply`.

mod apply;
#[cfg(test)]
mod proptests;
mod target;
#[cfg(test)]
mod tests;

pub use apply::apply_patch;
pub use target::PatchPath;

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::filter::Filter;
use crate::json::get_ci;

use crate::schema::{GROUP_SCHEMA, schema_by_id};

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations one PATCH request may carry (413 beyond), as many as a Bulk request.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    /// Case-insensitive: Entra sends "Add", "Replace", "Remove".
    pub fn parse(s: &str) -> Option<Self> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parse a PatchOp message. Lenient in op case and empty paths; strict about the message
/// schema, a missing `value` on add/replace, and a path-less remove (400 noTarget).
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp message must be a JSON object"))?;
    let has_schema = match get_ci(obj, "schemas") {
        Some(Value::Array(items)) => items
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))),
        Some(Value::String(s)) => s.eq_ignore_ascii_case(PATCH_OP_SCHEMA),
        _ => false,
    };
    if !has_schema {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must contain '{PATCH_OP_SCHEMA}'"
        )));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        _ => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many_operations("PATCH", MAX_OPERATIONS, ops.len()));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(i, op)).collect()
}

fn parse_operation(i: usize, op: &Value) -> Result<PatchOperation, ScimError> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} is not an object")))?;
    let kind = get_ci(obj, "op")
        .and_then(Value::as_str)
        .and_then(PatchOpKind::parse)
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i}: 'op' must be add, remove or replace")))?;
    let mut value = get_ci(obj, "value").cloned();
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        // A path naming an extension schema itself: the value is that extension's attributes.
        Some(Value::String(s)) if kind != PatchOpKind::Remove && schema_by_id(s.trim()).is_some() => {
            value = value.map(|v| Value::Object(Map::from_iter([(s.trim().to_string(), v)])));
            None
        }
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "operation {i}: 'path' must be a string"
            )));
        }
    };
    match (kind, &path, &value) {
        (PatchOpKind::Remove, None, _) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!("operation {i}: remove needs a 'path'"),
        )),
        (PatchOpKind::Add | PatchOpKind::Replace, _, None) => Err(ScimError::invalid_syntax(format!(
            "operation {i}: {} needs a 'value'",
            kind.as_str()
        ))),
        (PatchOpKind::Add | PatchOpKind::Replace, None, Some(v)) if !v.is_object() => Err(ScimError::invalid_syntax(
            format!("operation {i}: without a 'path', 'value' must be an object of attributes"),
        )),
        _ => Ok(PatchOperation { op: kind, path, value }),
    }
}

/// A member as a client names it: the member's id, and the `display` it sent, if any
/// (returned as given; RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub id: String,
    pub display: Option<String>,
}

/// A change to a group's membership, which is stored outside the group document.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    Add(Vec<NewMember>),
    /// Remove exactly these member ids (never all: Entra's `"path":"members","value":[...]`).
    Remove(Vec<String>),
    /// Remove the members matching a filter relative to a member (`value`, `type`, ...).
    RemoveWhere(Filter),
    RemoveAll,
    ReplaceAll(Vec<NewMember>),
}

fn is_members(path: &crate::path::AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("members")
        && path.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// Members from `[{"value": id, "$ref": null, "display": ..}]`, a single such object, or
/// bare id strings. Duplicates are dropped, order kept; `$ref` and `type` are the server's
/// to say and are ignored.
pub fn parse_members(v: Option<&Value>) -> Result<Vec<NewMember>, ScimError> {
    let items: Vec<&Value> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    };
    let mut out: Vec<NewMember> = Vec::with_capacity(items.len());
    for item in items {
        let (id, display) = match item {
            Value::String(s) => (Some(s.trim()), None),
            Value::Object(o) => (
                get_ci(o, "value").and_then(Value::as_str).map(str::trim),
                get_ci(o, "display").and_then(Value::as_str).map(str::to_owned),
            ),
            _ => (None, None),
        };
        match id {
            Some(id) if !id.is_empty() => {
                if !out.iter().any(|known| known.id == id) {
                    out.push(NewMember {
                        id: id.to_string(),
                        display,
                    });
                }
            }
            _ => return Err(ScimError::invalid_value("every member needs a non-empty 'value'")),
        }
    }
    Ok(out)
}

fn member_ids(v: Option<&Value>) -> Result<Vec<String>, ScimError> {
    Ok(parse_members(v)?.into_iter().map(|m| m.id).collect())
}

/// Split group PATCH operations into document operations and member operations. Each list
/// keeps the request's order; the two touch disjoint data, so their relative order is moot.
pub fn split_members(ops: Vec<PatchOperation>) -> Result<(Vec<PatchOperation>, Vec<MemberOp>), ScimError> {
    let mut doc_ops = Vec::new();
    let mut member_ops = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) if is_members(&path.attr) => {
                if let Some(m) = member_op(op.op, path, op.value.as_ref())? {
                    member_ops.push(m);
                }
            }
            None => {
                let Some(Value::Object(obj)) = &op.value else {
                    doc_ops.push(op);
                    continue;
                };
                let mut rest = obj.clone();
                let key = rest
                    .keys()
                    .find(|k| crate::path::AttrPath::parse(k).is_ok_and(|p| is_members(&p)))
                    .cloned();
                let members = key.and_then(|k| rest.shift_remove(&k));
                if !rest.is_empty() {
                    doc_ops.push(PatchOperation {
                        op: op.op,
                        path: None,
                        value: Some(Value::Object(rest)),
                    });
                }
                if let Some(members) = members {
                    let list = parse_members(Some(&members))?;
                    member_ops.push(match op.op {
                        PatchOpKind::Replace => MemberOp::ReplaceAll(list),
                        _ => MemberOp::Add(list),
                    });
                }
            }
            Some(_) => doc_ops.push(op),
        }
    }
    Ok((doc_ops, member_ops))
}

fn member_op(op: PatchOpKind, path: &PatchPath, value: Option<&Value>) -> Result<Option<MemberOp>, ScimError> {
    if path.attr.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "'{path}': members are changed as a whole"
        )));
    }
    let members = crate::schema::group_schema()
        .attribute("members")
        .ok_or_else(|| ScimError::invalid_path("members are not defined"))?;
    match (&path.filter, op) {
        // A member's display or type is not stored: changing it changes nothing.
        (Some(_), PatchOpKind::Remove) if path.sub.is_some() => Ok(None),
        (Some(filter), PatchOpKind::Remove) => {
            crate::filter::validate_element(filter, members)?;
            Ok(Some(match filter.eq_strings_of("value") {
                Some(ids) => MemberOp::Remove(ids),
                None => MemberOp::RemoveWhere(filter.clone()),
            }))
        }
        (Some(_), _) => Err(ScimError::invalid_path(format!(
            "'{path}': add members with the path 'members'"
        ))),
        (None, PatchOpKind::Add) => Ok(Some(MemberOp::Add(parse_members(value)?))),
        (None, PatchOpKind::Replace) => Ok(Some(MemberOp::ReplaceAll(parse_members(value)?))),
        (None, PatchOpKind::Remove) => match value {
            None | Some(Value::Null) => Ok(Some(MemberOp::RemoveAll)),
            // Entra's removal form: only the listed members go, even if the list is empty.
            Some(v) => Ok(Some(MemberOp::Remove(member_ids(Some(v))?))),
        },
    }
}
