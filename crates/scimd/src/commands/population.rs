//! `scimd users list` and `scimd groups list`: what landed in each population, across the
//! providers that feed it.

use scim_proto::schema::ResourceKind;
use scimd_core::views::{Urls, resource_json};
use scimd_core::{Core, Population, PopulationQuery};
use serde_json::Value;

use crate::cli::PopulationCmd;
use crate::config::Settings;

pub async fn run(core: &Core, settings: &Settings, kind: ResourceKind, cmd: PopulationCmd) -> anyhow::Result<()> {
    let PopulationCmd::List {
        population,
        limit,
        json,
    } = cmd;
    let population: Population = population.parse().map_err(anyhow::Error::msg)?;
    let urls = Urls::new(&settings.public_url_for(&settings.listen));
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
    match kind {
        ResourceKind::User => {
            println!(
                "{:<36}  {:<20} {:<7} {:<32} DISPLAY NAME",
                "ID", "PROVIDER", "ACTIVE", "USERNAME"
            );
            for r in views.iter().map(|v| &v.record) {
                let active = r.data.get("active").and_then(Value::as_bool).unwrap_or(true);
                println!(
                    "{:<36}  {:<20} {:<7} {:<32} {}",
                    r.id,
                    r.provider,
                    if active { "yes" } else { "no" },
                    text(r, "userName"),
                    text(r, "displayName")
                );
            }
        }
        ResourceKind::Group => {
            println!("{:<36}  {:<20} {:>8}  DISPLAY NAME", "ID", "PROVIDER", "MEMBERS");
            for v in &views {
                println!(
                    "{:<36}  {:<20} {:>8}  {}",
                    v.record.id,
                    v.record.provider,
                    v.count,
                    text(&v.record, "displayName")
                );
            }
        }
    }
    println!("{} {what}", views.len());
    Ok(())
}
