use super::*;

#[test]
fn user_schema_lists_every_rfc_attribute() {
    let names: Vec<&str> = user_schema().attributes.iter().map(|a| a.name.as_str()).collect();
    for want in [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        assert!(names.contains(&want), "{want}");
    }
}

#[test]
fn attribute_lookup_is_case_insensitive_and_finds_common_attributes() {
    let s = user_schema();
    assert_eq!(s.attribute("USERNAME").map(|a| a.name.as_str()), Some("userName"));
    assert_eq!(s.attribute("id").map(|a| a.returned), Some(Returned::Always));
    assert!(s.attribute("externalid").is_some_and(|a| a.case_exact));
    assert!(group_schema().attribute("meta").is_some());
    assert!(enterprise_user_schema().attribute("id").is_none());
}

#[test]
fn characteristics_follow_the_rfc() {
    let s = user_schema();
    let user_name = s.attribute("userName").unwrap();
    assert!(user_name.required && !user_name.case_exact && user_name.uniqueness == Uniqueness::Server);
    let password = s.attribute("password").unwrap();
    assert_eq!(
        (password.mutability, password.returned),
        (Mutability::WriteOnly, Returned::Never)
    );
    assert_eq!(s.attribute("groups").unwrap().mutability, Mutability::ReadOnly);
    let members = group_schema().attribute("members").unwrap();
    assert_eq!(
        members.sub_attribute("VALUE").unwrap().mutability,
        Mutability::Immutable
    );
    let manager = enterprise_user_schema().attribute("manager").unwrap();
    assert_eq!(
        manager.sub_attribute("displayName").unwrap().mutability,
        Mutability::ReadOnly
    );
}

#[test]
fn schema_by_id_ignores_case() {
    assert_eq!(
        schema_by_id("URN:IETF:params:scim:schemas:core:2.0:user").map(|s| s.id.as_str()),
        Some(USER_SCHEMA)
    );
    assert!(schema_by_id("urn:example:nope").is_none());
}

#[test]
fn resolve_finds_core_extension_and_sub_attributes() {
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.value").unwrap();
    let r = resolve(ResourceKind::User.builtin(), &p).unwrap();
    assert_eq!(
        (
            r.schema.id.as_str(),
            r.attr.name.as_str(),
            r.sub.map(|s| s.name.as_str())
        ),
        (ENTERPRISE_USER_SCHEMA, "manager", Some("value"))
    );
    assert_eq!(r.qualified_name(), format!("{ENTERPRISE_USER_SCHEMA}:manager"));
    let r = resolve(
        ResourceKind::User.builtin(),
        &AttrPath::parse("name.givenname").unwrap(),
    )
    .unwrap();
    assert_eq!(
        (r.attr.name.as_str(), r.sub.map(|s| s.name.as_str())),
        ("name", Some("givenName"))
    );
    assert!(resolve(ResourceKind::Group.builtin(), &AttrPath::parse("userName").unwrap()).is_none());
    assert!(resolve(ResourceKind::User.builtin(), &AttrPath::parse("name.nope").unwrap()).is_none());
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:Group:displayName").unwrap();
    assert!(resolve(ResourceKind::User.builtin(), &p).is_none());
}

#[test]
fn schema_json_follows_rfc_7643_section_7() {
    let j = user_schema().to_json();
    assert_eq!(j["id"], USER_SCHEMA);
    assert_eq!(j["schemas"][0], SCHEMA_SCHEMA);
    let attrs = j["attributes"].as_array().unwrap();
    let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
    assert_eq!(emails["multiValued"], true);
    let ty = emails["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "type")
        .unwrap();
    assert_eq!(ty["canonicalValues"], serde_json::json!(["work", "home", "other"]));
    let user_name = &attrs[0];
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
}

#[test]
fn resource_kinds_know_their_endpoints_and_extensions() {
    assert_eq!(ResourceKind::User.endpoint(), "/Users");
    assert_eq!(ResourceKind::Group.name(), "Group");
    assert_eq!(
        ResourceKind::User.builtin().extensions()[0].schema.id,
        ENTERPRISE_USER_SCHEMA
    );
    assert!(ResourceKind::Group.builtin().extensions().is_empty());
}
