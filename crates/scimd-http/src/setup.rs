//! Setup pages, `/setup/{code}`: what an identity provider's own administrator needs to
//! connect it, on one page they reach through a link, without a console account. The page
//! shows the Base URL, Token URL and client id, makes an activation token (a `POST` with the
//! page's form token, so a link scanner fetching the URL changes nothing), guides Okta,
//! Entra and curl/Postman set-ups, and shows what arrived in a status panel.
//!
//! Unknown, expired and revoked codes all get the same 404 page after the same lookup. The
//! code is a credential: it never reaches a log line ([`loggable_path`]), the page sends no
//! referrer, and no cookie is set.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use maud::{Markup, html};
use scimd_core::CoreError;
use scimd_core::grants::IssuedToken;
use scimd_core::setup::{OpenLink, form_token};
use scimd_core::views::{human_duration, log_entry_json};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::admin::failure::api_error;
use crate::admin::html::{copy_field, public_page};
use crate::client_addr::ClientAddr;
use crate::error::problem;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup/{code}", get(show))
        .route("/setup/{code}/token", post(token))
        .route("/setup/{code}/secret", post(secret))
        .route("/setup/{code}/postman", post(postman))
        .route("/setup/{code}/status", get(status))
}

/// A request path as it may be logged: a setup code is replaced, since it opens the page.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/setup/") {
        Some(rest) => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/setup/{{code}}{tail}").into()
        }
        None => path.into(),
    }
}

/// What a page shows once, in answer to a form.
enum Shown {
    Nothing,
    Token(Box<IssuedToken>),
    Secret(String),
    Refused(String),
}

#[derive(Deserialize)]
struct PageForm {
    #[serde(default)]
    csrf: String,
}

impl PageForm {
    /// Did this form come from the page (and not from a scanner or another site)?
    fn came_from_page(&self, code: &str) -> bool {
        scimd_core::crypto::constant_time_eq(self.csrf.as_bytes(), form_token(code).as_bytes())
    }
}

async fn show(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    Path(code): Path<String>,
) -> Response {
    match state.core.open_setup_link(&code, ip).await {
        Ok(open) => page(&state, &code, &open, Shown::Nothing),
        Err(e) => failure(&e),
    }
}

/// A form of the page, from `ip`: the link opened once for the whole action, or the answer
/// that ends it (a form not from the page, a dead code).
async fn opened(state: &AppState, code: &str, ip: IpAddr, form: &PageForm) -> Result<OpenLink, Response> {
    if !form.came_from_page(code) {
        return Err(message(
            StatusCode::FORBIDDEN,
            "Reload the page",
            "This form did not come from the setup page, so nothing was done. Open the link again and use \
             the button on the page.",
        ));
    }
    state.core.open_setup_link(code, ip).await.map_err(|e| failure(&e))
}

/// The page after an action: what it made, shown once, or why it was refused.
fn answered<T>(
    state: &AppState,
    code: &str,
    open: &OpenLink,
    done: Result<T, CoreError>,
    shown: impl FnOnce(T) -> Shown,
) -> Response {
    match done {
        Ok(v) => page(state, code, open, shown(v)),
        Err(e) => {
            let p = problem(&e);
            let mut resp = page(state, code, open, Shown::Refused(p.detail));
            *resp.status_mut() = p.status;
            resp
        }
    }
}

async fn token(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    Path(code): Path<String>,
    Form(form): Form<PageForm>,
) -> Response {
    let open = match opened(&state, &code, ip, &form).await {
        Ok(open) => open,
        Err(answer) => return answer,
    };
    let done = state.core.setup_issue_token(&open).await;
    answered(&state, &code, &open, done, |t| Shown::Token(Box::new(t)))
}

async fn secret(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    Path(code): Path<String>,
    Form(form): Form<PageForm>,
) -> Response {
    let open = match opened(&state, &code, ip, &form).await {
        Ok(open) => open,
        Err(answer) => return answer,
    };
    let done = state.core.setup_reveal_secret(&open).await;
    answered(&state, &code, &open, done, Shown::Secret)
}

async fn postman(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    Path(code): Path<String>,
    Form(form): Form<PageForm>,
) -> Response {
    let open = match opened(&state, &code, ip, &form).await {
        Ok(open) => open,
        Err(answer) => return answer,
    };
    match state.core.setup_postman(&open, &state.urls).await {
        Ok(doc) => crate::admin::postman_attachment(&open.provider.id, &doc),
        Err(e) => failure(&e),
    }
}

/// The status panel's data, polled by the page's script: not audited.
async fn status(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    Path(code): Path<String>,
) -> Response {
    let status = match state.core.open_setup_link(&code, ip).await {
        Ok(open) => state.core.setup_status(&open).await,
        Err(e) => Err(e),
    };
    match status {
        Ok(status) => {
            let mut resp = Json(json!({
                "users": status.received.users,
                "groups": status.received.groups,
                "requests": status.requests.iter().map(log_entry_json).collect::<Vec<_>>(),
                "last_error": status.last_error.as_ref().map(log_entry_json),
            }))
            .into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => api_error(&e),
    }
}

/// The answer for a code that opens nothing, whatever the reason: one page, one status.
fn failure(e: &CoreError) -> Response {
    match e {
        CoreError::NotFound(_) => message(
            StatusCode::NOT_FOUND,
            "This setup link does not work",
            "The link is not valid: it may have expired or been revoked, or it was copied incompletely. \
             Ask the administrator who sent it for a new one.",
        ),
        other => {
            let p = problem(other);
            p.with_retry_after(message(p.status, "Setup page unavailable", &p.detail))
        }
    }
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! { p.error role="alert" { (text) } };
    let mut resp = (status, Html(public_page(title, body))).into_response();
    no_store(&mut resp);
    resp
}

fn no_store(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn page(state: &AppState, code: &str, open: &OpenLink, shown: Shown) -> Response {
    let p = &open.provider;
    let link = &open.link;
    let base = state.base_url(p.id.as_str());
    let token_url = state.token_url();
    let action = |what: &str| format!("/setup/{code}/{what}");
    let form_token = form_token(code);
    let csrf = html! { input type="hidden" name="csrf" value=(form_token); };
    let lifetime = human_duration(p.token_ttl_seconds);
    let body = html! {
        p.lead {
            "This page connects your identity provider to " strong { (p.name) } " in scimd, which receives your users \
             and groups over SCIM 2.0. Follow the steps below; nothing here changes your identity provider by itself. \
             The page works until " (link.expires.to_human()) "."
        }
        @if !p.enabled {
            p.warning role="alert" { "This connection is disabled for now: tokens cannot be generated and pushes are refused. Ask the administrator who sent this link." }
        }
        @if let Shown::Refused(why) = &shown {
            p.error role="alert" { (why) }
        }
        section.card #values {
            h2 { "1. The connection values" }
            p { "Copy these into your identity provider when the guide below asks for them." }
            (copy_field("base-url", "Base URL (SCIM connector base URL, Tenant URL)", &base))
            (copy_field("token-url", "Token URL", &token_url))
            (copy_field("client-id", "Client ID", p.client_id.as_str()))
            @if let Shown::Secret(secret) = &shown {
                p.notice { "The client secret is shown this once: copy it now. This link will not show it again." }
                (copy_field("client-secret", "Client secret", secret))
            } @else if link.may_reveal_secret() {
                form method="post" action=(action("secret")) class="inline" {
                    (csrf)
                    button type="submit" { "Show the client secret (once)" }
                }
            }
        }
        section.card #token {
            h2 { "2. An activation token" }
            p {
                "Identity providers such as Okta authenticate with a token in an HTTP header. Generate one here: it is \
                 shown only once, and stays valid for " (lifetime) "."
            }
            @if let Shown::Token(t) = &shown {
                p.notice { "Here is your activation token. Copy it now: it is not shown again." }
                (copy_field("activation-token", "Activation token", t.token.as_str()))
                p #activation-expiry { "Expires " (t.record.expires.to_human()) }
            }
            form method="post" action=(action("token")) class="inline" {
                (csrf)
                button type="submit" class="primary" { "Generate activation token" }
            }
        }
        section.card #guides {
            h2 { "3. Set up your identity provider" }
            (guides(&base, &token_url, p.client_id.as_str(), &lifetime))
            form method="post" action=(action("postman")) class="inline" {
                (csrf)
                button type="submit" { "Download the Postman collection" }
            }
        }
        section.card #status data-status=(action("status")) {
            h2 { "4. Status" }
            p { "What scimd received from your identity provider. This panel refreshes itself every few seconds." }
            dl.facts {
                dt { "Users received" } dd #received-users { "…" }
                dt { "Groups received" } dd #received-groups { "…" }
            }
            h3 { "Last requests" }
            p.empty #no-requests { "No requests yet." }
            div.table { table #requests hidden {
                thead { tr { th { "Time" } th { "Method" } th { "Path" } th { "Status" } } }
                tbody {}
            } }
            div #last-error hidden {
                h3 { "Last error" }
                pre.answer #last-error-text {}
            }
            noscript { p { "Reload the page to see new requests." } }
        }
    };
    let mut resp = Html(public_page(&format!("Connect {}", p.name), body)).into_response();
    no_store(&mut resp);
    resp
}

/// Step-by-step guides, in the words of each identity provider's own screens.
fn guides(base: &str, token_url: &str, client_id: &str, lifetime: &str) -> Markup {
    html! {
        details #guide-okta open {
            summary { "Okta" }
            ol {
                li { "In the Okta Admin Console, open " b { "Applications › Applications" } " and your app (or create one: "
                     b { "Create App Integration" } ", then in its " b { "General" } " tab set " b { "Provisioning" } " to "
                     b { "SCIM" } ")." }
                li { "Open the " b { "Provisioning" } " tab, " b { "Integration" } ", " b { "Edit" } ":"
                    ul {
                        li { b { "SCIM connector base URL" } ": the Base URL above" }
                        li { b { "Unique identifier field for users" } ": " code { "userName" } }
                        li { b { "Supported provisioning actions" } ": Push New Users, Push Profile Updates, Push Groups \
                              (and Import New Users and Profile Updates to read users back)" }
                        li { b { "Authentication Mode" } ": " b { "HTTP Header" } }
                        li { b { "Authorization" } ": the activation token from step 2 (the token alone; Okta adds \"Bearer\")" }
                    }
                }
                li { "Press " b { "Test Connector Configuration" } ", then " b { "Save" } "." }
                li { "Under " b { "Provisioning › To App" } ", " b { "Edit" } ": enable Create Users, Update User Attributes \
                     and Deactivate Users; " b { "Save" } "." }
                li { "Assign people or groups in " b { "Assignments" } ", and push groups in " b { "Push Groups" } ". \
                     The status panel below shows them arrive." }
            }
            p.count { "Okta never refreshes this token: it is valid for " (lifetime) "; generate a new one before then." }
        }
        details #guide-entra {
            summary { "Microsoft Entra ID" }
            ol {
                li { "In the Microsoft Entra admin center, open " b { "Enterprise applications › New application › Create your \
                     own application" } " and choose " b { "Integrate any other application you don't find in the gallery" } "." }
                li { "Open " b { "Provisioning" } ", set " b { "Provisioning Mode" } " to " b { "Automatic" } ", and under "
                     b { "Admin Credentials" } ":"
                    ul {
                        li { b { "Tenant URL" } ": the Base URL above" }
                        li { b { "Secret Token" } ": the activation token from step 2" }
                    }
                    "Or, with " b { "OAuth2 Client Credentials Grant" } " as the authentication method: "
                    b { "Token endpoint" } " = the Token URL, " b { "Client identifier" } " = " code { (client_id) } ", "
                    b { "Client secret" } " = the client secret (from the administrator who sent this link); Entra then \
                     fetches and renews tokens itself."
                }
                li { "Press " b { "Test Connection" } ", then " b { "Save" } "." }
                li { "Set " b { "Provisioning Status" } " to " b { "On" } " and save. Entra pushes every 40 minutes; "
                     b { "Provision on demand" } " sends one user at once." }
            }
        }
        details #guide-curl {
            summary { "curl or Postman" }
            p { "An activation token by the OAuth 2.0 client-credentials grant (client id and secret in a Basic header):" }
            pre.answer { "curl -u '" (client_id) ":CLIENT_SECRET' -d grant_type=client_credentials \\\n  " (token_url) }
            p { "A request with a token (from step 2, or from the command above):" }
            pre.answer { "curl -H 'Authorization: Bearer TOKEN' \\\n  '" (base) "/Users?startIndex=1&count=2'" }
            p { "The Postman collection holds every value but the client secret: paste the secret into its "
                code { "scim_client_secret" } " variable, then " b { "Get New Access Token" } " in the collection's "
                b { "Authorization" } " tab." }
        }
    }
}
