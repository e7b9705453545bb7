//! Small JSON helpers shared by the modules (RFC 7643 §2.1: attribute names are
//! case-insensitive, so every lookup by name goes through here).

use serde_json::{Map, Value};

/// The key under which `name` is stored in `obj`, matched case-insensitively.
/// An exact match wins so that the common case costs one hash lookup.
pub(crate) fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    if obj.contains_key(name) {
        return Some(name.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(name) {
        return Some(v);
    }
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

pub(crate) fn get_ci_mut<'a>(obj: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = key_ci(obj, name)?;
    obj.get_mut(&key)
}

pub(crate) fn remove_ci(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(obj, name)?;
    obj.shift_remove(&key)
}

/// RFC 7643 §2.5: null, an empty string, an empty array and an empty object all mean
/// "unassigned".
pub(crate) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
