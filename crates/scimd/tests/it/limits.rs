//! Limits on what one request or one client may cost, each answered in the protocol's own
//! words (a SCIM Error under `/scim`, OAuth error JSON at the token endpoint), and the
//! time-outs and connection cap that keep slow or many clients from holding the server.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;
use crate::wire::*;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn post_raw(scim: &Scim, path: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {}", scim.token);
    call_bytes(
        "POST",
        &format!("{}{path}", scim.base),
        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
        body,
    )
}

fn assert_oauth_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["error"], code, "{}", r.body);
}

#[test]
fn bodies_past_four_mebibytes_get_413_in_each_protocol() {
    let scim = Scim::start("internal");
    let big = format!(
        "{{\"schemas\":[\"{USER}\"],\"userName\":\"big\",\"nickName\":\"{}\"}}",
        "x".repeat(4 * 1024 * 1024)
    );
    assert_scim_error(&post_raw(&scim, "/Users", big.as_bytes()), 413, None);
    let form = format!("grant_type=client_credentials&pad={}", "x".repeat(64 * 1024));
    let r = call(
        "POST",
        &format!("{}/oauth2/token", scim.server.url),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_oauth_error(&r, 413, "invalid_request");
    assert_eq!(scim.get("/Users").json()["totalResults"], 0);
}

#[test]
fn json_nested_past_64_levels_is_invalid_syntax() {
    let scim = Scim::start("internal");
    let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let body = format!(
        "{{\"schemas\":[\"{USER}\"],\"userName\":\"deep\",\"x\":{}}}",
        nested(64)
    );
    assert_scim_error(&post_raw(&scim, "/Users", body.as_bytes()), 400, Some("invalidSyntax"));
    // Far past serde_json's own recursion limit: still a SCIM error, not a crash.
    let body = nested(100_000);
    assert_scim_error(&post_raw(&scim, "/Users", body.as_bytes()), 400, Some("invalidSyntax"));
}

#[test]
fn filters_too_long_too_deep_or_too_complex_are_invalid_filter() {
    let scim = Scim::start("internal");
    let long = format!("userName eq \"{}\"", "a".repeat(4096));
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(33), ")".repeat(33));
    let wide = vec!["userName eq \"a\""; 101].join(" or ");
    for filter in [&long, &deep, &wide] {
        let r = scim.get(&format!("/Users?filter={}", enc(filter)));
        assert_scim_error(&r, 400, Some("invalidFilter"));
        let search = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": filter
        });
        assert_scim_error(
            &scim.call("POST", "/Users/.search", Some(&search)),
            400,
            Some("invalidFilter"),
        );
    }
    let hundred = vec!["userName eq \"a\""; 100].join(" or ");
    assert_eq!(scim.get(&format!("/Users?filter={}", enc(&hundred))).status, 200);
}

#[test]
fn count_is_capped_at_the_advertised_maximum() {
    let scim = Scim::start("internal");
    let spc = scim.get("/ServiceProviderConfig").json();
    assert_eq!(spc["filter"]["maxResults"], 1000);
    for u in 0..3 {
        scim.user(&format!("u{u}"));
    }
    let r = scim.get("/Users?count=100000000");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["itemsPerPage"], 3);
}

#[test]
fn patch_and_bulk_past_1000_operations_get_413() {
    let scim = Scim::start("internal");
    let user = scim.user("patched");
    let id = str_of(&user, "id");
    let op = json!({"op": "replace", "path": "displayName", "value": "x"});
    let ops = Value::Array(vec![op.clone(); 1001]);
    let r = scim.call("PATCH", &format!("/Users/{id}"), Some(&patch_op(ops)));
    assert_scim_error(&r, 413, None);
    let ops = Value::Array(vec![op; 1000]);
    assert_eq!(
        scim.call("PATCH", &format!("/Users/{id}"), Some(&patch_op(ops))).status,
        200
    );

    let bulk_op = json!({"method": "DELETE", "path": "/Users/nobody"});
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": vec![bulk_op; 1001]
    });
    assert_scim_error(&scim.call("POST", "/Bulk", Some(&bulk)), 413, None);
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let scim = Scim::start_serving("internal", &["--header-timeout", "1s"]);
    let mut conn = connect(&scim.server.addr());
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let answer = read_until_closed(&mut conn);
    // Closed by the server well before the client's own 60 s read time-out.
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "still open after {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    // Nor one that sends nothing, nor one left idle after a request (keep-alive).
    let mut silent = connect(&scim.server.addr());
    let mut idle = connect(&scim.server.addr());
    assert_eq!(get_keep_alive(&mut idle, "/healthz"), 200);
    let started = Instant::now();
    assert!(read_until_closed(&mut silent).is_empty());
    assert!(read_until_closed(&mut idle).is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "still open after {:?}",
        started.elapsed()
    );
    // Everyone else is still served.
    assert_eq!(scim.get("/Users").status, 200);
}

#[test]
fn a_body_that_does_not_arrive_in_time_gets_408() {
    let scim = Scim::start_serving("internal", &["--body-timeout", "1s"]);
    let path = scim.base.trim_start_matches(&scim.server.url).to_owned() + "/Users";
    let mut conn = connect(&scim.server.addr());
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"schemas\":",
        scim.token
    );
    conn.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = parse_raw(&read_until_closed(&mut conn));
    assert_eq!(status, 408, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(e["status"], "408");
    assert_eq!(e["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(scim.get("/Users").json()["totalResults"], 0);
}

/// A connection from `from` (a loopback address other than 127.0.0.1 plays another client).
fn connect_from(from: &str, addr: &str) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
        socket
            .bind(format!("{from}:0").parse().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("bind {from}: {e}"));
        let stream = socket
            .connect(addr.parse().unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.into_std().unwrap_or_else(|e| panic!("{e}"))
    });
    stream.set_nonblocking(false).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    stream
}

/// A request whose body never finishes: its connection stays busy answering it.
fn busy(addr: &str) -> std::net::TcpStream {
    let mut c = connect(addr);
    c.write_all(
        b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c
}

#[test]
fn past_the_connection_limit_the_oldest_idle_connection_makes_room_and_only_busy_ones_refuse() {
    let scim = Scim::start_serving(
        "internal",
        &[
            "--max-connections",
            "3",
            "--header-timeout",
            "5m",
            "--body-timeout",
            "5m",
        ],
    );
    let addr = scim.server.addr();
    // Three keep-alive connections, each answered once and idle since, hold every slot.
    let mut idle: Vec<_> = (0..3)
        .map(|_| {
            let mut c = connect(&addr);
            assert_eq!(get_keep_alive(&mut c, "/healthz"), 200);
            c
        })
        .collect();
    // A new client is answered: the oldest idle connection is closed to make room.
    assert_eq!(scim.get("/Users").status, 200);
    assert!(
        read_until_closed(&mut idle[0]).is_empty(),
        "the oldest idle connection was closed"
    );
    assert_eq!(get_keep_alive(&mut idle[2], "/healthz"), 200, "a newer one still works");
    drop(idle);

    // Every slot answering a request (bodies still on their way): a new one is refused.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut held = Vec::new();
    while held.len() < 3 {
        held.push(busy(&addr));
        std::thread::sleep(Duration::from_millis(100));
        assert!(Instant::now() < deadline);
    }
    let mut refused = scim.get("/Users");
    while refused.status == 200 {
        // A connection of the set-up may have been closing still: one more busy one.
        assert!(Instant::now() < deadline, "never refused");
        held.push(busy(&addr));
        std::thread::sleep(Duration::from_millis(100));
        refused = scim.get("/Users");
    }
    assert_scim_error(&refused, 503, None);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let token = call(
        "POST",
        &format!("{}/oauth2/token", scim.server.url),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("grant_type=client_credentials"),
    );
    assert_oauth_error(&token, 503, "temporarily_unavailable");
    // One finishes (its client goes away): the next is served.
    held.remove(0);
    while scim.get("/Users").status != 200 {
        assert!(Instant::now() < deadline, "a freed slot was never reused");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(scim.server.log().contains("every connection is busy"));
}

#[test]
fn a_flood_of_idle_and_slow_connections_from_one_address_does_not_lock_others_out() {
    let scim = Scim::start_serving(
        "internal",
        &[
            "--max-connections",
            "100",
            "--max-pending-per-address",
            "16",
            "--header-timeout",
            "5m",
        ],
    );
    let addr = scim.server.addr();
    // Another address opens 300 connections that send nothing, 50 that send one request and
    // stay open, and one that trickles its headers.
    let mut silent: Vec<_> = (0..300).map(|_| connect_from("127.0.0.2", &addr)).collect();
    let mut kept: Vec<_> = (0..50)
        .map(|_| {
            let mut c = connect_from("127.0.0.2", &addr);
            assert_eq!(get_keep_alive(&mut c, "/healthz"), 200);
            c
        })
        .collect();
    let mut slow = connect_from("127.0.0.2", &addr);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    // Meanwhile, everyone else is served, every time.
    for i in 0..30 {
        let r = scim.get("/Users");
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
        let _ = slow.write_all(b"X-Slow: 1\r\n");
    }
    // The flood kept at most its share of pending connections: the oldest went first.
    let _ = silent[0].set_read_timeout(Some(Duration::from_secs(5)));
    assert!(
        read_until_closed(&mut silent[0]).is_empty(),
        "the oldest silent connection is closed"
    );
    let _ = silent[299].set_read_timeout(Some(Duration::from_millis(300)));
    let mut byte = [0u8; 1];
    let newest = std::io::Read::read(&mut silent[299], &mut byte);
    assert!(
        newest.is_err(),
        "the newest pending connection is still open (read timed out): {newest:?}"
    );
    kept.truncate(1);
}
