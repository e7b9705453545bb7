use serde_json::json;

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceKind, USER_SCHEMA};

fn okta_create() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "jane@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": "jane@example.com", "type": "work"}],
        "displayName": "Jane Doe",
        "locale": "en-US",
        "externalId": "00u1",
        "groups": [],
        "password": "s3cret!",
        "active": true
    })
}

#[test]
fn okta_create_body_normalises_in_canonical_order() {
    let out = normalize_resource(ResourceKind::User.builtin(), &okta_create()).unwrap();
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "schemas",
            "externalId",
            "userName",
            "name",
            "displayName",
            "locale",
            "active",
            "password",
            "emails"
        ]
    );
    assert_eq!(out["name"], json!({"familyName": "Doe", "givenName": "Jane"}));
    assert_eq!(
        out["emails"][0],
        json!({"value": "jane@example.com", "type": "work", "primary": true})
    );
}

#[test]
fn names_are_matched_case_insensitively_and_rewritten() {
    let body = json!({"SCHEMAS": [USER_SCHEMA.to_uppercase()], "USERNAME": "x", "Name": {"GIVENNAME": "a"}});
    let out = normalize_resource(ResourceKind::User.builtin(), &body).unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "x", "name": {"givenName": "a"}})
    );
}

#[test]
fn read_only_attributes_are_dropped_and_undeclared_ones_kept_as_sent() {
    let body = json!({"schemas": [USER_SCHEMA], "id": "x", "meta": {"version": "1"}, "userName": "u",
        "groups": [{"value": "g"}], "favouriteColour": "blue",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m", "displayName": "Boss"}},
        ACME: {"costCenter": "CC-12", "badge": {"n": 7}}});
    let out = normalize_resource(ResourceKind::User.builtin(), &body).unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ACME], "userName": "u", "favouriteColour": "blue",
            ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m"}}, ACME: {"costCenter": "CC-12", "badge": {"n": 7}}})
    );
    let kept: Vec<String> = kept_attributes(ResourceKind::User.builtin(), &out)
        .iter()
        .map(Kept::qualified)
        .collect();
    assert_eq!(
        kept,
        [
            "favouriteColour",
            &format!("{ACME}:costCenter"),
            &format!("{ACME}:badge")
        ]
    );
    let strict = ResourceKind::User
        .builtin()
        .clone()
        .with_undeclared(crate::schema::Undeclared::Reject);
    let e = normalize_resource(&strict, &body).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        e.detail.contains("'favouriteColour'") && e.detail.contains(&format!("'{ACME}:costCenter'")),
        "{}",
        e.detail
    );
}

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

#[test]
fn entra_strings_for_booleans_and_single_objects_for_lists_are_coerced() {
    let body = json!({"schemas": [USER_SCHEMA], "userName": "u", "active": "False",
        "emails": {"value": "a@b", "primary": "True"}, "nickName": null});
    let out = normalize_resource(ResourceKind::User.builtin(), &body).unwrap();
    assert_eq!(out["active"], false);
    assert_eq!(out["emails"], json!([{"value": "a@b", "primary": true}]));
    assert!(out.get("nickName").is_none());
}

#[test]
fn urn_and_dotted_keys_land_in_the_right_place() {
    let body = json!({"schemas": [USER_SCHEMA], "urn:ietf:params:scim:schemas:core:2.0:User:userName": "u",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": 42,
        "name.givenName": "G"});
    let out = normalize_resource(ResourceKind::User.builtin(), &body).unwrap();
    assert_eq!(out["userName"], "u");
    assert_eq!(out["name"], json!({"givenName": "G"}));
    assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "42"}));
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn missing_or_wrong_schemas_are_refused() {
    let e = normalize_resource(ResourceKind::User.builtin(), &json!({"userName": "u"})).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let e = normalize_resource(
        ResourceKind::User.builtin(),
        &json!({"schemas": [GROUP_SCHEMA], "userName": "u"}),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = normalize_resource(
        ResourceKind::User.builtin(),
        &json!({"schemas": [USER_SCHEMA, "not a urn"], "userName": "u"}),
    );
    assert_eq!(e.unwrap_err().scim_type, Some(ScimType::InvalidValue));
    let strict = ResourceKind::User
        .builtin()
        .clone()
        .with_undeclared(crate::schema::Undeclared::Reject);
    let e = normalize_resource(&strict, &json!({"schemas": [USER_SCHEMA, "urn:x"], "userName": "u"}));
    assert_eq!(e.unwrap_err().scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn required_attributes_must_be_present_and_non_empty() {
    for body in [
        json!({"schemas": [USER_SCHEMA]}),
        json!({"schemas": [USER_SCHEMA], "userName": "  "}),
    ] {
        let e = normalize_resource(ResourceKind::User.builtin(), &body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }
    let e = normalize_resource(
        ResourceKind::Group.builtin(),
        &json!({"schemas": [GROUP_SCHEMA], "members": []}),
    )
    .unwrap_err();
    assert!(e.detail.contains("displayName"));
}

#[test]
fn two_primary_values_are_refused() {
    let body = json!({"schemas": [USER_SCHEMA], "userName": "u",
        "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": "true"}]});
    assert_eq!(
        normalize_resource(ResourceKind::User.builtin(), &body)
            .unwrap_err()
            .scim_type,
        Some(ScimType::InvalidValue)
    );
}

#[test]
fn wrong_types_are_invalid_value() {
    for (attr, v) in [
        ("active", json!("maybe")),
        ("name", json!(["x", "y"])),
        ("userType", json!({"a": 1})),
    ] {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": "u"});
        body[attr] = v;
        let e = normalize_resource(ResourceKind::User.builtin(), &body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{attr}");
    }
}

#[test]
fn group_members_keep_value_and_drop_client_refs() {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops",
        "members": [{"value": "u1", "$ref": null, "display": "Jane"}, "u2"]});
    let out = normalize_resource(ResourceKind::Group.builtin(), &body).unwrap();
    assert_eq!(out["members"], json!([{"value": "u1"}, {"value": "u2"}]));
}

#[test]
fn immutable_values_cannot_change_on_replace() {
    let old = json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops"});
    assert!(check_immutable(ResourceKind::Group.builtin(), &old, &old).is_ok());
    assert!(check_immutable(ResourceKind::User.builtin(), &okta_create(), &json!({})).is_ok());
}

#[test]
fn strip_never_returned_removes_the_password() {
    let mut doc = normalize_resource(ResourceKind::User.builtin(), &okta_create()).unwrap();
    strip_never_returned(ResourceKind::User.builtin(), &mut doc);
    assert!(doc.get("password").is_none());
    assert_eq!(doc["userName"], "jane@example.com");
}

#[test]
fn stored_mode_keeps_read_only_attributes() {
    let doc = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "u", "meta": {"resourceType": "User"}});
    let out = normalize(ResourceKind::User.builtin(), &doc, Mode::Stored).unwrap();
    assert_eq!(out, doc);
}

#[test]
fn an_explicit_empty_member_list_is_kept_so_put_can_empty_a_group() {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops", "members": []});
    let out = normalize_resource(ResourceKind::Group.builtin(), &body).unwrap();
    assert_eq!(out["members"], json!([]));
    let out = normalize_resource(
        ResourceKind::Group.builtin(),
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops"}),
    )
    .unwrap();
    assert!(out.get("members").is_none());
}

#[test]
fn changed_attributes_name_what_differs_qualified_in_extensions() {
    let schema = crate::schema::Schema::parse_extension(&json!({"id": ACME,
        "attributes": [{"name": "costCenter", "type": "string"}, {"name": "level", "type": "integer"}]}))
    .unwrap();
    let ext = crate::schema::Extension {
        schema: std::sync::Arc::new(schema),
        required: false,
        indexed: Vec::new(),
    };
    let schemas = ResourceSchemas::new(ResourceKind::User, vec![ext]);
    let old = json!({"schemas": [USER_SCHEMA, ACME], "userName": "a", "title": "t",
        ACME: {"costCenter": "CC-1", "level": 2}, "badge": "B-1"});
    let new = json!({"schemas": [USER_SCHEMA], "userName": "a", "nickName": "n",
        ACME: {"costCenter": "CC-2", "level": 2}, "badge": "B-2"});
    let mut changed = changed_attributes(&schemas, &old, &new);
    changed.sort();
    assert_eq!(
        changed,
        [
            "badge".to_owned(),
            "nickName".to_owned(),
            "title".to_owned(),
            format!("{ACME}:costCenter"),
        ]
    );
    // Against nothing: every attribute the document holds, values never.
    let mut all = changed_attributes(&schemas, &Value::Null, &old);
    all.sort();
    assert_eq!(
        all,
        [
            "badge".to_owned(),
            "title".to_owned(),
            format!("{ACME}:costCenter"),
            format!("{ACME}:level"),
            "userName".to_owned(),
        ]
    );
}
