//! `scimd provider schema ...`: the extension schemas (custom attributes) a provider's users
//! and groups carry, and what it sent that none declares.

use std::fs;

use anyhow::{Context, bail};
use scimd_core::Core;
use scimd_core::extensions::{ExtensionInput, index_summary};
use scimd_core::provider::ExtensionDecl;
use scimd_core::views::{discovered_json, extension_json};
use serde_json::{Value, json};

use crate::cli::SchemaCmd;
use crate::commands::provider::actor;

/// One line naming a declaration: its URN, what it extends, whether it is required.
pub fn describe(e: &ExtensionDecl) -> String {
    format!(
        "{} ({}{})",
        e.schema.id,
        e.resource_type.name(),
        if e.required { ", required" } else { "" }
    )
}

pub async fn run(core: &Core, cmd: SchemaCmd) -> anyhow::Result<()> {
    let who = actor();
    match cmd {
        SchemaCmd::Add {
            provider,
            file,
            resource_type,
            required,
            index,
            force,
            json,
        } => {
            let text = fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let schema: Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let input = ExtensionInput {
                schema,
                resource_type: Some(resource_type),
                required,
                index,
                force,
            };
            let (p, report) = core.declare_extension(&provider, input, &who).await?;
            let Some(decl) = p.settings.extensions.last() else {
                bail!("the declaration did not take");
            };
            if json {
                let mut v = extension_json(decl);
                v["checked"] = json!(report.checked);
                v["cleaned"] = json!(report.cleaned);
                v["indexed"] = json!(report.indexed);
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "'{}' declares {} for its {}s ({} attribute{}{}).",
                p.id,
                decl.schema.id,
                decl.resource_type.name().to_lowercase(),
                decl.schema.attributes.len(),
                if decl.schema.attributes.len() == 1 { "" } else { "s" },
                if decl.required { ", required" } else { "" }
            );
            println!("  stored values checked in {} resources", report.checked);
            if !report.cleaned.is_empty() {
                println!(
                    "  values that did not fit were dropped from {} resources (audited): {}",
                    report.cleaned.len(),
                    report.cleaned.join(", ")
                );
            }
            let indexed = index_summary(decl);
            if !indexed.is_empty() {
                println!("  indexed: {} ({} values)", indexed.join(", "), report.indexed);
            }
        }
        SchemaCmd::List { provider, json } => {
            let p = core.provider(&provider).await?;
            let discovered = core.discovered(&p).await?;
            if json {
                let v = json!({
                    "extensions": p.settings.extensions.iter().map(extension_json).collect::<Vec<_>>(),
                    "discovered": discovered.iter().map(discovered_json).collect::<Vec<_>>(),
                    "undeclared": p.settings.undeclared.as_str(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            if p.settings.extensions.is_empty() {
                println!("'{}' declares no extension schema.", p.id);
            }
            for e in &p.settings.extensions {
                println!("{}", describe(e));
                for a in &e.schema.attributes {
                    let indexed = index_summary(e).contains(&a.name);
                    println!(
                        "  {:<24} {}{}{}",
                        a.name,
                        a.ty.as_str(),
                        if a.multi_valued { ", multi-valued" } else { "" },
                        if indexed { ", indexed" } else { "" }
                    );
                }
            }
            if !discovered.is_empty() {
                println!(
                    "\nSent but not declared ({} them: scimd provider update {} --undeclared ...):",
                    match p.settings.undeclared {
                        scimd_core::provider::UndeclaredPolicy::Keep => "kept as sent; to refuse",
                        scimd_core::provider::UndeclaredPolicy::Reject => "refused from now on; to keep",
                    },
                    p.id
                );
                for d in &discovered {
                    let name = if d.uri.is_empty() {
                        d.name.clone()
                    } else {
                        format!("{}:{}", d.uri, d.name)
                    };
                    println!(
                        "  {:<5} {name} ({}, first seen {})",
                        d.kind.name(),
                        d.json_type,
                        d.first_seen
                    );
                }
            }
        }
        SchemaCmd::Remove {
            provider,
            urn,
            yes,
            force,
        } => {
            if !yes {
                bail!(
                    "removing '{urn}' from '{provider}' stops its attributes being typed and filtered; repeat with --yes to confirm"
                );
            }
            let n = core.remove_extension(&provider, &urn, force, &who).await?;
            println!(
                "'{provider}' no longer declares {urn}{}.",
                if n > 0 {
                    format!(" ({n} resources lost its values, each change audited)")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}
