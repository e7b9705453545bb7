//! `scimd users ...` and `scimd groups ...`: what landed in each population, across the
//! providers that feed it, and what was soft-deleted from it.

use scim_proto::schema::ResourceKind;
use scimd_core::lifecycle::{AccessState, DeletedQuery};
use scimd_core::views::{Urls, deleted_json, resource_json};
use scimd_core::{Core, Population, PopulationQuery, ResourceRecord};
use serde_json::Value;

use crate::cli::{GroupsCmd, ListArgs, UsersCmd};
use crate::commands::lifecycle;
use crate::config::Settings;
use crate::table;

pub async fn users(core: &Core, settings: &Settings, cmd: UsersCmd) -> anyhow::Result<()> {
    let kind = ResourceKind::User;
    match cmd {
        UsersCmd::List(a) => list(core, settings, kind, a).await,
        UsersCmd::Deleted(a) => deleted(core, settings, kind, a).await,
        UsersCmd::Restore { id } => lifecycle::restore(core, kind, &id).await,
        UsersCmd::Renew(r) => lifecycle::renew(core, kind, &r.id, &r.period).await,
        UsersCmd::Expiring(a) => lifecycle::expiring(core, settings, a).await,
        UsersCmd::Erase { id, yes } => lifecycle::erase(core, &id, yes).await,
    }
}

pub async fn groups(core: &Core, settings: &Settings, cmd: GroupsCmd) -> anyhow::Result<()> {
    let kind = ResourceKind::Group;
    match cmd {
        GroupsCmd::List(a) => list(core, settings, kind, a).await,
        GroupsCmd::Deleted(a) => deleted(core, settings, kind, a).await,
        GroupsCmd::Restore { id } => lifecycle::restore(core, kind, &id).await,
        GroupsCmd::Renew(r) => lifecycle::renew(core, kind, &r.id, &r.period).await,
    }
}

/// What a population's users or groups are called.
pub fn what(kind: ResourceKind, population: Population) -> &'static str {
    match (kind, population) {
        (ResourceKind::User, Population::Internal) => "internal users",
        (ResourceKind::User, Population::ThirdParty) => "third-party users",
        (ResourceKind::Group, Population::Internal) => "internal groups",
        (ResourceKind::Group, Population::ThirdParty) => "vendor groups",
    }
}

pub fn text(r: &ResourceRecord, k: &str) -> String {
    r.data.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

async fn list(core: &Core, settings: &Settings, kind: ResourceKind, a: ListArgs) -> anyhow::Result<()> {
    let population: Population = a.population.parse().map_err(anyhow::Error::msg)?;
    let urls = Urls::new(&crate::public_url(core, settings, false).await?);
    let (_, views) = core
        .population_page(PopulationQuery {
            population,
            kind,
            text: None,
            offset: 0,
            limit: a.limit.max(1),
        })
        .await?;
    let now = core.now();
    if a.json {
        let docs: Vec<Value> = views.iter().map(|v| resource_json(&urls, v, now)).collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
        return Ok(());
    }
    let what = what(kind, population);
    if views.is_empty() {
        println!("No {what} yet.");
        return Ok(());
    }
    let t = match kind {
        ResourceKind::User => {
            // Access columns only where some user's access ends.
            let ends = views.iter().any(|v| v.record.access_end.is_some());
            let mut head = vec!["ID", "PROVIDER", "ACTIVE", "USERNAME", "DISPLAY NAME"];
            if ends {
                head.extend(["STATE", "ACCESS ENDS"]);
            }
            let mut t = table::new(&head);
            for r in views.iter().map(|v| &v.record) {
                let active = r.data.get("active").and_then(Value::as_bool).unwrap_or(true);
                let mut row = vec![
                    r.id.to_string(),
                    r.provider.to_string(),
                    (if active { "yes" } else { "no" }).to_owned(),
                    text(r, "userName"),
                    text(r, "displayName"),
                ];
                if ends {
                    row.push(AccessState::of(r, now).as_str().to_owned());
                    row.push(r.access_end.map(|e| e.to_rfc3339()).unwrap_or_default());
                }
                t.add_row(row);
            }
            t
        }
        ResourceKind::Group => {
            let mut t = table::new(&["ID", "PROVIDER", "MEMBERS", "DISPLAY NAME"]);
            table::align_right(&mut t, 2);
            for v in &views {
                t.add_row(vec![
                    v.record.id.to_string(),
                    v.record.provider.to_string(),
                    v.count.to_string(),
                    text(&v.record, "displayName"),
                ]);
            }
            t
        }
    };
    table::print(&t);
    println!("{} {what}", views.len());
    Ok(())
}

async fn deleted(core: &Core, settings: &Settings, kind: ResourceKind, a: ListArgs) -> anyhow::Result<()> {
    let population: Population = a.population.parse().map_err(anyhow::Error::msg)?;
    let (total, items) = core
        .deleted_page(DeletedQuery {
            population,
            kind,
            offset: 0,
            limit: a.limit.max(1),
        })
        .await?;
    if a.json {
        let urls = Urls::new(&crate::public_url(core, settings, false).await?);
        let now = core.now();
        let docs: Vec<Value> = items.iter().map(|d| deleted_json(&urls, d, now)).collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
        return Ok(());
    }
    let what = what(kind, population);
    if items.is_empty() {
        println!("No deleted {what}.");
        return Ok(());
    }
    let name = match kind {
        ResourceKind::User => "USERNAME",
        ResourceKind::Group => "DISPLAY NAME",
    };
    let mut t = table::new(&["ID", "PROVIDER", name, "DELETED", "BY", "PURGED AFTER"]);
    for d in &items {
        let r = &d.record;
        t.add_row(vec![
            r.id.clone(),
            r.provider.to_string(),
            text(
                r,
                if kind == ResourceKind::User {
                    "userName"
                } else {
                    "displayName"
                },
            ),
            d.deleted.to_rfc3339(),
            d.deleted_by.clone(),
            d.purge_after.to_rfc3339(),
        ]);
    }
    table::print(&t);
    println!("{total} deleted {what}");
    Ok(())
}
