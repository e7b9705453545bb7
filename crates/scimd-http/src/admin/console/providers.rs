//! Provisioning › Identity management › Providers: the list, registration, and a
//! provider's details with its credentials, tokens and actions.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use scimd_core::Provider;
use scimd_core::service::IssuedToken;
use serde::Deserialize;
use serde_json::json;

use super::{error_page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Html, Section};
use crate::admin::shared::{self, ProviderInput, split_list, token_status};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers", get(providers_list).post(providers_create))
        .route("/admin/providers/new", get(providers_new))
        .route("/admin/providers/{id}", get(providers_show))
        .route("/admin/providers/{id}/reveal", post(providers_reveal))
        .route("/admin/providers/{id}/token", post(providers_token))
        .route("/admin/providers/{id}/tokens/{token}/revoke", post(providers_revoke))
        .route("/admin/providers/{id}/rotate", post(providers_rotate))
        .route("/admin/providers/{id}/postman", post(providers_postman))
        .route("/admin/providers/{id}/enable", post(providers_enable))
        .route("/admin/providers/{id}/disable", post(providers_disable))
        .route(
            "/admin/providers/{id}/delete",
            get(providers_delete_confirm).post(providers_delete),
        )
        .route("/admin/providers/{id}/edit", get(providers_edit).post(providers_update))
}

const CRUMB: (&str, &str) = ("Providers", "/admin/providers");

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
) -> Response {
    let all = match state.core.providers().await {
        Ok(a) => a,
        Err(e) => return error_page(&e),
    };
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

async fn providers_new(Extension(admin): Extension<ConsoleAdmin>) -> Response {
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
) -> Response {
    let p = match state.core.provider(&id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
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
) -> Response {
    let created = match f.input(true).into_new(state.core.now()) {
        Ok(new) => state.core.register(new, &admin.actor()).await,
        Err(e) => Err(e),
    };
    match created {
        // The secret is shown once, right here, like the CLI does.
        Ok((p, secret)) => details(&state, &admin, &p.id.to_string(), Once::Registered(secret)).await,
        Err(e) => error_page(&e),
    }
}

async fn providers_update(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ProviderForm>,
) -> Response {
    let updated = match f.input(false).into_update(state.core.now()) {
        Ok((update, _)) => state.core.update_provider(&id, update, &admin.actor()).await,
        Err(e) => Err(e),
    };
    match updated {
        Ok(_) => Redirect::to(&format!("/admin/providers/{id}")).into_response(),
        Err(e) => error_page(&e),
    }
}

/// A value shown once on the details page.
enum Once {
    Nothing,
    Registered(String),
    Secret(String),
    Rotated(String),
    Issued(Box<IssuedToken>),
}

async fn details(state: &AppState, admin: &ConsoleAdmin, id: &str, once: Once) -> Response {
    let p = match state.core.provider(id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let tokens = match state.core.tokens(id).await {
        Ok(t) => t,
        Err(e) => return error_page(&e),
    };
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
    let mut resp = render(admin, &p.name, Section::Providers, &crumbs, h);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

async fn providers_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    details(&state, &admin, &id, Once::Nothing).await
}

/// The eye button: the page's script asks for JSON and fills the field in place; without
/// script the form answers with the page, secret shown. Either way the reveal is audited.
async fn providers_reveal(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let secret = match state.core.reveal_secret(&id, &admin.actor()).await {
        Ok(s) => s,
        Err(e) => return error_page(&e),
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Json(json!({"client_secret": secret})).into_response();
    }
    details(&state, &admin, &id, Once::Secret(secret)).await
}

async fn providers_token(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    match state.core.issue_token_as_admin(&id, &admin.actor()).await {
        Ok(t) => details(&state, &admin, &id, Once::Issued(Box::new(t))).await,
        Err(e) => error_page(&e),
    }
}

async fn providers_revoke(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((id, token)): Path<(String, String)>,
) -> Response {
    match state.core.revoke(&id, Some(&token), &admin.actor()).await {
        Ok(_) => Redirect::to(&format!("/admin/providers/{id}")).into_response(),
        Err(e) => error_page(&e),
    }
}

async fn providers_rotate(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    match state.core.rotate_secret(&id, &admin.actor()).await {
        Ok(secret) => details(&state, &admin, &id, Once::Rotated(secret)).await,
        Err(e) => error_page(&e),
    }
}

async fn providers_postman(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    match shared::postman(&state, &id, &admin.actor()).await {
        Ok(resp) => resp,
        Err(e) => error_page(&e),
    }
}

async fn set_enabled(state: &AppState, admin: &ConsoleAdmin, id: &str, enabled: bool) -> Response {
    match state.core.set_enabled(id, enabled, &admin.actor()).await {
        Ok(_) => Redirect::to(&format!("/admin/providers/{id}")).into_response(),
        Err(e) => error_page(&e),
    }
}

async fn providers_enable(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    set_enabled(&state, &admin, &id, true).await
}

async fn providers_disable(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    set_enabled(&state, &admin, &id, false).await
}

async fn providers_delete_confirm(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Response {
    let p = match state.core.provider(&id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
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
) -> Response {
    if f.confirm.trim() != id {
        return error_page(&scimd_core::CoreError::Invalid(
            "the confirmation does not match the provider's id; nothing was deleted".into(),
        ));
    }
    match state.core.delete_provider(&id, &admin.actor()).await {
        Ok(()) => Redirect::to("/admin/providers").into_response(),
        Err(e) => error_page(&e),
    }
}
