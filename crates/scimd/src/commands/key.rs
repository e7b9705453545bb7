//! `scimd key rotate --new-key-file FILE`: seal every secret again under a new key, online.

use std::path::Path;

use crate::commands::provider::actor;
use crate::config::{self, Settings};
use crate::keys::{self, previous_path};

/// Put the new key in the key file's place (the old one kept as `{key_file}.previous`, so
/// that every process can still open what it sealed), then seal everything again under the
/// new key in one transaction. Run again after a failure: with the new key already in place
/// it only seals again.
pub async fn rotate(settings: &Settings, new_key_file: &Path) -> anyhow::Result<()> {
    let core = crate::open_core(settings).await?;
    let current = keys::read_key(&settings.key_file)?;
    let new = config::load_or_create_key(new_key_file)?;
    let previous = previous_path(&settings.key_file);
    if new != current {
        keys::write_key(&previous, &current)?;
        keys::write_key(&settings.key_file, &new)?;
        println!(
            "The new key is in {} now; the old one is kept in {}.",
            settings.key_file.display(),
            previous.display()
        );
    }
    let report = core.reseal_under(&new, &actor()).await.map_err(|e| {
        anyhow::anyhow!("{e}; nothing was sealed again (the new key is in place: run the same command again)")
    })?;
    println!(
        "Sealed again under the new key: {} client secret{}, {} webhook secret{}, {} SET signing key{}.",
        report.client_secrets,
        plural(report.client_secrets),
        report.webhook_secrets,
        plural(report.webhook_secrets),
        report.signing_keys,
        plural(report.signing_keys)
    );
    if !report.lost.is_empty() {
        println!(
            "Not sealed again (lost with an earlier key file; rotate them): {}",
            report.lost.join(", ")
        );
    }
    println!(
        "Servers using {} read the new key at their next use of a secret, without a restart. Once every \
         instance on this database has the new key file, remove {}.",
        settings.key_file.display(),
        previous.display()
    );
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
