//! PATCH targets (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`): an attribute path,
//! optionally narrowed by a value filter, optionally followed by a sub-attribute.

use std::fmt;

use crate::error::ScimError;
use crate::filter::Filter;
use crate::path::{AttrPath, is_attr_name};

/// A PATCH target: `members`, `name.givenName`, `members[value eq "x"]`,
/// `emails[type eq "work"].value`. With a filter, `attr.sub` is always `None` and the
/// sub-attribute after the brackets is in `sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchPath {
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        let s = s.trim();
        let Some(open) = s.find('[') else {
            return Ok(PatchPath {
                attr: AttrPath::parse(s)?,
                filter: None,
                sub: None,
            });
        };
        let attr = AttrPath::parse(&s[..open])?;
        if attr.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "a value filter must follow a top-level attribute in '{s}'"
            )));
        }
        let close =
            closing_bracket(s, open).ok_or_else(|| ScimError::invalid_path(format!("missing ']' in path '{s}'")))?;
        let filter = Filter::parse_relative(&s[open + 1..close])
            .map_err(|e| ScimError::invalid_path(format!("invalid filter in path '{s}': {}", e.detail)))?;
        let rest = &s[close + 1..];
        let sub = if rest.is_empty() {
            None
        } else {
            match rest.strip_prefix('.') {
                Some(sub) if is_attr_name(sub) => Some(sub.to_string()),
                _ => {
                    return Err(ScimError::invalid_path(format!(
                        "unexpected '{rest}' after ']' in path '{s}'"
                    )));
                }
            }
        };
        Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub,
        })
    }

    /// A plain attribute path (no filter) as a `PatchPath`.
    pub fn from_attr(attr: AttrPath) -> Self {
        PatchPath {
            attr,
            filter: None,
            sub: None,
        }
    }
}

/// Index of the `]` closing the `[` at `open`, skipping brackets inside string literals.
fn closing_bracket(s: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i <= open) {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;

    #[test]
    fn patch_path_with_filter_and_sub_attribute_parses_and_prints_back() {
        let p = PatchPath::parse("emails[type eq \"work\"].value").unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert!(p.filter.is_some());
        assert_eq!(p.to_string(), "emails[type eq \"work\"].value");
        assert_eq!(PatchPath::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn patch_path_filter_may_contain_a_closing_bracket_in_a_string() {
        let p = PatchPath::parse(r#"members[value eq "a]b\"c"]"#).unwrap();
        assert_eq!(PatchPath::parse(&p.to_string()).unwrap(), p);
        assert!(p.sub.is_none());
    }

    #[test]
    fn plain_patch_path_has_no_filter() {
        let p = PatchPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber").unwrap();
        assert!(p.filter.is_none());
        assert_eq!(p.attr.name, "employeeNumber");
    }
    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "",
            "1abc",
            "name.",
            "a b",
            "name.given.x",
            "urn:x:",
            "emails[type eq \"work\"",
        ] {
            let e = PatchPath::parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
        }
    }

    #[test]
    fn a_multi_byte_character_at_the_fourth_byte_is_an_invalid_path_not_a_panic() {
        for bad in [".ϙϙa", "abcé", "urnϙ:x"] {
            assert_eq!(
                PatchPath::parse(bad).unwrap_err().scim_type,
                Some(ScimType::InvalidPath),
                "{bad}"
            );
        }
    }
}
