//! Change events end to end: a real server delivering to a real receiver on port 0
//! (allowed with `--receiver-allow 127.0.0.0/8`), webhooks checked the way a Standard
//! Webhooks receiver checks them, and what arrives compared with the stream scimd kept.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::receiver::{Receiver, event_id, verify_webhook};
use crate::support::{Scim, Server, patch_op, str_of};

const ALLOW: [&str; 2] = ["--receiver-allow", "127.0.0.0/8"];
const WAIT: Duration = Duration::from_secs(20);

const SERVE: [&str; 4] = [ALLOW[0], ALLOW[1], "--delivery-first-retry", "100ms"];

/// A server that may deliver to local receivers and retries quickly.
fn server(extra: &[&str]) -> Scim {
    let mut serve = SERVE.to_vec();
    serve.extend_from_slice(extra);
    Scim::start_serving("internal", &serve)
}

/// A second instance of `scim`'s server (the same settings) for another provider.
fn instance_for(scim: &Scim, name: &str, population: &str) -> Scim {
    let (base, token) = scim.another(name, population);
    let server = Server::start_sharing_serving(&scim.server, &SERVE);
    let base = base.replacen(&scim.server.url, &server.url, 1);
    Scim { server, token, base }
}

/// `scimd subscription add ... --json` with the allow setting; the printed subscription.
pub(crate) fn subscribe(server: &Server, args: &[&str]) -> Value {
    let mut all = vec![ALLOW[0], ALLOW[1], "subscription", "add", "--json"];
    all.extend_from_slice(args);
    let out = server.cli(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("subscription add --json: {e}"))
}

/// The provider's stream as scimd kept it (`events list --json`, JSON lines).
pub(crate) fn stream(server: &Server, provider: &str) -> Vec<Value> {
    let out = server.cli(&["events", "list", "--provider", provider, "--json", "--limit", "10000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Wait until the receiver accepted `n` distinct events.
fn wait_accepted(r: &Receiver, n: usize) -> Vec<crate::support::receiver::Received> {
    r.wait_for(WAIT, &format!("{n} events accepted"), |_| r.accepted_once().len() >= n);
    r.accepted_once()
}

/// What arrived for `provider`, first delivery of each event, must be its stream: every
/// event once, in position order, each signed with `secret`.
fn assert_is_stream(server: &Server, r: &Receiver, provider: &str, secret: &str) {
    let kept = stream(server, provider);
    assert!(!kept.is_empty());
    let got: Vec<_> = wait_accepted(r, 0)
        .into_iter()
        .filter(|g| g.json()["data"]["provider"] == provider)
        .collect();
    let ids: Vec<&str> = kept.iter().map(|e| str_of(e, "id")).collect();
    let got_ids: Vec<String> = got.iter().map(event_id).collect();
    assert_eq!(got_ids, ids, "every event of {provider} once, in stream order");
    for (g, e) in got.iter().zip(&kept) {
        assert!(verify_webhook(g, secret), "signature of {}", event_id(g));
        let body = g.json();
        assert_eq!(body["type"], e["type"]);
        assert_eq!(body["data"]["position"], e["position"]);
        if body["type"].as_str().is_some_and(|t| t.starts_with("group.")) {
            assert!(
                body["data"]["resource"].get("members").is_none(),
                "group events never carry members"
            );
        }
    }
}

#[test]
fn a_scripted_okta_and_entra_session_arrives_once_in_order_and_signed() {
    let okta = server(&[]);
    let s = &okta.server;
    let receiver = Receiver::start();
    let sub = subscribe(s, &["--url", &receiver.url, "--format", "webhook"]);
    let secret = str_of(&sub, "secret").to_owned();
    assert!(secret.starts_with("whsec_"));

    // Okta: users, a group, members added and removed the way Okta patches, a deactivation.
    let alice = okta.user("alice@example.com");
    let bob = okta.user("bob@example.com");
    let (a, b) = (str_of(&alice, "id"), str_of(&bob, "id"));
    let group = okta.group("Engineering", &[a]);
    let g = str_of(&group, "id");
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": b, "display": "bob"}]}]));
    assert_eq!(okta.call("PATCH", &format!("/Groups/{g}"), Some(&add)).status, 204);
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]));
    assert_eq!(okta.call("PATCH", &format!("/Groups/{g}"), Some(&remove)).status, 204);
    let off = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(okta.call("PATCH", &format!("/Users/{b}"), Some(&off)).status, 200);

    // Entra: its own provider (third-party), path-style replaces, "False" as a string, delete.
    let entra = instance_for(&okta, "Entra", "third-party");
    let carol = entra.user("carol@vendor.example");
    let c = str_of(&carol, "id");
    let rename = patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Carol V."}]));
    assert_eq!(entra.call("PATCH", &format!("/Users/{c}"), Some(&rename)).status, 200);
    let disable = patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(entra.call("PATCH", &format!("/Users/{c}"), Some(&disable)).status, 200);
    let vendors = entra.group("Vendors", &[c]);
    assert_eq!(entra.call("DELETE", &format!("/Users/{c}"), None).status, 204);
    drop(vendors);

    let okta_types: Vec<String> = stream(s, "okta").iter().map(|e| str_of(e, "type").to_owned()).collect();
    assert_eq!(
        okta_types,
        [
            "user.created",
            "user.created",
            "group.created",
            "group.member_added",
            "group.member_added",
            "group.member_removed",
            "user.deactivated"
        ]
    );
    let entra_types: Vec<String> = stream(s, "entra")
        .iter()
        .map(|e| str_of(e, "type").to_owned())
        .collect();
    assert_eq!(
        entra_types,
        [
            "user.created",
            "user.updated",
            "user.deactivated",
            "group.created",
            "group.member_added",
            "user.deleted",
            "group.member_removed"
        ]
    );
    wait_accepted(&receiver, okta_types.len() + entra_types.len());
    assert_is_stream(s, &receiver, "okta", &secret);
    assert_is_stream(s, &receiver, "entra", &secret);
    // Each attempt is signed at its own time, within a receiver's tolerance of now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    for r in receiver.all() {
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap_or_default();
        assert!((now - ts).abs() < 300, "timestamp {ts} vs now {now}");
    }
}

#[test]
fn a_receiver_down_for_a_while_gets_everything_in_order_once_back() {
    let scim = server(&[]);
    let receiver = Receiver::start();
    receiver.answer(|_| 0);
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    for i in 0..20 {
        scim.user(&format!("u{i}@example.com"));
    }
    receiver.wait_for(WAIT, "failed attempts", |got| got.len() >= 3);
    let show = scim.server.cli(&["subscription", "show", str_of(&sub, "id"), "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    assert_eq!(shown["lag_events"], 20, "{shown}");
    assert!(shown["last_error"].is_string(), "{shown}");
    // A 503 for a while, then up.
    receiver.answer(|_| 503);
    receiver.wait_for(WAIT, "503s", |got| got.iter().any(|r| r.answered == 503));
    receiver.answer(|_| 204);
    wait_accepted(&receiver, 20);
    assert_is_stream(&scim.server, &receiver, "okta", str_of(&sub, "secret"));
}

#[test]
fn kill_9_in_the_middle_of_delivery_loses_nothing() {
    let mut scim = server(&[]);
    let receiver = Receiver::start();
    receiver.slow(Duration::from_millis(20));
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(str_of(&scim.user(&format!("k{i}@example.com")), "id").to_owned());
    }
    receiver.wait_for(WAIT, "some deliveries", |got| got.len() >= 10);
    scim.server.kill9();
    let before = receiver.accepted_once().len();
    assert!(before < 60, "the kill came before the end ({before})");
    scim.restart();
    receiver.slow(Duration::ZERO);
    wait_accepted(&receiver, 60);
    assert_is_stream(&scim.server, &receiver, "okta", str_of(&sub, "secret"));
}

#[test]
fn a_permanently_refused_event_is_dead_lettered_while_later_ones_flow_and_can_be_retried() {
    let scim = server(&[]);
    let receiver = Receiver::start();
    receiver.answer(|r| {
        if r.json()["data"]["resource"]["userName"] == "poison@example.com" {
            422
        } else {
            204
        }
    });
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    let id = str_of(&sub, "id").to_owned();
    scim.user("before@example.com");
    scim.user("poison@example.com");
    scim.user("after@example.com");
    wait_accepted(&receiver, 2);
    let names: Vec<String> = receiver
        .accepted_once()
        .iter()
        .map(|r| {
            r.json()["data"]["resource"]["userName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["before@example.com", "after@example.com"]);
    let refused = receiver.all().iter().filter(|r| r.answered == 422).count();
    assert_eq!(refused, 5, "a permanent refusal is tried 5 times");
    let dead = scim.server.cli(&["subscription", "dead-letters", &id, "--json"]);
    let dead: Value = serde_json::from_slice(&dead.stdout).unwrap_or_default();
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
    assert_eq!(dead[0]["position"], 2);
    assert!(str_of(&dead[0], "reason").contains("422"), "{dead}");
    // The receiver is fixed; the dead letter goes again (with what followed it).
    receiver.answer(|_| 204);
    assert!(scim.server.cli(&["subscription", "retry", &id]).status.success());
    receiver.wait_for(WAIT, "the dead letter delivered", |got| {
        got.iter()
            .any(|r| r.answered == 204 && r.json()["data"]["resource"]["userName"] == "poison@example.com")
    });
    let dead = scim.server.cli(&["subscription", "dead-letters", &id, "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&dead.stdout).unwrap_or_default(),
        json!([])
    );
}

#[test]
fn gone_pauses_the_subscription_and_resume_delivers_the_rest() {
    let scim = server(&[]);
    let receiver = Receiver::start();
    receiver.answer(|_| 410);
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    let id = str_of(&sub, "id").to_owned();
    scim.user("one@example.com");
    receiver.wait_for(WAIT, "a 410", |got| !got.is_empty());
    let shown = || -> Value {
        let out = scim.server.cli(&["subscription", "show", &id, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let start = std::time::Instant::now();
    while shown()["state"] != "paused" && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(shown()["state"], "paused");
    assert!(str_of(&shown(), "state_reason").contains("410"));
    scim.user("two@example.com");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.all().len(), 1, "nothing is sent while paused");
    receiver.answer(|_| 204);
    assert!(scim.server.cli(&["subscription", "resume", &id]).status.success());
    wait_accepted(&receiver, 2);
}

#[test]
fn replay_delivers_again_from_a_position_with_the_same_ids() {
    let scim = server(&[]);
    let receiver = Receiver::start();
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    let id = str_of(&sub, "id").to_owned();
    for i in 0..5 {
        scim.user(&format!("r{i}@example.com"));
    }
    let first: Vec<String> = wait_accepted(&receiver, 5).iter().map(event_id).collect();
    let out = scim.server.cli(&["subscription", "replay", &id, "--from", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    receiver.wait_for(WAIT, "the replay", |got| got.len() >= 8);
    let again: Vec<String> = receiver.all()[5..].iter().map(event_id).collect();
    assert_eq!(again, first[2..].to_vec(), "positions 3 to 5 again, with their ids");
    let bad = scim.server.cli(&["subscription", "replay", &id, "--from", "0"]);
    assert!(!bad.status.success());
}

#[test]
fn filters_pick_the_events_and_notice_payloads_carry_no_values() {
    let scim = server(&[]);
    let receiver = Receiver::start();
    subscribe(
        &scim.server,
        &[
            "--url",
            &receiver.url,
            "--format",
            "webhook",
            "--population",
            "internal",
            "--events",
            "user.created,user.deactivated",
            "--payload",
            "notice",
        ],
    );
    let user = scim.user("f@example.com");
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    scim.call("PATCH", &format!("/Users/{}", str_of(&user, "id")), Some(&off));
    scim.group("Not sent", &[]);
    let vendor = instance_for(&scim, "Vendor", "third-party");
    vendor.user("v@vendor.example");
    let got = wait_accepted(&receiver, 2);
    std::thread::sleep(Duration::from_millis(1200));
    let types: Vec<String> = receiver
        .accepted_once()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types, ["user.created", "user.deactivated"]);
    for r in got {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            !body.contains("f@example.com"),
            "a notice carries no attribute values: {body}"
        );
        assert!(r.json()["data"]["attributes"].is_array());
    }
}

#[test]
fn a_private_receiver_is_refused_without_the_allow_setting_also_when_delivering() {
    let scim = Scim::start("internal");
    let receiver = Receiver::start();
    for url in [
        receiver.url.as_str(),
        "http://169.254.169.254/latest",
        "https://10.0.0.1/x",
    ] {
        let out = scim
            .server
            .cli(&["subscription", "add", "--url", url, "--format", "webhook"]);
        assert!(!out.status.success(), "{url} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--receiver-allow"), "{err}");
    }
    // Made while allowed, delivered by a server that does not allow it: refused at the
    // connection, so set aside rather than sent.
    let sub = subscribe(&scim.server, &["--url", &receiver.url, "--format", "webhook"]);
    scim.user("ssrf@example.com");
    let id = str_of(&sub, "id");
    let start = std::time::Instant::now();
    loop {
        let out = scim.server.cli(&["subscription", "dead-letters", id, "--json"]);
        let dead: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            assert!(str_of(&dead[0], "reason").contains("loopback"), "{dead}");
            break;
        }
        assert!(start.elapsed() < WAIT, "no dead letter: {dead}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(receiver.all().is_empty(), "nothing reached the receiver");
}

#[test]
fn two_instances_deliver_once_and_the_other_takes_over_when_the_holder_dies() {
    let mut a = server(&[]);
    let b_server = Server::start_sharing_serving(&a.server, &SERVE);
    let mut b = Scim {
        base: a.base.replacen(&a.server.url, &b_server.url, 1),
        server: b_server,
        token: a.token.clone(),
    };
    let receiver = Receiver::start();
    let sub = subscribe(&a.server, &["--url", &receiver.url, "--format", "webhook"]);
    for i in 0..20 {
        let on = if i % 2 == 0 { &a } else { &b };
        on.user(&format!("m{i}@example.com"));
    }
    wait_accepted(&receiver, 20);
    std::thread::sleep(Duration::from_millis(1500));
    let all = receiver.all();
    assert_eq!(all.len(), 20, "no event delivered twice in normal operation");

    // Which instance holds the lease? The holder is `host:pid:random`.
    let holder = crate::support::sql_rows(a.server.path(), "SELECT lease_holder FROM subscription");
    let pid: u32 = holder[0][0]
        .as_deref()
        .and_then(|h| h.split(':').nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("lease holder {holder:?}"));
    let a_held = pid == a.server.pid();
    if a_held {
        a.server.kill9();
    } else {
        assert_eq!(pid, b.server.pid());
        b.server.kill9();
    }
    let killed = std::time::Instant::now();
    if a_held { &b } else { &a }.user("after-the-kill@example.com");
    wait_accepted(&receiver, 21);
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(15), "take-over took {took:?}");
    // The database lives in A's directory (B shares it).
    assert_is_stream(&a.server, &receiver, "okta", str_of(&sub, "secret"));
}

#[test]
fn a_thousand_member_patch_is_a_thousand_events_and_a_refused_change_none() {
    let scim = server(&[]);
    let mut members = Vec::new();
    for chunk in 0..10 {
        let ops: Vec<Value> = (0..100)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{chunk}-{i}"),
                       "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": format!("bulk{chunk}-{i}@example.com")}})
            })
            .collect();
        let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
        let r = scim.call("POST", &format!("{}/Bulk", scim.base), Some(&bulk));
        assert_eq!(r.status, 200, "{}", r.body);
        for op in r.json()["Operations"].as_array().into_iter().flatten() {
            let location = op["location"].as_str().unwrap_or_default();
            members.push(location.rsplit('/').next().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(members.len(), 1000);
    let group = scim.group("Everyone", &[]);
    let g = str_of(&group, "id");
    let before = stream(&scim.server, "okta").len();
    let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let add = patch_op(json!([{"op": "add", "path": "members", "value": value}]));
    assert!(scim.call("PATCH", &format!("/Groups/{g}"), Some(&add)).status < 300);
    let after = stream(&scim.server, "okta");
    let added: Vec<&Value> = after[before..].iter().collect();
    assert_eq!(added.len(), 1000);
    assert!(
        added
            .iter()
            .all(|e| e["type"] == "group.member_added" && e["resource_id"] == g)
    );
    let txns: std::collections::HashSet<&str> = added.iter().map(|e| str_of(e, "txn")).collect();
    assert_eq!(txns.len(), 1, "one change, one transaction id");
    // Refused changes (a duplicate userName, a patch naming a member that does not exist)
    // roll back with no event.
    let dup = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bulk0-0@example.com"});
    assert_eq!(scim.call("POST", "/Users", Some(&dup)).status, 409);
    let bad =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": members[0]}, {"value": "nobody"}]}]));
    assert_eq!(scim.call("PATCH", &format!("/Groups/{g}"), Some(&bad)).status, 400);
    assert_eq!(stream(&scim.server, "okta").len(), after.len());
    // Replacing the members tells only who left and who joined.
    let keep: Vec<Value> = members[..998].iter().map(|m| json!({"value": m})).collect();
    let put =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Everyone", "members": keep});
    assert_eq!(scim.call("PUT", &format!("/Groups/{g}"), Some(&put)).status, 200);
    let last = stream(&scim.server, "okta");
    let types: Vec<&str> = last[after.len()..].iter().map(|e| str_of(e, "type")).collect();
    assert_eq!(types, ["group.member_removed", "group.member_removed"]);
}

#[test]
fn events_tail_follows_the_streams_as_json_lines() {
    let scim = server(&[]);
    let mut tail = std::process::Command::new(crate::support::BIN)
        .args(crate::support::db_args(scim.server.path()))
        .args(["events", "tail", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = tail.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    let user = scim.user("tailed@example.com");
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("tail printed nothing"));
    let _ = tail.kill();
    let _ = tail.wait();
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["type"], "user.created");
    assert_eq!(event["resource_id"], user["id"]);
    assert_eq!(event["position"], 1);
}
