//! `scimd provider setup-link ...`: pages through which an identity provider's own
//! administrator connects it.

use scimd_core::Core;
use scimd_core::input::setup_link_ttl;
use scimd_core::views::{Urls, created_setup_link_json, setup_link_json};
use serde_json::Value;

use crate::cli::SetupLinkCmd;
use crate::commands::provider::actor;
use crate::table;

pub async fn run(core: &Core, urls: &Urls, cmd: SetupLinkCmd) -> anyhow::Result<()> {
    match cmd {
        SetupLinkCmd::Create {
            provider,
            expires,
            reveal_secret,
            json,
        } => {
            let ttl = setup_link_ttl(Some(&expires))?;
            let c = core.create_setup_link(&provider, ttl, reveal_secret, &actor()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created_setup_link_json(urls, &c))?);
                return Ok(());
            }
            println!("Setup link for '{provider}' (id {}):\n", c.link.id);
            println!("  {}\n", urls.setup(&c.code));
            println!(
                "It works until {}. Send it to the identity provider's administrator:",
                c.link.expires
            );
            println!("it is shown only now (scimd keeps only its digest).");
            if reveal_secret {
                println!("The page may show the client secret once.");
            }
            println!(
                "Revoke it with: scimd provider setup-link revoke {provider} {}",
                c.link.id
            );
        }
        SetupLinkCmd::List { provider, json } => {
            let links = core.setup_links(&provider).await?;
            let tokens = core.tokens(&provider).await?;
            let now = core.now();
            let made = |id: &str| tokens.iter().filter(|t| t.setup_link.as_deref() == Some(id)).count();
            if json {
                let all = links.iter().map(|l| setup_link_json(l, made(&l.id), now)).collect();
                println!("{}", serde_json::to_string_pretty(&Value::Array(all))?);
                return Ok(());
            }
            if links.is_empty() {
                println!("No setup links for '{provider}'. Make one with: scimd provider setup-link create {provider}");
                return Ok(());
            }
            let mut t = table::new(&[
                "ID",
                "STATE",
                "CREATED",
                "EXPIRES",
                "FIRST OPENED",
                "TOKENS",
                "SECRET",
                "BY",
            ]);
            for l in &links {
                t.add_row(vec![
                    l.id.clone(),
                    l.state(now).to_owned(),
                    l.created.to_rfc3339(),
                    l.expires.to_rfc3339(),
                    l.first_viewed.map_or_else(|| "not yet".to_owned(), |x| x.to_rfc3339()),
                    made(&l.id).to_string(),
                    match (l.reveal_secret, l.secret_revealed) {
                        (false, _) => "no".to_owned(),
                        (true, None) => "may show once".to_owned(),
                        (true, Some(at)) => format!("shown {at}"),
                    },
                    l.created_by.clone(),
                ]);
            }
            table::print(&t);
        }
        SetupLinkCmd::Revoke {
            provider,
            link_id,
            revoke_tokens,
        } => {
            let n = core
                .revoke_setup_link(&provider, &link_id, revoke_tokens, &actor())
                .await?;
            if revoke_tokens {
                println!(
                    "Setup link '{link_id}' of '{provider}' is revoked, with {n} token{} made through it.",
                    if n == 1 { "" } else { "s" }
                );
            } else {
                println!(
                    "Setup link '{link_id}' of '{provider}' is revoked; tokens made through it stay valid (--revoke-tokens to revoke them too)."
                );
            }
        }
    }
    Ok(())
}
