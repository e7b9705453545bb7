//! Property: every filter the parser can produce prints (`Display`) to text that parses back
//! to the same AST, at the top level and inside `[...]` (RFC 7644 §3.4.2.2, Figure 1).
//! The generators are shared with the PATCH properties, which need relative filters too.

use proptest::prelude::*;
use serde_json::Number;

use super::*;

fn from_chars(first: &'static [char], rest: &'static [char], max: usize) -> impl Strategy<Value = String> {
    (
        prop::sample::select(first),
        prop::collection::vec(prop::sample::select(rest), 0..max),
    )
        .prop_map(|(c, cs)| std::iter::once(c).chain(cs).collect())
}

const ALPHA: &[char] = &['a', 'b', 'e', 'x', 'z', 'A', 'E', 'X', 'Z'];
const NAME_CHARS: &[char] = &['a', 'e', 'q', 'r', 'N', 'R', '0', '9', '-', '_'];

/// An attribute name: one of the schemas', a keyword where only a name can stand, or any
/// ATTRNAME. Never `not`: at the start of an expression it is the keyword, so no parse
/// yields an attribute of that name (the parser refuses it after `]`).
pub(crate) fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "userName",
                "name",
                "emails",
                "members",
                "value",
                "type",
                "primary",
                "display",
                "displayName",
                "$ref",
                "meta",
                "active",
                "and",
                "or",
                "pr",
                "eq",
                "true",
                "null",
                "NOTE",
            ][..]
        )
        .prop_map(String::from),
        from_chars(ALPHA, NAME_CHARS, 6),
    ]
    .prop_filter("the keyword 'not'", |n| !n.eq_ignore_ascii_case("not"))
}

fn uri() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "URN:x",
            "urn:a.b:c-d+e$",
        ][..],
    )
    .prop_map(String::from)
}

fn path() -> impl Strategy<Value = AttrPath> {
    (prop::option::of(uri()), attr_name(), prop::option::of(attr_name())).prop_map(|(uri, name, sub)| AttrPath {
        uri,
        name,
        sub,
    })
}

/// Characters that need escaping in JSON, that case-fold oddly, or that end a token.
const ODD: &[char] = &[
    '"', '\\', '/', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}', 'é', 'ß', 'İ', 'Σ', 'K', '😀', '\u{2028}', ' ', ']', '[',
    '(', ')', '%', '_',
];

/// A string literal's text: plain letters, odd characters, any character.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![prop::char::range('a', 'z'), prop::sample::select(ODD), any::<char>()],
        0..8,
    )
    .prop_map(String::from_iter)
}

pub(crate) fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(CompValue::Number)),
        text().prop_map(CompValue::Str),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    prop::sample::select(&[Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le][..])
}

fn combine(leaf: impl Strategy<Value = Filter> + 'static) -> impl Strategy<Value = Filter> {
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

/// A filter inside `attr[...]`: paths are bare sub-attribute names.
pub(crate) fn relative_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (attr_name(), op(), comp_value()).prop_map(|(name, op, value)| Filter::Compare {
            path: AttrPath::new(name),
            op,
            value
        }),
        attr_name().prop_map(|name| Filter::Present(AttrPath::new(name))),
    ];
    combine(leaf)
}

pub(crate) fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (path(), op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        path().prop_map(Filter::Present),
        (prop::option::of(uri()), attr_name(), relative_filter()).prop_map(|(uri, name, filter)| Filter::ValuePath {
            attr: AttrPath { uri, name, sub: None },
            filter: Box::new(filter),
        }),
    ];
    combine(leaf)
}

proptest! {
    #[test]
    fn a_printed_filter_parses_back_to_itself(f in filter()) {
        let printed = f.to_string();
        prop_assert_eq!(Filter::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?, f);
    }

    #[test]
    fn a_printed_relative_filter_parses_back_to_itself(f in relative_filter()) {
        let printed = f.to_string();
        let again = Filter::parse_relative(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(again, f);
    }
}
