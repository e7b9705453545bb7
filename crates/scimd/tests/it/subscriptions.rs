//! Change-event subscriptions through the admin API, against the real server delivering to
//! a real receiver on 127.0.0.1 (allowed with `--receiver-allow`): made, listed with their
//! lag, paused and resumed, rotated, replayed, their deliveries and dead letters read and
//! retried, removed; and the refusals, in the API's error shape.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::admin_api::{Admin, scim_post, user_body};
use crate::support::{Server, str_of};

/// `scimd serve` options that let a receiver on this machine be subscribed, and retry fast.
pub(crate) const RECEIVER_FLAGS: &[&str] = &["--receiver-allow", "127.0.0.0/8", "--delivery-first-retry", "10ms"];

/// A receiver of change events on 127.0.0.1: answers every POST with the status and body
/// set last, and keeps the bodies it got.
pub(crate) struct Receiver {
    pub(crate) url: String,
    answer: Arc<Mutex<(u16, String)>>,
    got: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub(crate) fn start(status: u16, body: &str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let answer = Arc::new(Mutex::new((status, body.to_owned())));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (a, g) = (Arc::clone(&answer), Arc::clone(&got));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (a, g) = (Arc::clone(&a), Arc::clone(&g));
                std::thread::spawn(move || serve_one(stream, &a, &g));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            answer,
            got,
        }
    }

    pub(crate) fn answer(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = (status, body.to_owned());
    }

    pub(crate) fn received(&self) -> Vec<String> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One request: its body kept (when the answer is a success), the set answer sent.
fn serve_one(stream: std::net::TcpStream, answer: &Mutex<(u16, String)>, got: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, text) = answer.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if (200..300).contains(&status) {
        got.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(String::from_utf8_lossy(&body).into_owned());
    }
    let mut out = &stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// Wait (up to 20 s) until `f` has something to say.
pub(crate) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn detail(admin: &Admin, method: &str, path: &str, body: Option<&Value>, status: u16) -> String {
    let r = admin.api(method, path, body);
    assert_eq!(r.status, status, "{method} {path} {body:?}: {}", r.body);
    str_of(&r.json(), "detail").to_owned()
}

fn delivered_user_names(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter_map(|v| v["data"]["resource"]["userName"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn subscriptions_are_added_paused_rotated_replayed_retried_and_removed_through_the_api() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let admin = Admin::on(Server::start_serving(dir, RECEIVER_FLAGS));
    let p = admin.create("Okta", "internal");
    let (base, token) = (str_of(&p, "base_url").to_owned(), admin.scim_token("okta"));
    let receiver = Receiver::start(204, "");

    let made = admin.ok(
        "POST",
        "/subscriptions",
        Some(&json!({"format": "webhook", "url": receiver.url, "providers": ["okta"], "events": ["user.created"]})),
    );
    let id = str_of(&made, "id").to_owned();
    let secret = str_of(&made, "secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{made}");
    assert_eq!((made["state"].as_str(), made.get("poll_token")), (Some("active"), None));
    let polled = admin.ok("POST", "/subscriptions", Some(&json!({"format": "set"})));
    assert!(str_of(&polled, "poll_token").starts_with("scimd_poll_"), "{polled}");
    let poll_id = str_of(&polled, "id");
    assert_eq!(
        polled["poll_url"],
        format!("{}/events/poll/{poll_id}", admin.server.url)
    );

    // Listed and shown with their lag, never with what was shown once.
    let list = admin.ok("GET", "/subscriptions", None);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    for s in list.as_array().into_iter().flatten() {
        assert!(s.get("secret").is_none() && s.get("poll_token").is_none(), "{s}");
        assert_eq!(
            (s["lag_events"].as_i64(), s["lag_seconds"].as_i64()),
            (Some(0), Some(0)),
            "{s}"
        );
    }

    scim_post(&base, &token, "/Users", &user_body("ann", "e-ann", "Ann"));
    eventually("the first delivery", || {
        (delivered_user_names(&receiver) == ["ann"]).then_some(())
    });
    let shown = eventually("the success recorded", || {
        let s = admin.ok("GET", &format!("/subscriptions/{id}"), None);
        (!s["last_success"].is_null() && s["lag_events"] == 0).then_some(s)
    });
    assert_eq!(shown["last_error"], Value::Null);
    assert!(admin.ok("GET", &format!("/subscriptions/{poll_id}"), None)["lag_events"].as_i64() >= Some(1));

    // Paused, nothing flows and the lag grows; resumed, it is delivered.
    let paused = admin.ok("POST", &format!("/subscriptions/{id}/pause"), None);
    assert_eq!(paused["state"], "paused");
    assert!(str_of(&paused, "state_reason").contains("paused by"), "{paused}");
    scim_post(&base, &token, "/Users", &user_body("bob", "e-bob", "Bob"));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(delivered_user_names(&receiver), ["ann"]);
    assert_eq!(admin.ok("GET", &format!("/subscriptions/{id}"), None)["lag_events"], 1);
    assert_eq!(
        admin.ok("POST", &format!("/subscriptions/{id}/resume"), None)["state"],
        "active"
    );
    eventually("delivery after resuming", || {
        (delivered_user_names(&receiver) == ["ann", "bob"]).then_some(())
    });

    // A new secret, the old one overlapping for the default day or as asked.
    let rotated = admin.ok("POST", &format!("/subscriptions/{id}/rotate-secret"), None);
    assert!(str_of(&rotated, "secret").starts_with("whsec_") && rotated["secret"] != secret.as_str());
    assert_eq!(rotated["overlap_seconds"], 86_400);
    let short = admin.ok(
        "POST",
        &format!("/subscriptions/{id}/rotate-secret"),
        Some(&json!({"overlap": "1h"})),
    );
    assert_eq!(short["overlap_seconds"], 3600);
    assert!(!admin.ok("GET", &format!("/subscriptions/{id}"), None)["secret_overlap_until"].is_null());

    // Replayed from the start: both users again.
    let replayed = admin.ok(
        "POST",
        &format!("/subscriptions/{id}/replay"),
        Some(&json!({"from": 1})),
    );
    assert_eq!(replayed["streams_rewound"], 1, "{replayed}");
    eventually("the replay", || {
        (delivered_user_names(&receiver).len() == 4).then_some(())
    });
    let deliveries = admin.ok("GET", &format!("/subscriptions/{id}/deliveries?count=2"), None);
    assert_eq!(deliveries.as_array().map(Vec::len), Some(2), "{deliveries}");
    assert_eq!(deliveries[0]["status"], 204);

    // A receiver that keeps refusing: dead letters, the last error with the start of its answer.
    let refusal = format!("<b>no</b>{}", "x".repeat(2000));
    receiver.answer(400, &refusal);
    scim_post(&base, &token, "/Users", &user_body("cat", "e-cat", "Cat"));
    let dead = eventually("a dead letter", || {
        let d = admin.ok("GET", &format!("/subscriptions/{id}/dead-letters"), None);
        (d.as_array().map(Vec::len) == Some(1)).then_some(d)
    });
    assert!(str_of(&dead[0], "reason").contains("HTTP 400"), "{dead}");
    let failing = admin.ok("GET", &format!("/subscriptions/{id}"), None);
    let last_error = str_of(&failing, "last_error");
    assert!(last_error.starts_with("HTTP 400: <b>no</b>xxx"), "{last_error}");
    assert!(last_error.len() < 600, "only the start of the answer is kept");
    let attempts = admin.ok("GET", &format!("/subscriptions/{id}/deliveries"), None);
    assert_eq!(attempts[0]["status"], 400);
    assert_eq!(attempts[0]["answer"].as_str().map(str::len), Some(512));
    receiver.answer(200, "ok");
    assert_eq!(
        admin.ok("POST", &format!("/subscriptions/{id}/retry"), None)["retried"],
        1
    );
    eventually("the dead letter delivered", || {
        (delivered_user_names(&receiver).last().map(String::as_str) == Some("cat")).then_some(())
    });
    assert_eq!(
        admin.ok("GET", &format!("/subscriptions/{id}/dead-letters"), None),
        json!([])
    );

    let removed = admin.api("DELETE", &format!("/subscriptions/{id}"), None);
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(admin.api("GET", &format!("/subscriptions/{id}"), None).status, 404);
    let mut actions = admin.actions("action=subscription.*&count=100");
    actions.sort();
    actions.dedup();
    let expected = [
        "subscription.create",
        "subscription.delete",
        "subscription.pause",
        "subscription.replay",
        "subscription.resume",
        "subscription.retry",
        "subscription.secret.rotate",
    ];
    assert_eq!(actions, expected);
}

#[test]
fn the_api_refuses_bad_subscriptions_with_the_reason_and_unknown_ones_with_404() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let admin = Admin::on(Server::start_serving(dir, RECEIVER_FLAGS));
    admin.create("Okta", "internal");
    let hook = "http://127.0.0.1:9/hook";
    for (body, reason) in [
        (
            json!({"format": "webhook", "url": "https://10.1.2.3/hook"}),
            "--receiver-allow",
        ),
        (
            json!({"format": "webhook", "url": "https://10.1.2.3/hook"}),
            "10.0.0.0/8",
        ),
        (
            json!({"format": "webhook", "url": hook, "events": ["user.exploded"]}),
            "unknown event type 'user.exploded'",
        ),
        (json!({"format": "webhook"}), "url"),
        (json!({"format": "webhook", "url": " "}), "url"),
        (json!({"url": hook}), "format"),
        (json!({"format": "carrier-pigeon", "url": hook}), "webhook or set"),
        (
            json!({"format": "webhook", "url": hook, "payload": "everything"}),
            "full or notice",
        ),
        (
            json!({"format": "webhook", "url": hook, "population": "vendors"}),
            "population",
        ),
        (json!({"format": "webhook", "url": hook, "colour": "blue"}), "colour"),
    ] {
        let d = detail(&admin, "POST", "/subscriptions", Some(&body), 400);
        assert!(d.contains(reason), "{body}: {d}");
    }
    let unknown_provider = json!({"format": "webhook", "url": hook, "providers": ["nope"]});
    assert!(detail(&admin, "POST", "/subscriptions", Some(&unknown_provider), 404).contains("nope"));
    assert_eq!(admin.ok("GET", "/subscriptions", None), json!([]), "nothing was made");

    // Refusals of a subscription that exists.
    let s = admin.ok(
        "POST",
        "/subscriptions",
        Some(&json!({"format": "set", "providers": ["okta"]})),
    );
    let id = str_of(&s, "id");
    let path = |tail: &str| format!("/subscriptions/{id}/{tail}");
    assert!(detail(&admin, "POST", &path("rotate-secret"), None, 400).contains("only webhook"));
    for (body, reason) in [
        (json!({"from": 0}), "positions start at 1"),
        (json!({}), "from"),
        (json!({"from": "one"}), "from"),
        (
            json!({"from": 1, "provider": "other"}),
            "does not cover provider 'other'",
        ),
    ] {
        let d = detail(&admin, "POST", &path("replay"), Some(&body), 400);
        assert!(d.contains(reason), "{body}: {d}");
    }
    let hooked = admin.ok(
        "POST",
        "/subscriptions",
        Some(&json!({"format": "webhook", "url": hook})),
    );
    let rotate = format!("/subscriptions/{}/rotate-secret", str_of(&hooked, "id"));
    for (body, reason) in [
        (json!({"overlap": "soon"}), "not a duration"),
        (json!({"overlap": "60d"}), "30 days"),
        (json!({"overlap": "1h", "keep": true}), "keep"),
    ] {
        let d = detail(&admin, "POST", &rotate, Some(&body), 400);
        assert!(d.contains(reason), "{body}: {d}");
    }

    // Every route of an unknown subscription: 404 naming it.
    for (method, tail) in [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
        ("GET", "/dead-letters"),
        ("POST", "/retry"),
    ] {
        let d = detail(&admin, method, &format!("/subscriptions/sub_nope{tail}"), None, 404);
        assert!(d.contains("sub_nope"), "{method} {tail}: {d}");
    }
    let replay = json!({"from": 1});
    assert!(detail(&admin, "POST", "/subscriptions/sub_nope/replay", Some(&replay), 404).contains("sub_nope"));
}
