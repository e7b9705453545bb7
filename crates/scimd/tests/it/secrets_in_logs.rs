//! No secret in any log line at any level: a server and every CLI command run at
//! `RUST_LOG=trace` through a representative flow, then their output is searched for every
//! secret the flow made or sent — client secrets, tokens, passwords, Authorization values
//! and the base64 of `client_id:secret`.

use std::process::{Command, Output};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{BIN, Server, basic, call, db_args, post_form, str_of, temp_file};

struct Flow<'a> {
    server: &'a Server,
    /// Output that must hold no secret: every CLI's standard error, and the standard output
    /// of commands that do not exist to print one.
    quiet: String,
}

impl Flow<'_> {
    fn cli(&mut self, args: &[&str], stdout_may_show_secrets: bool) -> Output {
        let out = Command::new(BIN)
            .args(db_args(self.server.path()))
            .args(["--public-url", &self.server.url])
            .args(args)
            .env("RUST_LOG", "trace")
            .env_remove("SCIMD_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.quiet.push_str(&String::from_utf8_lossy(&out.stderr));
        if !stdout_may_show_secrets {
            self.quiet.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        out
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn no_secret_reaches_any_log_line_at_trace_level() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server::start_tracing(dir);
    let mut flow = Flow {
        server: &server,
        quiet: String::new(),
    };
    let mut secrets: Vec<String> = Vec::new();

    let p = json_of(&flow.cli(
        &[
            "provider",
            "add",
            "--name",
            "Okta",
            "--population",
            "internal",
            "--json",
        ],
        true,
    ));
    let (id, secret) = (
        str_of(&p, "client_id").to_owned(),
        str_of(&p, "client_secret").to_owned(),
    );
    let token_url = format!("{}/oauth2/token", server.url);
    flow.cli(&["provider", "show", "okta", "--reveal"], true);
    flow.cli(&["provider", "show", "okta"], false);
    flow.cli(&["provider", "list"], false);

    // Tokens: the CLI by Basic and by body, then over HTTP both ways.
    let token_args = [
        "token",
        "--token-url",
        &token_url,
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];
    let by_basic = flow.cli(&token_args, true);
    let by_body = flow.cli(&[&token_args[..], &["--auth", "body"]].concat(), true);
    let authorization = basic(&id, &secret);
    let http_basic = post_form(
        &token_url,
        &[("grant_type", "client_credentials")],
        Some(&authorization),
    );
    let http_body = post_form(
        &token_url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    );
    let wrong = post_form(
        &token_url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "WrongSecret0123456789"),
        ],
        None,
    );
    assert_eq!(wrong.json()["error"], "invalid_client");
    let mut tokens: Vec<String> = [&by_basic, &by_body]
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .collect();
    for r in [&http_basic, &http_body] {
        assert_eq!(r.status, 200, "{}", r.body);
        tokens.push(str_of(&r.json(), "access_token").to_owned());
    }
    let token = tokens[2].clone();
    let bearer = format!("Bearer {token}");
    let scim = |method: &str, path: &str, body: Option<Value>| {
        call(
            method,
            &format!("{}{path}", str_of(&p, "base_url")),
            &[("Authorization", &bearer), ("Content-Type", "application/scim+json")],
            body.map(|b| b.to_string()).as_deref(),
        )
    };

    // SCIM with passwords, a bad token, a PATCH of the password.
    let password = "Corr3ct-Horse-Battery-Staple-71";
    let created = scim(
        "POST",
        "/Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "ada@example.com", "password": password})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let user_id = str_of(&created.json(), "id").to_owned();
    let new_password = "Tr0ub4dor-and-3-more-words";
    let patched = scim(
        "PATCH",
        &format!("/Users/{user_id}"),
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "password", "value": new_password}]})),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    // Another last character (never the same one, or the forgery is the token).
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let refused = call(
        "GET",
        &format!("{}/Users", str_of(&p, "base_url")),
        &[("Authorization", &format!("Bearer {forged}"))],
        None,
    );
    assert_eq!(refused.status, 401);

    // A push of a user with a password, with credentials on the command line.
    let push_password = "Pushed-Pa55word-9000";
    let source = temp_file(
        server.path(),
        "people.json",
        &json!({"Users": [{"id": "s1", "userName": "grace@example.com", "password": push_password}]}).to_string(),
    );
    let source = source.to_str().unwrap_or_default();
    let push = [
        "push",
        "--source",
        source,
        "--base-url",
        str_of(&p, "base_url"),
        "--plain",
    ];
    // The same credential flags as `scimd token`.
    flow.cli(&[&push[..], &token_args[1..]].concat(), false);

    // RFC 7009 revocation, CLI revocation, rotation, a reveal of the new secret, backup.
    let revoked = post_form(
        &format!("{}/oauth2/revoke", server.url),
        &[("token", &tokens[0])],
        Some(&authorization),
    );
    assert_eq!(revoked.status, 200);
    flow.cli(&["provider", "tokens", "okta"], false);
    flow.cli(&["provider", "revoke-token", "okta", "--all"], false);
    let rotated = json_of(&flow.cli(&["provider", "rotate-secret", "okta", "--json"], true));
    flow.cli(&["provider", "postman", "okta", "--output", "/dev/null"], false);
    flow.cli(&["audit", "list"], false);
    flow.cli(&["audit", "verify"], false);
    let backup = server.path().join("b.jsonl");
    flow.cli(&["backup", backup.to_str().unwrap_or_default()], false);
    let quiet = std::mem::take(&mut flow.quiet);

    server.stop();
    let log = server.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is at trace level"
    );
    assert!(log.contains("issued an access token"), "the log is captured");
    assert!(log.contains(&format!("/Users/{user_id}")), "request lines are captured");
    if std::env::var_os("SCIMD_IT_SHOW_TRACE").is_some() {
        eprintln!("{log}");
    }
    let everything = format!("{log}\n{}\n{quiet}", server.stdout());

    secrets.extend([secret.clone(), str_of(&rotated, "client_secret").to_owned()]);
    secrets.extend(tokens);
    secrets.extend([password.into(), new_password.into(), push_password.into(), forged]);
    secrets.push(authorization.clone());
    secrets.push(base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")));
    secrets.push(bearer);
    for s in &secrets {
        assert!(s.len() >= 16, "a real secret: {s}");
        assert!(
            !everything.contains(s.as_str()),
            "a secret ({}…) is in the output",
            &s[..6]
        );
    }
}
