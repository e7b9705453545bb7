//! A provider's details page: its four values (the secret masked behind an audited eye
//! button), activation tokens, and the actions on it (rotate, Postman, enable, disable).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use scimd_core::service::IssuedToken;
use serde_json::json;

use super::providers::CRUMB;
use super::{Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Html, Section};
use crate::admin::shared::{self, token_status};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers/{id}", get(providers_show))
        .route("/admin/providers/{id}/reveal", post(providers_reveal))
        .route("/admin/providers/{id}/token", post(providers_token))
        .route("/admin/providers/{id}/tokens/{token}/revoke", post(providers_revoke))
        .route("/admin/providers/{id}/rotate", post(providers_rotate))
        .route("/admin/providers/{id}/postman", post(providers_postman))
        .route("/admin/providers/{id}/enable", post(providers_enable))
        .route("/admin/providers/{id}/disable", post(providers_disable))
}

/// A value shown once on the details page.
pub(super) enum Once {
    Nothing,
    Registered(String),
    Secret(String),
    Rotated(String),
    Issued(Box<IssuedToken>),
}

pub(super) async fn details(state: &AppState, admin: &ConsoleAdmin, id: &str, once: Once) -> Page {
    let p = state.core.provider(id).await?;
    let tokens = state.core.tokens(id).await?;
    let now = state.core.now();
    let status = token_status(&tokens, now);
    let csrf = &admin.session.csrf;
    let base = format!("/admin/providers/{}", p.id);
    let mut h = Html::new();
    if status.expiring_soon {
        h.el(
            "p",
            "class=\"warning\" role=\"alert\"",
            &format!(
                "This provider's tokens expire within 14 days ({}). Generate a new activation token and paste it into the identity provider before then: provisioning stops silently when it expires.",
                status.expires.map(|e| e.to_rfc3339()).unwrap_or_default()
            ),
        );
    }
    if !p.enabled {
        h.el(
            "p",
            "class=\"warning\"",
            "This provider is disabled: its tokens and token requests are refused.",
        );
    }
    match &once {
        Once::Registered(_) => {
            h.el(
                "p",
                "class=\"notice\"",
                "Provider registered. Its client secret is shown below; later only through the eye button (audited).",
            );
        }
        Once::Rotated(_) => {
            h.el(
                "p",
                "class=\"notice\"",
                "New client secret. Tokens issued before stay valid; revoke them below if needed.",
            );
        }
        _ => {}
    }
    h.raw("<section class=\"card\"><dl class=\"facts\">")
        .el("dt", "", "Name")
        .el("dd", "", &p.name)
        .el("dt", "", "Population")
        .el("dd", "id=\"population\"", p.population.as_str())
        .el("dt", "", "Enabled")
        .el("dd", "", if p.enabled { "yes" } else { "no" })
        .el("dt", "", "Description")
        .el("dd", "", &p.description)
        .el("dt", "", "Tags")
        .el("dd", "", &p.tags.join(", "))
        .el("dt", "", "Token lifetime")
        .el("dd", "", &format!("{} days", p.token_ttl_seconds / 86_400))
        .el("dt", "", "Allowed networks")
        .el(
            "dd",
            "",
            &if p.allowed_networks.is_empty() {
                "any".to_owned()
            } else {
                p.allowed_networks
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
        .el("dt", "", "Created")
        .el("dd", "", &p.created.to_rfc3339())
        .raw("</dl>");
    h.copy_field("base-url", "Base URL", &state.base_url(p.id.as_str()))
        .copy_field("token-url", "Token URL", &state.token_url())
        .copy_field("client-id", "Client ID", p.client_id.as_str());
    let shown_secret = match &once {
        Once::Registered(s) | Once::Secret(s) | Once::Rotated(s) => Some(s.as_str()),
        _ => None,
    };
    h.raw("<div class=\"field\"><label for=\"client-secret\">Client secret</label><div class=\"value\">");
    h.raw(&format!(
        "<input id=\"client-secret\" readonly type=\"{}\" value=\"",
        if shown_secret.is_some() { "text" } else { "password" }
    ))
    .text(shown_secret.unwrap_or("••••••••••••••••••••••••"))
    .raw("\">");
    h.raw(&format!("<form method=\"post\" action=\"{base}/reveal\" class=\"inline reveal\" data-target=\"client-secret\">"))
        .csrf(csrf)
        .raw("<button type=\"submit\" class=\"eye\" title=\"Reveal (recorded in the audit log)\" aria-label=\"Reveal the client secret\"><svg viewBox=\"0 0 24 24\" width=\"18\" height=\"18\" aria-hidden=\"true\"><path fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" d=\"M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z\"/><circle cx=\"12\" cy=\"12\" r=\"3\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\"/></svg> Reveal</button></form>")
        .raw("<button type=\"button\" class=\"copy\" data-copy=\"client-secret\" title=\"Copy\">Copy</button></div></div>");
    h.raw("</section>");

    h.raw("<section class=\"card\"><h2>Activation token</h2>");
    if let Once::Issued(t) = &once {
        h.el("p", "class=\"notice\"", "Here is the new activation token. It is shown only now: copy it into the identity provider (Okta: HTTP Header authentication).")
            .copy_field("activation-token", "Activation token", t.token.as_str())
            .el("p", "id=\"activation-expiry\"", &format!("Expires {}", t.record.expires.to_rfc3339()));
    }
    h.post_button(&format!("{base}/token"), csrf, "Generate activation token", "primary");
    h.raw("<h3>Issued tokens</h3>");
    if tokens.is_empty() {
        h.el("p", "class=\"empty\"", "No tokens issued yet.");
    } else {
        h.raw("<div class=\"table\"><table id=\"tokens\"><thead><tr><th>ID</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th></th></tr></thead><tbody>");
        for t in tokens.iter().rev() {
            let state_text = match (t.revoked, t.is_live(now)) {
                (Some(_), _) => "revoked",
                (None, true) => "live",
                (None, false) => "expired",
            };
            h.raw("<tr>")
                .el("td", "class=\"mono\"", &t.id)
                .el("td", "", &t.created.to_rfc3339())
                .el("td", "", &t.expires.to_rfc3339())
                .el(
                    "td",
                    "",
                    &t.last_used.map_or_else(|| "never".to_owned(), |x| x.to_rfc3339()),
                )
                .el("td", "", state_text)
                .raw("<td>");
            if t.is_live(now) {
                h.post_button(&format!("{base}/tokens/{}/revoke", t.id), csrf, "Revoke", "danger");
            }
            h.raw("</td></tr>");
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("</section>");

    h.raw("<section class=\"card actions\"><h2>Actions</h2>");
    h.post_button(&format!("{base}/postman"), csrf, "Download Postman collection", "");
    h.post_button(&format!("{base}/rotate"), csrf, "Rotate secret", "");
    if p.enabled {
        h.post_button(&format!("{base}/disable"), csrf, "Disable", "");
    } else {
        h.post_button(&format!("{base}/enable"), csrf, "Enable", "");
    }
    h.link(&format!("{base}/edit"), "Edit settings")
        .raw(" ")
        .link(&format!("{base}/delete"), "Delete…")
        .raw("</section>");
    let crumbs = [CRUMB, (p.name.as_str(), "")];
    let mut resp = render(admin, &p.name, Section::Providers, &crumbs, h)?;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn providers_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    details(&state, &admin, &id, Once::Nothing).await
}

/// The eye button: the page's script asks for JSON and fills the field in place; without
/// script the form answers with the page, secret shown. Either way the reveal is audited.
async fn providers_reveal(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let secret = state.core.reveal_secret(&id, &admin.actor()).await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(Json(json!({"client_secret": secret})).into_response());
    }
    details(&state, &admin, &id, Once::Secret(secret)).await
}

async fn providers_token(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let t = state.core.issue_token_as_admin(&id, &admin.actor()).await?;
    details(&state, &admin, &id, Once::Issued(Box::new(t))).await
}

async fn providers_revoke(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((id, token)): Path<(String, String)>,
) -> Page {
    state.core.revoke(&id, Some(&token), &admin.actor()).await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response())
}

async fn providers_rotate(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let secret = state.core.rotate_secret(&id, &admin.actor()).await?;
    details(&state, &admin, &id, Once::Rotated(secret)).await
}

async fn providers_postman(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let resp = shared::postman(&state, &id, &admin.actor()).await?;
    Ok(resp)
}

async fn set_enabled(state: &AppState, admin: &ConsoleAdmin, id: &str, enabled: bool) -> Page {
    state.core.set_enabled(id, enabled, &admin.actor()).await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response())
}

async fn providers_enable(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    set_enabled(&state, &admin, &id, true).await
}

async fn providers_disable(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    set_enabled(&state, &admin, &id, false).await
}
