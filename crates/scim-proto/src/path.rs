//! Attribute paths: RFC 7644 §3.10 (attribute notation) and the PATCH `path` ABNF of §3.5.2
//! (`attrPath / valuePath [subAttr]`).

use std::fmt;

use crate::error::ScimError;

/// `[URI ":"] ATTRNAME ["." subAttr]`. The URI is kept as given; compare it case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// ATTRNAME = ALPHA *(nameChar); also `$ref`, which RFC 7643 uses as a sub-attribute name.
pub(crate) fn is_attr_name(s: &str) -> bool {
    if s == "$ref" || s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AttrPath {
    /// An unqualified path to a top-level attribute.
    pub fn new(name: impl Into<String>) -> Self {
        AttrPath {
            uri: None,
            name: name.into(),
            sub: None,
        }
    }

    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath {
            uri: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }

    /// Parses `userName`, `name.givenName`, `urn:...:enterprise:2.0:User:manager.value`.
    /// The URN ends at the last `:`: URNs contain dots ("2.0"), attribute names never contain
    /// colons, so the split must not be on the first dot.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        let s = s.trim();
        let bad = || ScimError::invalid_path(format!("invalid attribute path '{s}'"));
        // `get`, not `[..4]`: the fourth byte may fall inside a multi-byte character.
        let (uri, rest) = if s.len() > 4 && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            let colon = s.rfind(':').ok_or_else(bad)?;
            (Some(s[..colon].to_string()), &s[colon + 1..])
        } else {
            (None, s)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, sub)) => (n, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || sub.is_some_and(|sub| !is_attr_name(sub)) {
            return Err(bad());
        }
        Ok(AttrPath {
            uri,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// Equal up to ASCII case, the way SCIM compares names and URNs.
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        fn opt_eq(a: &Option<String>, b: &Option<String>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
        }
        self.name.eq_ignore_ascii_case(&other.name) && opt_eq(&self.uri, &other.uri) && opt_eq(&self.sub, &other.sub)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
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
    fn simple_and_dotted_paths_parse() {
        assert_eq!(AttrPath::parse("userName").unwrap(), AttrPath::new("userName"));
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            AttrPath::with_sub("name", "givenName")
        );
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap(),
            AttrPath::with_sub("members", "$ref")
        );
    }

    #[test]
    fn urn_qualified_path_splits_on_the_last_colon() {
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(
            p.uri.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(
            p.to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        );
    }

    #[test]
    fn a_multi_byte_character_at_the_fourth_byte_is_an_invalid_path_not_a_panic() {
        // Found by the `path` fuzz target: the URN prefix test sliced inside 'ϙ'.
        for bad in [".ϙϙa", "abcé", "urnϙ:x"] {
            assert_eq!(
                AttrPath::parse(bad).unwrap_err().scim_type,
                Some(ScimType::InvalidPath),
                "{bad}"
            );
        }
    }
}
