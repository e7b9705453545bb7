//! The lifecycle at the command line: restore, renew, erase, purge, users whose access
//! ends, and the mass-deletion guard.

use anyhow::bail;
use scim_proto::schema::ResourceKind;
use scimd_core::Core;
use scimd_core::input::renewal;
use scimd_core::lifecycle::AccessState;
use scimd_core::views::{Urls, deleted_json, guard_json, human_duration};
use serde_json::{Value, json};

use crate::cli::{GuardCmd, ListArgs};
use crate::commands::population::text;
use crate::commands::provider::actor;
use crate::config::Settings;
use crate::table;

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

pub async fn restore(core: &Core, kind: ResourceKind, id: &str) -> anyhow::Result<()> {
    let rec = core.restore(kind, id, &actor()).await?;
    println!("Restored {} '{}' of provider '{}'.", noun(kind), rec.id, rec.provider);
    Ok(())
}

pub async fn renew(core: &Core, kind: ResourceKind, id: &str, period: &str) -> anyhow::Result<()> {
    let seconds = renewal(period)?;
    match kind {
        ResourceKind::User => {
            let rec = core.renew_user(id, seconds, &actor()).await?;
            let end = rec.access_end.map(|e| e.to_rfc3339()).unwrap_or_default();
            println!("The access of user '{id}' now ends {end}.");
        }
        ResourceKind::Group => {
            let n = core.renew_group(id, seconds, &actor()).await?;
            println!(
                "Renewed the access of {n} member{} of group '{id}' for {}.",
                if n == 1 { "" } else { "s" },
                human_duration(seconds)
            );
        }
    }
    Ok(())
}

pub async fn erase(core: &Core, id: &str, yes: bool) -> anyhow::Result<()> {
    if !yes {
        bail!(
            "erasing user '{id}' removes it for good, with the values change events kept of it; \
             repeat with --yes to confirm"
        );
    }
    core.erase_user(id, &actor()).await?;
    println!("User '{id}' is erased.");
    Ok(())
}

pub async fn expiring(core: &Core, settings: &Settings, a: ListArgs) -> anyhow::Result<()> {
    let population = a.population.parse().map_err(anyhow::Error::msg)?;
    let users = core.access_ending(population).await?;
    let now = core.now();
    if a.json {
        let urls = Urls::new(&crate::public_url(core, settings, false).await?);
        let docs: Vec<Value> = users
            .iter()
            .take(a.limit as usize)
            .map(|r| {
                let view = scimd_core::browse::ResourceView {
                    record: r.clone(),
                    count: 0,
                };
                scimd_core::views::resource_json(&urls, &view, now)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
        return Ok(());
    }
    if users.is_empty() {
        println!("No user's access ends within two weeks.");
        return Ok(());
    }
    let mut t = table::new(&["ID", "PROVIDER", "USERNAME", "STATE", "ACCESS ENDS"]);
    for r in users.iter().take(a.limit as usize) {
        t.add_row(vec![
            r.id.clone(),
            r.provider.to_string(),
            text(r, "userName"),
            AccessState::of(r, now).as_str().to_owned(),
            r.access_end.map(|e| e.to_rfc3339()).unwrap_or_default(),
        ]);
    }
    table::print(&t);
    Ok(())
}

pub async fn purge(core: &Core, settings: &Settings, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let report = core.purge(dry_run).await?;
    if json {
        let urls = Urls::new(&crate::public_url(core, settings, false).await?);
        let now = core.now();
        let due: Vec<Value> = report.due.iter().map(|d| deleted_json(&urls, d, now)).collect();
        let v = if dry_run {
            json!({"dry_run": true, "due": due})
        } else {
            json!({"purged": report.purged})
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if !dry_run {
        println!(
            "Purged {} soft-deleted user{} and group{} past their retention.",
            report.purged,
            if report.purged == 1 { "" } else { "s" },
            if report.purged == 1 { "" } else { "s" }
        );
        return Ok(());
    }
    if report.due.is_empty() {
        println!("Nothing is past its retention: a purge would remove nothing.");
        return Ok(());
    }
    let mut t = table::new(&["TYPE", "ID", "PROVIDER", "DELETED", "PURGED AFTER"]);
    for d in &report.due {
        t.add_row(vec![
            d.record.kind.name().to_owned(),
            d.record.id.clone(),
            d.record.provider.to_string(),
            d.deleted.to_rfc3339(),
            d.purge_after.to_rfc3339(),
        ]);
    }
    table::print(&t);
    println!("{} would be purged (dry run: nothing was)", report.due.len());
    Ok(())
}

pub async fn guard(core: &Core, cmd: GuardCmd) -> anyhow::Result<()> {
    match cmd {
        GuardCmd::Status { provider, json } => {
            let g = core.guard_state(&provider).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&guard_json(&g))?);
                return Ok(());
            }
            match &g.tripped {
                Some(t) => {
                    println!(
                        "The mass-deletion guard of '{provider}' is TRIPPED since {}:",
                        t.tripped_at
                    );
                    println!("  {}", t.detail());
                }
                None => println!("The mass-deletion guard of '{provider}' is not tripped."),
            }
            if let Some((at, by)) = &g.released {
                println!("Last released {at} by {by}.");
            }
        }
        GuardCmd::Release { provider } => {
            core.release_guard(&provider, &actor()).await?;
            println!(
                "Released the mass-deletion guard of '{provider}': the deletes and deactivations it refused \
                 go through when the identity provider retries them."
            );
        }
    }
    Ok(())
}
