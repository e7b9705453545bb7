//! A subscription's page: its state and why, how far behind it is, its last success and
//! last error with the receiver's answer, the last deliveries, the dead letters, and the
//! actions on it (pause, resume, retry, replay, rotate the secret, remove).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use scimd_core::events::service::CreatedSubscription;
use scimd_core::events::subscription::{Format, State as SubState};
use scimd_core::input::secret_overlap;
use scimd_core::views::poll_url;
use serde::Deserialize;

use super::subscriptions::{CRUMB, age, attention, destination, when};
use super::{Page, render};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{Section, copy_field, csrf as html_csrf, post_button};
use maud::html;

/// Delivery attempts the page lists, newest first.
const DELIVERIES_SHOWN: u32 = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/subscriptions/{id}", get(subscriptions_show))
        .route("/admin/subscriptions/{id}/pause", post(subscriptions_pause))
        .route("/admin/subscriptions/{id}/resume", post(subscriptions_resume))
        .route("/admin/subscriptions/{id}/retry", post(subscriptions_retry))
        .route("/admin/subscriptions/{id}/replay", post(subscriptions_replay))
        .route("/admin/subscriptions/{id}/rotate", post(subscriptions_rotate))
}

/// What the page shows once, after an action.
pub(super) enum Once {
    Nothing,
    /// Just made: its secret or poll token, never shown again.
    Created(Box<CreatedSubscription>),
    /// A new webhook secret, and for how long the old one still signs.
    Rotated(String, u64),
    /// What an action did.
    Done(String),
}

pub(super) async fn details(state: &AppState, admin: &ConsoleAdmin, id: &str, once: Once) -> Page {
    let s = state.core.subscription(id).await?;
    let lag = state.core.lag(&s).await?;
    let attempts = state.core.deliveries(id, DELIVERIES_SHOWN).await?;
    let dead = state.core.dead_letters(id).await?;
    let csrf = &admin.session.csrf;
    let base = format!("/admin/subscriptions/{}", s.id);
    let all = |list: &[String]| {
        if list.is_empty() {
            "all".to_owned()
        } else {
            list.join(", ")
        }
    };
    let events: Vec<String> = s.events.iter().map(|e| e.as_str().to_owned()).collect();
    let h = html! {
        @if let Some(why) = attention(&s, &lag) {
            p.warning role="alert" #attention { (why) }
        }
        @match &once {
            Once::Created(c) => {
                @if let Some(secret) = &c.secret {
                    p.notice {
                        "Subscription added. Its signing secret is shown only now: give it to the receiver, which \
                         verifies the webhook-signature header with it."
                    }
                    (copy_field("secret", "Signing secret", secret))
                }
                @if let Some(token) = &c.poll_token {
                    p.notice {
                        "Subscription added. Its poll token is shown only now: the receiver POSTs to the poll URL \
                         with Authorization: Bearer and this token (RFC 8936)."
                    }
                    (copy_field("poll-url", "Poll URL", &poll_url(&state.urls, &s.id)))
                    (copy_field("poll-token", "Poll token", token))
                }
                @if c.secret.is_none() && c.poll_token.is_none() {
                    p.notice { "Subscription added. Its SETs are signed with the server's key (see /.well-known/jwks.json)." }
                }
            }
            Once::Rotated(secret, overlap) => {
                p.notice {
                    "New signing secret, shown only now. The old one signs alongside it for " (age(*overlap as i64))
                    ": give the receiver the new one before then."
                }
                (copy_field("secret", "Signing secret", secret))
            }
            Once::Done(what) => p.notice { (what) },
            Once::Nothing => {}
        }
        section.card {
            dl.facts {
                dt { "Format" } dd { (s.format.as_str()) " (" (s.payload.as_str()) " payload)" }
                dt { (if s.is_poll() { "Poll URL" } else { "Receiver URL" }) } dd.mono #destination { (destination(state, &s)) }
                dt { "Providers" } dd { (all(&s.providers)) }
                dt { "Population" } dd { (s.population.map_or("both", |p| p.as_str())) }
                dt { "Event types" } dd { (all(&events)) }
                dt { "State" } dd #state {
                    (s.state)
                    @if let Some(why) = &s.state_reason { " — " (why) }
                }
                dt { "Lag" } dd #lag { (lag.events) " event(s), " (age(lag.seconds)) " behind" }
                dt { "Last success" } dd #last-success { (when(s.last_success, "never")) }
                dt { "Created" } dd { (s.created.to_rfc3339()) }
                @if let Some(until) = s.old_until {
                    dt { "Old secret signs until" } dd { (until.to_rfc3339()) }
                }
            }
        }
        section.card #last-error {
            h2 { "Last error" }
            @match &s.last_error {
                Some(e) => {
                    p { (when(s.last_error_at, "")) }
                    pre.answer { (e) }
                }
                None => p.empty { "None." },
            }
        }
        section.card {
            h2 { "Last deliveries" }
            @if attempts.is_empty() {
                p.empty { "Nothing delivered yet." }
            } @else {
                div.table { table #deliveries {
                    thead { tr {
                        th { "Time" } th { "Provider" } th { "Position" } th { "Status" } th { "Latency" } th { "Answer" }
                    } }
                    tbody {
                        @for a in &attempts {
                            @let failed = !a.status.is_some_and(|st| (200..300).contains(&st));
                            tr {
                                td { (a.time.to_rfc3339()) }
                                td { (a.provider) }
                                td.num { (a.position) }
                                td class=[failed.then_some("warn")] {
                                    (a.status.map_or_else(|| "not reached".to_owned(), |st| st.to_string()))
                                }
                                td.num { (a.latency_ms) " ms" }
                                td { @if let Some(answer) = &a.answer { pre.answer { (answer) } } }
                            }
                        }
                    }
                } }
            }
        }
        section.card {
            h2 { "Dead letters" }
            @if dead.is_empty() {
                p.empty { "None: every event was delivered or is still being tried." }
            } @else {
                p { (dead.len()) " event(s) the receiver kept refusing, set aside so that later ones flow." }
                (post_button(&format!("{base}/retry"), csrf, "Retry dead letters", "primary"))
                div.table { table #dead-letters {
                    thead { tr { th { "Time" } th { "Provider" } th { "Position" } th { "Event" } th { "Reason" } } }
                    tbody {
                        @for d in &dead {
                            tr {
                                td { (d.time.to_rfc3339()) }
                                td { (d.provider) }
                                td.num { (d.position) }
                                td.mono { (d.event_id) }
                                td { pre.answer { (d.reason) } }
                            }
                        }
                    }
                } }
            }
        }
        section.card.actions {
            h2 { "Actions" }
            @if s.state == SubState::Paused {
                (post_button(&format!("{base}/resume"), csrf, "Resume", "primary"))
            } @else {
                (post_button(&format!("{base}/pause"), csrf, "Pause", ""))
            }
            a href=(format!("{base}/delete")) { "Remove…" }
        }
        section.card {
            h2 { "Replay" }
            form.stacked method="post" action=(format!("{base}/replay")) {
                (html_csrf(csrf))
                label for="from" { "Deliver again from position (inclusive)" }
                input id="from" name="from" type="number" min="1" required;
                label for="provider" { "Of provider (empty: every provider it covers)" }
                input id="provider" name="provider" placeholder=(all(&s.providers));
                button type="submit" { "Replay" }
            }
        }
        @if s.format == Format::Webhook {
            section.card {
                h2 { "Rotate secret" }
                form.stacked method="post" action=(format!("{base}/rotate")) {
                    (html_csrf(csrf))
                    label for="overlap" { "The old secret still signs for (e.g. 24h; 0 to cut over at once)" }
                    input id="overlap" name="overlap" placeholder="24h";
                    button type="submit" { "Rotate secret" }
                }
            }
        }
    };
    let crumbs = [CRUMB, (s.id.as_str(), "")];
    let mut resp = render(admin, &s.id, Section::Subscriptions, &crumbs, h)?;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn subscriptions_show(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    details(&state, &admin, &id, Once::Nothing).await
}

async fn set_state(state: &AppState, admin: &ConsoleAdmin, id: &str, active: bool) -> Page {
    state.core.set_subscription_state(id, active, &admin.actor()).await?;
    Ok(Redirect::to(&format!("/admin/subscriptions/{id}")).into_response())
}

async fn subscriptions_pause(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    set_state(&state, &admin, &id, false).await
}

async fn subscriptions_resume(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    set_state(&state, &admin, &id, true).await
}

async fn subscriptions_retry(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
) -> Page {
    let n = state.core.retry_dead_letters(&id, &admin.actor()).await?;
    let done = format!("{n} dead letter(s) taken back into delivery.");
    details(&state, &admin, &id, Once::Done(done)).await
}

#[derive(Deserialize)]
struct ReplayForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    provider: String,
}

async fn subscriptions_replay(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<ReplayForm>,
) -> Page {
    let from: i64 = f.from.trim().parse().map_err(|_| {
        scimd_core::CoreError::Invalid(format!("'{}' is not a stream position (1 or more)", f.from.trim()))
    })?;
    let provider = Some(f.provider.trim()).filter(|p| !p.is_empty());
    let n = state.core.replay(&id, provider, from, &admin.actor()).await?;
    let done = format!("{n} stream(s) rewound to position {from}: their events are delivered again from there.");
    details(&state, &admin, &id, Once::Done(done)).await
}

#[derive(Deserialize)]
struct RotateForm {
    overlap: Option<String>,
}

async fn subscriptions_rotate(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<RotateForm>,
) -> Page {
    let overlap = secret_overlap(f.overlap.as_deref())?;
    let secret = state
        .core
        .rotate_subscription_secret(&id, overlap, &admin.actor())
        .await?;
    details(&state, &admin, &id, Once::Rotated(secret, overlap.as_secs())).await
}
