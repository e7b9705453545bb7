//! Users and groups by population: `/admin/users/{internal|third-party}` and
//! `/admin/groups/{internal|third-party}` (third-party groups are vendors), searchable and
//! paginated, each with a details page; a group's members are paged by keyset.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Router};
use scim_proto::schema::ResourceKind;
use scim_proto::value::kept_attributes;
use scimd_core::lifecycle::AccessState;
use scimd_core::{Population, PopulationQuery, Provider, ResourceRecord};
use serde::Deserialize;
use serde_json::Value;

use super::{Page, render};
use crate::AppState;
use crate::admin::auth::{ConsoleAdmin, urlencode};
use crate::admin::html::{Section, pager};
use maud::html;
use scimd_core::input::parse_population;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{population}", get(users_list))
        .route("/admin/users/{population}/{id}", get(users_show))
        .route("/admin/groups/{population}", get(groups_list))
        .route("/admin/groups/{population}/{id}", get(groups_show))
}

const PAGE: u32 = 50;
const MEMBERS_PAGE: u32 = 100;

fn section(kind: ResourceKind, p: Population) -> (Section, &'static str, &'static str) {
    match (kind, p) {
        (ResourceKind::User, Population::Internal) => {
            (Section::InternalUsers, "Internal users", "/admin/users/internal")
        }
        (ResourceKind::User, Population::ThirdParty) => (
            Section::ThirdPartyUsers,
            "Third-party users",
            "/admin/users/third-party",
        ),
        (ResourceKind::Group, Population::Internal) => {
            (Section::InternalGroups, "User groups", "/admin/groups/internal")
        }
        (ResourceKind::Group, Population::ThirdParty) => {
            (Section::ThirdPartyGroups, "Vendors", "/admin/groups/third-party")
        }
    }
}

fn text<'a>(r: &'a ResourceRecord, key: &str) -> &'a str {
    r.data.get(key).and_then(Value::as_str).unwrap_or("")
}

fn active(r: &ResourceRecord) -> bool {
    r.data.get("active").and_then(Value::as_bool).unwrap_or(true)
}

fn full_name(r: &ResourceRecord) -> String {
    let name = r.data.get("name");
    let part = |k: &str| name.and_then(|n| n.get(k)).and_then(Value::as_str).unwrap_or("");
    match part("formatted") {
        "" => format!("{} {}", part("givenName"), part("familyName"))
            .trim()
            .to_owned(),
        f => f.to_owned(),
    }
}

fn email(r: &ResourceRecord) -> String {
    let emails = r.data.get("emails").and_then(Value::as_array);
    let pick = emails.and_then(|l| {
        l.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| l.first())
    });
    pick.and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

#[derive(Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    page: Option<u64>,
}

async fn list(state: AppState, admin: ConsoleAdmin, kind: ResourceKind, population: String, p: ListParams) -> Page {
    let population = parse_population(&population)?;
    let page = p.page.unwrap_or(1).max(1);
    let q = p.q.clone().unwrap_or_default();
    let query = PopulationQuery {
        population,
        kind,
        text: Some(q.clone()),
        offset: (page - 1) * u64::from(PAGE),
        limit: PAGE,
    };
    let (total, items) = state.core.population_page(query).await?;
    let now = state.core.now();
    let (sec, title, base) = section(kind, population);
    let placeholder = match kind {
        ResourceKind::User => "userName, name, email or externalId",
        ResourceKind::Group => "displayName or externalId",
    };
    let at = |n: u64| format!("{base}?q={}&page={n}", urlencode(&q));
    let more = page * u64::from(PAGE) < total;
    let banner = super::lifecycle::guard_banner(&state, &admin.session.csrf, None).await?;
    let h = html! {
        (banner)
        form method="get" class="filters" role="search" {
            label for="q" { "Search" }
            input id="q" name="q" type="search" value=(q) placeholder=(placeholder);
            button type="submit" { "Search" }
        }
        p.count { (total) " " (title.to_lowercase()) }
        @if items.is_empty() {
            p.empty { "Nothing here yet." }
        } @else {
            div.table { table #resources {
                thead { tr {
                    @match kind {
                        ResourceKind::User => {
                            th { "userName" } th { "Name" } th { "Email" } th { "externalId" } th { "State" } th { "Provider" }
                        }
                        ResourceKind::Group => {
                            th { "displayName" } th { "externalId" } th { "Members" } th { "Provider" }
                        }
                    }
                } }
                tbody {
                    @for v in &items {
                        @let r = &v.record;
                        @let href = format!("{base}/{}", r.id);
                        tr {
                            @match kind {
                                ResourceKind::User => {
                                    td { a href=(href) { (text(r, "userName")) } }
                                    td { (full_name(r)) }
                                    td { (email(r)) }
                                    td { (text(r, "externalId")) }
                                    td { (AccessState::of(r, now).as_str()) }
                                }
                                ResourceKind::Group => {
                                    td { a href=(href) { (text(r, "displayName")) } }
                                    td { (text(r, "externalId")) }
                                    td.num { (v.count) }
                                }
                            }
                            td { a href=(format!("/admin/providers/{}", r.provider)) { (r.provider.as_str()) } }
                        }
                    }
                }
            } }
        }
        (pager((page > 1).then(|| at(page - 1)), more.then(|| at(page + 1))))
    };
    render(&admin, title, sec, &[(title, base)], h)
}

async fn users_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(population): Path<String>,
    Query(p): Query<ListParams>,
) -> Page {
    list(state, admin, ResourceKind::User, population, p).await
}

async fn groups_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(population): Path<String>,
    Query(p): Query<ListParams>,
) -> Page {
    list(state, admin, ResourceKind::Group, population, p).await
}

#[derive(Deserialize, Default)]
struct MemberParams {
    after: Option<i64>,
}

async fn show(
    state: AppState,
    admin: ConsoleAdmin,
    kind: ResourceKind,
    population: String,
    id: String,
    after: i64,
) -> Page {
    let population = parse_population(&population)?;
    let d = state.core.population_resource(population, kind, &id).await?;
    let r = &d.record;
    let (sec, title, base) = section(kind, population);
    let name = match kind {
        ResourceKind::User => text(r, "userName"),
        ResourceKind::Group => text(r, "displayName"),
    }
    .to_owned();
    let members = match kind {
        ResourceKind::Group => state.core.member_page(r, after, MEMBERS_PAGE).await?,
        ResourceKind::User => Vec::new(),
    };
    let next = (members.len() as u32 == MEMBERS_PAGE)
        .then(|| members.last().map(|m| format!("{base}/{}?after={}", r.id, m.seq)))
        .flatten();
    let first = (after > 0).then(|| format!("{base}/{}", r.id));
    let provider = state.core.provider(r.provider.as_str()).await?;
    let (custom, undeclared) = custom_attributes(&provider, kind, &r.data);
    let h = html! {
        section.card {
            dl.facts {
                dt { "id" } dd.mono { (r.id) }
                dt { "Provider" } dd { a href=(format!("/admin/providers/{}", r.provider)) { (r.provider.as_str()) } }
                dt { "Population" } dd { (r.population.as_str()) }
                @if kind == ResourceKind::User {
                    dt { "Active (as the provider set it)" } dd #active { (if active(r) { "yes" } else { "no" }) }
                }
                dt { "Created" } dd { (r.created.to_rfc3339()) }
                dt { "Modified" } dd { (r.modified.to_rfc3339()) }
            }
            h2 { "Attributes" }
            pre.json { (serde_json::to_string_pretty(&r.data).unwrap_or_default()) }
        }
        @if kind == ResourceKind::User {
            (super::lifecycle::access_section(r, state.core.now(), &admin.session.csrf))
        }
        @if !custom.is_empty() {
            section.card {
                h2 { "Custom attributes" }
                (attribute_table("custom", &custom))
            }
        }
        @if !undeclared.is_empty() {
            section.card {
                h2 { "Undeclared" }
                p {
                    "Sent by the provider but declared by no schema, so kept as sent. Declare them on the "
                    a href=(format!("/admin/providers/{}#custom-attributes", r.provider)) { "provider's page" }
                    " to type, filter and index them."
                }
                (attribute_table("undeclared", &undeclared))
            }
        }
        @match kind {
            ResourceKind::User => section.card {
                h2 { "Groups" }
                @if d.groups.is_empty() {
                    p.empty { "Member of no group." }
                } @else {
                    ul {
                        @for g in &d.groups {
                            li { a href=(format!("/admin/groups/{}/{}", population, g.id)) { (g.display.as_deref().unwrap_or(&g.id)) } }
                        }
                    }
                }
            },
            ResourceKind::Group => section.card {
                h2 { "Members" }
                p.count { (d.member_count) " members" }
                div.table { table #members {
                    thead { tr { th { "Member" } th { "Type" } th { "id" } } }
                    tbody {
                        @for m in &members {
                            @let target = match m.member.kind {
                                ResourceKind::User => "users",
                                ResourceKind::Group => "groups",
                            };
                            tr {
                                td { a href=(format!("/admin/{target}/{population}/{}", m.member.id)) { (m.member.display.as_deref().unwrap_or(&m.member.id)) } }
                                td { (m.member.kind.name()) }
                                td.mono { (m.member.id) }
                            }
                        }
                    }
                } }
                (pager(first, next))
            },
        }
        section.card {
            h2 { "History" }
            (super::audit::events_table(&d.history))
        }
    };
    render(&admin, &name, sec, &[(title, base), (name.as_str(), "")], h)
}

/// The values of the provider's declared extension attributes, and the attributes no schema
/// declares, each as (URN-qualified name, value).
/// Attribute values by URN-qualified name.
type Named = Vec<(String, Value)>;

fn custom_attributes(p: &Provider, kind: ResourceKind, data: &Value) -> (Named, Named) {
    let schemas = p.schemas(kind);
    let mut custom = Vec::new();
    for e in p.settings.extensions.iter().filter(|e| e.resource_type == kind) {
        let Some(values) = data.get(&e.schema.id) else { continue };
        for a in &e.schema.attributes {
            if let Some(v) = values.get(&a.name) {
                custom.push((format!("{}:{}", e.schema.id, a.name), v.clone()));
            }
        }
    }
    let undeclared = kept_attributes(&schemas, data)
        .into_iter()
        .map(|k| {
            let v = match &k.uri {
                Some(uri) => data.get(uri).and_then(|e| e.get(&k.name)),
                None => data.get(&k.name),
            };
            (k.qualified(), v.cloned().unwrap_or(Value::Null))
        })
        .collect();
    (custom, undeclared)
}

fn attribute_table(id: &str, rows: &Named) -> maud::Markup {
    html! {
        div.table { table id=(id) {
            thead { tr { th { "Attribute" } th { "Value" } } }
            tbody {
                @for (name, v) in rows {
                    tr {
                        td.mono { (name) }
                        td.mono { @match v { Value::String(s) => (s), other => (other.to_string()) } }
                    }
                }
            }
        } }
    }
}

async fn users_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((population, id)): Path<(String, String)>,
) -> Page {
    show(state, admin, ResourceKind::User, population, id, 0).await
}

async fn groups_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path((population, id)): Path<(String, String)>,
    Query(m): Query<MemberParams>,
) -> Page {
    show(state, admin, ResourceKind::Group, population, id, m.after.unwrap_or(0)).await
}
