//! Provisioning › Identity management › Providers: the list, registration, and a
//! provider's details with its credentials, tokens and actions.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Extension, Form, Router};
use scimd_core::Provider;
use serde::Deserialize;

use super::provider_page::{self, Once, details};
use super::{Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Html, Section};
use crate::admin::shared::{ProviderInput, split_list, token_status};

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

pub(super) const CRUMB: (&str, &str) = ("Providers", "/admin/providers");

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

fn select(h: &mut Html, name: &str, current: Option<&str>, options: &[(&str, &str)]) {
    h.raw(&format!("<select id=\"{name}\" name=\"{name}\">"));
    for (value, label) in options {
        let sel = if current == Some(*value) { " selected" } else { "" };
        h.raw(&format!("<option value=\"{value}\"{sel}>"))
            .text(label)
            .raw("</option>");
    }
    h.raw("</select>");
}

async fn providers_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(f): Query<ListFilter>,
) -> Page {
    let all = state.core.providers().await?;
    let now = state.core.now();
    let mut h = Html::new();
    h.raw("<div class=\"actions\"><a class=\"button primary\" href=\"/admin/providers/new\">New provider</a></div>");
    h.raw("<form method=\"get\" class=\"filters\" role=\"search\">")
        .raw("<label for=\"name\">Name</label><input id=\"name\" name=\"name\" value=\"")
        .text(f.name.as_deref().unwrap_or(""))
        .raw("\"><label for=\"tag\">Tag</label><input id=\"tag\" name=\"tag\" value=\"")
        .text(f.tag.as_deref().unwrap_or(""))
        .raw("\"><label for=\"population\">Population</label>");
    select(
        &mut h,
        "population",
        f.population.as_deref(),
        &[("", "Any"), ("internal", "Internal"), ("third-party", "Third-party")],
    );
    h.raw("<label for=\"enabled\">Enabled</label>");
    select(
        &mut h,
        "enabled",
        f.enabled.as_deref(),
        &[("", "Any"), ("yes", "Yes"), ("no", "No")],
    );
    h.raw("<button type=\"submit\">Filter</button></form>");
    let shown: Vec<&Provider> = all.iter().filter(|p| matches(p, &f)).collect();
    if shown.is_empty() {
        h.el(
            "p",
            "class=\"empty\"",
            "No providers match. Register one with “New provider”.",
        );
    } else {
        h.raw(
            "<div class=\"table\"><table><thead><tr><th>ID</th><th>Name</th><th>Population</th><th>Tags</th>\
               <th>Enabled</th><th>Created</th><th>Token expiry</th></tr></thead><tbody>",
        );
        for p in shown {
            let tokens = state.core.tokens(p.id.as_str()).await.unwrap_or_default();
            let status = token_status(&tokens, now);
            h.raw("<tr><td>")
                .link(&format!("/admin/providers/{}", p.id), p.id.as_str())
                .raw("</td>")
                .el("td", "", &p.name)
                .el("td", "", p.population.as_str())
                .el("td", "", &p.tags.join(", "))
                .el("td", "", if p.enabled { "yes" } else { "no" })
                .el("td", "", &p.created.to_rfc3339());
            let expiry = status
                .expires
                .map_or_else(|| "no live token".to_owned(), |e| e.to_rfc3339());
            h.el("td", if status.expiring_soon { "class=\"warn\"" } else { "" }, &expiry)
                .raw("</tr>");
        }
        h.raw("</tbody></table></div>");
    }
    render(&admin, "Providers", Section::Providers, &[CRUMB], h)
}

/// The settings fields of the new and edit forms; `p` fills them when editing. The
/// population is chosen only when registering.
fn settings_fields(h: &mut Html, p: Option<&Provider>) {
    let value = |v: &str| crate::admin::html::esc(v);
    h.raw(&format!(
        "<label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"200\" value=\"{}\">",
        value(p.map_or("", |p| p.name.as_str()))
    ));
    match p {
        None => {
            h.raw("<fieldset><legend>Population (fixed once saved)</legend>")
                .raw("<label class=\"radio\"><input type=\"radio\" name=\"population\" value=\"internal\" checked> Internal (staff)</label>")
                .raw("<label class=\"radio\"><input type=\"radio\" name=\"population\" value=\"third-party\"> Third-party (vendors, contractors)</label></fieldset>")
                .raw("<label class=\"check\"><input type=\"checkbox\" name=\"enabled\" value=\"on\" checked> Enabled</label>");
        }
        Some(p) => {
            h.el("p", "", &format!("Population: {} (fixed once saved)", p.population));
        }
    }
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
    h.raw("<label for=\"description\">Description</label><textarea id=\"description\" name=\"description\" rows=\"2\">")
        .text(p.map_or("", |p| p.description.as_str()))
        .raw("</textarea>")
        .raw(&format!("<label for=\"tags\">Tags (comma-separated)</label><input id=\"tags\" name=\"tags\" value=\"{}\">", value(&tags)))
        .raw(&format!("<label for=\"token_ttl\">Token lifetime (e.g. 365d, 90d, 12h)</label><input id=\"token_ttl\" name=\"token_ttl\" placeholder=\"365d\" value=\"{}\">", value(&ttl)))
        .raw("<label for=\"token_expiry_date\">or tokens expire on</label><input id=\"token_expiry_date\" name=\"token_expiry_date\" type=\"date\">")
        .raw(&format!("<label for=\"allowed_networks\">Allowed networks (CIDR, comma-separated; empty: any)</label><input id=\"allowed_networks\" name=\"allowed_networks\" placeholder=\"10.0.0.0/8, 192.0.2.0/24\" value=\"{}\">", value(&nets)));
}

async fn providers_new(Extension(admin): Extension<ConsoleAdmin>) -> Page {
    let mut h = Html::new();
    h.raw("<form method=\"post\" action=\"/admin/providers\" class=\"card\">")
        .csrf(&admin.session.csrf);
    settings_fields(&mut h, None);
    h.raw("<button type=\"submit\" class=\"primary\">Register provider</button></form>");
    render(&admin, "New provider", Section::Providers, &[CRUMB, ("New", "")], h)
}

async fn providers_edit(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let p = state.core.provider(&id).await?;
    let mut h = Html::new();
    h.raw(&format!(
        "<form method=\"post\" action=\"/admin/providers/{}/edit\" class=\"card\">",
        p.id
    ))
    .csrf(&admin.session.csrf);
    settings_fields(&mut h, Some(&p));
    h.raw("<button type=\"submit\" class=\"primary\">Save</button></form>");
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
    let mut h = Html::new();
    h.el(
        "p",
        "class=\"warning\"",
        &format!(
            "Deleting '{}' removes its tokens and every user and group it provisioned into the {} population. This cannot be undone.",
            p.name, p.population
        ),
    );
    h.raw(&format!(
        "<form method=\"post\" action=\"/admin/providers/{}/delete\" class=\"card\">",
        p.id
    ))
    .csrf(&admin.session.csrf)
    .raw("<label for=\"confirm\">Type the provider's id (")
    .text(p.id.as_str())
    .raw(") to confirm</label><input id=\"confirm\" name=\"confirm\" required autocomplete=\"off\">")
    .raw("<button type=\"submit\" class=\"danger\">Delete provider</button></form>");
    let crumbs = [CRUMB, (p.name.as_str(), ""), ("Delete", "")];
    render(&admin, &format!("Delete {}", p.name), Section::Providers, &crumbs, h)
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

async fn providers_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Page {
    if f.confirm.trim() != id {
        return Err(scimd_core::CoreError::Invalid(
            "the confirmation does not match the provider's id; nothing was deleted".into(),
        )
        .into());
    }
    state.core.delete_provider(&id, &admin.actor()).await?;
    Ok(Redirect::to("/admin/providers").into_response())
}
