//! Change-event subscriptions in the console: the list with its warnings, the form that adds
//! one (its secret or poll token shown once), the page per subscription with the
//! receiver's answer escaped, its actions, and CSRF on each of them.

use crate::admin_console::{csrf_of, form, get_page, session, with_admin};
use crate::subscriptions::{RECEIVER_FLAGS, Receiver, eventually};
use crate::support::{Reply, Server, call, enc, sql_rows, str_of};

fn subscription_ids(s: &Server) -> Vec<String> {
    sql_rows(s.path(), "SELECT id FROM subscription ORDER BY created")
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}

/// The value of the read-only field `id` on a page (a secret shown once).
fn field(page: &str, id: &str) -> String {
    page.split(&format!("id=\"{id}\" readonly value=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_owned()
}

fn assert_ok(r: &Reply, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.body);
}

#[test]
fn subscriptions_are_added_paused_resumed_and_removed_in_the_console() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = with_admin(Server::start_serving(dir, RECEIVER_FLAGS));
    let cookie = session(&s);
    let empty = get_page(&s, &cookie, "/admin/subscriptions");
    assert_ok(&empty, "the list");
    assert!(
        empty.body.contains("href=\"/admin/subscriptions\""),
        "in the navigation"
    );
    assert!(empty.body.contains("No subscriptions"));
    let new = get_page(&s, &cookie, "/admin/subscriptions/new");
    assert_ok(&new, "the form");
    let csrf = csrf_of(&new.body);
    let url = format!("{}/admin/subscriptions", s.url);
    let hook = Receiver::start(204, "");
    let body = format!(
        "format=webhook&url={}&providers=&population=&events=user.created%2C+user.deleted&payload=notice",
        enc(&hook.url)
    );

    // Without the session's CSRF token nothing is made.
    assert_eq!(form(&url, &cookie, &body).status, 403);
    assert_eq!(
        form(&url, &cookie, &format!("{body}&csrf={}", "0".repeat(64))).status,
        403
    );
    assert!(subscription_ids(&s).is_empty());

    let made = form(&url, &cookie, &format!("{body}&csrf={csrf}"));
    assert_ok(&made, "adding");
    let secret = field(&made.body, "secret");
    assert!(secret.starts_with("whsec_"), "{}", made.body);
    assert!(made.body.contains("shown only now"));
    let ids = subscription_ids(&s);
    assert_eq!(ids.len(), 1);
    let id = ids[0].clone();
    let page = get_page(&s, &cookie, &format!("/admin/subscriptions/{id}"));
    assert_ok(&page, "the page");
    assert!(!page.body.contains(&secret), "the secret is shown once");
    for text in [
        "user.created, user.deleted",
        "notice payload",
        &hook.url,
        "active",
        "Nothing delivered yet",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let list = get_page(&s, &cookie, "/admin/subscriptions");
    assert!(list.body.contains(&id) && list.body.contains(&hook.url) && !list.body.contains("id=\"attention\""));

    // Paused: flagged on its page and in the list; the pause needs the CSRF token too.
    let pause = format!("{}/admin/subscriptions/{id}/pause", s.url);
    assert_eq!(form(&pause, &cookie, "").status, 403);
    let paused = form(&pause, &cookie, &format!("csrf={csrf}"));
    assert_eq!(paused.status, 303);
    assert_eq!(
        paused.header("location"),
        Some(format!("/admin/subscriptions/{id}").as_str())
    );
    let page = get_page(&s, &cookie, &format!("/admin/subscriptions/{id}"));
    assert!(page.body.contains("id=\"attention\"") && page.body.contains("held for it up to 30 days"));
    assert!(page.body.contains("paused by admin:alice"), "{}", page.body);
    let list = get_page(&s, &cookie, "/admin/subscriptions");
    assert!(list.body.contains("need attention"), "{}", list.body);
    let resumed = form(
        &format!("{}/admin/subscriptions/{id}/resume", s.url),
        &cookie,
        &format!("csrf={csrf}"),
    );
    assert_eq!(resumed.status, 303);
    let page = get_page(&s, &cookie, &format!("/admin/subscriptions/{id}"));
    assert!(!page.body.contains("id=\"attention\""), "{}", page.body);

    // Rotated: the new secret once; replayed: what it did.
    let action = |tail: &str, extra: &str| {
        form(
            &format!("{}/admin/subscriptions/{id}/{tail}", s.url),
            &cookie,
            &format!("csrf={csrf}{extra}"),
        )
    };
    let rotated = action("rotate", "&overlap=2h");
    assert_ok(&rotated, "rotating");
    let new_secret = field(&rotated.body, "secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated.body.contains("2 h 0 min"), "{}", rotated.body);
    assert_eq!(action("rotate", "&overlap=soon").status, 400);
    assert_ok(&action("replay", "&from=1&provider="), "replaying");
    assert!(
        action("replay", "&from=1&provider=")
            .body
            .contains("rewound to position 1")
    );
    assert_eq!(action("replay", "&from=abc&provider=").status, 400);
    assert!(action("retry", "").body.contains("0 dead letter(s)"));

    // A poll subscription: its URL and token, once.
    let polled = form(&url, &cookie, &format!("format=set&url=&payload=full&csrf={csrf}"));
    assert_ok(&polled, "adding a poll subscription");
    assert!(
        field(&polled.body, "poll-token").starts_with("scimd_poll_"),
        "{}",
        polled.body
    );
    assert!(field(&polled.body, "poll-url").contains("/events/poll/sub_"));
    assert!(
        !polled.body.contains("Rotate secret"),
        "SETs are signed with the server's key"
    );

    // A refused one: the reason, and nothing made.
    let private = form(
        &url,
        &cookie,
        &format!("format=webhook&url={}&csrf={csrf}", enc("https://10.1.2.3/x")),
    );
    assert_eq!(private.status, 400);
    assert!(private.body.contains("--receiver-allow"), "{}", private.body);
    assert_eq!(subscription_ids(&s).len(), 2);

    // Removed only with its id typed again.
    assert_ok(
        &get_page(&s, &cookie, &format!("/admin/subscriptions/{id}/delete")),
        "the confirmation",
    );
    let wrong = action("delete", "&confirm=sub_other");
    assert_eq!(wrong.status, 400);
    assert_eq!(subscription_ids(&s).len(), 2);
    let gone = action("delete", &format!("&confirm={id}"));
    assert_eq!(gone.status, 303);
    assert_eq!(subscription_ids(&s).len(), 1);
    assert_eq!(get_page(&s, &cookie, &format!("/admin/subscriptions/{id}")).status, 404);
}

#[test]
fn the_receivers_answer_is_shown_escaped_with_the_failed_delivery() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = with_admin(Server::start_serving(dir, RECEIVER_FLAGS));
    let provider = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&provider);
    let cookie = session(&s);
    let csrf = csrf_of(&get_page(&s, &cookie, "/admin/subscriptions/new").body);
    let receiver = Receiver::start(503, "<script>alert(1)</script> busy");
    let made = form(
        &format!("{}/admin/subscriptions", s.url),
        &cookie,
        &format!("format=webhook&url={}&csrf={csrf}", enc(&receiver.url)),
    );
    assert_ok(&made, "adding");
    let id = subscription_ids(&s).remove(0);
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ann@example.com"
    });
    let created = call(
        "POST",
        &format!("{}/Users", str_of(&provider, "base_url")),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/scim+json"),
        ],
        Some(&user.to_string()),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let page = eventually("a failed delivery on the page", || {
        let p = get_page(&s, &cookie, &format!("/admin/subscriptions/{id}"));
        p.body.contains("id=\"deliveries\"").then_some(p)
    });
    assert!(
        page.body
            .contains("HTTP 503: &lt;script&gt;alert(1)&lt;/script&gt; busy"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"), "the answer cannot become markup");
    assert!(page.body.contains("<td class=\"warn\">503</td>"), "{}", page.body);
}
