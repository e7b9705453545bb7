use serde_json::json;

use super::*;
use crate::error::ScimType;
use crate::schema::ResourceKind;

/// Every filter example of RFC 7644 §3.4.2.2.
const RFC_EXAMPLES: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    "title pr",
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and emails.type eq "work""#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
];

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": false,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "26118915"}},
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
    })
}

fn m(f: &str) -> bool {
    Filter::parse(f)
        .unwrap()
        .matches(ResourceKind::User.builtin(), &user())
        .unwrap()
}

#[test]
fn every_rfc_example_parses_and_prints_back() {
    for text in RFC_EXAMPLES {
        let f = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{text} -> {f}");
        assert!(f.validate(ResourceKind::User.builtin()).is_ok(), "{text}");
    }
}

#[test]
fn rfc_examples_print_canonically() {
    let f =
        Filter::parse(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#);
    assert_eq!(
        f.unwrap().to_string(),
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let f = Filter::parse(r#"a pr or b pr and c pr"#).unwrap();
    let Filter::Or(_, right) = &f else { panic!("{f:?}") };
    assert!(matches!(**right, Filter::And(..)));
    let g = Filter::parse(r#"(a pr or b pr) and c pr"#).unwrap();
    assert!(matches!(g, Filter::And(..)));
    assert_eq!(g.to_string(), "(a pr or b pr) and c pr");
}

#[test]
fn right_nested_groups_keep_their_parentheses_when_printed() {
    let f = Filter::parse(r#"a pr and (b pr and c pr)"#).unwrap();
    assert_eq!(f.to_string(), "a pr and (b pr and c pr)");
    assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
}

#[test]
fn operators_and_keywords_are_case_insensitive() {
    let f = Filter::parse(r#"userName EQ "x" And Not (title PR) OR active Eq TRUE"#).unwrap();
    assert_eq!(f.to_string(), r#"userName eq "x" and not (title pr) or active eq true"#);
}

#[test]
fn string_escapes_round_trip() {
    let f = Filter::parse(r#"displayName eq "a \"q\" \\ \u00e9""#).unwrap();
    let Filter::Compare {
        value: CompValue::Str(s),
        ..
    } = &f
    else {
        panic!()
    };
    assert_eq!(s, "a \"q\" \\ é");
    assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
}

#[test]
fn numbers_null_and_booleans_parse() {
    assert!(matches!(
        Filter::parse("x eq 42").unwrap(),
        Filter::Compare {
            value: CompValue::Number(_),
            ..
        }
    ));
    assert!(matches!(
        Filter::parse("x gt -1.5e3").unwrap(),
        Filter::Compare {
            value: CompValue::Number(_),
            ..
        }
    ));
    assert!(matches!(
        Filter::parse("x eq null").unwrap(),
        Filter::Compare {
            value: CompValue::Null,
            ..
        }
    ));
    assert!(matches!(
        Filter::parse("x eq False").unwrap(),
        Filter::Compare {
            value: CompValue::Bool(false),
            ..
        }
    ));
}

#[test]
fn syntax_errors_are_invalid_filter_with_a_position() {
    for bad in [
        "",
        "userName",
        r#"userName eq"#,
        r#"userName zz "x""#,
        r#"userName eq "x"#,
        r#"(userName eq "x""#,
        r#"userName eq "x" and"#,
        r#"userName eq "x" "y""#,
        r#"emails[type eq "work""#,
        r#"emails[value[x eq 1]]"#,
        r#"emails[name.x eq 1]"#,
        "userName eq bjensen",
        "userName eq 1.2.3",
        "9abc pr",
    ] {
        let e = Filter::parse(bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
        assert!(e.detail.contains("offset"), "{bad}: {}", e.detail);
    }
}

#[test]
fn hostile_nesting_and_length_are_refused() {
    let deep = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(
        Filter::parse(&deep[..]).unwrap_err().scim_type,
        Some(ScimType::InvalidFilter)
    );
    let nots = format!("{}a pr", "not ".repeat(40));
    assert_eq!(
        Filter::parse(&nots).unwrap_err().scim_type,
        Some(ScimType::InvalidFilter)
    );
    let long = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert_eq!(
        Filter::parse(&long).unwrap_err().scim_type,
        Some(ScimType::InvalidFilter)
    );
    let ok = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
    assert!(Filter::parse(&ok).is_ok());
}

#[test]
fn entra_value_path_with_sub_attribute_reads_as_a_conjunction_on_one_element() {
    let f = Filter::parse(r#"emails[type eq "work"].value eq "bjensen@example.com""#).unwrap();
    assert_eq!(
        f.to_string(),
        r#"emails[type eq "work" and value eq "bjensen@example.com"]"#
    );
    assert!(m(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
    assert!(!m(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
}

#[test]
fn user_name_compares_case_insensitively_but_id_and_external_id_exactly() {
    assert!(m(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
    assert!(m(r#"externalId eq "Bjensen""#));
    assert!(!m(r#"externalId eq "bjensen""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#));
}

#[test]
fn multi_valued_attributes_match_on_any_value() {
    assert!(m(r#"emails co "jensen.org""#));
    assert!(m(r#"emails.value ew ".org""#));
    assert!(m(r#"emails.type eq "home""#));
    assert!(m(r#"emails[type eq "work" and primary eq true]"#));
    assert!(!m(r#"emails[type eq "home" and primary eq true]"#));
}

#[test]
fn ne_is_the_negation_of_eq_also_for_absent_attributes() {
    assert!(m(r#"nickName ne "x""#));
    assert!(!m(r#"userType ne "employee""#));
    assert!(m(r#"nickName eq null"#));
    assert!(m(r#"title ne null"#));
}

#[test]
fn booleans_datetimes_and_presence_compare_by_type() {
    assert!(m("active eq false"));
    assert!(m(r#"active eq "False""#));
    assert!(!m("active eq true"));
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(m(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#));
    assert!(!m(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
    assert!(m("title pr"));
    assert!(!m("nickName pr"));
    assert!(m("name pr and not (addresses pr)"));
}

#[test]
fn extension_attributes_resolve_with_and_without_their_urn() {
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(m(r#"employeeNumber eq "701984""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
    ));
    assert!(m(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
    ));
}

#[test]
fn semantic_errors_are_invalid_filter() {
    for bad in [
        "active gt true",
        "active co \"t\"",
        "name eq \"x\"",
        "addresses eq \"x\"",
        "noSuchAttribute eq \"x\"",
        "emails[noSuch eq 1]",
        "userName[value eq 1]",
        "meta.lastModified gt \"yesterday\"",
        "title gt null",
    ] {
        let e = Filter::parse(bad)
            .unwrap()
            .matches(ResourceKind::User.builtin(), &user())
            .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
    }
}

#[test]
fn entra_group_membership_check_matches_on_members_value() {
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Ops",
        "members": [{"value": "u1"}, {"value": "u2"}]});
    let f = Filter::parse(r#"id eq "g1" and members eq "u2""#).unwrap();
    assert!(f.matches(ResourceKind::Group.builtin(), &group).unwrap());
    let f = Filter::parse(r#"id eq "g1" and members eq "u3""#).unwrap();
    assert!(!f.matches(ResourceKind::Group.builtin(), &group).unwrap());
    let f = Filter::parse(r#"displayName eq "OPS""#).unwrap();
    assert!(f.matches(ResourceKind::Group.builtin(), &group).unwrap());
}

#[test]
fn eq_conditions_and_eq_strings_extract_simple_filters() {
    let f = Filter::parse_relative(r#"type eq "work" and primary eq true"#).unwrap();
    assert_eq!(f.eq_conditions().unwrap().len(), 2);
    let f = Filter::parse_relative(r#"value eq "a" or value eq "b""#).unwrap();
    assert_eq!(f.eq_strings_of("value").unwrap(), vec!["a", "b"]);
    assert!(
        Filter::parse_relative(r#"value co "a""#)
            .unwrap()
            .eq_strings_of("value")
            .is_none()
    );
}

#[test]
fn a_filter_joining_more_comparisons_than_the_limit_is_refused() {
    let terms = |n: usize| vec![r#"userName eq "a""#; n].join(" or ");
    assert!(Filter::parse(&terms(super::MAX_FILTER_TERMS)).is_ok());
    let e = Filter::parse(&terms(super::MAX_FILTER_TERMS + 1)).unwrap_err();
    assert_eq!(e.scim_type, Some(crate::error::ScimType::InvalidFilter), "{e:?}");
}

/// The printed form of every filter that parsed must parse back to it, also at the limits.
fn prints_back(text: &str) {
    let f = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let printed = f.to_string();
    assert_eq!(Filter::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}")), f);
}

#[test]
fn decimal_literals_print_back_to_the_same_number() {
    // Found by the `filter` fuzz target: 6667e-90 was read as 6.6670000000000015e-87, which
    // printed and read again as 6.667000000000001e-87 (now read correctly rounded).
    prints_back("e7m eq 6667e-90");
    prints_back("x gt 0.30000000000000004");
    prints_back("x lt -1.7976931348623157e308");
}

#[test]
fn a_not_without_parentheses_at_the_depth_limit_prints_back() {
    prints_back(&format!("{}a pr", "not ".repeat(MAX_FILTER_DEPTH - 1)));
    let n = MAX_FILTER_DEPTH - 1;
    let parenthesised = format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    prints_back(&parenthesised);
    assert!(Filter::parse(&format!("not {parenthesised}")).is_err());
}

#[test]
fn an_entra_value_path_at_the_depth_limit_prints_back() {
    // `emails[not not a pr or b pr].value pr` prints as `emails[(not (...) or b pr) and value pr]`.
    let inner = |n: usize| format!("{}a pr or b pr", "not ".repeat(n));
    prints_back(&format!("emails[{}].value pr", inner(MAX_FILTER_DEPTH - 4)));
    assert!(Filter::parse(&format!("emails[{}].value pr", inner(MAX_FILTER_DEPTH - 3))).is_err());
    prints_back(&format!("emails[{}]", inner(MAX_FILTER_DEPTH - 3)));
}

#[test]
fn not_is_no_sub_attribute_after_brackets() {
    let e = Filter::parse(r#"emails[type eq "work"].not eq "x""#).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
}
