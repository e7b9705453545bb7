//! Query responses: RFC 7644 §3.4.2 (ListResponse), §3.4.2.3 (sorting), §3.4.2.4 (pagination),
//! and `nextCursor` of RFC 9865 (cursor-based pagination).

use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::error::ScimError;

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// `totalResults`, `startIndex`, `itemsPerPage` are JSON integers (Okta rejects strings), and
/// `Resources` is present even when empty.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>, next_cursor: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    m.insert("totalResults".into(), json!(total));
    m.insert("startIndex".into(), json!(start_index));
    m.insert("itemsPerPage".into(), json!(resources.len()));
    if let Some(cursor) = next_cursor {
        m.insert("nextCursor".into(), Value::String(cursor));
    }
    m.insert("Resources".into(), Value::Array(resources));
    Value::Object(m)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Case-insensitive `ascending` / `descending`.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        match s.trim() {
            s if s.eq_ignore_ascii_case("ascending") => Ok(SortOrder::Ascending),
            s if s.eq_ignore_ascii_case("descending") => Ok(SortOrder::Descending),
            other => Err(ScimError::invalid_value(format!(
                "sortOrder must be ascending or descending, not '{other}'"
            ))),
        }
    }
}

impl FromStr for SortOrder {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Self, ScimError> {
        SortOrder::parse(s)
    }
}

/// `startIndex` (RFC 7644 §3.4.2.4): 1-based; a value below 1 is read as 1.
pub fn parse_start_index(raw: Option<&str>) -> Result<u64, ScimError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(1),
        Some(s) => {
            let n: i64 = s
                .parse()
                .map_err(|_| ScimError::invalid_value(format!("startIndex '{s}' is not an integer")))?;
            Ok(n.max(1) as u64)
        }
    }
}

/// `count` (RFC 7644 §3.4.2.4): negative is read as 0; more than `max` is capped at `max`.
pub fn parse_count(raw: Option<&str>, default: u64, max: u64) -> Result<u64, ScimError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default.min(max)),
        Some(s) => {
            let n: i64 = s
                .parse()
                .map_err(|_| ScimError::invalid_value(format!("count '{s}' is not an integer")))?;
            Ok((n.max(0) as u64).min(max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_response_has_integer_counts_and_empty_resources() {
        assert_eq!(
            list_response(0, 1, vec![], None),
            json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
    }

    #[test]
    fn list_response_counts_items_and_carries_the_cursor() {
        let r = list_response(5, 3, vec![json!({"id": "a"}), json!({"id": "b"})], Some("c2".into()));
        assert_eq!(r["itemsPerPage"], 2);
        assert_eq!(r["totalResults"], 5);
        assert_eq!(r["nextCursor"], "c2");
    }

    #[test]
    fn sort_order_parses_case_insensitively() {
        assert_eq!("DESCENDING".parse::<SortOrder>().unwrap(), SortOrder::Descending);
        assert_eq!(SortOrder::parse("Ascending").unwrap(), SortOrder::Ascending);
        assert!(SortOrder::parse("up").is_err());
    }

    #[test]
    fn pagination_parameters_are_clamped_as_the_rfc_says() {
        assert_eq!(parse_start_index(None).unwrap(), 1);
        assert_eq!(parse_start_index(Some("0")).unwrap(), 1);
        assert_eq!(parse_start_index(Some("101")).unwrap(), 101);
        assert!(parse_start_index(Some("x")).is_err());
        assert_eq!(parse_count(Some("-5"), 100, 1000).unwrap(), 0);
        assert_eq!(parse_count(Some("5000"), 100, 1000).unwrap(), 1000);
        assert_eq!(parse_count(None, 100, 1000).unwrap(), 100);
    }
}
