//! `scimd users list` and `scimd groups list`: what landed in each population, across the
//! providers that feed it.

use scim_proto::schema::ResourceKind;
use scimd_core::views::{Urls, resource_json};
use scimd_core::{Core, Population, PopulationQuery};
use serde_json::Value;

use crate::cli::PopulationCmd;
use crate::config::Settings;
use crate::table;

pub async fn run(core: &Core, settings: &Settings, kind: ResourceKind, cmd: PopulationCmd) -> anyhow::Result<()> {
    let PopulationCmd::List {
        population,
        limit,
        json,
    } = cmd;
    let population: Population = population.parse().map_err(anyhow::Error::msg)?;
    let urls = Urls::new(&crate::public_url(core, settings, false).await?);
    let (_, views) = core
        .population_page(PopulationQuery {
            population,
            kind,
            text: None,
            offset: 0,
            limit: limit.max(1),
        })
        .await?;
    if json {
        let docs: Vec<Value> = views.iter().map(|v| resource_json(&urls, v)).collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
        return Ok(());
    }
    let what = match (kind, population) {
        (ResourceKind::User, Population::Internal) => "internal users",
        (ResourceKind::User, Population::ThirdParty) => "third-party users",
        (ResourceKind::Group, Population::Internal) => "internal groups",
        (ResourceKind::Group, Population::ThirdParty) => "vendor groups",
    };
    if views.is_empty() {
        println!("No {what} yet.");
        return Ok(());
    }
    let text = |r: &scimd_core::ResourceRecord, k: &str| r.data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let t = match kind {
        ResourceKind::User => {
            let mut t = table::new(&["ID", "PROVIDER", "ACTIVE", "USERNAME", "DISPLAY NAME"]);
            for r in views.iter().map(|v| &v.record) {
                let active = r.data.get("active").and_then(Value::as_bool).unwrap_or(true);
                t.add_row(vec![
                    r.id.to_string(),
                    r.provider.to_string(),
                    (if active { "yes" } else { "no" }).to_owned(),
                    text(r, "userName"),
                    text(r, "displayName"),
                ]);
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
