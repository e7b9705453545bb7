//! Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3; RFC 9865 cursors),
//! from the URL or from a SearchRequest body, into one shape.

use scim_proto::error::{ScimError, ScimType};
use scim_proto::filter::Filter;
use scim_proto::list::{SortOrder, parse_count, parse_start_index};
use scim_proto::path::AttrPath;
use scim_proto::projection::Projection;
use scimd_core::resource::{ListRequest, PageStart};
use serde_json::Value;

pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Page size when the client names none, and the most one page may hold (advertised as
/// `filter.maxResults`).
pub const DEFAULT_COUNT: u64 = 100;
pub const MAX_COUNT: u64 = 1000;

/// A list request, parsed.
pub struct ListParams {
    pub query: ListRequest,
    pub projection: Projection,
    pub start_index: u64,
    /// Cursor pagination was asked for (`cursor` present, even empty).
    pub cursor_mode: bool,
}

/// The raw parameters, by name, case-insensitively.
#[derive(Default)]
pub struct RawParams {
    pairs: Vec<(String, String)>,
}

impl RawParams {
    pub fn from_query(query: Option<&str>) -> Result<Self, ScimError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ScimError::bad_request(ScimType::InvalidSyntax, "the query string is not valid"))?;
        Ok(RawParams { pairs })
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3): lists become comma-separated strings.
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "a SearchRequest must be a JSON object"))?;
        let declared = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
            .map(|(_, v)| v);
        let ok = declared.and_then(Value::as_array).is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("a search body must declare the schema {SEARCH_REQUEST_SCHEMA}"),
            ));
        }
        let mut pairs = Vec::new();
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                Value::Null => continue,
                _ => continue,
            };
            pairs.push((k.clone(), text));
        }
        Ok(RawParams { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn projection(&self) -> Result<Projection, ScimError> {
        Projection::parse(self.get("attributes"), self.get("excludedAttributes"))
    }

    pub fn list(&self) -> Result<ListParams, ScimError> {
        let filter = match self.get("filter").map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(Filter::parse(f)?),
            None => None,
        };
        let sort = match self.get("sortBy").map(str::trim).filter(|s| !s.is_empty()) {
            Some(by) => {
                let path = AttrPath::parse(by).map_err(|_| {
                    ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("sortBy '{by}' is not an attribute path"),
                    )
                })?;
                let order = match self.get("sortOrder").filter(|s| !s.trim().is_empty()) {
                    Some(o) => SortOrder::parse(o)?,
                    None => SortOrder::Ascending,
                };
                Some((path, order))
            }
            None => None,
        };
        let count = parse_count(self.get("count"), DEFAULT_COUNT, MAX_COUNT)?;
        let start_index = parse_start_index(self.get("startIndex"))?;
        let cursor = self.get("cursor");
        let start = match cursor {
            Some(c) => {
                if sort.is_some() {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidValue,
                        "cursor pagination follows creation order; it cannot be combined with sortBy",
                    ));
                }
                PageStart::After(decode_cursor(c)?)
            }
            None => PageStart::Index(start_index),
        };
        Ok(ListParams {
            query: scimd_core::resource::ListRequest {
                filter,
                sort,
                start,
                count,
            },
            projection: self.projection()?,
            start_index: if cursor.is_some() { 1 } else { start_index },
            cursor_mode: cursor.is_some(),
        })
    }
}

/// Cursors are opaque to clients (RFC 9865 §2): here the position after which to continue.
pub fn encode_cursor(after: i64) -> String {
    format!("c{after:x}")
}

fn decode_cursor(c: &str) -> Result<i64, ScimError> {
    let c = c.trim();
    if c.is_empty() {
        return Ok(0);
    }
    c.strip_prefix('c')
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                format!("'{c}' is not a cursor this server issued"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(12345)).ok(), Some(12345));
        assert_eq!(decode_cursor("").ok(), Some(0));
        assert!(decode_cursor("zzz").is_err());
    }

    #[test]
    fn parameter_names_are_case_insensitive() {
        let p = RawParams::from_query(Some("StartIndex=3&COUNT=2&filter=userName%20eq%20%22a%22")).unwrap_or_default();
        let l = p.list().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.start_index, 3);
        assert_eq!(l.query.count, 2);
        assert!(l.query.filter.is_some());
    }
}
