//! Provisioning › Subscriptions: the receivers of change events (issue #14) with their
//! state and lag, the form that adds one, and removal. A subscription paused or far behind
//! is flagged: events are held for it only up to 30 days, then it misses them.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Extension, Form, Router};
use scimd_core::clock::Timestamp;
use scimd_core::events::EventType;
use scimd_core::events::service::Lag;
use scimd_core::events::subscription::{State as SubState, Subscription};
use scimd_core::input::{SubscriptionInput, split_list};
use scimd_core::views::poll_url;
use serde::Deserialize;

use super::subscription_page::{self, Once, details};
use super::{ConfirmForm, Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Section, confirm_form, csrf, select};
use maud::html;

/// The list, first of the breadcrumbs of every subscription page.
pub(super) const CRUMB: (&str, &str) = ("Subscriptions", "/admin/subscriptions");

/// Lagging this far behind deserves a warning: something is wrong at the receiver.
const LAG_WARNING_SECONDS: i64 = 3600;

/// How many characters of the last error the list shows; the page shows it whole.
const ERROR_EXCERPT: usize = 120;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/subscriptions",
            get(subscriptions_list).post(subscriptions_create),
        )
        .route("/admin/subscriptions/new", get(subscriptions_new))
        .route(
            "/admin/subscriptions/{id}/delete",
            get(subscriptions_delete_confirm).post(subscriptions_delete),
        )
        .merge(subscription_page::routes())
}

/// Why an administrator should look at the subscription now, if they should.
pub(super) fn attention(s: &Subscription, lag: &Lag) -> Option<String> {
    let held = "events are held for it up to 30 days; after that it misses them";
    if s.state == SubState::Paused {
        let why = s.state_reason.as_deref().unwrap_or("paused");
        return Some(format!("Paused ({why}): nothing is delivered, and {held}."));
    }
    (lag.seconds > LAG_WARNING_SECONDS).then(|| {
        format!(
            "{} event(s) behind, the oldest {} old: {held}.",
            lag.events,
            age(lag.seconds)
        )
    })
}

/// A lag for people: `40 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(super) fn age(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{m} min"),
        s if s < 86_400 => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// A time for people, or what its absence means.
pub(super) fn when(t: Option<Timestamp>, absent: &str) -> String {
    t.map_or_else(|| absent.to_owned(), Timestamp::to_rfc3339)
}

/// Where the subscription's events go: its receiver, or where the receiver polls.
pub(super) fn destination(state: &AppState, s: &Subscription) -> String {
    s.url.clone().unwrap_or_else(|| poll_url(&state.urls, &s.id))
}

/// The start of a long text, cut at a character boundary.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(ERROR_EXCERPT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

async fn subscriptions_list(State(state): State<AppState>, Extension(admin): Extension<ConsoleAdmin>) -> Page {
    let mut rows = Vec::new();
    for s in state.core.subscriptions().await? {
        let lag = state.core.lag(&s).await?;
        rows.push((s, lag));
    }
    let flagged: Vec<(&Subscription, String)> = rows
        .iter()
        .filter_map(|(s, lag)| attention(s, lag).map(|why| (s, why)))
        .collect();
    let h = html! {
        div.actions { a.button.primary href="/admin/subscriptions/new" { "New subscription" } }
        @if !flagged.is_empty() {
            div.warning.card role="alert" #attention {
                p { "These subscriptions need attention:" }
                ul {
                    @for (s, why) in &flagged {
                        li { a href=(format!("/admin/subscriptions/{}", s.id)) { (s.id) } ": " (why) }
                    }
                }
            }
        }
        @if rows.is_empty() {
            p.empty { "No subscriptions. Add one with “New subscription” to send change events to a receiver." }
        } @else {
            div.table { table #subscriptions {
                thead { tr {
                    th { "ID" } th { "Format" } th { "URL or poll URL" } th { "State" }
                    th { "Lag (events)" } th { "Lag (time)" } th { "Last success" } th { "Last error" }
                } }
                tbody {
                    @for (s, lag) in &rows {
                        @let warn = attention(s, lag).is_some().then_some("warn");
                        tr {
                            td.mono { a href=(format!("/admin/subscriptions/{}", s.id)) { (s.id) } }
                            td { (s.format.as_str()) }
                            td.mono { (destination(&state, s)) }
                            td class=[(s.state == SubState::Paused).then_some("warn")] { (s.state) }
                            td.num class=[warn] { (lag.events) }
                            td class=[warn] { (age(lag.seconds)) }
                            td { (when(s.last_success, "never")) }
                            td { (s.last_error.as_deref().map(excerpt).unwrap_or_default()) }
                        }
                    }
                }
            } }
        }
    };
    render(&admin, "Subscriptions", Section::Subscriptions, &[CRUMB], h)
}

fn event_types() -> String {
    EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

async fn subscriptions_new(State(state): State<AppState>, Extension(admin): Extension<ConsoleAdmin>) -> Page {
    let providers: Vec<String> = state
        .core
        .providers()
        .await?
        .into_iter()
        .map(|p| p.id.as_str().to_owned())
        .collect();
    let h = html! {
        form method="post" action="/admin/subscriptions" class="card" {
            (csrf(&admin.session.csrf))
            label for="format" { "Format" }
            (select("format", Some("webhook"), &[
                ("webhook", "Webhook (Standard Webhooks: one signed JSON POST per event)"),
                ("set", "Security Event Tokens (RFC 9967), pushed or polled"),
            ]))
            label for="url" { "Receiver URL (https; inside --receiver-allow also http. Empty for a SET receiver that polls, RFC 8936)" }
            input id="url" name="url" type="url" placeholder="https://receiver.example/hooks/scim";
            label for="providers" { "Providers (ids, comma-separated; empty: all)" }
            input id="providers" name="providers" placeholder=(providers.join(", "));
            label for="population" { "Population" }
            (select("population", Some(""), &[("", "Both"), ("internal", "Internal"), ("third-party", "Third-party")]))
            label for="events" { "Event types (comma-separated; empty: all)" }
            input id="events" name="events" placeholder="user.created, user.deactivated";
            p.count { "One of: " (event_types()) }
            label for="payload" { "Payload" }
            (select("payload", Some("full"), &[
                ("full", "Full: the resource after the change"),
                ("notice", "Notice: ids and the names of changed attributes only"),
            ]))
            button type="submit" class="primary" { "Add subscription" }
        }
    };
    let crumbs = [CRUMB, ("New", "")];
    render(&admin, "New subscription", Section::Subscriptions, &crumbs, h)
}

/// The form's fields; lists are typed as text.
#[derive(Deserialize)]
struct SubscriptionForm {
    format: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default)]
    providers: String,
    population: Option<String>,
    #[serde(default)]
    events: String,
    payload: Option<String>,
}

impl SubscriptionForm {
    /// The form as the input every surface takes.
    fn input(self) -> SubscriptionInput {
        SubscriptionInput {
            format: self.format,
            url: Some(self.url),
            providers: split_list(&self.providers),
            population: self.population,
            events: split_list(&self.events),
            payload: self.payload,
        }
    }
}

async fn subscriptions_create(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Form(f): Form<SubscriptionForm>,
) -> Page {
    let made = state
        .core
        .add_subscription(f.input().into_new()?, &admin.actor())
        .await?;
    // The secret or poll token is shown once, right here, like the CLI does.
    let id = made.subscription.id.clone();
    details(&state, &admin, &id, Once::Created(Box::new(made))).await
}

async fn subscriptions_delete_confirm(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let s = state.core.subscription(&id).await?;
    let page = format!("/admin/subscriptions/{}", s.id);
    let h = html! {
        p.warning {
            "Removing " span.mono { (s.id) } " stops its deliveries for good and forgets how far its receiver got, \
             its delivery attempts and its dead letters. This cannot be undone; pausing it can."
        }
        (confirm_form(&format!("{page}/delete"), &admin.session.csrf, "subscription", &s.id, "Remove subscription"))
    };
    let crumbs = [CRUMB, (s.id.as_str(), page.as_str()), ("Remove", "")];
    render(&admin, &format!("Remove {}", s.id), Section::Subscriptions, &crumbs, h)
}

async fn subscriptions_delete(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Page {
    f.check(&id, "subscription")?;
    state.core.remove_subscription(&id, &admin.actor()).await?;
    Ok(Redirect::to("/admin/subscriptions").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lag_reads_in_the_largest_units_that_fit() {
        assert_eq!(age(0), "0 s");
        assert_eq!(age(59), "59 s");
        assert_eq!(age(12 * 60 + 5), "12 min");
        assert_eq!(age(3 * 3600 + 5 * 60), "3 h 5 min");
        assert_eq!(age(2 * 86_400 + 4 * 3600 + 59), "2 d 4 h");
    }

    #[test]
    fn a_long_error_is_cut_at_a_character_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(ERROR_EXCERPT + 1);
        assert_eq!(excerpt(&long), format!("{}…", "é".repeat(ERROR_EXCERPT)));
    }
}
