//! `scimd audit ...`: read the audit log and verify its hash chain.

use anyhow::bail;
use scimd_core::views::audit_json;
use scimd_core::{AuditQuery, Core};
use serde_json::json;

use crate::cli::AuditCmd;

pub async fn run(core: &Core, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Verify { json } => verify(core, json).await,
        AuditCmd::List {
            provider,
            action,
            limit,
            json,
        } => {
            let q = AuditQuery {
                provider,
                action,
                limit,
                ..AuditQuery::default()
            };
            let events = core.audit(q).await?;
            if json {
                let list: Vec<_> = events.iter().map(audit_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for e in events {
                println!(
                    "{:>8}  {}  {:<24} {:<28} {}{}",
                    e.seq,
                    e.time.to_rfc3339(),
                    e.actor,
                    e.action,
                    e.resource.as_deref().unwrap_or("-"),
                    if e.attributes.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", e.attributes.join(", "))
                    }
                );
            }
            Ok(())
        }
    }
}

/// Walk the chain; OK with the count and the head's hash (note it somewhere else: it proves
/// later that nothing was cut off the end), or the first broken link and a failure exit.
async fn verify(core: &Core, json: bool) -> anyhow::Result<()> {
    let report = core.verify_audit().await?;
    let head_hex = report.head.as_deref().map(hex);
    if json {
        println!(
            "{}",
            json!({
                "ok": report.broken.is_none(),
                "verified": report.verified,
                "broken_seq": report.broken.map(|b| b.0),
                "reason": report.broken.map(|b| b.1),
                "head_hash": head_hex,
            })
        );
    }
    match report.broken {
        None => {
            if !json {
                println!("audit log OK: {} events, chain intact", report.verified);
                if let Some(h) = head_hex {
                    println!("head hash: {h}");
                }
            }
            Ok(())
        }
        Some((seq, why)) => {
            bail!(
                "audit log broken at event {seq}: {why} ({} events before it verified)",
                report.verified
            )
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
