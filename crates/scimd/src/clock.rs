//! The clock the binary runs on: the system's. Debug builds only — the builds `cargo test`
//! drives — also read a file `scimd-test-clock` next to the key file holding seconds to add,
//! so that end-to-end tests can move a running server's time, and its command line's,
//! forward (retention, access end dates, the guard's window) without waiting. A release
//! build has no such seam: the code that reads the file is not compiled into it.

use std::path::Path;
use std::sync::Arc;

use scimd_core::Clock;

/// The clock of a process whose key file is `key_file`.
#[cfg(not(debug_assertions))]
pub fn clock(_key_file: &Path) -> Arc<dyn Clock> {
    Arc::new(scimd_core::SystemClock)
}

/// The clock of a process whose key file is `key_file`: the system's, moved by the test
/// clock file when there is one.
#[cfg(debug_assertions)]
pub fn clock(key_file: &Path) -> Arc<dyn Clock> {
    let dir = key_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Arc::new(test_seam::OffsetClock(dir.join(test_seam::FILE)))
}

#[cfg(debug_assertions)]
mod test_seam {
    use std::path::PathBuf;

    use scimd_core::{Clock, SystemClock, Timestamp};

    /// The file's name, next to the key file.
    pub const FILE: &str = "scimd-test-clock";

    /// The system clock plus the seconds the file holds (none when it is absent or unreadable).
    pub struct OffsetClock(pub PathBuf);

    impl Clock for OffsetClock {
        fn now(&self) -> Timestamp {
            let offset = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0);
            SystemClock.now().plus_seconds(offset)
        }
    }
}
