//! `scimd admin ...`: administrators of the console and admin API tokens.

use std::io::BufRead;

use anyhow::{Context, bail};
use scimd_core::Core;
use serde_json::json;

use crate::cli::{AdminCmd, AdminTokenCmd};
use crate::commands::provider::actor;

pub async fn run(core: &Core, cmd: AdminCmd) -> anyhow::Result<()> {
    let who = actor();
    match cmd {
        AdminCmd::Add { name, password_stdin } => {
            if !password_stdin {
                bail!("give the password on standard input with --password-stdin");
            }
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            core.add_admin(&name, password, &who).await?;
            println!("Administrator '{name}' can now sign in to the console at /admin.");
        }
        AdminCmd::Token(AdminTokenCmd::Create { name }) => {
            let (token, _) = core.create_api_token(&name, &who).await?;
            eprintln!("Admin API token '{name}' (shown once; send it as Authorization: Bearer):");
            println!("{token}");
        }
        AdminCmd::Token(AdminTokenCmd::List { json }) => {
            let tokens = core.api_tokens().await?;
            if json {
                let v: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({"id": t.id, "name": t.name, "created": t.created.to_rfc3339(),
                               "revoked": t.revoked.map(|r| r.to_rfc3339())})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("{:<14} {:<24} {:<26} STATE", "ID", "NAME", "CREATED");
            for t in tokens {
                let state = if t.revoked.is_some() { "revoked" } else { "live" };
                println!("{:<14} {:<24} {:<26} {state}", t.id, t.name, t.created.to_rfc3339());
            }
        }
        AdminCmd::Token(AdminTokenCmd::Revoke { name }) => {
            core.revoke_api_token(&name, &who).await?;
            println!("Admin API token '{name}' is revoked.");
        }
    }
    Ok(())
}
