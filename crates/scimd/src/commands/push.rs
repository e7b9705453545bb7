//! `scimd push`: provision a CSV, JSON or LDIF directory into any SCIM 2.0 server, the way
//! Okta does; see docs/push.md. The summary goes to stdout (`--json` for machines), progress
//! and warnings to stderr; the exit status is non-zero when anything failed.

use anyhow::{Context, anyhow, bail};
use scimd_client::push::{self, Format, Missing, Options, ProgressMode, PushOptions, UpdateMode};
use scimd_client::request_token;
use scimd_client::scim::Client;

use super::token::pick;
use crate::cli::{PushArgs, SourceFormat, UpdateArg};

pub fn run(args: PushArgs) -> anyhow::Result<()> {
    let format = match args.format {
        Some(SourceFormat::Csv) => Format::Csv,
        Some(SourceFormat::Json) => Format::Json,
        Some(SourceFormat::Ldif) => Format::Ldif,
        None => Format::from_path(&args.source).ok_or_else(|| {
            anyhow!(
                "cannot tell the format of {} from its extension: pass --format csv|json|ldif",
                args.source.display()
            )
        })?,
    };
    let dir = push::read(&args.source, format, &args.map).map_err(|e| anyhow!(e))?;

    let (vars, ca) = args.grant.sources()?;
    let base_url = pick(&args.base_url, &vars, "scim_base_url", "base url")?;
    let token = if args.no_auth {
        None
    } else if let Some(t) = &args.token {
        Some(t.clone())
    } else {
        let req = args
            .grant
            .request(&vars, ca.as_ref())
            .context("no --token, so one is requested with the client-credentials grant")?;
        let response = request_token(&req)?;
        response["access_token"].as_str().map(str::to_owned)
    };
    let mut client = Client::trusting(&base_url, token.as_deref(), ca.as_ref());
    client.retry.attempts = args.retries;

    let opts = PushOptions {
        jobs: usize::from(args.jobs),
        dry_run: args.dry_run,
        strict: args.strict,
        update: match args.update {
            UpdateArg::Auto => UpdateMode::Auto,
            UpdateArg::Put => UpdateMode::Put,
            UpdateArg::Patch => UpdateMode::Patch,
        },
        batch: args.batch_size as usize,
        scope: Options {
            users: !args.groups_only,
            groups: !args.users_only,
            missing: if args.delete_missing {
                Missing::Delete
            } else if args.deactivate_missing {
                Missing::Deactivate
            } else {
                Missing::Keep
            },
        },
        progress: if args.quiet {
            ProgressMode::Off
        } else if args.plain {
            ProgressMode::Plain
        } else {
            ProgressMode::Auto
        },
        bulk: !args.no_bulk,
        max_removals: Some(args.max_removals),
    };
    let report = push::push(&client, &dir, &opts)?;
    if !args.quiet {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    if args.dry_run && !args.json {
        print!("{}", report.plan_text);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.summary());
    }
    if report.guarded.is_some() {
        bail!(
            "the push stopped: the server's mass-deletion guard refuses its deletes and deactivations until an administrator releases it"
        );
    }
    if !report.failures.is_empty() {
        bail!("{} change(s) failed", report.failures.len());
    }
    Ok(())
}
