//! The key file and its predecessor: `scimd.key` seals, `scimd.key.previous` (left by a key
//! rotation) only opens. Both are read again whenever either changes on disk, so a rotation
//! reaches every process using these files without a restart.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::Context;
use scimd_core::crypto::KeySource;

/// `{key_file}.previous`: the key a rotation replaced, kept until every process has the new.
pub fn previous_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".previous");
    PathBuf::from(name)
}

type Stamp = Vec<Option<(SystemTime, u64)>>;

pub struct KeyFiles {
    current: PathBuf,
    previous: PathBuf,
    seen: Mutex<Stamp>,
}

impl KeyFiles {
    /// The keys now (the sealing key first), and a source that follows the files.
    pub fn open(current: &Path) -> anyhow::Result<(Vec<[u8; 32]>, KeyFiles)> {
        let files = KeyFiles {
            current: current.to_owned(),
            previous: previous_path(current),
            seen: Mutex::new(Vec::new()),
        };
        let stamp = files.stamp();
        let keys = files.read()?;
        if let Ok(mut seen) = files.seen.lock() {
            *seen = stamp;
        }
        Ok((keys, files))
    }

    fn stamp(&self) -> Stamp {
        [&self.current, &self.previous]
            .iter()
            .map(|p| {
                let m = fs::metadata(p).ok()?;
                Some((m.modified().ok()?, m.len()))
            })
            .collect()
    }

    fn read(&self) -> anyhow::Result<Vec<[u8; 32]>> {
        let mut keys = vec![read_key(&self.current)?];
        if self.previous.exists() {
            keys.push(read_key(&self.previous)?);
        }
        Ok(keys)
    }
}

impl KeySource for KeyFiles {
    fn changed(&self) -> Option<Vec<[u8; 32]>> {
        let stamp = self.stamp();
        let mut seen = self.seen.lock().ok()?;
        if *seen == stamp {
            return None;
        }
        match self.read() {
            Ok(keys) => {
                *seen = stamp;
                tracing::info!(key_file = %self.current.display(), keys = keys.len(), "key file changed: keys read again");
                Some(keys)
            }
            // Half written, say: keep the keys in use and look again next time.
            Err(e) => {
                tracing::warn!(error = %e, "the key file changed but cannot be read; keeping the keys in use");
                None
            }
        }
    }
}

/// Exactly 32 bytes, or a message naming the file.
pub fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = fs::read(path).with_context(|| format!("cannot read the key file {}", path.display()))?;
    bytes.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "the key file {} must hold exactly 32 bytes (it has {})",
            path.display(),
            bytes.len()
        )
    })
}

/// `key` written whole and synced, mode 0600, under a temporary name beside `path`; the
/// caller links or renames it into place (so no process ever reads half a key).
pub fn write_beside(path: &Path, key: &[u8; 32]) -> std::io::Result<PathBuf> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(key).and_then(|()| f.sync_all()));
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replace `path` with `key`, whole.
pub fn write_key(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    let replaced = write_beside(path, key).and_then(|tmp| {
        fs::rename(&tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    });
    replaced.with_context(|| format!("cannot write the key file {}", path.display()))
}
