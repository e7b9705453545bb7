use serde_json::{Value, json};

use super::*;
use crate::schema::{ENTERPRISE_USER_SCHEMA, ResourceKind, USER_SCHEMA};

fn ops(operations: Value) -> Vec<PatchOperation> {
    parse_patch(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})).unwrap()
}

pub(super) fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": "u1",
        "externalId": "00u1",
        "userName": "jane@example.com",
        "name": {"familyName": "Doe", "givenName": "Jane"},
        "displayName": "Jane Doe",
        "active": true,
        "emails": [{"value": "jane@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"1\""}
    })
}

pub(super) fn group() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Ops",
        "meta": {"resourceType": "Group"}})
}

fn patch_user(operations: Value) -> Result<(Value, Vec<String>), ScimError> {
    let mut doc = user();
    let changed = apply_patch(ResourceKind::User.builtin(), &mut doc, &ops(operations))?;
    Ok((doc, changed))
}

#[test]
fn okta_deactivation_sets_active_false() {
    let (doc, changed) = patch_user(json!([{"op": "replace", "value": {"active": false}}])).unwrap();
    assert_eq!(doc["active"], false);
    assert_eq!(changed, ["active"]);
    assert_eq!(doc["id"], "u1");
    assert_eq!(doc["meta"]["resourceType"], "User");
}

fn member(id: &str, display: Option<&str>) -> NewMember {
    NewMember {
        id: id.into(),
        display: display.map(Into::into),
    }
}

#[test]
fn okta_group_patch_splits_into_rename_and_member_operations() {
    let operations = ops(json!([
        {"op": "replace", "value": {"id": "g1", "displayName": "Ops Team"}},
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u2", "display": "jane@example.com"}]}
    ]));
    let (doc_ops, member_ops) = split_members(operations).unwrap();
    assert_eq!(
        member_ops,
        vec![
            MemberOp::Remove(vec!["u1".into()]),
            MemberOp::Add(vec![member("u2", Some("jane@example.com"))])
        ]
    );
    assert_eq!(doc_ops.len(), 1);
    let mut doc = group();
    let changed = apply_patch(ResourceKind::Group.builtin(), &mut doc, &doc_ops).unwrap();
    assert_eq!(changed, ["displayName"]);
    assert_eq!(doc["displayName"], "Ops Team");
    assert_eq!(doc["id"], "g1");
}

#[test]
fn okta_full_member_replace_and_pathless_members_become_member_ops() {
    let (doc_ops, member_ops) = split_members(ops(json!([
        {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "a"}]},
        {"op": "add", "value": {"displayName": "X", "members": [{"value": "c", "$ref": null}]}},
        {"op": "Remove", "path": "members"}
    ])))
    .unwrap();
    assert_eq!(
        member_ops,
        vec![
            MemberOp::ReplaceAll(vec![member("a", None), member("b", None)]),
            MemberOp::Add(vec![member("c", None)]),
            MemberOp::RemoveAll
        ]
    );
    assert_eq!(doc_ops[0].value, Some(json!({"displayName": "X"})));
}

#[test]
fn entra_member_removal_by_value_list_removes_only_those_members() {
    let (doc_ops, member_ops) = split_members(ops(json!([
        {"op": "Remove", "path": "members", "value": [{"value": "u7"}]},
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u8"}]}
    ])))
    .unwrap();
    assert!(doc_ops.is_empty());
    assert_eq!(
        member_ops,
        vec![
            MemberOp::Remove(vec!["u7".into()]),
            MemberOp::Add(vec![member("u8", None)])
        ]
    );
}

#[test]
fn member_filters_that_are_not_plain_ids_stay_filters() {
    let (_, member_ops) = split_members(ops(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]))).unwrap();
    assert!(matches!(&member_ops[0], MemberOp::RemoveWhere(_)));
    let e = split_members(ops(json!([{"op": "remove", "path": "members[nope eq 1]"}]))).unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn entra_remove_by_value_list_inside_a_document_keeps_the_others() {
    let mut doc = group();
    doc["members"] = json!([{"value": "a"}, {"value": "b"}]);
    let o = ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "a", "$ref": null}]}]));
    apply_patch(ResourceKind::Group.builtin(), &mut doc, &o).unwrap();
    assert_eq!(doc["members"], json!([{"value": "b"}]));
}

#[test]
fn entra_replace_active_with_a_string_boolean() {
    let (doc, _) = patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}])).unwrap();
    assert_eq!(doc["active"], false);
}

#[test]
fn entra_add_on_a_filtered_path_creates_the_missing_element() {
    let mut doc = user();
    doc.as_object_mut().unwrap().remove("emails");
    let o = ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]));
    let changed = apply_patch(ResourceKind::User.builtin(), &mut doc, &o).unwrap();
    assert_eq!(doc["emails"], json!([{"value": "new@example.com", "type": "work"}]));
    assert_eq!(changed, ["emails"]);
}

#[test]
fn an_add_on_a_filtered_path_refuses_a_value_the_filter_would_not_select() {
    // Found by a property test: the element made for `emails[type eq "work" and value eq "a"]`
    // with the value 0 had the value "0", so the same PATCH sent again made another.
    for (path, value) in [
        (r#"emails[type eq "work" and value eq "new@example.com"]"#, json!(0)),
        (r#"emails[type eq "work"]"#, json!({"value": "h@x", "type": "home"})),
        (r#"emails[type eq "work"].type"#, json!("home")),
    ] {
        let mut doc = user();
        doc.as_object_mut().unwrap().remove("emails");
        let before = doc.clone();
        let o = ops(json!([{"op": "add", "path": path, "value": value}]));
        let e = apply_patch(ResourceKind::User.builtin(), &mut doc, &o).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{path}");
        assert_eq!(doc, before);
    }
}

#[test]
fn filtered_replace_changes_only_the_matching_element() {
    let mut doc = user();
    doc["emails"] = json!([{"value": "w@x", "type": "work"}, {"value": "h@x", "type": "home"}]);
    let o = ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w2@x"}]));
    apply_patch(ResourceKind::User.builtin(), &mut doc, &o).unwrap();
    assert_eq!(
        doc["emails"],
        json!([{"value": "w2@x", "type": "work"}, {"value": "h@x", "type": "home"}])
    );
}

#[test]
fn filtered_remove_drops_matching_elements_or_their_sub_attribute() {
    let mut doc = user();
    doc["emails"] = json!([{"value": "w@x", "type": "work"}, {"value": "h@x", "type": "home"}]);
    let o = ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
    apply_patch(ResourceKind::User.builtin(), &mut doc, &o).unwrap();
    assert_eq!(doc["emails"], json!([{"value": "w@x", "type": "work"}]));
    let o = ops(json!([{"op": "remove", "path": "emails[type eq \"work\"].type"}]));
    apply_patch(ResourceKind::User.builtin(), &mut doc, &o).unwrap();
    assert_eq!(doc["emails"], json!([{"value": "w@x"}]));
}

#[test]
fn entra_optscim_pathless_replace_with_dotted_and_urn_keys() {
    let (doc, changed) = patch_user(json!([{"op": "replace", "value": {
        "name.givenName": "Janet",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1234",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "boss-id",
        "active": true,
        "unknownThing": 1
    }}]))
    .unwrap();
    assert_eq!(doc["name"], json!({"familyName": "Doe", "givenName": "Janet"}));
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "1234", "manager": {"value": "boss-id"}})
    );
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(doc["unknownThing"], 1, "an undeclared attribute is kept, not dropped");
    assert_eq!(
        changed,
        [
            "unknownThing",
            "name",
            format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber").as_str(),
            &format!("{ENTERPRISE_USER_SCHEMA}:manager")
        ]
    );
}

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

#[test]
fn undeclared_attributes_are_kept_through_every_patch_form() {
    let (doc, changed) = patch_user(json!([
        {"op": "Add", "path": format!("{ACME}:costCenter"), "value": "CC-12"},
        {"op": "replace", "value": {format!("{ACME}:badge"): "B-77", "badgeNumber": "B-9"}}
    ]))
    .unwrap();
    assert_eq!(doc[ACME], json!({"costCenter": "CC-12", "badge": "B-77"}));
    assert_eq!(doc["badgeNumber"], "B-9");
    assert!(doc["schemas"].as_array().unwrap().contains(&json!(ACME)));
    assert_eq!(
        changed,
        [
            "badgeNumber",
            format!("{ACME}:costCenter").as_str(),
            &format!("{ACME}:badge")
        ]
    );
    let mut doc2 = doc.clone();
    apply_patch(
        ResourceKind::User.builtin(),
        &mut doc2,
        &ops(json!([{"op": "remove", "path": format!("{ACME}:costCenter")}, {"op": "remove", "path": "badgeNumber"}])),
    )
    .unwrap();
    assert_eq!(doc2[ACME], json!({"badge": "B-77"}));
    assert!(doc2.get("badgeNumber").is_none());
    // A whole undeclared extension replaced by its URN.
    let mut doc3 = doc.clone();
    apply_patch(
        ResourceKind::User.builtin(),
        &mut doc3,
        &ops(json!([{"op": "replace", "path": ACME, "value": {"costCenter": "CC-1"}}])),
    )
    .unwrap();
    assert_eq!(doc3[ACME], json!({"costCenter": "CC-1"}));
}

#[test]
fn undeclared_attributes_are_refused_when_the_provider_rejects_them() {
    let strict = ResourceKind::User
        .builtin()
        .clone()
        .with_undeclared(crate::schema::Undeclared::Reject);
    let mut doc = user();
    let e = apply_patch(
        &strict,
        &mut doc,
        &ops(json!([{"op": "add", "path": format!("{ACME}:costCenter"), "value": "x"}])),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        e.detail.contains("costCenter") && e.detail.contains("scimd provider schema add"),
        "{}",
        e.detail
    );
    assert_eq!(doc, user());
}

#[test]
fn entra_manager_forms_are_all_stored_as_a_value_object() {
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    for value in [
        json!("m1"),
        json!([{"$ref": "https://x/Users/m1", "value": "m1"}]),
        json!({"value": "m1"}),
    ] {
        let (doc, _) = patch_user(json!([{"op": "Add", "path": path, "value": value}])).unwrap();
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m1"}),
            "{value}"
        );
    }
}

#[test]
fn a_changed_manager_id_drops_the_old_display_name() {
    let mut doc = user();
    doc[ENTERPRISE_USER_SCHEMA] = json!({"manager": {"value": "m1", "displayName": "Old Boss"}});
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    apply_patch(
        ResourceKind::User.builtin(),
        &mut doc,
        &ops(json!([{"op": "replace", "path": path, "value": "m2"}])),
    )
    .unwrap();
    assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"], json!({"value": "m2"}));
}

#[test]
fn add_to_a_multi_valued_attribute_appends_skips_duplicates_and_moves_primary() {
    let (doc, _) = patch_user(json!([
        {"op": "add", "path": "emails", "value": [{"value": "jane@example.com", "type": "work", "primary": true}]},
        {"op": "add", "path": "emails", "value": {"value": "j@home", "type": "home", "primary": "True"}}
    ]))
    .unwrap();
    assert_eq!(
        doc["emails"],
        json!([{"value": "jane@example.com", "type": "work", "primary": false},
               {"value": "j@home", "type": "home", "primary": true}])
    );
}

#[test]
fn replace_with_a_path_on_a_multi_valued_attribute_replaces_the_list() {
    let (doc, _) = patch_user(json!([{"op": "replace", "path": "emails", "value": [{"value": "z@z"}]}])).unwrap();
    assert_eq!(doc["emails"], json!([{"value": "z@z"}]));
}

#[test]
fn sub_attribute_paths_and_removal() {
    let (doc, _) = patch_user(json!([
        {"op": "replace", "path": "name.givenName", "value": "J"},
        {"op": "remove", "path": "name.familyName"},
        {"op": "remove", "path": "nickName"},
        {"op": "remove", "path": "displayName"}
    ]))
    .unwrap();
    assert_eq!(doc["name"], json!({"givenName": "J"}));
    assert!(doc.get("displayName").is_none());
}

#[test]
fn errors_leave_the_document_untouched() {
    let cases = [
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "replace", "path": "id", "value": "x"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "remove", "path": "userName"}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "replace", "path": "noSuchAttribute[value eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "replace", "value": {"id": "other"}}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "replace", "path": "emails[value co \"nomatch\"].type", "value": "x"}]),
            ScimType::NoTarget,
        ),
    ];
    for (operations, want) in cases {
        let mut doc = user();
        let e = apply_patch(ResourceKind::User.builtin(), &mut doc, &ops(operations.clone())).unwrap_err();
        assert_eq!(e.scim_type, Some(want), "{operations}");
        assert_eq!(doc, user(), "{operations}");
    }
}

#[test]
fn read_only_keys_in_a_pathless_value_are_ignored() {
    let (doc, changed) =
        patch_user(json!([{"op": "replace", "value": {"id": "u1", "meta": {"version": "x"}, "title": "Boss"}}]))
            .unwrap();
    assert_eq!(doc["title"], "Boss");
    assert_eq!(doc["meta"]["version"], "W/\"1\"");
    assert_eq!(changed, ["title"]);
}

#[test]
fn extension_urn_as_path_or_key_takes_an_object_of_attributes() {
    let (doc, _) = patch_user(json!([
        {"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": {"department": "R&D"}},
        {"op": "add", "value": {ENTERPRISE_USER_SCHEMA: {"costCenter": "42"}}}
    ]))
    .unwrap();
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"costCenter": "42", "department": "R&D"})
    );
}

#[test]
fn removing_an_absent_attribute_is_not_an_error() {
    let (doc, changed) = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]))
    .unwrap();
    assert_eq!(doc, user());
    assert!(changed.is_empty());
}

#[test]
fn parse_accepts_capitalised_ops_and_an_empty_operation_list() {
    assert!(
        parse_patch(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}))
            .unwrap()
            .is_empty()
    );
    let o = ops(json!([{"op": "REPLACE", "path": "", "value": {"active": true}}]));
    assert_eq!((o[0].op, o[0].path.is_none()), (PatchOpKind::Replace, true));
}

#[test]
fn parse_refuses_malformed_messages() {
    let cases = [
        (json!({"Operations": []}), ScimType::InvalidSyntax),
        (
            json!({"schemas": [USER_SCHEMA], "Operations": []}),
            ScimType::InvalidSyntax,
        ),
        (json!({"schemas": [PATCH_OP_SCHEMA]}), ScimType::InvalidSyntax),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "move", "path": "x"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove"}]}),
            ScimType::NoTarget,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": "a["}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "value": "x"}]}),
            ScimType::InvalidSyntax,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(parse_patch(&body).unwrap_err().scim_type, Some(want), "{body}");
    }
}

#[test]
fn removing_a_whole_extension_by_its_urn_drops_its_attributes() {
    let mut doc = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "a",
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7"}
    });
    let ops = ops(json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]));
    apply_patch(ResourceKind::User.builtin(), &mut doc, &ops).unwrap();
    assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
}
