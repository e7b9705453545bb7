//! Filters through the live server (RFC 7644 §3.4.2.2), in the forms Okta and Entra send.

use serde_json::{Value, json};

use crate::support::{Scim, assert_scim_error, enc, ids, patch_op, str_of};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.org";
const CAROL: &str = "carol@example.com";

fn create(s: &Scim, body: &Value) -> Value {
    let r = s.call("POST", "/Users", Some(body));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// Three users that differ in every attribute the filters below look at; their ids.
fn people(s: &Scim) -> [String; 3] {
    let alice = create(
        s,
        &json!({
            "schemas": [USER, ENTERPRISE],
            "userName": ALICE,
            "externalId": "ext-A",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "title": "Engineer",
            "emails": [{"type": "work", "value": ALICE, "primary": true}],
            "active": true,
            ENTERPRISE: {"employeeNumber": "42", "department": "Ops"}
        }),
    );
    let bob = create(
        s,
        &json!({
            "schemas": [USER, ENTERPRISE],
            "userName": BOB,
            "externalId": "ext-b",
            "name": {"givenName": "Bob", "familyName": "Baker"},
            "emails": [{"type": "home", "value": BOB}],
            "active": false,
            ENTERPRISE: {"employeeNumber": "7"}
        }),
    );
    let carol = create(
        s,
        &json!({
            "schemas": [USER],
            "userName": CAROL,
            "name": {"givenName": "Carol", "familyName": "Cooper"},
            "title": "Manager",
            "emails": [
                {"type": "work", "value": CAROL, "primary": true},
                {"type": "home", "value": "carol@home.net"}
            ],
            "active": true
        }),
    );
    [alice, bob, carol].map(|u| str_of(&u, "id").to_owned())
}

/// The sorted userNames `filter` selects on /Users; `totalResults` must agree.
fn matching(s: &Scim, filter: &str) -> Vec<String> {
    let r = s.get(&format!("/Users?filter={}", enc(filter)));
    assert_eq!(r.status, 200, "filter {filter}: {}", r.body);
    let list = r.json();
    let mut names: Vec<String> = list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources for {filter}: {list}"))
        .iter()
        .map(|u| str_of(u, "userName").to_owned())
        .collect();
    assert_eq!(list["totalResults"], names.len(), "filter {filter}: {list}");
    names.sort();
    names
}

fn expect(s: &Scim, cases: &[(&str, &[&str])]) {
    for (filter, want) in cases {
        assert_eq!(matching(s, filter), want.to_vec(), "filter: {filter}");
    }
}

#[test]
fn comparison_operators_select_the_users_rfc_7644_says_they_do() {
    let s = Scim::start("internal");
    let [alice, ..] = people(&s);
    let by_id = format!("id eq \"{alice}\"");
    expect(
        &s,
        &[
            (r#"userName eq "alice@example.com""#, &[ALICE]),
            (r#"userName ne "alice@example.com""#, &[BOB, CAROL]),
            (r#"userName co "example""#, &[ALICE, BOB, CAROL]),
            (r#"userName sw "CA""#, &[CAROL]),
            (r#"userName ew ".ORG""#, &[BOB]),
            ("title pr", &[ALICE, CAROL]),
            ("externalId pr", &[ALICE, BOB]),
            (r#"userName gt "bob@example.org""#, &[CAROL]),
            (r#"userName ge "bob@example.org""#, &[BOB, CAROL]),
            (r#"userName lt "bob@example.org""#, &[ALICE]),
            (r#"userName le "BOB@EXAMPLE.ORG""#, &[ALICE, BOB]),
            (r#"title eq "engineer""#, &[ALICE]),
            ("active eq false", &[BOB]),
            ("active eq true", &[ALICE, CAROL]),
            (&by_id, &[ALICE]),
        ],
    );
}

#[test]
fn user_name_matches_in_any_case_but_external_id_only_in_its_own() {
    let s = Scim::start("internal");
    people(&s);
    expect(
        &s,
        &[
            // Okta's spec test looks users up in upper case.
            (r#"userName eq "ALICE@EXAMPLE.COM""#, &[ALICE]),
            // Attribute names and operators are case-insensitive too (§3.4.2.2).
            (r#"USERNAME EQ "Alice@Example.com""#, &[ALICE]),
            // externalId is caseExact (RFC 7643 §3.1).
            (r#"externalId eq "ext-A""#, &[ALICE]),
            (r#"externalId eq "EXT-A""#, &[]),
            (r#"externalId eq "ext-a""#, &[]),
        ],
    );
}

#[test]
fn logical_operators_combine_with_and_binding_tighter_than_or() {
    let s = Scim::start("internal");
    people(&s);
    expect(
        &s,
        &[
            (r#"title pr and userName sw "a""#, &[ALICE]),
            (r#"userName sw "a" or userName sw "b""#, &[ALICE, BOB]),
            (r#"not (userName sw "a")"#, &[BOB, CAROL]),
            ("not (title pr)", &[BOB]),
            (r#"(userName sw "a" or userName sw "b") and active eq true"#, &[ALICE]),
            // bob or (alice and a manager): "and" first; left to right would give nobody.
            (r#"active eq false or userName sw "a" and title eq "Manager""#, &[BOB]),
            (r#"not (active eq true) or title eq "Manager""#, &[BOB, CAROL]),
        ],
    );
}

#[test]
fn value_paths_sub_attributes_and_extension_urns_reach_inside_attributes() {
    let s = Scim::start("internal");
    people(&s);
    expect(
        &s,
        &[
            (r#"emails[type eq "work" and value co "@example.com"]"#, &[ALICE, CAROL]),
            (r#"emails[type eq "home" and value ew ".net"]"#, &[CAROL]),
            // Both conditions hold for one and the same email: carol's example.com is "work".
            (r#"emails[type eq "home" and value co "example"]"#, &[BOB]),
            // Entra's form.
            (r#"emails[type eq "work"].value eq "carol@example.com""#, &[CAROL]),
            (r#"emails.value co "home.net""#, &[CAROL]),
            (r#"emails.type eq "home""#, &[BOB, CAROL]),
            (r#"name.givenName eq "alice""#, &[ALICE]),
            (r#"name.familyName sw "C""#, &[CAROL]),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#,
                &[ALICE],
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
                &[ALICE],
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.org""#,
                &[BOB],
            ),
        ],
    );
}

#[test]
fn last_modified_compares_as_a_date_time() {
    let s = Scim::start("internal");
    let [_, bob, carol] = people(&s);
    expect(
        &s,
        &[
            (r#"meta.lastModified gt "2000-01-01T00:00:00Z""#, &[ALICE, BOB, CAROL]),
            (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, &[]),
        ],
    );
    let carol_modified = s.get(&format!("/Users/{carol}")).json()["meta"]["lastModified"].clone();
    let carol_modified = carol_modified.as_str().unwrap_or_default().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = s.call(
        "PATCH",
        &format!("/Users/{bob}"),
        Some(&patch_op(
            json!([{"op": "replace", "path": "title", "value": "Tester"}]),
        )),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let bob_modified = r.json()["meta"]["lastModified"].as_str().unwrap_or_default().to_owned();
    expect(
        &s,
        &[
            (&format!("meta.lastModified gt \"{carol_modified}\""), &[BOB]),
            (&format!("meta.lastModified ge \"{bob_modified}\""), &[BOB]),
            (&format!("meta.lastModified lt \"{bob_modified}\""), &[ALICE, CAROL]),
        ],
    );
    // The same instant written with another offset: compared as a time, not as text.
    let elsewhere = same_instant_elsewhere(&bob_modified);
    expect(
        &s,
        &[
            (&format!("meta.lastModified eq \"{elsewhere}\""), &[BOB]),
            (&format!("meta.lastModified ge \"{elsewhere}\""), &[BOB]),
            (&format!("meta.lastModified gt \"{elsewhere}\""), &[]),
        ],
    );
}

/// A UTC date-time written with an offset of half an hour, chosen so that only the minutes
/// change: `10:45:01Z` becomes `10:15:01-00:30`.
fn same_instant_elsewhere(utc: &str) -> String {
    let t = utc
        .strip_suffix('Z')
        .or_else(|| utc.strip_suffix("+00:00"))
        .unwrap_or_else(|| panic!("not UTC: {utc}"));
    let (date, time) = t.split_once('T').unwrap_or_else(|| panic!("not a date-time: {utc}"));
    let minute: u32 = time[3..5].parse().unwrap_or_else(|e| panic!("{utc}: {e}"));
    let (minute, offset) = if minute >= 30 {
        (minute - 30, "-00:30")
    } else {
        (minute + 30, "+00:30")
    };
    format!("{date}T{}:{minute:02}{}{offset}", &time[..2], &time[5..])
}

#[test]
fn okta_existence_check_without_a_match_is_an_empty_list_response() {
    let s = Scim::start("internal");
    s.user("someone.else@example.com");
    let check = "/Users?filter=userName%20eq%20%22jane%40example.com%22&startIndex=1&count=100";
    let r = s.get(check);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let list = r.json();
    assert_eq!(list["schemas"], json!([LIST]));
    assert!(list["totalResults"].is_u64(), "{list}");
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["itemsPerPage"], 0);
    assert_eq!(
        list["Resources"],
        json!([]),
        "Resources must be present and empty: {list}"
    );

    let jane = s.user("jane@example.com");
    let found = s
        .get("/Users?filter=userName%20eq%20%22JANE%40EXAMPLE.COM%22&startIndex=1&count=100")
        .json();
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(ids(&found), vec![str_of(&jane, "id").to_owned()]);
}

#[test]
fn entra_test_connection_with_a_random_guid_finds_nothing() {
    let s = Scim::start("internal");
    s.user("jane@example.com");
    s.group("Ops", &[]);
    let guid = "8f2c5d1e-3a4b-4c6d-9e8f-0a1b2c3d4e5f";
    for (endpoint, attr) in [
        ("/Users", "userName"),
        ("/Users", "externalId"),
        ("/Users", "id"),
        ("/Groups", "displayName"),
    ] {
        let r = s.get(&format!("{endpoint}?filter={}", enc(&format!("{attr} eq \"{guid}\""))));
        assert_eq!(r.status, 200, "{attr}: {}", r.body);
        let list = r.json();
        assert_eq!(list["totalResults"], 0, "{attr}: {list}");
        assert_eq!(list["Resources"], json!([]), "{attr}: {list}");
    }
}

#[test]
fn groups_are_found_by_display_name_without_their_members() {
    let s = Scim::start("internal");
    let u1 = s.user("u1@example.com");
    let u2 = s.user("u2@example.com");
    let ops = s.group("Ops", &[str_of(&u1, "id"), str_of(&u2, "id")]);
    s.group("Sales", &[]);
    for name in ["Ops", "ops"] {
        let filter = enc(&format!("displayName eq \"{name}\""));
        let list = s
            .get(&format!("/Groups?filter={filter}&excludedAttributes=members"))
            .json();
        assert_eq!(list["totalResults"], 1, "{name}: {list}");
        let g = &list["Resources"][0];
        assert_eq!(g["id"], ops["id"]);
        assert_eq!(g["displayName"], "Ops");
        assert!(g.get("members").is_none(), "members were excluded: {g}");
    }
    let full = s
        .get(&format!("/Groups?filter={}", enc("displayName eq \"Ops\"")))
        .json();
    assert_eq!(
        full["Resources"][0]["members"].as_array().map(Vec::len),
        Some(2),
        "{full}"
    );
}

#[test]
fn membership_check_by_group_and_member_id_answers_one_or_none() {
    let s = Scim::start("internal");
    let inside = s.user("inside@example.com");
    let outside = s.user("outside@example.com");
    let g = s.group("Ops", &[str_of(&inside, "id")]);
    let other = s.group("Sales", &[str_of(&outside, "id")]);
    let check = |group: &Value, user: &Value| {
        let filter = format!(
            "id eq \"{}\" and members eq \"{}\"",
            str_of(group, "id"),
            str_of(user, "id")
        );
        let r = s.get(&format!("/Groups?filter={}&excludedAttributes=members", enc(&filter)));
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        let list = r.json();
        assert_eq!(list["totalResults"].as_u64(), Some(ids(&list).len() as u64), "{list}");
        ids(&list)
    };
    assert_eq!(check(&g, &inside), vec![str_of(&g, "id").to_owned()]);
    assert!(check(&g, &outside).is_empty());
    assert!(check(&other, &inside).is_empty());
    assert_eq!(check(&other, &outside), vec![str_of(&other, "id").to_owned()]);
    let by_value = s
        .get(&format!(
            "/Groups?filter={}",
            enc(&format!("members.value eq \"{}\"", str_of(&inside, "id")))
        ))
        .json();
    assert_eq!(ids(&by_value), vec![str_of(&g, "id").to_owned()]);
}

#[test]
fn malformed_filters_and_unknown_attributes_are_400_invalid_filter() {
    let s = Scim::start("internal");
    s.user("jane@example.com");
    let bad = [
        "userName eq",
        r#"userName eq "unterminated"#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName xx "a""#,
        r#"userName eq "a" and"#,
        r#"emails[type eq "work""#,
        "and",
        r#"userName eq "a" userName eq "b""#,
        // Ordering comparisons on a boolean are invalidFilter (RFC 7644 §3.4.2.2).
        "active gt false",
        // Unknown attributes, in the core schema, a sub-attribute and an extension.
        r#"noSuchThing eq "x""#,
        r#"name.noSuchPart eq "x""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:noSuch eq "x""#,
    ];
    for f in bad {
        let r = s.get(&format!("/Users?filter={}", enc(f)));
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    let r = s.call(
        "POST",
        "/Users/.search",
        Some(&json!({"schemas": [SEARCH], "filter": "userName eq"})),
    );
    assert_scim_error(&r, 400, Some("invalidFilter"));
}
