//! Durability: `kill -9` under load loses nothing that was acknowledged and leaves no change
//! half-applied; SIGTERM finishes requests in flight, refuses new connections and closes the
//! database cleanly.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;
use crate::wire::*;

const ROUNDS: usize = 5;
/// Threads that create users, patch their own group (add a member, rename it, set its
/// externalId: one PATCH) and their own user (three attributes: one PATCH).
const PATCHERS: usize = 2;
/// Threads that only create users.
const CREATORS: usize = 2;
/// Each round's server is killed once this many of its changes were acknowledged: early in
/// the load and well into it.
const KILL_AFTER: [usize; ROUNDS] = [100, 1_000, 250, 2_000, 500];

/// What one patcher sent and what it was told, across rounds.
#[derive(Default)]
struct Patcher {
    user_id: String,
    group_id: String,
    /// Sequence numbers of group PATCHes sent (maybe applied), with the member each added.
    group_sent: Vec<(u64, String)>,
    group_acked: Option<u64>,
    user_sent: Option<u64>,
    user_acked: Option<u64>,
}

/// A client thread's round: every change it saw acknowledged.
#[derive(Default)]
struct Round {
    users: Vec<(String, String)>,
    acked: usize,
}

fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Crash", "familyName": user_name},
        "active": true
    })
}

/// POST a user; `Ok(None)` when the answer never came (the server died).
fn create(scim: &Scim, user_name: &str) -> Option<String> {
    let r = scim.try_call("POST", "/Users", Some(&user_body(user_name))).ok()?;
    assert_eq!(r.status, 201, "{}", r.body);
    Some(str_of(&r.json(), "id").to_owned())
}

/// PATCH; `false` when the answer never came.
fn patch(scim: &Scim, path: &str, ops: Value) -> bool {
    match scim.try_call("PATCH", path, Some(&patch_op(ops))) {
        Ok(r) => {
            assert!(r.status == 200 || r.status == 204, "{}: {}", r.status, r.body);
            true
        }
        Err(_) => false,
    }
}

fn patcher_round(scim: &Scim, t: usize, p: &mut Patcher, next: &mut u64, count: &AtomicUsize) -> Round {
    let mut round = Round::default();
    loop {
        let i = *next;
        *next += 1;
        let name = format!("p{t}-{i}");
        let Some(id) = create(scim, &name) else { return round };
        round.users.push((name, id.clone()));
        round.acked += 1;
        count.fetch_add(1, Ordering::SeqCst);
        p.group_sent.push((i, id.clone()));
        let ops = json!([
            {"op": "add", "path": "members", "value": [{"value": id}]},
            {"op": "replace", "path": "displayName", "value": format!("G{t}-{i}")},
            {"op": "replace", "path": "externalId", "value": i.to_string()}
        ]);
        if !patch(scim, &format!("/Groups/{}", p.group_id), ops) {
            return round;
        }
        p.group_acked = Some(i);
        round.acked += 1;
        count.fetch_add(1, Ordering::SeqCst);
        p.user_sent = Some(i);
        let ops = json!([
            {"op": "replace", "path": "displayName", "value": i.to_string()},
            {"op": "replace", "path": "nickName", "value": i.to_string()},
            {"op": "replace", "path": "title", "value": i.to_string()}
        ]);
        if !patch(scim, &format!("/Users/{}", p.user_id), ops) {
            return round;
        }
        p.user_acked = Some(i);
        round.acked += 1;
        count.fetch_add(1, Ordering::SeqCst);
    }
}

fn creator_round(scim: &Scim, t: usize, next: &mut u64, count: &AtomicUsize) -> Round {
    let mut round = Round::default();
    loop {
        let name = format!("c{t}-{next}");
        *next += 1;
        let Some(id) = create(scim, &name) else { return round };
        round.users.push((name, id));
        round.acked += 1;
        count.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every user the server holds, by id, with all its attributes.
fn all_users(scim: &Scim) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    loop {
        let r = scim.get(&format!("/Users?count=1000&startIndex={}", out.len() + 1));
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json();
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        if resources.is_empty() {
            return out;
        }
        for u in resources {
            out.insert(str_of(&u, "id").to_owned(), u);
        }
    }
}

/// The sequence number an attribute holds (`"17"`, or `"G1-17"` for a group's name).
fn seq(v: &Value, attr: &str) -> u64 {
    let s = str_of(v, attr);
    s.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{attr} is '{s}' in {v}"))
}

/// Check a patcher's group and user, and forget the PATCHes that were lost with the server
/// (sent, never acknowledged, not applied): later rounds must not expect them.
fn check_patcher(scim: &Scim, p: &mut Patcher) {
    let g = scim.get(&format!("/Groups/{}", p.group_id)).json();
    let applied = seq(&g, "displayName");
    assert_eq!(applied, seq(&g, "externalId"), "a group PATCH was half-applied: {g}");
    let last_sent = p.group_sent.last().map_or(0, |(i, _)| *i);
    assert!(
        p.group_acked.unwrap_or(0) <= applied && applied <= last_sent,
        "acknowledged group change lost: acked {:?}, sent {last_sent}, stored {applied}",
        p.group_acked
    );
    let expected: BTreeSet<String> = p
        .group_sent
        .iter()
        .filter(|(i, _)| *i <= applied)
        .map(|(_, id)| id.clone())
        .collect();
    let stored: BTreeSet<String> = member_ids(&g).into_iter().collect();
    let index = |id: &String| p.group_sent.iter().find(|(_, x)| x == id).map(|(i, _)| *i);
    let missing: Vec<_> = expected.difference(&stored).map(|id| (index(id), id)).collect();
    let extra: Vec<_> = stored.difference(&expected).map(|id| (index(id), id)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the group's members do not match its last applied PATCH ({applied}, acked {:?}): missing {missing:?}, unexpected {extra:?}; sent {:?}",
        p.group_acked,
        p.group_sent.iter().map(|(i, _)| i).collect::<Vec<_>>()
    );
    p.group_sent.retain(|(i, _)| *i <= applied);

    let u = scim.get(&format!("/Users/{}", p.user_id)).json();
    let Some(sent) = p.user_sent else { return };
    let applied = seq(&u, "displayName");
    assert_eq!(applied, seq(&u, "nickName"), "a user PATCH was half-applied: {u}");
    assert_eq!(applied, seq(&u, "title"), "a user PATCH was half-applied: {u}");
    assert!(
        p.user_acked.unwrap_or(0) <= applied && applied <= sent,
        "acknowledged user change lost: acked {:?}, sent {sent}, stored {applied}",
        p.user_acked
    );
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_change_and_applies_no_patch_by_half() {
    let mut scim = Scim::start("internal");
    let mut patchers: Vec<Patcher> = (0..PATCHERS)
        .map(|t| {
            // Sequence number 0: the state before any PATCH of the test.
            let user = scim.user(&format!("target{t}"));
            let ops = json!([
                {"op": "replace", "path": "displayName", "value": "0"},
                {"op": "replace", "path": "nickName", "value": "0"},
                {"op": "replace", "path": "title", "value": "0"}
            ]);
            assert!(patch(&scim, &format!("/Users/{}", str_of(&user, "id")), ops));
            let group = scim.call(
                "POST",
                "/Groups",
                Some(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": format!("G{t}-0"),
                    "externalId": "0"
                })),
            );
            assert_eq!(group.status, 201, "{}", group.body);
            let group = group.json();
            Patcher {
                user_id: str_of(&user, "id").to_owned(),
                group_id: str_of(&group, "id").to_owned(),
                ..Patcher::default()
            }
        })
        .collect();
    // Sequence numbers start at 1: 0 is the state before any PATCH.
    let mut next_patch = [1u64; PATCHERS];
    let mut next_create = [1u64; CREATORS];
    let mut acknowledged_users: Vec<(String, String)> = Vec::new();
    for round in 1..=ROUNDS {
        let count = AtomicUsize::new(0);
        let scim_ref = &scim;
        let rounds: Vec<Round> = std::thread::scope(|s| {
            let count = &count;
            let mut handles = Vec::new();
            for (t, (p, n)) in patchers.iter_mut().zip(next_patch.iter_mut()).enumerate() {
                handles.push(s.spawn(move || patcher_round(scim_ref, t, p, n, count)));
            }
            for (t, n) in next_create.iter_mut().enumerate() {
                handles.push(s.spawn(move || creator_round(scim_ref, t, n, count)));
            }
            let deadline = Instant::now() + Duration::from_secs(300);
            let kill_after = KILL_AFTER[round - 1];
            while count.load(Ordering::SeqCst) < kill_after {
                assert!(Instant::now() < deadline, "the load never reached {kill_after} changes");
                std::thread::sleep(Duration::from_millis(5));
            }
            kill(scim_ref);
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| panic!("a client thread failed")))
                .collect()
        });
        let acked: usize = rounds.iter().map(|r| r.acked).sum();
        eprintln!("crash round {round}: {acked} acknowledged changes checked");
        assert!(acked >= KILL_AFTER[round - 1]);
        for r in rounds {
            acknowledged_users.extend(r.users);
        }

        scim.restart();
        assert_database_consistent(scim.server.path());
        let users = all_users(&scim);
        for (name, id) in &acknowledged_users {
            let u = users
                .get(id)
                .unwrap_or_else(|| panic!("round {round}: acknowledged user {name} ({id}) is gone"));
            assert_eq!(str_of(u, "userName"), name);
            assert_eq!(u["name"]["familyName"], name.as_str(), "{u}");
        }
        for p in &mut patchers {
            check_patcher(&scim, p);
        }
    }
}

/// `kill -9` the server of `scim` without owning it mutably (the client threads hold it).
fn kill(scim: &Scim) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &scim.server.pid().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
}

/// A request whose headers have arrived but whose body has not, on a raw connection.
fn half_sent_create(scim: &Scim, user_name: &str, request_id: &str) -> (std::net::TcpStream, Vec<u8>) {
    let body = user_body(user_name).to_string().into_bytes();
    let path = scim.base.trim_start_matches(&scim.server.url).to_owned() + "/Users";
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nX-Request-Id: {request_id}\r\n\r\n",
        scim.server.addr(),
        scim.token,
        body.len()
    );
    let mut conn = connect(&scim.server.addr());
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(first).unwrap_or_else(|e| panic!("{e}"));
    (conn, rest.to_vec())
}

/// Poll until `cond` holds (at most a minute).
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_refuses_new_ones_and_closes_the_database() {
    let mut scim = Scim::start("internal");
    scim.user("before");
    // Two requests in flight: their headers were read, their bodies are still coming.
    let (a, rest_a) = half_sent_create(&scim, "inflight-a", "inflight-a");
    let (b, rest_b) = half_sent_create(&scim, "inflight-b", "inflight-b");
    wait_for("the requests to be in flight", || {
        let log = scim.server.log();
        log.contains("inflight-a") && log.contains("inflight-b")
    });
    // An idle keep-alive connection is closed by the shutdown, not waited for.
    let mut idle = connect(&scim.server.addr());

    scim.server.terminate();
    wait_for("the server to stop accepting", || {
        std::net::TcpStream::connect(scim.server.addr()).is_err()
    });
    assert!(
        read_until_closed(&mut idle).is_empty(),
        "the idle connection got an answer"
    );

    let barrier = Arc::new(Barrier::new(2));
    let finish = |mut conn: std::net::TcpStream, rest: Vec<u8>, barrier: Arc<Barrier>| {
        std::thread::spawn(move || {
            barrier.wait();
            conn.write_all(&rest).unwrap_or_else(|e| panic!("{e}"));
            parse_raw(&read_until_closed(&mut conn))
        })
    };
    let ta = finish(a, rest_a, Arc::clone(&barrier));
    let tb = finish(b, rest_b, barrier);
    for (t, name) in [(ta, "inflight-a"), (tb, "inflight-b")] {
        let (status, body) = t.join().unwrap_or_else(|_| panic!("client thread"));
        assert_eq!(status, 201, "{body}");
        let user: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("incomplete body ({e}): {body}"));
        assert_eq!(user["userName"], name);
    }

    let status = scim
        .server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the server did not exit after SIGTERM"));
    assert!(status.success(), "exit status {status}; log: {}", scim.server.log());
    if pg_admin().is_none() {
        let wal = scim.server.path().join("scimd.db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal_len, 0, "the write-ahead log was not checkpointed at shutdown");
    }
    assert_database_consistent(scim.server.path());
    let names = sql_rows(
        scim.server.path(),
        "SELECT user_name FROM resource WHERE kind = 'User' ORDER BY user_name",
    );
    assert_eq!(
        names,
        vec![
            vec![Some("before".to_owned())],
            vec![Some("inflight-a".to_owned())],
            vec![Some("inflight-b".to_owned())]
        ]
    );
}

#[test]
fn a_request_stuck_past_the_shutdown_time_out_does_not_keep_the_server_up() {
    let mut scim = Scim::start_serving("internal", &["--shutdown-timeout", "1s", "--body-timeout", "10m"]);
    // A body that will never be finished.
    let (_stuck, _) = half_sent_create(&scim, "stuck", "stuck-request");
    wait_for("the request to be in flight", || {
        scim.server.log().contains("stuck-request")
    });
    scim.server.terminate();
    let status = scim
        .server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the server waited for a stuck client"));
    assert!(status.success(), "exit status {status}");
    assert!(
        scim.server
            .log()
            .contains("still in flight after the shutdown time-out"),
        "{}",
        scim.server.log()
    );
    assert_database_consistent(scim.server.path());
}
