//! The admin console: server-rendered pages under `/admin`, plain forms with a CSRF token,
//! and one small script of our own (reveal, copy, confirm) served from the binary.

mod audit;
mod lifecycle;
mod provider_log;
mod provider_page;
mod provider_schemas;
mod provider_setup_links;
mod providers;
mod resources;
mod subscription_page;
mod subscriptions;

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html as HtmlResponse, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use scimd_core::CoreError;
use serde::Deserialize;

use super::auth::{self, ConsoleAdmin, LOGIN_COOKIE, SESSION_COOKIE};
use super::failure::error_page;
use super::html::{self, Section, Viewer};
use crate::AppState;
use crate::client_addr::ClientAddr;
use maud::Markup;

/// How long a failed sign-in answer is held back: with the per-account and per-address
/// limits, guessing stays slow even from many connections.
const FAILED_SIGNIN_DELAY: Duration = Duration::from_millis(500);

pub fn routes(state: AppState) -> Router<AppState> {
    let signed_in = Router::new()
        .route("/admin/logout", post(logout))
        .merge(providers::routes())
        .merge(resources::routes())
        .merge(audit::routes())
        .merge(lifecycle::routes())
        .merge(subscriptions::routes())
        .layer(axum::middleware::from_fn_with_state(state, auth::console_session));
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/providers") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/providers") }))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/static/{file}", get(static_file))
        .merge(signed_in)
}

/// The providers list, first of the breadcrumbs of every provider page.
pub(super) const PROVIDERS: (&str, &str) = ("Providers", "/admin/providers");

/// A console handler's answer: a page, or the page for what went wrong.
pub(super) type Page = Result<Response, PageError>;

pub(super) struct PageError(CoreError);

impl From<CoreError> for PageError {
    fn from(e: CoreError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(&self.0)
    }
}

/// What a removal's form sends: the id typed again, so that a slip of the mouse removes nothing.
#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

impl ConfirmForm {
    /// Refused unless the confirmation is `id`; `what` names the kind of thing in the refusal.
    pub(super) fn check(&self, id: &str, what: &str) -> Result<(), CoreError> {
        if self.confirm.trim() == id {
            return Ok(());
        }
        Err(CoreError::Invalid(format!(
            "the confirmation does not match the {what}'s id; nothing was deleted"
        )))
    }
}

/// A full console page for the signed-in administrator.
pub(super) fn render(
    admin: &ConsoleAdmin,
    title: &str,
    section: Section,
    crumbs: &[(&str, &str)],
    body: Markup,
) -> Page {
    let viewer = Viewer {
        admin: &admin.session.admin,
        csrf: &admin.session.csrf,
    };
    Ok(HtmlResponse(html::page(title, section, Some(&viewer), crumbs, body)).into_response())
}

async fn static_file(Path(file): Path<String>) -> Response {
    let (body, ty) = match file.as_str() {
        "console.js" => (include_str!("../static/console.js"), "text/javascript; charset=utf-8"),
        "console.css" => (include_str!("../static/console.css"), "text/css; charset=utf-8"),
        "setup.js" => (include_str!("../static/setup.js"), "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct NextParam {
    next: Option<String>,
}

/// Only a path inside the console may be a redirect target after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains("\\") => n.to_owned(),
        _ => "/admin/providers".to_owned(),
    }
}

fn login_page(status: StatusCode, nonce: &str, next: &str, error: Option<&str>, state: &AppState) -> Response {
    let body = maud::html! {
        @if let Some(e) = error {
            p.error role="alert" { (e) }
        }
        form method="post" action="/admin/login" class="card narrow" {
            (html::csrf(nonce))
            input type="hidden" name="next" value=(next);
            label for="name" { "Name" }
            input id="name" name="name" autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" class="primary" { "Sign in" }
        }
    };
    let page = html::page("Sign in", Section::None, None, &[], body);
    let mut resp = (status, HtmlResponse(page)).into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, auth::set_cookie(state, LOGIN_COOKIE, nonce, 3600));
    resp
}

/// The sign-in form's token: the one this browser already holds (so two open sign-in tabs
/// do not invalidate each other), or a fresh one.
fn login_token(headers: &HeaderMap) -> String {
    auth::cookie(headers, LOGIN_COOKIE)
        .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(auth::login_nonce)
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<NextParam>) -> Response {
    login_page(
        StatusCode::OK,
        &login_token(&headers),
        &safe_next(q.next.as_deref()),
        None,
        &state,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: Option<String>,
    name: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    // Double-submit: the form's token must equal the cookie the form came with.
    let cookie = auth::cookie(&headers, LOGIN_COOKIE);
    let csrf_ok = matches!((&cookie, &f.csrf), (Some(c), Some(p)) if auth::same(c, p));
    if !csrf_ok {
        return auth::forbidden("The sign-in form is missing its CSRF token. Reload the page and try again.");
    }
    match state.core.sign_in(f.name.trim(), &f.password, client).await {
        Ok((id, _session)) => {
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                auth::set_cookie(&state, SESSION_COOKIE, &id, scimd_core::admin::SESSION_TTL_SECONDS),
            );
            h.append(header::SET_COOKIE, auth::set_cookie(&state, LOGIN_COOKIE, "", 0));
            resp
        }
        Err(e) => {
            tokio::time::sleep(FAILED_SIGNIN_DELAY).await;
            let p = crate::error::problem(&e);
            p.with_retry_after(login_page(
                p.status,
                &login_token(&headers),
                &next,
                Some(&p.detail),
                &state,
            ))
        }
    }
}

async fn logout(State(state): State<AppState>, Extension(admin): Extension<ConsoleAdmin>) -> Response {
    if let Err(e) = state.core.sign_out(&admin.id, &admin.session).await {
        return error_page(&e);
    }
    let mut resp = Redirect::to("/admin/login").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, auth::set_cookie(&state, SESSION_COOKIE, "", 0));
    resp
}
