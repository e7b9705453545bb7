//! Request bodies: JSON as `application/scim+json` or `application/json` (RFC 7644 §3.1,
//! §8.1), bounded in size, and answered with SCIM errors when they are not.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use scim_proto::error::{ScimError, ScimType};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ScimFailure;

/// A parsed JSON request body.
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let media = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/scim+json" && media != "application/json" {
            return Err(ScimError::new(
                415,
                None,
                format!("send the body as application/scim+json or application/json (got '{ctype}')"),
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(413, None, "the request body is larger than this server accepts")
            } else {
                ScimError::bad_request(ScimType::InvalidSyntax, "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ScimJson).map_err(ScimFailure::from)
    }
}

/// Deepest nesting of objects and arrays a JSON body may have (400 `invalidSyntax` beyond).
pub const MAX_JSON_DEPTH: usize = 64;

/// JSON parsing with a nesting limit, so a hostile body cannot exhaust the stack, and
/// without duplicate keys: `{"userName":"a","userName":"b"}` (or `"USERNAME"`, as SCIM
/// attribute names are case-insensitive) is refused rather than read as whichever came last.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidSyntax,
                        format!("the JSON body nests deeper than {MAX_JSON_DEPTH} levels"),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    value.map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// A JSON value, refusing an object that names one key twice.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        no_nul(v)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        no_nul(&v)?;
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            no_nul(&key)?;
            if !seen.insert(key.to_lowercase()) {
                return Err(A::Error::custom(format!("the key '{key}' appears more than once")));
            }
            let v = map.next_value_seed(Strict)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// U+0000 has no place in an identity attribute, and PostgreSQL can store it neither in
/// `text` nor in `jsonb`: refused on both backends alike.
fn no_nul<E: serde::de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') {
        return Err(E::custom("a string holds the character U+0000"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_named_twice_in_any_case_is_refused() {
        assert!(parse_json(br#"{"a":{"userName":"x","USERNAME":"y"}}"#).is_err());
        assert!(parse_json(br#"{"userName":"x","userName":"x"}"#).is_err());
        assert!(parse_json(br#"{"userName":"a\u0000b"}"#).is_err());
        let v = parse_json(br#"{"a":[{"v":1},{"v":2}],"b":null,"c":1.5,"d":-3}"#).unwrap();
        assert_eq!(v, serde_json::json!({"a":[{"v":1},{"v":2}],"b":null,"c":1.5,"d":-3}));
    }

    #[test]
    fn trailing_bytes_and_deep_nesting_are_refused() {
        assert!(parse_json(br#"{"a":1} x"#).is_err());
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert!(parse_json(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(parse_json(ok.as_bytes()).is_ok());
    }
}
