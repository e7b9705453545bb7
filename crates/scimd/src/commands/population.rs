//! `scimd users list` and `scimd groups list`: what landed in each population, across the
//! providers that feed it.

use scim_proto::schema::ResourceKind;
use scimd_core::{Core, Population};
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
    let public = settings.public_url_for(&settings.listen);
    let records = core
        .store()
        .population_resources(population, kind, 0, limit.max(1))
        .await?;
    let counts = match kind {
        ResourceKind::Group => {
            core.store()
                .members_of(&records.iter().map(|r| r.seq).collect::<Vec<_>>())
                .await?
        }
        ResourceKind::User => Default::default(),
    };
    if json {
        let docs: Vec<Value> = records
            .iter()
            .map(|r| {
                let mut doc = scimd_http::render_resource(&public, r);
                doc["population"] = Value::from(r.population.as_str());
                doc["provider"] = Value::from(r.provider.as_str());
                if kind == ResourceKind::Group {
                    doc["memberCount"] = Value::from(counts.get(&r.seq).map_or(0, Vec::len));
                }
                doc
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
        return Ok(());
    }
    let what = match (kind, population) {
        (ResourceKind::User, Population::Internal) => "internal users",
        (ResourceKind::User, Population::ThirdParty) => "third-party users",
        (ResourceKind::Group, Population::Internal) => "internal groups",
        (ResourceKind::Group, Population::ThirdParty) => "vendor groups",
    };
    if records.is_empty() {
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
            for r in &records {
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
            for r in &records {
                println!(
                    "{:<36}  {:<20} {:>8}  {}",
                    r.id,
                    r.provider,
                    counts.get(&r.seq).map_or(0, Vec::len),
                    text(r, "displayName")
                );
            }
        }
    }
    println!("{} {what}", records.len());
    Ok(())
}
