//! Setup links on a provider's details page: make one (its URL shown once), see each link's
//! state, when it was first opened and how many tokens were made through it, and revoke it
//! with or without those tokens.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use axum::{Extension, Form, Router};
use maud::{Markup, html};
use scimd_core::setup::{CreatedLink, SetupLink};
use scimd_core::{Provider, Timestamp, TokenRecord};
use serde::Deserialize;

use super::Page;
use super::provider_page::{Once, details};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{copy_field, csrf as html_csrf, select};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers/{id}/setup-links", post(create))
        .route("/admin/providers/{id}/setup-links/{link}/revoke", post(revoke))
}

/// Lifetimes offered on the form; the command line and the API take any up to 30 days.
const LIFETIMES: &[(&str, &str)] = &[
    ("24h", "1 day"),
    ("72h", "3 days"),
    ("7d", "7 days"),
    ("30d", "30 days"),
];

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    expires: String,
    reveal_secret: Option<String>,
}

#[derive(Deserialize)]
struct RevokeForm {
    revoke_tokens: Option<String>,
}

/// The card. `created` is a link just made: its URL is shown this once.
pub(super) fn section(
    p: &Provider,
    links: &[SetupLink],
    tokens: &[TokenRecord],
    created: Option<&CreatedLink>,
    setup_url: impl Fn(&str) -> String,
    csrf: &str,
    now: Timestamp,
) -> Markup {
    let base = format!("/admin/providers/{}/setup-links", p.id);
    let made_through = |link: &str| tokens.iter().filter(|t| t.setup_link.as_deref() == Some(link)).count();
    html! {
        section.card #setup-links {
            h2 { "Setup links" }
            p {
                "A setup link lets the identity provider's own administrator (a vendor's IT admin, say) connect it \
                 without a console account: the page shows the Base URL, Token URL and Client ID, generates \
                 activation tokens, guides Okta and Entra set-ups, and shows the requests that arrive."
            }
            @if let Some(c) = created {
                p.notice {
                    "Setup link made. Send this URL to the identity provider's administrator: it is shown only now, \
                     and works until " (c.link.expires.to_rfc3339()) "."
                }
                (copy_field("setup-link-url", "Setup link", &setup_url(&c.code)))
            }
            form method="post" action=(base) class="stacked" {
                (html_csrf(csrf))
                label for="expires" { "Expires after" }
                (select("expires", Some("72h"), LIFETIMES))
                label.check {
                    input type="checkbox" name="reveal_secret" value="yes";
                    " The page may show the client secret, once (for Entra's OAuth option)"
                }
                button type="submit" class="primary" { "Create setup link" }
            }
            @if !links.is_empty() {
                div.table { table #setup-link-list {
                    thead { tr {
                        th { "ID" } th { "Created" } th { "Expires" } th { "State" } th { "First opened" }
                        th { "Tokens" } th {}
                    } }
                    tbody {
                        @for l in links {
                            @let n = made_through(&l.id);
                            tr {
                                td.mono { (l.id) }
                                td { (l.created.to_rfc3339()) br; span.count { (l.created_by) } }
                                td { (l.expires.to_rfc3339()) }
                                td { (l.state(now)) @if l.reveal_secret { br; span.count {
                                    (if l.secret_revealed.is_some() { "secret shown" } else { "may show the secret" })
                                } } }
                                td { (l.first_viewed.map_or_else(|| "not yet".to_owned(), |t| t.to_rfc3339())) }
                                td.num { (n) }
                                td {
                                    @if l.is_live(now) || n > 0 {
                                        form method="post" action=(format!("{base}/{}/revoke", l.id)) class="inline" {
                                            (html_csrf(csrf))
                                            @if n > 0 {
                                                label.check {
                                                    input type="checkbox" name="revoke_tokens" value="yes";
                                                    " and its " (n) " token" (if n == 1 { "" } else { "s" })
                                                }
                                            }
                                            button type="submit" class="danger" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(form): Form<CreateForm>,
) -> Page {
    let ttl = scimd_core::input::setup_link_ttl(Some(&form.expires))?;
    let created = state
        .core
        .create_setup_link(&id, ttl, form.reveal_secret.is_some(), &admin.actor())
        .await?;
    details(&state, &admin, &id, Once::SetupLink(Box::new(created))).await
}

async fn revoke(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((id, link)): Path<(String, String)>,
    Form(form): Form<RevokeForm>,
) -> Page {
    state
        .core
        .revoke_setup_link(&id, &link, form.revoke_tokens.is_some(), &admin.actor())
        .await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}#setup-links")).into_response())
}
