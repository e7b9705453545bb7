//! The console's lifecycle pages: soft-deleted users and groups with a restore button
//! (`/admin/deleted/{population}`), users whose access ends soon or ended with a renewal
//! form (`/admin/access/{population}`), and the banner of tripped mass-deletion guards with
//! the button that releases one.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use maud::{Markup, html};
use scim_proto::schema::ResourceKind;
use scimd_core::input::{parse_population, renewal};
use scimd_core::lifecycle::{AccessState, DeletedQuery, DeletedRecord};
use scimd_core::views::human_duration;
use scimd_core::{CoreError, Population, Provider, ResourceRecord};
use serde::Deserialize;
use serde_json::Value;

use super::{Page, render};
use crate::AppState;
use crate::admin::auth::{ConsoleAdmin, urlencode};
use crate::admin::html::{Section, csrf, pager, post_button};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/deleted/{population}", get(deleted_list))
        .route("/admin/deleted/{kind}/{id}/restore", post(restore))
        .route("/admin/access/{population}", get(access_list))
        .route("/admin/users/{id}/renew", post(renew))
        .route("/admin/providers/{id}/guard/release", post(guard_release))
}

const PAGE: u32 = 50;

fn text<'a>(r: &'a ResourceRecord, key: &str) -> &'a str {
    r.data.get(key).and_then(Value::as_str).unwrap_or("")
}

fn population_links(base: &str, current: Population) -> Markup {
    html! {
        p.tabs {
            @for p in [Population::Internal, Population::ThirdParty] {
                @if p == current {
                    strong { (p.as_str()) }
                } @else {
                    a href=(format!("{base}/{}", p.as_str())) { (p.as_str()) }
                }
                " "
            }
        }
    }
}

/// The tripped mass-deletion guards (of one provider, or all), each with what it refuses
/// and the button that releases it.
pub(super) async fn guard_banner(state: &AppState, csrf_token: &str, only: Option<&str>) -> Result<Markup, CoreError> {
    let tripped = state.core.tripped_guards().await?;
    Ok(html! {
        @for g in tripped.iter().filter(|g| only.is_none_or(|p| p == g.provider)) {
            div.warning.guard role="alert" {
                p {
                    strong { "Mass-deletion guard tripped for provider " a href=(format!("/admin/providers/{}", g.provider)) { (g.provider) } ". " }
                    "Since " (g.tripped_at.to_human()) " its deletes and deactivations are refused (503) so that a \
                     mis-scoped assignment cannot wipe the directory: it had removed " (g.removed) " of its " (g.base) " "
                    (if g.kind == "Group" { "groups" } else { "users" }) " within " (human_duration(g.window_seconds))
                    ", and one more would exceed its share of " (g.share_percent) "%. If these removals are intended, \
                     release the guard: the identity provider's retries then go through."
                }
                (post_button(&format!("/admin/providers/{}/guard/release", g.provider), csrf_token, "Release the guard", "danger"))
            }
        }
    })
}

/// A provider's lifecycle settings, for its details page.
pub(super) fn facts(p: &Provider) -> Markup {
    let s = &p.settings;
    html! {
        dt { "On delete" } dd #on-delete { (s.on_delete.as_str()) }
        dt { "Retention" } dd #retention { (human_duration(s.retention_seconds)) }
        dt { "Access lifetime" } dd #access-ttl { (s.access_ttl_seconds.map_or_else(|| "none".to_owned(), human_duration)) }
        dt { "Mass-deletion guard" } dd #guard {
            @if s.guard.enabled {
                "on: more than " (s.guard.share_percent) "% of its users or groups deleted or deactivated within "
                (human_duration(s.guard.window_seconds)) " (from " (s.guard.min_users) " users or groups)"
            } @else {
                "off"
            }
        }
    }
}

/// A user's access end date, effective state and renewal form, for its details page.
pub(super) fn access_section(r: &ResourceRecord, now: scimd_core::Timestamp, csrf_token: &str) -> Markup {
    let state = AccessState::of(r, now);
    html! {
        @if let Some(end) = r.access_end {
            section.card #access {
                h2 { "Access" }
                dl.facts {
                    dt { "Effective state" } dd #access-state { (state.as_str()) }
                    dt { "Access ends" } dd #access-end { (end.to_human()) }
                }
                (renew_form(&r.id, csrf_token, &format!("/admin/users/{}/{}", r.population, r.id)))
            }
        }
    }
}

fn renew_form(id: &str, csrf_token: &str, back: &str) -> Markup {
    html! {
        form method="post" action=(format!("/admin/users/{id}/renew")) class="inline renew" {
            (csrf(csrf_token))
            input type="hidden" name="back" value=(back);
            label.offscreen for=(format!("for-{id}")) { "Renew for" }
            input id=(format!("for-{id}")) name="for" value="90d" size="6" required;
            button type="submit" { "Renew" }
        }
    }
}

#[derive(Deserialize, Default)]
struct PageParam {
    page: Option<u64>,
}

async fn deleted_table(
    state: &AppState,
    admin: &ConsoleAdmin,
    population: Population,
    kind: ResourceKind,
    page: u64,
) -> Result<(Markup, u64), CoreError> {
    let (total, items) = state
        .core
        .deleted_page(DeletedQuery {
            population,
            kind,
            offset: (page - 1) * u64::from(PAGE),
            limit: PAGE,
        })
        .await?;
    let (noun, name, id) = match kind {
        ResourceKind::User => ("users", "userName", "deleted-users"),
        ResourceKind::Group => ("groups", "displayName", "deleted-groups"),
    };
    let row = |d: &DeletedRecord| {
        let r = &d.record;
        let restore = format!("/admin/deleted/{noun}/{}/restore", r.id);
        html! {
            tr {
                td { (text(r, name)) }
                td { a href=(format!("/admin/providers/{}", r.provider)) { (r.provider.as_str()) } }
                td { (d.deleted.to_human()) }
                td { (d.deleted_by) }
                td { (d.purge_after.to_human()) }
                td { (post_button(&restore, &admin.session.csrf, "Restore", "")) }
            }
        }
    };
    let markup = html! {
        section.card {
            h2 { "Deleted " (noun) }
            p.count { (total) " deleted " (noun) }
            @if !items.is_empty() {
                div.table { table id=(id) {
                    thead { tr {
                        th { (name) } th { "Provider" } th { "Deleted" } th { "By" } th { "Purged after" } th {}
                    } }
                    tbody { @for d in &items { (row(d)) } }
                } }
            }
        }
    };
    Ok((markup, total))
}

async fn deleted_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(population): Path<String>,
    Query(p): Query<PageParam>,
) -> Page {
    let population = parse_population(&population)?;
    let page = p.page.unwrap_or(1).max(1);
    let base = format!("/admin/deleted/{}", population.as_str());
    let (users, user_count) = deleted_table(&state, &admin, population, ResourceKind::User, page).await?;
    let (groups, group_count) = deleted_table(&state, &admin, population, ResourceKind::Group, page).await?;
    let more = page * u64::from(PAGE) < user_count.max(group_count);
    let at = |n: u64| format!("{base}?page={n}");
    let h = html! {
        (guard_banner(&state, &admin.session.csrf, None).await?)
        (population_links("/admin/deleted", population))
        p {
            "Users and groups deleted by their identity provider (or an administrator) are kept here until their \
             provider's retention ends, then purged for good. A restored one comes back with its id and attributes, \
             and rejoins the groups (gets back the members) that still exist."
        }
        (users)
        (groups)
        (pager((page > 1).then(|| at(page - 1)), more.then(|| at(page + 1))))
    };
    render(&admin, "Deleted", Section::Deleted, &[("Deleted", "")], h)
}

async fn restore(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((kind, id)): Path<(String, String)>,
) -> Page {
    let kind = match kind.as_str() {
        "users" => ResourceKind::User,
        "groups" => ResourceKind::Group,
        other => return Err(CoreError::NotFound(format!("'{other}'")).into()),
    };
    let rec = state.core.restore(kind, &id, &admin.actor()).await?;
    let target = match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    Ok(Redirect::to(&format!("/admin/{target}/{}/{}", rec.population, urlencode(&rec.id))).into_response())
}

async fn access_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(population): Path<String>,
) -> Page {
    let population = parse_population(&population)?;
    let users = state.core.access_ending(population).await?;
    let now = state.core.now();
    let base = format!("/admin/access/{}", population.as_str());
    let h = html! {
        (population_links("/admin/access", population))
        p {
            "Users of providers with an access lifetime whose access ends within 14 days, or has ended. Their \
             identity provider cannot extend it: renew it here (or with scimd users renew ID --for 90d)."
        }
        @if users.is_empty() {
            p.empty { "No user's access ends within 14 days." }
        } @else {
            div.table { table #expiring {
                thead { tr { th { "userName" } th { "Provider" } th { "State" } th { "Access ends" } th {} } }
                tbody {
                    @for r in &users {
                        @let state_now = AccessState::of(r, now);
                        tr class=[(state_now == AccessState::Expired).then_some("warn")] {
                            td { a href=(format!("/admin/users/{}/{}", population, r.id)) { (text(r, "userName")) } }
                            td { a href=(format!("/admin/providers/{}", r.provider)) { (r.provider.as_str()) } }
                            td { (state_now.as_str()) }
                            td { (r.access_end.map(|e| e.to_human()).unwrap_or_default()) }
                            td { (renew_form(&r.id, &admin.session.csrf, &base)) }
                        }
                    }
                }
            } }
        }
    };
    render(&admin, "Access ending", Section::Access, &[("Access ending", "")], h)
}

#[derive(Deserialize)]
struct RenewForm {
    #[serde(rename = "for")]
    period: String,
    back: Option<String>,
}

async fn renew(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<RenewForm>,
) -> Page {
    let seconds = renewal(&f.period)?;
    let rec = state.core.renew_user(&id, seconds, &admin.actor()).await?;
    let back = f
        .back
        .filter(|b| b.starts_with("/admin/") && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| format!("/admin/users/{}/{}", rec.population, rec.id));
    Ok(Redirect::to(&back).into_response())
}

async fn guard_release(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    state.core.release_guard(&id, &admin.actor()).await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response())
}
