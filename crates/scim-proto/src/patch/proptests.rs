//! Property: no PatchOp message makes the engine panic (RFC 7644 §3.5.2). Applied to a valid
//! user and a valid group, every message is a SCIM error that leaves the document as it was,
//! or yields a document that still validates.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::tests::{group, user};
use super::*;
use crate::filter::proptests::relative_filter;
use crate::schema::{ENTERPRISE_USER_SCHEMA, ResourceKind};
use crate::value::normalize_resource;

/// Attribute paths of both resource types, in their odd spellings too, and some that are not.
const PATHS: &[&str] = &[
    "userName",
    "USERNAME",
    "name",
    "name.givenName",
    "name.familyName",
    "displayName",
    "nickName",
    "active",
    "emails",
    "emails.value",
    "emails.primary",
    "phoneNumbers",
    "addresses.locality",
    "roles",
    "x509Certificates.value",
    "groups",
    "password",
    "id",
    "externalId",
    "meta",
    "meta.created",
    "schemas",
    "members",
    "members.display",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "manager.displayName",
    "noSuchAttribute",
    "name.noSuch",
];

const MULTI: &[&str] = &[
    "emails",
    "phoneNumbers",
    "addresses",
    "members",
    "roles",
    "groups",
    "name",
    "userName",
];

const FILTERS: &[&str] = &[
    r#"type eq "work""#,
    r#"value eq "jane@example.com""#,
    r#"value eq "u1""#,
    "primary eq true",
    r#"value co "@""#,
    r#"type eq "work" and primary eq true"#,
    r#"not (type eq "home")"#,
    "value pr",
    "display ne null",
    r#"type eq "work" and value eq "new@example.com""#,
    "noSuch eq 1",
];

const SUBS: &[&str] = &["value", "type", "primary", "display", "locality", "noSuch"];

fn patch_path() -> impl Strategy<Value = String> {
    let filter = prop_oneof![
        prop::sample::select(FILTERS).prop_map(String::from),
        relative_filter().prop_map(|f| f.to_string()),
    ];
    prop_oneof![
        3 => prop::sample::select(PATHS).prop_map(String::from),
        2 => (prop::sample::select(MULTI), filter, prop::option::of(prop::sample::select(SUBS))).prop_map(
            |(attr, f, sub)| format!("{attr}[{f}]{}", sub.map(|s| format!(".{s}")).unwrap_or_default())
        ),
    ]
}

const KEYS: &[&str] = &[
    "value",
    "Value",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "familyName",
    "userName",
    "displayName",
    "active",
    "emails",
    "members",
    "name",
    "name.givenName",
    "id",
    "schemas",
    "employeeNumber",
    "manager",
    ENTERPRISE_USER_SCHEMA,
    "noSuch",
];

const STRINGS: &[&str] = &[
    "",
    "work",
    "home",
    "jane@example.com",
    "True",
    "false",
    "42",
    "u1",
    "2024-01-01T00:00:00Z",
    "not a date",
];

/// Any JSON, with the keys and strings the engine looks for.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..100).prop_map(Value::from),
        Just(json!(1.5)),
        prop::sample::select(STRINGS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

fn operation() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["add", "replace", "remove", "Add", "REPLACE", "Remove"][..]),
        prop::option::weighted(0.8, patch_path()),
        prop::option::weighted(0.85, json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = Map::new();
            o.insert("op".into(), op.into());
            if let Some(p) = path {
                o.insert("path".into(), p.into());
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

fn message() -> impl Strategy<Value = Value> {
    prop::collection::vec(operation(), 1..4).prop_map(|ops| json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}))
}

/// A user with an extension and two emails next to the plain fixture.
fn rich_user() -> Value {
    let mut u = user();
    u["schemas"] = json!([crate::schema::USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    u["emails"] = json!([{"value": "jane@example.com", "type": "work", "primary": true}, {"value": "j@home.example", "type": "home"}]);
    u[ENTERPRISE_USER_SCHEMA] = json!({"employeeNumber": "7", "manager": {"value": "m1"}});
    u
}

fn apply_checked(
    kind: &crate::schema::ResourceSchemas,
    mut doc: Value,
    ops: &[PatchOperation],
) -> Result<(), TestCaseError> {
    let before = doc.clone();
    match apply_patch(kind, &mut doc, ops) {
        Ok(_) => {
            let valid = normalize_resource(kind, &doc);
            prop_assert!(
                valid.is_ok(),
                "patched {:?} no longer validates: {:?}\n{:#}",
                kind,
                valid,
                doc
            );
        }
        Err(_) => prop_assert_eq!(doc, before, "a failed PATCH changed the document"),
    }
    Ok(())
}

proptest! {
    #[test]
    fn patch_is_an_error_or_a_valid_document_never_a_panic(body in message()) {
        let Ok(ops) = parse_patch(&body) else { return Ok(()) };
        for doc in [user(), rich_user()] {
            apply_checked(ResourceKind::User.builtin(), doc, &ops)?;
        }
        if let Ok((doc_ops, _)) = split_members(ops) {
            apply_checked(ResourceKind::Group.builtin(), group(), &doc_ops)?;
        }
    }
}
