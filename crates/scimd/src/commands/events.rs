//! `scimd subscription ...` and `scimd events ...`: who receives change events, how far
//! each receiver has got, the streams themselves and the keys that sign SETs.

use std::time::Duration;

use anyhow::bail;
use scimd_core::events::subscription::EventQuery;
use scimd_core::input::{SubscriptionInput, split_list};
use scimd_core::views::{
    Urls, attempt_json, change_event_json, created_subscription_json, dead_letter_json, subscription_json,
};
use scimd_core::{Actor, Core};
use serde_json::json;

use crate::cli::{EventsCmd, EventsKeyCmd, SubscriptionCmd};
use crate::commands::provider::actor as cli_actor;

fn overlap(text: &str) -> anyhow::Result<Duration> {
    crate::config::parse_duration_flag("overlap", text)
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn subscription(core: &Core, urls: &Urls, cmd: SubscriptionCmd) -> anyhow::Result<()> {
    let actor: Actor = cli_actor();
    match cmd {
        SubscriptionCmd::Add(a) => {
            let input = SubscriptionInput {
                format: Some(a.format),
                url: a.url,
                providers: a.providers,
                population: a.population,
                events: a.events.as_deref().map(split_list).unwrap_or_default(),
                payload: Some(a.payload),
            };
            let created = core.add_subscription(input.into_new()?, &actor).await?;
            let v = created_subscription_json(urls, &created);
            if a.json {
                return print_json(&v);
            }
            let s = &created.subscription;
            println!("subscription {} ({}, {})", s.id, s.format.as_str(), s.payload.as_str());
            if let Some(url) = &s.url {
                println!("  url:        {url}");
            }
            if let Some(secret) = &created.secret {
                println!("  secret:     {secret}");
                println!("              (shown once: verify webhook-signature with it)");
            }
            if let Some(token) = &created.poll_token {
                println!("  poll_url:   {}", v["poll_url"].as_str().unwrap_or_default());
                println!("  poll_token: {token}");
                println!("              (shown once: POST to poll_url with Authorization: Bearer <token>)");
            }
            Ok(())
        }
        SubscriptionCmd::List(flag) => {
            let mut list = Vec::new();
            for s in core.subscriptions().await? {
                let lag = core.lag(&s).await?;
                list.push(subscription_json(urls, &s, Some(&lag)));
            }
            if flag.json {
                return print_json(&serde_json::Value::Array(list));
            }
            if list.is_empty() {
                println!("no subscriptions (add one: scimd subscription add --url URL --format webhook)");
            }
            for v in list {
                println!(
                    "{:<22} {:<8} {:<7} lag {:>6} events {:>6} s  {}",
                    v["id"].as_str().unwrap_or_default(),
                    v["format"].as_str().unwrap_or_default(),
                    v["state"].as_str().unwrap_or_default(),
                    v["lag_events"],
                    v["lag_seconds"],
                    v["url"].as_str().or(v["poll_url"].as_str()).unwrap_or_default()
                );
            }
            Ok(())
        }
        SubscriptionCmd::Show { id, json } => {
            let s = core.subscription(&id).await?;
            let lag = core.lag(&s).await?;
            let v = subscription_json(urls, &s, Some(&lag));
            if json {
                return print_json(&v);
            }
            for (k, val) in v.as_object().into_iter().flatten() {
                if !val.is_null() {
                    println!(
                        "{k:<22} {}",
                        val.as_str().map_or_else(|| val.to_string(), str::to_owned)
                    );
                }
            }
            Ok(())
        }
        SubscriptionCmd::Pause { id } => {
            core.set_subscription_state(&id, false, &actor).await?;
            println!("subscription {id} paused");
            Ok(())
        }
        SubscriptionCmd::Resume { id } => {
            core.set_subscription_state(&id, true, &actor).await?;
            println!("subscription {id} resumed");
            Ok(())
        }
        SubscriptionCmd::Remove { id } => {
            core.remove_subscription(&id, &actor).await?;
            println!("subscription {id} removed");
            Ok(())
        }
        SubscriptionCmd::RotateSecret { id, overlap: o, json } => {
            let o = overlap(&o)?;
            let secret = core.rotate_subscription_secret(&id, o, &actor).await?;
            if json {
                return print_json(&json!({"id": id, "secret": secret, "overlap_seconds": o.as_secs()}));
            }
            println!("new secret: {secret}");
            println!("(the old secret signs alongside it for {} s)", o.as_secs());
            Ok(())
        }
        SubscriptionCmd::Replay { id, from, provider } => {
            let n = core.replay(&id, provider.as_deref(), from, &actor).await?;
            println!("subscription {id}: {n} stream(s) rewound to position {from}");
            Ok(())
        }
        SubscriptionCmd::Deliveries { id, limit, json } => {
            let list = core.deliveries(&id, limit).await?;
            if json {
                return print_json(&serde_json::Value::Array(list.iter().map(attempt_json).collect()));
            }
            for a in list {
                println!(
                    "{}  {:<20} {:>6}  {:>5}  {:>5} ms  {}",
                    a.time,
                    a.provider,
                    a.position,
                    a.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    a.latency_ms,
                    a.answer.unwrap_or_default().replace('\n', " ")
                );
            }
            Ok(())
        }
        SubscriptionCmd::DeadLetters { id, json } => {
            let list = core.dead_letters(&id).await?;
            if json {
                return print_json(&serde_json::Value::Array(list.iter().map(dead_letter_json).collect()));
            }
            for d in list {
                println!(
                    "{}  {:<20} {:>6}  {}  {}",
                    d.time, d.provider, d.position, d.event_id, d.reason
                );
            }
            Ok(())
        }
        SubscriptionCmd::Retry { id } => {
            let n = core.retry_dead_letters(&id, &actor).await?;
            println!("subscription {id}: {n} dead letter(s) taken back into delivery");
            Ok(())
        }
    }
}

fn print_event(e: &scimd_core::events::ChangeEvent, as_json: bool) {
    if as_json {
        println!("{}", change_event_json(e));
        return;
    }
    let subject = match (&e.member_id, e.resource_kind) {
        (Some(m), _) => format!("Group/{} member {m}", e.resource_id),
        (None, Some(k)) => format!("{}/{}", k.name(), e.resource_id),
        (None, None) => e.resource_id.clone(),
    };
    println!(
        "{}  {:<20} {:>6}  {:<22} {}{}",
        e.time,
        e.provider,
        e.position,
        e.event_type.as_str(),
        subject,
        if e.attributes.is_empty() {
            String::new()
        } else {
            format!("  [{}]", e.attributes.join(", "))
        }
    );
}

pub async fn events(core: &Core, cmd: EventsCmd) -> anyhow::Result<()> {
    match cmd {
        EventsCmd::List {
            provider,
            from,
            limit,
            json,
        } => {
            if from.is_some() && provider.is_none() {
                bail!("--from is a position in one provider's stream: give --provider too");
            }
            let query = EventQuery {
                provider,
                from,
                limit: limit.clamp(1, 10_000),
                ..EventQuery::default()
            };
            for (_, e) in core.events(&query).await? {
                print_event(&e, json);
            }
            Ok(())
        }
        EventsCmd::Tail { provider, json } => tail(core, provider, json).await,
        EventsCmd::Key(EventsKeyCmd::Rotate { overlap: o, json }) => {
            let o = overlap(&o)?;
            let kid = core.rotate_signing_key(o, &cli_actor()).await?;
            if json {
                return print_json(&json!({"kid": kid, "overlap_seconds": o.as_secs()}));
            }
            println!(
                "new signing key {kid}; the previous keys stay published for {} s",
                o.as_secs()
            );
            Ok(())
        }
        EventsCmd::Key(EventsKeyCmd::List(flag)) => {
            let keys = core.signing_keys().await?;
            if flag.json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"kid": k.kid, "created": k.created, "retires": k.retires, "jwk": k.public_jwk}))
                    .collect();
                return print_json(&serde_json::Value::Array(list));
            }
            for k in keys {
                let state = k
                    .retires
                    .map_or_else(|| "signing".to_owned(), |r| format!("published until {r}"));
                println!("{}  created {}  {state}", k.kid, k.created);
            }
            Ok(())
        }
    }
}

/// Follow every stream (or one): each provider from its head at the start, printing what
/// is appended, until interrupted.
async fn tail(core: &Core, provider: Option<String>, json: bool) -> anyhow::Result<()> {
    let mut at: std::collections::HashMap<String, i64> = core
        .stream_heads()
        .await?
        .into_iter()
        .map(|(p, head, _)| (p, head))
        .collect();
    loop {
        for (p, head, _) in core.stream_heads().await? {
            if provider.as_ref().is_some_and(|want| *want != p) {
                continue;
            }
            let seen = at.get(&p).copied().unwrap_or(0);
            if head <= seen {
                continue;
            }
            let query = EventQuery {
                provider: Some(p.clone()),
                from: Some(seen + 1),
                limit: 1000,
                ..EventQuery::default()
            };
            let mut last = seen;
            for (_, e) in core.events(&query).await? {
                print_event(&e, json);
                last = e.position;
            }
            at.insert(p, last.max(seen));
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
