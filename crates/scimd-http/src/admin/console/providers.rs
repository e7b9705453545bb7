//! Provisioning › Identity management › Providers: the list, registration, and a
//! provider's details with its credentials, tokens and actions.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Extension, Form, Router};
use scimd_core::Provider;
use scimd_core::provider::ProviderSettings;
use serde::Deserialize;

use super::provider_page::{self, Once, details};
use super::{ConfirmForm, PROVIDERS as CRUMB, Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Section, confirm_form, csrf, select};
use maud::{Markup, html};
use scimd_core::input::{NumberOrText, ProviderInput, split_list};
use scimd_core::request_log::{LogHealth, LogLimits};
use scimd_core::views::{TokenStatus, human_duration, typed_duration};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers", get(providers_list).post(providers_create))
        .route("/admin/providers/new", get(providers_new))
        .route(
            "/admin/providers/{id}/delete",
            get(providers_delete_confirm).post(providers_delete),
        )
        .route("/admin/providers/{id}/edit", get(providers_edit).post(providers_update))
        .merge(provider_page::routes())
}

#[derive(Deserialize, Default)]
struct ListFilter {
    name: Option<String>,
    tag: Option<String>,
    population: Option<String>,
    enabled: Option<String>,
}

fn matches(p: &Provider, f: &ListFilter) -> bool {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    };
    given(&f.name).is_none_or(|n| p.name.to_lowercase().contains(&n) || p.id.as_str().contains(&n))
        && given(&f.tag).is_none_or(|t| p.tags.iter().any(|x| x.to_lowercase() == t))
        && given(&f.population).is_none_or(|x| p.population.as_str() == x)
        && given(&f.enabled).is_none_or(|e| (e == "yes") == p.enabled)
}

async fn providers_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(f): Query<ListFilter>,
) -> Page {
    let all = state.core.providers().await?;
    let now = state.core.now();
    let shown: Vec<&Provider> = all.iter().filter(|p| matches(p, &f)).collect();
    let health = state.core.log_health_all().await.unwrap_or_default();
    let mut rows = Vec::with_capacity(shown.len());
    for p in shown {
        let tokens = state.core.tokens(p.id.as_str()).await.unwrap_or_default();
        let h = health.get(p.id.as_str()).copied().unwrap_or_default();
        rows.push((p, TokenStatus::of(&tokens, now), h));
    }
    let banner = super::lifecycle::guard_banner(&state, &admin.session.csrf, None).await?;
    let h = html! {
        (banner)
        div.actions { a.button.primary href="/admin/providers/new" { "New provider" } }
        form method="get" class="filters" role="search" {
            label for="name" { "Name" }
            input id="name" name="name" value=(f.name.as_deref().unwrap_or(""));
            label for="tag" { "Tag" }
            input id="tag" name="tag" value=(f.tag.as_deref().unwrap_or(""));
            label for="population" { "Population" }
            (select("population", f.population.as_deref(), &[("", "Any"), ("internal", "Internal"), ("third-party", "Third-party")]))
            label for="enabled" { "Enabled" }
            (select("enabled", f.enabled.as_deref(), &[("", "Any"), ("yes", "Yes"), ("no", "No")]))
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p.empty { "No providers match. Register one with “New provider”." }
        } @else {
            div.table { table {
                thead { tr {
                    th { "ID" } th { "Name" } th { "Population" } th { "Tags" }
                    th { "Enabled" } th { "Created" } th { "Token expiry" } th { "Last requests" }
                } }
                tbody {
                    @for (p, status, h) in &rows {
                        tr {
                            td { a href=(format!("/admin/providers/{}", p.id)) { (p.id.as_str()) } }
                            td { (p.name) }
                            td { (p.population.as_str()) }
                            td { (p.tags.join(", ")) }
                            td { (if p.enabled { "yes" } else { "no" }) }
                            td { (p.created.to_rfc3339()) }
                            td class=[status.expiring_soon.then_some("warn")] {
                                (status.expires.map_or_else(|| "no live token".to_owned(), |e| e.to_rfc3339()))
                            }
                            (recent_cell(p, h))
                        }
                    }
                }
            } }
        }
    };
    render(&admin, "Providers", Section::Providers, &[CRUMB], h)
}

/// How the provider's latest requests went: a warning linking to its failures when most of
/// them failed (see `LogHealth::failing`).
fn recent_cell(p: &Provider, h: &LogHealth) -> Markup {
    html! {
        @if let Some(w) = h.warning() {
            td.warn.failing {
                a href=(format!("/admin/providers/{}?status=failed#log", p.id)) { (w) }
            }
        } @else if h.recent_total == 0 {
            td.empty { "none yet" }
        } @else {
            td { (h.recent_failed) " of the last " (h.recent_total) " failed" }
        }
    }
}

/// The settings fields of the new and edit forms; `p` fills them when editing. The
/// population is chosen only when registering. Log settings left empty are the server's
/// (`server`, shown as placeholders).
fn settings_fields(p: Option<&Provider>, server: LogLimits) -> Markup {
    let own = p.map(|p| p.settings.log).unwrap_or_default();
    let shown = |v: Option<String>| v.unwrap_or_default();
    let ttl = p
        .map(|p| format!("{}d", p.token_ttl_seconds / 86_400))
        .unwrap_or_default();
    let tags = p.map(|p| p.tags.join(", ")).unwrap_or_default();
    let nets = p
        .map(|p| {
            p.allowed_networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    html! {
        label for="name" { "Name" }
        input id="name" name="name" required maxlength="200" value=(p.map_or("", |p| p.name.as_str()));
        @match p {
            None => {
                fieldset {
                    legend { "Population (fixed once saved)" }
                    label.radio { input type="radio" name="population" value="internal" checked; " Internal (staff)" }
                    label.radio { input type="radio" name="population" value="third-party"; " Third-party (vendors, contractors)" }
                }
                label.check { input type="checkbox" name="enabled" value="on" checked; " Enabled" }
            }
            Some(existing) => p { "Population: " (existing.population) " (fixed once saved)" }
        }
        label for="description" { "Description" }
        textarea id="description" name="description" rows="2" { (p.map_or("", |p| p.description.as_str())) }
        label for="tags" { "Tags (comma-separated)" }
        input id="tags" name="tags" value=(tags);
        label for="token_ttl" { "Token lifetime (e.g. 365d, 90d, 12h)" }
        input id="token_ttl" name="token_ttl" placeholder="365d" value=(ttl);
        label for="token_expiry_date" { "or tokens expire on" }
        input id="token_expiry_date" name="token_expiry_date" type="date";
        label for="allowed_networks" { "Allowed networks (CIDR, comma-separated; empty: any)" }
        input id="allowed_networks" name="allowed_networks" placeholder="10.0.0.0/8, 192.0.2.0/24" value=(nets);
        label for="group_patch_response" { "Answer to a group PATCH" }
        (select("group_patch_response", p.map(|p| p.settings.group_patch_response.as_str()), &[
            ("no-content", "204 No Content (fast for large groups; Okta and Entra accept it)"),
            ("full", "200 with the whole group and all its members"),
        ]))
        label for="undeclared" { "Attributes no schema declares" }
        (select("undeclared", p.map(|p| p.settings.undeclared.as_str()), &[
            ("keep", "Keep them as sent (and advertise them in /Schemas)"),
            ("reject", "Refuse the request, naming them"),
        ]))
        fieldset #log-settings {
            legend { "Provisioning log (empty: the server's setting)" }
            label for="log_failure_retention" { "Keep failed requests for (e.g. 7d, 30d)" }
            input id="log_failure_retention" name="log_failure_retention"
                placeholder=(human_duration(server.failure_retention_seconds))
                value=(shown(own.failure_retention_seconds.map(typed_duration)));
            label for="log_failure_max" { "Failed requests kept, at most" }
            input id="log_failure_max" name="log_failure_max" inputmode="numeric"
                placeholder=(server.failure_max) value=(shown(own.failure_max.map(|n| n.to_string())));
            label for="log_success_max" { "Successful requests kept (the last ones)" }
            input id="log_success_max" name="log_success_max" inputmode="numeric"
                placeholder=(server.success_max) value=(shown(own.success_max.map(|n| n.to_string())));
        }
        (lifecycle_fields(p))
    }
}

/// Deletes, retention, access lifetime and the mass-deletion guard.
fn lifecycle_fields(p: Option<&Provider>) -> Markup {
    let defaults = ProviderSettings::default();
    let s = p.map_or(&defaults, |p| &p.settings);
    html! {
        fieldset #lifecycle {
            legend { "Lifecycle" }
            label for="on_delete" { "When the identity provider deletes a user or group" }
            (select("on_delete", Some(s.on_delete.as_str()), &[
                ("soft", "Keep it, restorable, for the retention (soft delete)"),
                ("hard", "Delete it for good"),
            ]))
            label for="retention" { "Retention of deleted users and groups (e.g. 30d, 12h)" }
            input id="retention" name="retention" value=(typed_duration(s.retention_seconds));
            label for="access_ttl" { "Access lifetime (e.g. 90d; empty: access never ends)" }
            input id="access_ttl" name="access_ttl" placeholder="90d"
                value=(s.access_ttl_seconds.map(typed_duration).unwrap_or_default());
            p.hint { "Suggested for third-party providers (vendors, contractors): their users' access then ends                       unless an administrator renews it." }
            label.check { input type="checkbox" name="guard" value="on" checked[s.guard.enabled]; " Mass-deletion guard" }
            label for="guard_share" { "Refuse deletes and deactivations past this share of users (or groups)" }
            input id="guard_share" name="guard_share" value=(format!("{}%", s.guard.share_percent));
            label for="guard_window" { "within (e.g. 10m)" }
            input id="guard_window" name="guard_window" value=(typed_duration(s.guard.window_seconds));
            label for="guard_min_users" { "from this many users (or groups)" }
            input id="guard_min_users" name="guard_min_users" value=(s.guard.min_users);
        }
    }
}

async fn providers_new(State(state): State<AppState>, Extension(admin): Extension<ConsoleAdmin>) -> Page {
    let h = html! {
        form method="post" action="/admin/providers" class="card" {
            (csrf(&admin.session.csrf))
            (settings_fields(None, state.core.log_config().limits))
            button type="submit" class="primary" { "Register provider" }
        }
    };
    render(&admin, "New provider", Section::Providers, &[CRUMB, ("New", "")], h)
}

async fn providers_edit(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let p = state.core.provider(&id).await?;
    let h = html! {
        form method="post" action=(format!("/admin/providers/{}/edit", p.id)) class="card" {
            (csrf(&admin.session.csrf))
            (settings_fields(Some(&p), state.core.log_config().limits))
            button type="submit" class="primary" { "Save" }
        }
    };
    let crumbs = [CRUMB, (p.name.as_str(), ""), ("Edit", "")];
    render(&admin, &format!("Edit {}", p.name), Section::Providers, &crumbs, h)
}

#[derive(Deserialize)]
struct ProviderForm {
    name: String,
    population: Option<String>,
    enabled: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    token_ttl: String,
    #[serde(default)]
    token_expiry_date: String,
    #[serde(default)]
    allowed_networks: String,
    group_patch_response: Option<String>,
    undeclared: Option<String>,
    log_failure_retention: Option<String>,
    log_failure_max: Option<String>,
    log_success_max: Option<String>,
    on_delete: Option<String>,
    retention: Option<String>,
    access_ttl: Option<String>,
    /// The checkbox: present when on.
    guard: Option<String>,
    guard_share: Option<String>,
    guard_window: Option<String>,
    guard_min_users: Option<String>,
}

impl ProviderForm {
    /// The form as the input both surfaces take; `enabled` only means something when
    /// registering (an existing provider is switched with its own buttons).
    fn input(self, registering: bool) -> ProviderInput {
        ProviderInput {
            name: Some(self.name),
            population: self.population,
            enabled: registering.then_some(self.enabled.is_some()),
            description: Some(self.description),
            tags: Some(split_list(&self.tags)),
            token_ttl: Some(self.token_ttl),
            token_expiry_date: Some(self.token_expiry_date),
            allowed_networks: Some(split_list(&self.allowed_networks)),
            group_patch_response: self.group_patch_response,
            undeclared: self.undeclared,
            log_failure_retention: self.log_failure_retention,
            log_failure_max: self.log_failure_max.map(NumberOrText::Text),
            log_success_max: self.log_success_max.map(NumberOrText::Text),
            on_delete: self.on_delete,
            retention: self.retention,
            // Empty: no access lifetime.
            access_ttl: Some(
                self.access_ttl
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| "none".into()),
            ),
            guard: Some(if self.guard.is_some() { "on" } else { "off" }.to_owned()),
            guard_share: self.guard_share,
            guard_window: self.guard_window,
            guard_min_users: self.guard_min_users.map(NumberOrText::Text),
        }
    }
}

async fn providers_create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Form(f): Form<ProviderForm>,
) -> Page {
    let new = f.input(true).into_new(state.core.now())?;
    let (p, secret) = state.core.register(new, &admin.actor()).await?;
    // The secret is shown once, right here, like the CLI does.
    details(&state, &admin, p.id.as_str(), Once::Registered(secret)).await
}

async fn providers_update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ProviderForm>,
) -> Page {
    let (update, _) = f.input(false).into_update(state.core.now())?;
    state.core.update_provider(&id, update, &admin.actor()).await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response())
}

async fn providers_delete_confirm(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let p = state.core.provider(&id).await?;
    let h = html! {
        p.warning {
            "Deleting '" (p.name) "' removes its tokens and every user and group it provisioned into the "
            (p.population) " population. This cannot be undone."
        }
        (confirm_form(&format!("/admin/providers/{}/delete", p.id), &admin.session.csrf, "provider", p.id.as_str(), "Delete provider"))
    };
    let crumbs = [CRUMB, (p.name.as_str(), ""), ("Delete", "")];
    render(&admin, &format!("Delete {}", p.name), Section::Providers, &crumbs, h)
}

async fn providers_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Page {
    f.check(&id, "provider")?;
    state.core.delete_provider(&id, &admin.actor()).await?;
    Ok(Redirect::to("/admin/providers").into_response())
}
