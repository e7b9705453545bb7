//! `scimd provider ...`: register identity providers and manage their credentials.

use std::fs;

use anyhow::{Context, bail};
use scimd_client::postman;
use scimd_core::provider::{DEFAULT_TOKEN_TTL_SECONDS, parse_duration};
use scimd_core::service::ProviderUpdate;
use scimd_core::{Actor, Cidr, Core, NewProvider, Provider};
use scimd_http::admin::shared::{provider_json, token_json};
use serde_json::{Value, json};

use crate::cli::ProviderCmd;
use crate::config::Settings;

pub fn actor() -> Actor {
    Actor::Cli(
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into()),
    )
}

struct Urls {
    public: String,
}

impl Urls {
    fn base(&self, p: &Provider) -> String {
        scimd_http::base_url(&self.public, p.id.as_str())
    }
    fn token(&self) -> String {
        scimd_http::token_url(&self.public)
    }
}

fn masked() -> &'static str {
    "••••••••  (scimd provider show ID --reveal)"
}

fn details(urls: &Urls, p: &Provider, secret: Option<&str>) -> Value {
    let mut v = provider_json(&urls.public, p, None);
    v["client_secret"] = json!(secret);
    v
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
    println!("  Base URL       {}", urls.base(p));
    println!("  Token URL      {}", urls.token());
    println!("  Client ID      {}", p.client_id);
    println!("  Client secret  {}", secret.unwrap_or(masked()));
    println!("  Token lifetime {}", human_duration(p.token_ttl_seconds));
    if !p.allowed_networks.is_empty() {
        let nets: Vec<String> = p.allowed_networks.iter().map(ToString::to_string).collect();
        println!("  Allowed from   {}", nets.join(", "));
    }
    println!("  Created        {}", p.created);
}

fn human_duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} seconds"),
    }
}

fn parse_networks(list: &[String]) -> anyhow::Result<Vec<Cidr>> {
    list.iter()
        .map(|s| s.parse::<Cidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn run(core: &Core, settings: &Settings, cmd: ProviderCmd) -> anyhow::Result<()> {
    let urls = Urls {
        public: settings.public_url_for(&settings.listen),
    };
    let who = actor();
    match cmd {
        ProviderCmd::Add(a) => {
            let population = a.population.parse().map_err(anyhow::Error::msg)?;
            let token_ttl_seconds = if a.token_ttl.is_empty() {
                DEFAULT_TOKEN_TTL_SECONDS
            } else {
                parse_duration(&a.token_ttl).map_err(anyhow::Error::msg)?
            };
            let allowed_networks = parse_networks(&a.allowed_ips)?;
            let tags = clean_tags(&a.tags);
            let new = NewProvider {
                name: a.name,
                population,
                enabled: !a.disabled,
                description: a.description,
                tags,
                token_ttl_seconds,
                allowed_networks,
            };
            let (p, secret) = core.register(new, &who).await?;
            if a.json {
                return print_json(&details(&urls, &p, Some(&secret)));
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
            if f.json {
                return print_json(&Value::Array(all.iter().map(|p| details(&urls, p, None)).collect()));
            }
            if all.is_empty() {
                println!("No providers yet. Register one with: scimd provider add --name NAME --population internal");
                return Ok(());
            }
            println!(
                "{:<28} {:<12} {:<8} {:<24} NAME",
                "ID", "POPULATION", "ENABLED", "CREATED"
            );
            for p in all {
                println!(
                    "{:<28} {:<12} {:<8} {:<24} {}",
                    p.id,
                    p.population,
                    if p.enabled { "yes" } else { "no" },
                    p.created.to_rfc3339(),
                    p.name
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
                return print_json(&details(&urls, &p, secret.as_deref()));
            }
            print_details(&urls, &p, secret.as_deref());
        }
        ProviderCmd::Update(u) => {
            let update = ProviderUpdate {
                name: u.name,
                description: u.description,
                tags: if u.clear_tags {
                    Some(Vec::new())
                } else {
                    (!u.tags.is_empty()).then(|| clean_tags(&u.tags))
                },
                token_ttl_seconds: u
                    .token_ttl
                    .as_deref()
                    .map(parse_duration)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                allowed_networks: if u.any_ip {
                    Some(Vec::new())
                } else if u.allowed_ips.is_empty() {
                    None
                } else {
                    Some(parse_networks(&u.allowed_ips)?)
                },
            };
            let p = core.update_provider(&u.id, update, &who).await?;
            if u.json {
                return print_json(&details(&urls, &p, None));
            }
            print_details(&urls, &p, None);
        }
        ProviderCmd::RotateSecret { id, json } => {
            let secret = core.rotate_secret(&id, &who).await?;
            let p = core.provider(&id).await?;
            if json {
                return print_json(&details(&urls, &p, Some(&secret)));
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
            println!(
                "{:<14} {:<26} {:<26} {:<26} STATE",
                "ID", "CREATED", "EXPIRES", "LAST USED"
            );
            for t in tokens {
                let state = match (t.revoked, t.is_live(now)) {
                    (Some(_), _) => "revoked",
                    (None, true) => "live",
                    (None, false) => "expired",
                };
                let last = t.last_used.map(|x| x.to_rfc3339()).unwrap_or_else(|| "never".into());
                println!(
                    "{:<14} {:<26} {:<26} {:<26} {state}",
                    t.id,
                    t.created.to_rfc3339(),
                    t.expires.to_rfc3339(),
                    last
                );
            }
        }
        ProviderCmd::RevokeToken { id, token_id, all } => {
            let n = core
                .revoke(&id, if all { None } else { token_id.as_deref() }, &who)
                .await?;
            println!("Revoked {n} token{} of '{id}'.", if n == 1 { "" } else { "s" });
        }
        ProviderCmd::Postman { id, output } => {
            let p = core.provider(&id).await?;
            let secret = core.reveal_secret(&id, &who).await?;
            let collection = postman::collection(&postman::CollectionValues {
                provider_name: &p.name,
                server_url: &urls.public,
                base_url: &urls.base(&p),
                token_url: &urls.token(),
                client_id: p.client_id.as_str(),
                client_secret: &secret,
            });
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
