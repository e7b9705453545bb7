//! A provider's provisioning log on its page: how many requests were refused before
//! authentication, the retention, filters (status class, path, time), then the entries
//! newest first a page at a time, each failure expandable to its SCIM error and its
//! request body with secrets masked. Every value is escaped (maud).

use maud::{Markup, html};
use scimd_core::Provider;
use scimd_core::request_log::{LogEntry, LogHealth, LogPage, LogQuery};
use scimd_core::views::{human_duration, latency_ms};

use super::audit::filters_only;
use crate::AppState;
use crate::admin::html::{pager, select};

/// Entries shown a page.
const PAGE: u32 = 50;

fn row(e: &LogEntry) -> Markup {
    html! {
        tr class=[e.failed.then_some("failed")] {
            td { (e.time.to_rfc3339()) }
            td { (e.method) }
            td.mono.path { (e.path) }
            td.num { (e.status) }
            td.num { (format!("{:.1} ms", latency_ms(e.latency_us))) }
            td.mono { (e.client) }
            td {
                @if e.failed {
                    details {
                        summary {
                            @if let Some(t) = &e.scim_type { span.mono { (t) } ": " }
                            (e.detail.as_deref().unwrap_or("failed"))
                        }
                        dl.facts {
                            dt { "Request id" } dd.mono { (e.request_id) }
                            dt { "User agent" } dd { (e.user_agent.as_deref().unwrap_or("-")) }
                        }
                        @match &e.body {
                            Some(body) => pre.answer.body { (body) },
                            None => p.empty { "No body." },
                        }
                    }
                }
            }
        }
    }
}

/// The log's section of the provider page. A filter that cannot be read is said in place,
/// the rest of the page still shown.
pub(super) async fn section(state: &AppState, p: &Provider, q: &LogQuery, raw: Option<&str>) -> Markup {
    let id = p.id.as_str();
    let health: LogHealth = state.core.log_health(id).await.unwrap_or_default();
    let limits = state.core.log_config().limits.with(&p.settings.log);
    let page: Result<LogPage, String> = match q.filter(PAGE) {
        Ok(f) => state.core.provider_log(id, &f).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let filters = filters_only(raw);
    let base = format!("/admin/providers/{id}");
    let status = if q.failed == Some(true) {
        Some("failed")
    } else {
        q.status.as_deref()
    };
    html! {
        section.card #log {
            h2 { "Provisioning log" }
            @if let Some(w) = health.warning() {
                p.warning role="alert" #log-warning { (w) ": see the failures below." }
            }
            p #unauthenticated {
                "Requests refused before authentication (no token, or an invalid, expired or revoked one): "
                strong { (health.unauthenticated) }
                @if let Some(t) = health.last_unauthenticated { ", the last at " (t.to_rfc3339()) }
                "."
            }
            p.count {
                "Kept: failed requests for " (human_duration(limits.failure_retention_seconds))
                ", at most " (limits.failure_max) "; the last " (limits.success_max) " successful ones. "
                "Request bodies (failures only, secrets masked) and client addresses are personal data."
            }
            form method="get" action=(format!("{base}#log")) class="filters" {
                label for="status" { "Status" }
                (select("status", status, &[("", "All"), ("failed", "Failed"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")]))
                label for="log-path" { "Path starts with" }
                input id="log-path" name="path" placeholder="/Users" value=(q.path.as_deref().unwrap_or(""));
                label for="log-since" { "Since" }
                input id="log-since" name="since" placeholder="2026-01-01" value=(q.since.as_deref().unwrap_or(""));
                label for="log-until" { "Until" }
                input id="log-until" name="until" placeholder="2026-12-31T23:59:59Z" value=(q.until.as_deref().unwrap_or(""));
                button type="submit" { "Filter" }
            }
            @match &page {
                Err(why) => p.error role="alert" { (why) },
                Ok(page) if page.entries.is_empty() => p.empty { "No requests match." },
                Ok(page) => {
                    div.table { table #log-entries {
                        thead { tr {
                            th { "Time" } th { "Method" } th { "Path" } th { "Status" }
                            th { "Latency" } th { "Client" } th { "Error" }
                        } }
                        tbody { @for e in &page.entries { (row(e)) } }
                    } }
                    (pager(
                        q.before.is_some().then(|| format!("{base}?{filters}#log")),
                        page.next_before.map(|b| format!("{base}?{filters}&before={b}#log")),
                    ))
                }
            }
        }
    }
}
