//! `scimd provider ...`: register identity providers and manage their credentials.

use std::fs;

use anyhow::{Context, bail};
use scimd_core::input::{NumberOrText, ProviderInput};
use scimd_core::request_log::LogHealth;
use scimd_core::views::{Urls, human_duration, log_health_json, provider_json, token_json, token_state};
use scimd_core::{Actor, Core, Provider};
use serde_json::Value;

use crate::cli::{LifecycleArgs, ProviderAddArgs, ProviderCmd, ProviderUpdateArgs, SetupLinkCmd};
use crate::config::Settings;
use crate::table;

pub fn actor() -> Actor {
    Actor::Cli(
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into()),
    )
}

fn masked() -> &'static str {
    "••••••••  (scimd provider show ID --reveal)"
}

/// The flags of `provider add`, read the way the console and the admin API read theirs.
fn add_input(a: ProviderAddArgs) -> ProviderInput {
    ProviderInput {
        name: Some(a.name),
        population: Some(a.population),
        enabled: Some(!a.disabled),
        description: Some(a.description),
        tags: Some(a.tags),
        token_ttl: Some(a.token_ttl),
        token_expiry_date: None,
        allowed_networks: Some(a.allowed_ips),
        group_patch_response: Some(a.group_patch_response),
        undeclared: Some(a.undeclared),
        log_failure_retention: a.log.log_failure_retention,
        log_failure_max: a.log.log_failure_max.map(NumberOrText::Text),
        log_success_max: a.log.log_success_max.map(NumberOrText::Text),
        ..lifecycle_input(a.lifecycle)
    }
}

/// The lifecycle flags as input.
fn lifecycle_input(l: LifecycleArgs) -> ProviderInput {
    ProviderInput {
        on_delete: l.on_delete,
        retention: l.retention,
        access_ttl: l.access_ttl,
        guard: l.guard.guard,
        guard_share: l.guard.guard_share,
        guard_window: l.guard.guard_window,
        guard_min_users: l.guard.guard_min_users.map(NumberOrText::Number),
        ..ProviderInput::default()
    }
}

fn update_input(u: ProviderUpdateArgs) -> ProviderInput {
    ProviderInput {
        name: u.name,
        description: u.description,
        tags: if u.clear_tags {
            Some(Vec::new())
        } else {
            (!u.tags.is_empty()).then_some(u.tags)
        },
        token_ttl: u.token_ttl,
        allowed_networks: if u.any_ip {
            Some(Vec::new())
        } else {
            (!u.allowed_ips.is_empty()).then_some(u.allowed_ips)
        },
        group_patch_response: u.group_patch_response,
        undeclared: u.undeclared,
        log_failure_retention: u.log.log_failure_retention,
        log_failure_max: u.log.log_failure_max.map(NumberOrText::Text),
        log_success_max: u.log.log_success_max.map(NumberOrText::Text),
        ..lifecycle_input(u.lifecycle)
    }
}

fn print_details(urls: &Urls, p: &Provider, secret: Option<&str>) {
    println!("{} ({})", p.name, p.id);
    println!("  Population     {}", p.population);
    println!("  Enabled        {}", if p.enabled { "yes" } else { "no" });
    if !p.description.is_empty() {
        println!("  Description    {}", p.description);
    }
    if !p.tags.is_empty() {
        println!("  Tags           {}", p.tags.join(", "));
    }
    println!("  Base URL       {}", urls.base(p.id.as_str()));
    println!("  Token URL      {}", urls.token());
    println!("  Client ID      {}", p.client_id);
    println!("  Client secret  {}", secret.unwrap_or(masked()));
    println!("  Token lifetime {}", human_duration(p.token_ttl_seconds));
    if !p.allowed_networks.is_empty() {
        let nets: Vec<String> = p.allowed_networks.iter().map(ToString::to_string).collect();
        println!("  Allowed from   {}", nets.join(", "));
    }
    println!("  Group PATCH    {}", p.settings.group_patch_response.as_str());
    println!("  Undeclared     {}", p.settings.undeclared.as_str());
    println!("  Log kept       {}", log_retention(p));
    let s = &p.settings;
    println!(
        "  On delete      {} (kept {} before purged)",
        s.on_delete,
        human_duration(s.retention_seconds)
    );
    if let Some(ttl) = s.access_ttl_seconds {
        println!("  Access ends    {} after a user is created", human_duration(ttl));
    }
    if s.guard.enabled {
        println!(
            "  Guard          more than {}% of its users or groups deleted or deactivated within {} (from {})",
            s.guard.share_percent,
            human_duration(s.guard.window_seconds),
            s.guard.min_users
        );
    } else {
        println!("  Guard          off");
    }
    if p.settings.secret_lost {
        println!(
            "  ! The client secret was lost with the old key file: rotate it (scimd provider rotate-secret {})",
            p.id
        );
    }
    for e in &p.settings.extensions {
        println!("  Extension      {}", crate::commands::schema::describe(e));
    }
    println!("  Created        {}", p.created);
}

/// The providers list's column: how many of the latest requests failed.
fn recent_requests(h: &LogHealth) -> String {
    match (h.recent_total, h.failing()) {
        (0, _) => "-".to_owned(),
        (n, true) => format!("{} of {n} failed !", h.recent_failed),
        (n, false) => format!("{} of {n} failed", h.recent_failed),
    }
}

/// A provider's log retention, its own settings or the server's.
fn log_retention(p: &Provider) -> String {
    let o = &p.settings.log;
    let server = || "the server's".to_owned();
    format!(
        "failures {}, at most {}; successes, the last {}",
        o.failure_retention_seconds.map_or_else(server, human_duration),
        o.failure_max.map_or_else(server, |n| n.to_string()),
        o.success_max.map_or_else(server, |n| n.to_string()),
    )
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Does the command print a Base or Token URL for a person to copy? Then which public URL
/// it used is said.
fn shows_urls(cmd: &ProviderCmd) -> bool {
    match cmd {
        ProviderCmd::Add(a) => !a.json,
        ProviderCmd::Show { json, .. } => !json,
        ProviderCmd::Update(u) => !u.json,
        ProviderCmd::Postman { .. } => true,
        ProviderCmd::SetupLink(SetupLinkCmd::Create { .. }) => true,
        _ => false,
    }
}

pub async fn run(core: &Core, settings: &Settings, cmd: ProviderCmd) -> anyhow::Result<()> {
    let urls = Urls::new(&crate::public_url(core, settings, shows_urls(&cmd)).await?);
    let who = actor();
    match cmd {
        ProviderCmd::Add(a) => {
            let json = a.json;
            let new = add_input(a).into_new(core.now())?;
            let (p, secret) = core.register(new, &who).await?;
            if json {
                return print_json(&provider_json(&urls, &p, None, Some(&secret)));
            }
            println!("Registered identity provider '{}'.\n", p.id);
            print_details(&urls, &p, Some(&secret));
            println!(
                "\nThe client secret is shown now; later only with `scimd provider show {} --reveal`.",
                p.id
            );
            println!("Get an activation token:");
            println!(
                "  scimd token --token-url {} --client-id {} --client-secret <secret>",
                urls.token(),
                p.client_id
            );
        }
        ProviderCmd::List(f) => {
            let all = core.providers().await?;
            let health = core.log_health_all().await?;
            let health_of = |p: &Provider| health.get(p.id.as_str()).copied().unwrap_or_default();
            if f.json {
                return print_json(&Value::Array(
                    all.iter()
                        .map(|p| {
                            let mut v = provider_json(&urls, p, None, None);
                            v["requests"] = log_health_json(&health_of(p));
                            v
                        })
                        .collect(),
                ));
            }
            if all.is_empty() {
                println!("No providers yet. Register one with: scimd provider add --name NAME --population internal");
                return Ok(());
            }
            let mut t = table::new(&["ID", "POPULATION", "ENABLED", "CREATED", "LAST REQUESTS", "NAME"]);
            for p in &all {
                t.add_row(vec![
                    p.id.to_string(),
                    p.population.to_string(),
                    (if p.enabled { "yes" } else { "no" }).to_owned(),
                    p.created.to_rfc3339(),
                    recent_requests(&health_of(p)),
                    p.name.clone(),
                ]);
            }
            table::print(&t);
            for p in &all {
                if let Some(w) = health_of(p).warning() {
                    println!("! '{}': {w} (scimd provider log {} --failed)", p.id, p.id);
                }
            }
            for p in all.iter().filter(|p| p.settings.secret_lost) {
                println!(
                    "! the client secret of '{}' was lost with the old key file: scimd provider rotate-secret {}",
                    p.id, p.id
                );
            }
        }
        ProviderCmd::Show { id, reveal, json } => {
            let p = core.provider(&id).await?;
            let secret = if reveal {
                Some(core.reveal_secret(&id, &who).await?)
            } else {
                None
            };
            if json {
                return print_json(&provider_json(&urls, &p, None, secret.as_deref()));
            }
            print_details(&urls, &p, secret.as_deref());
        }
        ProviderCmd::Update(u) => {
            let (id, json) = (u.id.clone(), u.json);
            let (update, _) = update_input(u).into_update(core.now())?;
            let p = core.update_provider(&id, update, &who).await?;
            if json {
                return print_json(&provider_json(&urls, &p, None, None));
            }
            print_details(&urls, &p, None);
        }
        ProviderCmd::RotateSecret { id, json } => {
            let secret = core.rotate_secret(&id, &who).await?;
            let p = core.provider(&id).await?;
            if json {
                return print_json(&provider_json(&urls, &p, None, Some(&secret)));
            }
            println!("New client secret for '{id}': {secret}");
            println!("Tokens issued before stay valid; revoke them with `scimd provider revoke-token {id} --all`.");
        }
        ProviderCmd::Enable { id } => {
            core.set_enabled(&id, true, &who).await?;
            println!("Provider '{id}' is enabled.");
        }
        ProviderCmd::Disable { id } => {
            core.set_enabled(&id, false, &who).await?;
            println!("Provider '{id}' is disabled: its tokens and token requests are refused.");
        }
        ProviderCmd::Delete { id, yes } => {
            if !yes {
                bail!(
                    "deleting '{id}' removes its tokens and every user and group it provisioned; repeat with --yes to confirm"
                );
            }
            core.delete_provider(&id, &who).await?;
            println!("Provider '{id}' is deleted.");
        }
        ProviderCmd::Tokens { id, json } => {
            let tokens = core.tokens(&id).await?;
            let now = core.now();
            if json {
                return print_json(&Value::Array(tokens.iter().map(|t| token_json(t, now)).collect()));
            }
            if tokens.is_empty() {
                println!("No tokens issued to '{id}' yet.");
                return Ok(());
            }
            let mut t = table::new(&["ID", "CREATED", "EXPIRES", "LAST USED", "STATE", "SETUP LINK"]);
            for tok in &tokens {
                t.add_row(vec![
                    tok.id.clone(),
                    tok.created.to_rfc3339(),
                    tok.expires.to_rfc3339(),
                    tok.last_used.map(|x| x.to_rfc3339()).unwrap_or_else(|| "never".into()),
                    token_state(tok, now).to_string(),
                    tok.setup_link.clone().unwrap_or_default(),
                ]);
            }
            table::print(&t);
        }
        ProviderCmd::RevokeToken { id, token_id, all } => {
            let n = core
                .revoke(&id, if all { None } else { token_id.as_deref() }, &who)
                .await?;
            println!("Revoked {n} token{} of '{id}'.", if n == 1 { "" } else { "s" });
        }
        ProviderCmd::Schema(cmd) => return crate::commands::schema::run(core, cmd).await,
        ProviderCmd::SetupLink(cmd) => return crate::commands::setup_link::run(core, &urls, cmd).await,
        ProviderCmd::Log(args) => return crate::commands::log::run(core, args).await,
        ProviderCmd::Guard(cmd) => return crate::commands::lifecycle::guard(core, cmd).await,
        ProviderCmd::Postman { id, output } => {
            let (_, collection) = core.postman_collection(&id, &urls, &who).await?;
            let text = serde_json::to_string_pretty(&collection)?;
            match output {
                Some(path) => {
                    fs::write(&path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "Wrote the Postman collection for '{id}' to {} (it holds the client secret).",
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
    }
    Ok(())
}
