//! The filter grammar of RFC 7644 §3.4.2.2 (ABNF of Figure 1): parsing to an AST, canonical
//! printing, and in-memory evaluation (in `eval`).

mod eval;
mod parse;
pub(crate) use eval::{matches_element, validate_element};
#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{Number, Value};

use crate::error::ScimError;
use crate::path::AttrPath;

/// Hostile input must neither exhaust memory nor the stack: both limits answer 400 invalidFilter.
pub const MAX_FILTER_LEN: usize = 4096;
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most comparisons one filter (or one `[...]` value filter) may join with `and`/`or`: a
/// bound on the work and the size of the SQL one filter becomes.
pub const MAX_FILTER_TERMS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive (RFC 7644 §3.4.2.2: "EQ" is as good as "eq").
    pub fn parse(s: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    Str(String),
}

impl CompValue {
    /// The literal as a boolean: `true`/`false`, or the strings Entra sends ("True").
    /// The database translation and the in-memory evaluation both read literals this way.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            CompValue::Bool(b) => Some(*b),
            CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The literal as a number: a JSON number, or a string holding one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            CompValue::Number(n) => n.as_f64(),
            CompValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            // Value's Display writes a JSON string with the escapes the parser reads back.
            CompValue::Str(s) => write!(f, "{}", Value::String(s.clone())),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[inner]`: inner paths are relative to the complex attribute (no URI, no sub),
    /// e.g. `emails[type eq "work" and value co "@x"]`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, ScimError> {
        parse::Parser::new(s, false)?.parse_all()
    }

    /// A filter whose attribute paths are relative to a complex attribute: the inside of
    /// `members[...]` in a PATCH path.
    pub fn parse_relative(s: &str) -> Result<Filter, ScimError> {
        parse::Parser::new(s, true)?.parse_all()
    }

    /// If the filter is one `eq` or an `and` of `eq`s, the (path, value) pairs: what Entra's
    /// `emails[type eq "work"]` says the element to create on a PATCH add looks like.
    pub fn eq_conditions(&self) -> Option<Vec<(&AttrPath, &CompValue)>> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => Some(vec![(path, value)]),
            Filter::And(a, b) => {
                let mut v = a.eq_conditions()?;
                v.extend(b.eq_conditions()?);
                Some(v)
            }
            _ => None,
        }
    }

    /// If the filter is `name eq "x"` or an `or` of such, the string values: `members[value eq
    /// "id"]` names member ids directly.
    pub fn eq_strings_of(&self, name: &str) -> Option<Vec<String>> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::Str(s),
            } if path.uri.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case(name) => {
                Some(vec![s.clone()])
            }
            Filter::Or(a, b) => {
                let mut v = a.eq_strings_of(name)?;
                v.extend(b.eq_strings_of(name)?);
                Some(v)
            }
            _ => None,
        }
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, child: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

/// Canonical text: lower-case keywords, JSON string literals, and parentheses exactly where
/// precedence (not > and > or) or left-associativity would otherwise change the tree.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(a, b) => {
                write_child(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_child(f, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(a, b) => {
                write_child(f, a, false)?;
                f.write_str(" or ")?;
                write_child(f, b, matches!(**b, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}
