//! `scimd backup FILE` and `scimd restore FILE`: the portable backup of either database.

use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};

use crate::config::Settings;

fn pg_options(settings: &Settings) -> scimd_store::PgOptions {
    scimd_store::PgOptions {
        pool_size: settings.db_pool_size,
        timeout: settings.db_timeout,
    }
}

/// Write the backup under a temporary name (mode 0600: it holds sealed secrets and token
/// hashes) and move it into place once complete.
pub async fn backup(settings: &Settings, file: &Path, with_logs: bool) -> anyhow::Result<()> {
    let tmp = file.with_extension(format!("partial{}", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = BufWriter::new(f);
    let written = scimd_store::backup::export(&settings.database, pg_options(settings), &mut out, with_logs)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|summary| {
            out.flush()?;
            out.get_ref().sync_all()?;
            Ok(summary)
        });
    let summary = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))?;
    println!("backup written to {}: {} rows", file.display(), summary.rows());
    for (table, n) in &summary.tables {
        println!("  {table:<18} {n}");
    }
    if with_logs {
        println!(
            "It holds the provisioning log: request bodies (secrets masked) and client addresses are personal data."
        );
    } else {
        println!("The provisioning log is left out (--with-logs to include it).");
    }
    println!(
        "It holds sealed client secrets: keep the key file ({}) too, apart from it.",
        settings.key_file.display()
    );
    Ok(())
}

pub async fn restore(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<()> {
    let f = fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut input = BufReader::new(f);
    let summary = scimd_store::backup::import(&settings.database, pg_options(settings), &mut input, force)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "restored {} rows into {}",
        summary.rows(),
        scimd_store::postgres::redact(&settings.database)
    );
    for (table, n) in &summary.tables {
        println!("  {table:<18} {n}");
    }
    let core = crate::open_core(settings).await?;
    let report = core.verify_audit().await?;
    match report.broken {
        None => {
            println!("audit log OK: {} events, chain intact", report.verified);
            Ok(())
        }
        Some((seq, why)) => bail!("restored, but the audit log is broken at event {seq}: {why}"),
    }
}
