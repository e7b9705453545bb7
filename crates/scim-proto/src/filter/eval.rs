//! In-memory filter evaluation with the semantics of RFC 7644 §3.4.2.2: case-insensitive names,
//! `caseExact` string comparison, "any value" matching on multi-valued attributes, typed
//! comparison of booleans, numbers and dateTimes. The reference the SQL translation is tested
//! against.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::json::{get_ci, is_unassigned};
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, ResourceSchemas};

/// What a path is evaluated against: the resource, or one element of a complex attribute
/// (inside `emails[...]`).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Root(&'a ResourceSchemas),
    Element(&'a AttributeDef),
}

/// A resolved path: where to find the values and which definition types them.
struct Target<'a> {
    extension: Option<&'a str>,
    attr: Option<&'a AttributeDef>,
    sub: Option<&'a AttributeDef>,
    /// The definition whose type and caseExact govern the comparison.
    def: &'a AttributeDef,
}

impl Filter {
    /// Whether `resource` (a stored document) satisfies the filter. The filter is checked
    /// against the schema of `kind` first, so an error does not depend on the data.
    pub fn matches(&self, schemas: &ResourceSchemas, resource: &Value) -> Result<bool, ScimError> {
        check(self, Scope::Root(schemas))?;
        Ok(eval(self, Scope::Root(schemas), resource))
    }

    /// Schema check alone: unknown attributes and operators that do not apply to the
    /// attribute's type are errors (400 invalidFilter).
    pub fn validate(&self, schemas: &ResourceSchemas) -> Result<(), ScimError> {
        check(self, Scope::Root(schemas))
    }
}

/// Whether one element of the complex attribute `parent` satisfies a relative filter
/// (the inside of `emails[...]`), as PATCH selects elements.
/// Call `validate_element` first: an invalid filter simply matches nothing here.
pub(crate) fn matches_element(filter: &Filter, parent: &AttributeDef, elem: &Value) -> bool {
    eval(filter, Scope::Element(parent), elem)
}

/// Schema check of a relative filter against the sub-attributes of `parent`.
pub(crate) fn validate_element(filter: &Filter, parent: &AttributeDef) -> Result<(), ScimError> {
    check(filter, Scope::Element(parent))
}

fn unknown(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "unknown attribute '{path}' in filter: filters and sortBy need an attribute a schema declares \
         (an extension attribute kept as sent is declared with `scimd provider schema add`)"
    ))
}

/// `present` asks about the attribute itself; a comparison on a complex attribute without a
/// sub-attribute compares its `value` (RFC 7644 §3.4.2.2: `emails co "x"`, `members eq "id"`).
fn target<'a>(scope: Scope<'a>, path: &AttrPath, for_compare: bool) -> Result<Target<'a>, ScimError> {
    let (extension, attr, sub) = match scope {
        Scope::Root(schemas) => {
            let r = schemas.resolve(path).ok_or_else(|| unknown(path))?;
            (r.is_extension().then_some(r.schema.id.as_str()), Some(r.attr), r.sub)
        }
        Scope::Element(parent) => {
            if path.uri.is_some() || path.sub.is_some() {
                return Err(unknown(path));
            }
            (
                None,
                None,
                Some(parent.sub_attribute(&path.name).ok_or_else(|| unknown(path))?),
            )
        }
    };
    let named = sub.or(attr).ok_or_else(|| unknown(path))?;
    let (sub, def) = if for_compare && named.is_complex() {
        let value = named.sub_attribute("value").ok_or_else(|| {
            ScimError::invalid_filter(format!("'{path}' is complex: compare one of its sub-attributes"))
        })?;
        (Some(value), value)
    } else {
        (sub, named)
    };
    Ok(Target {
        extension,
        attr,
        sub,
        def,
    })
}

/// The values a target denotes in `json`, flattened over multi-valued attributes.
fn values<'v>(t: &Target, json: &'v Value) -> Vec<&'v Value> {
    let Some(mut obj) = json.as_object() else {
        return Vec::new();
    };
    if let Some(urn) = t.extension {
        match get_ci(obj, urn).and_then(Value::as_object) {
            Some(ext) => obj = ext,
            None => return Vec::new(),
        }
    }
    let top: Vec<&Value> = match t.attr {
        Some(attr) => match get_ci(obj, &attr.name) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        },
        None => vec![json],
    };
    match t.sub {
        Some(sub) => top
            .into_iter()
            .filter_map(|v| v.as_object().and_then(|o| get_ci(o, &sub.name)))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect(),
                v => vec![v],
            })
            .collect(),
        None => top,
    }
}

fn bad_op(op: CompareOp, def: &AttributeDef) -> ScimError {
    ScimError::invalid_filter(format!(
        "operator '{}' does not apply to {} attribute '{}'",
        op.as_str(),
        def.ty.as_str(),
        def.name
    ))
}

fn check(f: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Filter::Not(inner) => check(inner, scope),
        Filter::Present(path) => target(scope, path, false).map(|_| ()),
        Filter::ValuePath { attr, filter } => {
            let t = target(scope, attr, false)?;
            if !t.def.is_complex() || t.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'{attr}[...]' needs a complex attribute"
                )));
            }
            check(filter, Scope::Element(t.def))
        }
        Filter::Compare { path, op, value } => {
            let def = target(scope, path, true)?.def;
            let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
            let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
            if *value == CompValue::Null {
                return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    Ok(())
                } else {
                    Err(bad_op(*op, def))
                };
            }
            match def.ty {
                AttrType::Complex => Err(bad_op(*op, def)),
                AttrType::Boolean if ordering || substring => Err(bad_op(*op, def)),
                AttrType::Boolean if value.as_bool().is_none() => Err(ScimError::invalid_filter(format!(
                    "'{path}' is boolean: compare it with true or false"
                ))),
                AttrType::Integer | AttrType::Decimal if substring => Err(bad_op(*op, def)),
                AttrType::Integer | AttrType::Decimal if value.as_f64().is_none() => Err(ScimError::invalid_filter(
                    format!("'{path}' is numeric: compare it with a number"),
                )),
                AttrType::DateTime if ordering && as_instant(value).is_none() => Err(ScimError::invalid_filter(
                    format!("'{path}' is a dateTime: compare it with an RFC 3339 timestamp"),
                )),
                _ => Ok(()),
            }
        }
    }
}

fn eval(f: &Filter, scope: Scope<'_>, json: &Value) -> bool {
    match f {
        Filter::And(a, b) => eval(a, scope, json) && eval(b, scope, json),
        Filter::Or(a, b) => eval(a, scope, json) || eval(b, scope, json),
        Filter::Not(inner) => !eval(inner, scope, json),
        Filter::Present(path) => match target(scope, path, false) {
            Ok(t) => values(&t, json).into_iter().any(|v| !is_unassigned(v)),
            Err(_) => false,
        },
        Filter::ValuePath { attr, filter } => match target(scope, attr, false) {
            Ok(t) => values(&t, json)
                .into_iter()
                .any(|elem| eval(filter, Scope::Element(t.def), elem)),
            Err(_) => false,
        },
        Filter::Compare { path, op, value } => {
            let Ok(t) = target(scope, path, true) else { return false };
            let vals = values(&t, json);
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => vals.iter().all(|v| is_unassigned(v)),
                (CompareOp::Ne, CompValue::Null) => vals.iter().any(|v| !is_unassigned(v)),
                // `ne` is the negation of `eq`, so an absent attribute is "not equal": the
                // SQL translation must read it the same way (`NOT EXISTS (... = ?)`).
                (CompareOp::Ne, _) => !vals.iter().any(|v| compare(t.def, CompareOp::Eq, value, v)),
                _ => vals.iter().any(|v| compare(t.def, *op, value, v)),
            }
        }
    }
}

fn as_instant(v: &CompValue) -> Option<OffsetDateTime> {
    match v {
        CompValue::Str(s) => OffsetDateTime::parse(s, &Rfc3339).ok(),
        _ => None,
    }
}

fn comp_text(v: &CompValue) -> String {
    match v {
        CompValue::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// One stored value against the filter's value; `check` has already ruled out combinations
/// that make no sense for the type.
fn compare(def: &AttributeDef, op: CompareOp, want: &CompValue, have: &Value) -> bool {
    match def.ty {
        AttrType::Boolean => {
            let have = match have {
                Value::Bool(b) => Some(*b),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            have.is_some() && have == want.as_bool() && op == CompareOp::Eq
        }
        AttrType::Integer | AttrType::Decimal => {
            let have = match have {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            match (have, want.as_f64()) {
                (Some(h), Some(w)) => h.partial_cmp(&w).is_some_and(|ord| ordered(op, ord)),
                _ => false,
            }
        }
        AttrType::DateTime if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            let have = have.as_str().and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
            match (have, as_instant(want)) {
                (Some(h), Some(w)) => ordered(op, h.cmp(&w)),
                _ => false,
            }
        }
        _ => {
            let Some(have) = value_text(have) else { return false };
            let want = comp_text(want);
            let (have, want) = if def.case_exact {
                (have, want)
            } else {
                (have.to_lowercase(), want.to_lowercase())
            };
            match op {
                CompareOp::Co => have.contains(&want),
                CompareOp::Sw => have.starts_with(&want),
                CompareOp::Ew => have.ends_with(&want),
                _ => ordered(op, have.cmp(&want)),
            }
        }
    }
}
