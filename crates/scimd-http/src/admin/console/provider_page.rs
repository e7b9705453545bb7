//! A provider's details page: its four values (the secret masked behind an audited eye
//! button), activation tokens, custom attributes, and the actions on it (rotate, Postman,
//! enable, disable).

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use scimd_core::grants::IssuedToken;
use serde_json::json;

use super::PROVIDERS as CRUMB;
use super::provider_log;
use super::provider_schemas::{self, SchemaForm};
use super::provider_setup_links;
use super::{Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Section, copy_field, csrf as html_csrf, post_button};
use maud::html;
use scimd_core::request_log::{LogOverrides, LogQuery};
use scimd_core::views::{TokenStatus, human_duration, token_state};

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
        .merge(provider_schemas::routes())
        .merge(provider_setup_links::routes())
}

/// A value shown once on the details page.
pub(super) enum Once {
    Nothing,
    Registered(String),
    Secret(String),
    Rotated(String),
    Issued(Box<IssuedToken>),
    /// An extension schema the form sent, refused for this reason.
    SchemaRefused(Box<SchemaForm>, String),
    /// A setup link just made: its URL.
    SetupLink(Box<scimd_core::setup::CreatedLink>),
}

pub(super) async fn details(state: &AppState, admin: &ConsoleAdmin, id: &str, once: Once) -> Page {
    details_with_log(state, admin, id, once, &LogQuery::default(), None).await
}

/// The page, its log section filtered by `log` (`raw`: the query string, for paging links).
async fn details_with_log(
    state: &AppState,
    admin: &ConsoleAdmin,
    id: &str,
    once: Once,
    log: &LogQuery,
    raw: Option<&str>,
) -> Page {
    let p = state.core.provider(id).await?;
    let log_section = provider_log::section(state, &p, log, raw).await;
    let tokens = state.core.tokens(id).await?;
    let discovered = state.core.discovered(&p).await?;
    let links = state.core.setup_links(id).await?;
    let now = state.core.now();
    let status = TokenStatus::of(&tokens, now);
    let csrf = &admin.session.csrf;
    let base = format!("/admin/providers/{}", p.id);
    let networks = if p.allowed_networks.is_empty() {
        "any".to_owned()
    } else {
        p.allowed_networks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let shown_secret = match &once {
        Once::Registered(s) | Once::Secret(s) | Once::Rotated(s) => Some(s.as_str()),
        _ => None,
    };
    let banner = super::lifecycle::guard_banner(state, csrf, Some(p.id.as_str())).await?;
    let h = html! {
        (banner)
        @if status.expiring_soon {
            p.warning role="alert" {
                "This provider's tokens expire within 14 days ("
                (status.expires.map(|e| e.to_rfc3339()).unwrap_or_default())
                "). Generate a new activation token and paste it into the identity provider before then: \
                 provisioning stops silently when it expires."
            }
        }
        @if p.settings.secret_lost {
            p.warning role="alert" #secret-lost {
                "This provider's client secret was sealed with a key file that is gone (scimd started with \
                 --accept-new-key). It cannot be revealed or used: rotate the secret and give the new one to \
                 the identity provider."
            }
        }
        @if !p.enabled {
            p.warning { "This provider is disabled: its tokens and token requests are refused." }
        }
        @match &once {
            Once::Registered(_) => p.notice {
                "Provider registered. Its client secret is shown below; later only through the eye button (audited)."
            },
            Once::Rotated(_) => p.notice {
                "New client secret. Tokens issued before stay valid; revoke them below if needed."
            },
            _ => {}
        }
        section.card {
            dl.facts {
                dt { "Name" } dd { (p.name) }
                dt { "Population" } dd #population { (p.population.as_str()) }
                dt { "Enabled" } dd { (if p.enabled { "yes" } else { "no" }) }
                dt { "Description" } dd { (p.description) }
                dt { "Tags" } dd { (p.tags.join(", ")) }
                dt { "Token lifetime" } dd { (human_duration(p.token_ttl_seconds)) }
                dt { "Allowed networks" } dd { (networks) }
                dt { "Group PATCH answer" } dd { (p.settings.group_patch_response.as_str()) }
                dt { "Undeclared attributes" } dd #undeclared { (p.settings.undeclared.as_str()) }
                dt { "Log retention" } dd #log-retention { (own_log_settings(&p.settings.log)) }
                (super::lifecycle::facts(&p))
                dt { "Created" } dd { (p.created.to_rfc3339()) }
            }
            (copy_field("base-url", "Base URL", &state.base_url(p.id.as_str())))
            (copy_field("token-url", "Token URL", &state.token_url()))
            (copy_field("client-id", "Client ID", p.client_id.as_str()))
            div.field {
                label for="client-secret" { "Client secret" }
                div.value {
                    input id="client-secret" readonly type=(if shown_secret.is_some() { "text" } else { "password" })
                        value=(shown_secret.unwrap_or("••••••••••••••••••••••••"));
                    form method="post" action=(format!("{base}/reveal")) class="inline reveal" data-target="client-secret" {
                        (html_csrf(csrf))
                        button type="submit" class="eye" title="Reveal (recorded in the audit log)" aria-label="Reveal the client secret" {
                            svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" {
                                path fill="none" stroke="currentColor" stroke-width="2" d="M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z" {}
                                circle cx="12" cy="12" r="3" fill="none" stroke="currentColor" stroke-width="2" {}
                            }
                            " Reveal"
                        }
                    }
                    button type="button" class="copy" data-copy="client-secret" title="Copy" { "Copy" }
                }
            }
        }
        section.card {
            h2 { "Activation token" }
            @if let Once::Issued(t) = &once {
                p.notice {
                    "Here is the new activation token. It is shown only now: copy it into the identity provider \
                     (Okta: HTTP Header authentication)."
                }
                (copy_field("activation-token", "Activation token", t.token.as_str()))
                p #activation-expiry { "Expires " (t.record.expires.to_rfc3339()) }
            }
            (post_button(&format!("{base}/token"), csrf, "Generate activation token", "primary"))
            h3 { "Issued tokens" }
            @if tokens.is_empty() {
                p.empty { "No tokens issued yet." }
            } @else {
                div.table { table #tokens {
                    thead { tr {
                        th { "ID" } th { "Created" } th { "Expires" } th { "Last used" } th { "State" }
                        th { "Setup link" } th {}
                    } }
                    tbody {
                        @for t in tokens.iter().rev() {
                            tr {
                                td.mono { (t.id) }
                                td { (t.created.to_rfc3339()) }
                                td { (t.expires.to_rfc3339()) }
                                td { (t.last_used.map_or_else(|| "never".to_owned(), |x| x.to_rfc3339())) }
                                td { (token_state(t, now)) }
                                td.mono { (t.setup_link.as_deref().unwrap_or("—")) }
                                td {
                                    @if t.is_live(now) {
                                        (post_button(&format!("{base}/tokens/{}/revoke", t.id), csrf, "Revoke", "danger"))
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        (provider_setup_links::section(
            &p,
            &links,
            &tokens,
            match &once {
                Once::SetupLink(c) => Some(&**c),
                _ => None,
            },
            |code| state.urls.setup(code),
            csrf,
            now,
        ))
        (provider_schemas::section(&p, &discovered, csrf, match &once {
            Once::SchemaRefused(form, why) => Some((&**form, why.as_str())),
            _ => None,
        }))
        (log_section)
        section.card.actions {
            h2 { "Actions" }
            (post_button(&format!("{base}/postman"), csrf, "Download Postman collection", ""))
            (post_button(&format!("{base}/rotate"), csrf, "Rotate secret", ""))
            @if p.enabled {
                (post_button(&format!("{base}/disable"), csrf, "Disable", ""))
            } @else {
                (post_button(&format!("{base}/enable"), csrf, "Enable", ""))
            }
            a href=(format!("{base}/edit")) { "Edit settings" }
            " "
            a href=(format!("{base}/delete")) { "Delete…" }
        }
    };
    let crumbs = [CRUMB, (p.name.as_str(), "")];
    let mut resp = render(admin, &p.name, Section::Providers, &crumbs, h)?;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The provider's own log settings, or that it follows the server's.
fn own_log_settings(o: &LogOverrides) -> String {
    if o.is_empty() {
        return "the server's".to_owned();
    }
    let mut parts = Vec::new();
    if let Some(s) = o.failure_retention_seconds {
        parts.push(format!("failures for {}", human_duration(s)));
    }
    if let Some(n) = o.failure_max {
        parts.push(format!("at most {n} failures"));
    }
    if let Some(n) = o.success_max {
        parts.push(format!("the last {n} successes"));
    }
    format!("{} (the rest the server's)", parts.join(", "))
}

async fn providers_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Query(log): Query<LogQuery>,
    RawQuery(raw): RawQuery,
) -> Page {
    details_with_log(&state, &admin, &id, Once::Nothing, &log, raw.as_deref()).await
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
    let resp = super::super::postman_download(&state, &id, &admin.actor()).await?;
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
