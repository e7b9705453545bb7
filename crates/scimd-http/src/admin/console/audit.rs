//! The audit log: filter by provider, actor, action, resource and time; page back through
//! it; export what the filters select as CSV or JSON lines.

use axum::body::{Body, Bytes};
use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::StreamExt;
use scimd_core::StoredAuditEvent;

use super::{Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Section, pager};
use maud::{Markup, html};
use scimd_core::input::AuditFilter;
use scimd_core::views::{AUDIT_CSV_HEADER, audit_csv_row, audit_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_list))
        .route("/admin/audit.csv", get(audit_csv))
        .route("/admin/audit.jsonl", get(audit_jsonl))
}

const PAGE: u32 = 100;

pub fn events_table(events: &[StoredAuditEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p.empty { "No events." }
        } @else {
            div.table { table.audit {
                thead { tr {
                    th { "Time" } th { "Actor" } th { "Action" } th { "Provider" }
                    th { "Resource" } th { "Population" } th { "Attributes" }
                } }
                tbody {
                    @for e in events {
                        tr {
                            td { (e.time.to_rfc3339()) }
                            td { (e.actor) }
                            td.action { (e.action) }
                            td { (e.provider.as_deref().unwrap_or("")) }
                            td.mono { (e.resource.as_deref().unwrap_or("")) }
                            td { (e.population.as_deref().unwrap_or("")) }
                            td { (e.attributes.join(", ")) }
                        }
                    }
                }
            } }
        }
    }
}

fn input(name: &str, label: &str, value: Option<&str>, hint: &str) -> Markup {
    html! {
        label for=(name) { (label) }
        input id=(name) name=(name) value=(value.unwrap_or("")) placeholder=(hint);
    }
}

/// The query string without the paging cursor, for links that keep the filters.
pub(super) fn filters_only(raw: Option<&str>) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("before="))
        .collect::<Vec<_>>()
        .join("&")
}

async fn audit_list(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(f): Query<AuditFilter>,
    RawQuery(raw): RawQuery,
) -> Page {
    let events = state.core.audit(f.query(PAGE)?).await?;
    let filters = filters_only(raw.as_deref());
    let next = (events.len() as u32 == PAGE)
        .then(|| {
            events
                .last()
                .map(|e| format!("/admin/audit?{filters}&before={}", e.seq))
        })
        .flatten();
    let newest = f.before.is_some().then(|| format!("/admin/audit?{filters}"));
    let h = html! {
        form method="get" class="filters" {
            (input("provider", "Provider", f.provider.as_deref(), "okta"))
            (input("actor", "Actor", f.actor.as_deref(), "admin:alice or admin:*"))
            (input("action", "Action", f.action.as_deref(), "provider.* or user.create"))
            (input("resource", "Resource", f.resource.as_deref(), "User/<id>"))
            (input("since", "Since", f.since.as_deref(), "2026-01-01"))
            (input("until", "Until", f.until.as_deref(), "2026-12-31T23:59:59Z"))
            button type="submit" { "Filter" }
        }
        p.exports {
            "Export these events: "
            a href=(format!("/admin/audit.csv?{filters}")) { "CSV" }
            " · "
            a href=(format!("/admin/audit.jsonl?{filters}")) { "JSON lines" }
        }
        (events_table(&events))
        (pager(newest, next))
    };
    render(&admin, "Audit log", Section::Audit, &[("Audit log", "/admin/audit")], h)
}

/// Every event the filters select, newest first, read a page at a time and streamed: an
/// export of millions of events holds one page in memory, and events appended meanwhile
/// (newer than the first page) do not shift it. A database failure midway aborts the
/// response, so the client sees an incomplete download, never a silently short file.
fn export(
    state: AppState,
    f: &AuditFilter,
    line: fn(&StoredAuditEvent) -> String,
    head: &'static str,
) -> Result<Body, scimd_core::CoreError> {
    let mut q = f.query(scimd_core::browse::MAX_PAGE)?;
    q.limit = scimd_core::browse::MAX_PAGE;
    let pages = futures_util::stream::try_unfold(Some(q), move |q| {
        let state = state.clone();
        async move {
            let Some(mut q) = q else {
                return Ok(None);
            };
            let page = state.core.audit(q.clone()).await?;
            let chunk: String = page.iter().map(line).collect();
            let next = match page.last() {
                Some(last) if page.len() as u32 == q.limit => {
                    q.before_seq = Some(last.seq);
                    Some(q)
                }
                _ => None,
            };
            Ok::<_, scimd_core::CoreError>(Some((Bytes::from(chunk), next)))
        }
    });
    let head = futures_util::stream::iter([Ok(Bytes::from_static(head.as_bytes()))]);
    Ok(Body::from_stream(head.chain(pages)))
}

fn download(body: Body, ty: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ty.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

async fn audit_csv(
    State(state): State<AppState>,
    Extension(_admin): Extension<ConsoleAdmin>,
    Query(f): Query<AuditFilter>,
) -> Page {
    let body = export(state, &f, audit_csv_row, AUDIT_CSV_HEADER)?;
    Ok(download(body, "text/csv; charset=utf-8", "scimd-audit.csv"))
}

fn jsonl_row(e: &StoredAuditEvent) -> String {
    let mut s = audit_json(e).to_string();
    s.push('\n');
    s
}

async fn audit_jsonl(
    State(state): State<AppState>,
    Extension(_admin): Extension<ConsoleAdmin>,
    Query(f): Query<AuditFilter>,
) -> Page {
    let body = export(state, &f, jsonl_row, "")?;
    Ok(download(body, "application/jsonl; charset=utf-8", "scimd-audit.jsonl"))
}
