//! A battery of malformed requests: each is answered 4xx in its protocol's error format
//! (a SCIM Error, or OAuth error JSON at the token endpoint), and none changes stored data
//! (a dump of everything a client can read, and the audit log's length, are unchanged).

use serde_json::{Value, json};

use crate::support::*;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const JSON: Option<&str> = Some("application/scim+json");

struct Case {
    name: &'static str,
    method: &'static str,
    /// Under the Base URL, or from the server's root when it starts with `/oauth2`.
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type,
        body: body.into(),
    }
}

fn json_case(name: &'static str, method: &'static str, path: &str, body: Value) -> Case {
    case(name, method, path, JSON, body.to_string())
}

/// One line per case: a table reads better unwrapped.
#[rustfmt::skip]
fn cases(user: &str, group: &str) -> Vec<Case> {
    let u = format!("/Users/{user}");
    let g = format!("/Groups/{group}");
    let deep = format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"deep\",\"x\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let mut invalid_utf8 = format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"bad").into_bytes();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(b"\"}");
    let mut form_utf8 = b"grant_type=client_credentials&client_id=".to_vec();
    form_utf8.extend_from_slice(&[0xff, 0xfe]);
    vec![
        // Not JSON, or not the JSON expected.
        case("truncated JSON", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":")),
        case("trailing garbage", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"x\"}} trailing")),
        case("empty body", "POST", "/Users", JSON, ""),
        case("a JSON array", "POST", "/Users", JSON, "[]"),
        case("a JSON string", "POST", "/Users", JSON, "\"alice\""),
        case("JSON null", "POST", "/Users", JSON, "null"),
        case("invalid UTF-8", "POST", "/Users", JSON, invalid_utf8),
        case("a UTF-8 byte order mark", "POST", "/Users", JSON, format!("\u{feff}{{\"schemas\":[\"{USER}\"],\"userName\":\"bom\"}}")),
        case("a NUL character in a value", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"nul\\u0000x\"}}")),
        case("a NUL character in a key", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"k\",\"nick\\u0000Name\":\"x\"}}")),
        case("a lone surrogate escape", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"\\ud800\"}}")),
        case("nested 200 levels deep", "POST", "/Users", JSON, deep),
        case("duplicate keys", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"one\",\"userName\":\"two\"}}")),
        case("duplicate keys in another case", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"one\",\"USERNAME\":\"two\"}}")),
        case("a number too large for JSON", "POST", "/Users", JSON, format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"n\",\"active\":1e400}}")),
        case("text/plain", "POST", "/Users", Some("text/plain"), json!({"schemas": [USER], "userName": "plain"}).to_string()),
        case("no content type", "POST", "/Users", None, json!({"schemas": [USER], "userName": "none"}).to_string()),
        case("form content type", "POST", "/Users", Some("application/x-www-form-urlencoded"), "userName=form"),
        // Valid JSON, invalid resources.
        json_case("no schemas", "POST", "/Users", json!({"userName": "noschema"})),
        json_case("an unknown schema", "POST", "/Users", json!({"schemas": ["urn:example:Bogus"], "userName": "bogus"})),
        json_case("an extension that is no object", "POST", "/Users", json!({"schemas": [USER, "urn:example:Ext:2.0:User"], "userName": "ext", "urn:example:Ext:2.0:User": "a"})),
        json_case("a schema that is no URN", "POST", "/Users", json!({"schemas": [USER, "acme"], "userName": "ext2"})),
        json_case("the Group schema on /Users", "POST", "/Users", json!({"schemas": [GROUP], "userName": "g", "displayName": "g"})),
        json_case("no userName", "POST", "/Users", json!({"schemas": [USER], "displayName": "nameless"})),
        json_case("userName null", "POST", "/Users", json!({"schemas": [USER], "userName": null})),
        json_case("userName empty", "POST", "/Users", json!({"schemas": [USER], "userName": ""})),
        // Scalars where strings go are read as strings (Entra sends employeeNumber as a
        // number), and one-element lists as their element: lenient on purpose, not here.
        json_case("userName a list of two", "POST", "/Users", json!({"schemas": [USER], "userName": ["a", "b"]})),
        json_case("userName an object", "POST", "/Users", json!({"schemas": [USER], "userName": {"v": "x"}})),
        json_case("active a string", "POST", "/Users", json!({"schemas": [USER], "userName": "act", "active": "yes"})),
        json_case("active a huge integer", "POST", "/Users", json!({"schemas": [USER], "userName": "big", "active": 123456789012345678u64})),
        json_case("name a string", "POST", "/Users", json!({"schemas": [USER], "userName": "nm", "name": "Bob"})),
        json_case("an email value an object", "POST", "/Users", json!({"schemas": [USER], "userName": "em", "emails": [{"value": {"a": "b"}}]})),
        json_case("a complex value where a string goes", "POST", "/Users", json!({"schemas": [USER], "userName": "cx", "displayName": {"a": 1}})),
        json_case("PUT with userName null", "PUT", &u, json!({"schemas": [USER], "userName": null})),
        json_case("PUT without userName", "PUT", &u, json!({"schemas": [USER], "displayName": "x"})),
        json_case("PUT an array", "PUT", &u, json!([{"schemas": [USER], "userName": "alice"}])),
        // Groups.
        json_case("group without displayName", "POST", "/Groups", json!({"schemas": [GROUP]})),
        json_case("group displayName null", "POST", "/Groups", json!({"schemas": [GROUP], "displayName": null})),
        json_case("member value a number", "POST", "/Groups", json!({"schemas": [GROUP], "displayName": "m", "members": [{"value": 12}]})),
        json_case("members not a list of objects", "POST", "/Groups", json!({"schemas": [GROUP], "displayName": "m2", "members": "alice"})),
        json_case("an unknown member", "POST", "/Groups", json!({"schemas": [GROUP], "displayName": "m3", "members": [{"value": "no-such-user"}]})),
        json_case("PUT group without displayName", "PUT", &g, json!({"schemas": [GROUP], "members": []})),
        // PATCH.
        json_case("PATCH without schemas", "PATCH", &u, json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]})),
        json_case("PATCH Operations not a list", "PATCH", &u, json!({"schemas": [PATCH], "Operations": {"op": "replace"}})),
        json_case("PATCH unknown op", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "explode", "path": "displayName"}]})),
        json_case("PATCH invalid path", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "name[[[", "value": "x"}]})),
        json_case("PATCH path a number", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": 7, "value": "x"}]})),
        json_case("PATCH userName to null", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": null}]})),
        json_case("PATCH remove userName", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "userName"}]})),
        json_case("PATCH add without value", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "nickName"}]})),
        json_case("PATCH second op invalid: nothing applied", "PATCH", &u, json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "half"},
            {"op": "replace", "path": "active", "value": "not a boolean"}
        ]})),
        json_case("PATCH group member a number", "PATCH", &g, json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": 3}]}]})),
        json_case("PATCH group unknown member", "PATCH", &g, json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]})),
        // Bulk.
        case("Bulk invalid JSON", "POST", "/Bulk", JSON, "{\"schemas\":"),
        json_case("Bulk without schemas", "POST", "/Bulk", json!({"Operations": []})),
        json_case("Bulk Operations not a list", "POST", "/Bulk", json!({"schemas": [BULK], "Operations": "POST"})),
        json_case("Bulk failOnErrors a string", "POST", "/Bulk", json!({"schemas": [BULK], "failOnErrors": "one", "Operations": []})),
        json_case("Bulk operation not an object", "POST", "/Bulk", json!({"schemas": [BULK], "Operations": [42]})),
        // Searches.
        json_case(".search without its schema", "POST", "/Users/.search", json!({"filter": "userName eq \"alice\""})),
        json_case(".search invalid filter", "POST", "/.search", json!({"schemas": [SEARCH], "filter": "userName eq"})),
        json_case(".search count a string", "POST", "/Users/.search", json!({"schemas": [SEARCH], "count": "many"})),
        case(".search invalid JSON", "POST", "/Groups/.search", JSON, "{filter"),
        case("GET filter unterminated", "GET", "/Users?filter=userName%20eq%20%22alice", None, ""),
        case("GET filter unknown operator", "GET", "/Users?filter=userName%20is%20%22alice%22", None, ""),
        case("GET attributes with an invalid path", "GET", "/Users?attributes=name%5B%5B", None, ""),
        case("GET sortBy with an invalid path", "GET", "/Users?sortBy=%5B%5Bx", None, ""),
        case("GET filter with a NUL character", "GET", "/Users?filter=userName%20eq%20%22a%00b%22", None, ""),
        case("GET startIndex not a number", "GET", "/Users?startIndex=abc", None, ""),
        // The token endpoint.
        case("token: no grant_type", "POST", "/oauth2/token", Some("application/x-www-form-urlencoded"), "client_id=x"),
        case("token: unknown grant_type", "POST", "/oauth2/token", Some("application/x-www-form-urlencoded"), "grant_type=password"),
        case("token: a JSON body", "POST", "/oauth2/token", Some("application/json"), "{\"grant_type\":\"client_credentials\"}"),
        case("token: invalid UTF-8", "POST", "/oauth2/token", Some("application/x-www-form-urlencoded"), form_utf8),
        case("token: a NUL in the client id", "POST", "/oauth2/token", Some("application/x-www-form-urlencoded"), "grant_type=client_credentials&client_id=a%00b&client_secret=c"),
        case("token: grant_type twice", "POST", "/oauth2/token", Some("application/x-www-form-urlencoded"), "grant_type=client_credentials&grant_type=client_credentials"),
        case("revoke: no token", "POST", "/oauth2/revoke", Some("application/x-www-form-urlencoded"), "client_id=x&client_secret=y"),
    ]
}

/// Everything a SCIM client can read, and how long the audit log is.
fn dump(scim: &Scim) -> (Value, Value, Vec<Vec<Option<String>>>) {
    let users = scim.get("/Users?count=1000").json();
    let groups = scim.get("/Groups?count=1000").json();
    let audit = sql_rows(scim.server.path(), "SELECT CAST(count(*) AS TEXT) FROM audit_event");
    (users, groups, audit)
}

#[test]
fn malformed_requests_get_4xx_errors_and_change_nothing() {
    let scim = Scim::start("internal");
    let alice = scim.user("alice");
    let uid = str_of(&alice, "id").to_owned();
    let group = scim.group("team", &[&uid]);
    let gid = str_of(&group, "id").to_owned();
    let before = dump(&scim);
    let auth = format!("Bearer {}", scim.token);
    let cases = cases(&uid, &gid);
    let mut failures = Vec::new();
    for c in &cases {
        let oauth = c.path.starts_with("/oauth2");
        let url = if oauth {
            format!("{}{}", scim.server.url, c.path)
        } else {
            format!("{}{}", scim.base, c.path)
        };
        let mut headers = Vec::new();
        if !oauth {
            headers.push(("Authorization", auth.as_str()));
        }
        if let Some(t) = c.content_type {
            headers.push(("Content-Type", t));
        }
        let r = call_bytes(c.method, &url, &headers, &c.body);
        let body: Option<Value> = serde_json::from_str(&r.body).ok();
        let well_formed = match (&body, oauth) {
            (Some(e), true) => e["error"].is_string(),
            (Some(e), false) => {
                e["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
                    && e["status"].as_str() == Some(r.status.to_string().as_str())
                    && r.header("content-type")
                        .is_some_and(|t| t.starts_with("application/scim+json"))
            }
            (None, _) => false,
        };
        if !(400..500).contains(&r.status) || !well_formed {
            failures.push(format!("{}: {} {}", c.name, r.status, r.body));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases misanswered:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("malformed requests: {} cases, each 4xx with an error body", cases.len());
    assert_eq!(dump(&scim), before, "a malformed request changed stored data");
}
