//! Failed client authentications are counted per client id and per source address in fixed
//! windows; past the limit, further attempts are refused without checking the secret until
//! the window ends. A credential-stuffing flood then costs one map lookup per request, and a
//! legitimate client is held up for at most one window.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Timestamp;

pub const WINDOW_MS: i64 = 60_000;
pub const MAX_FAILURES_PER_CLIENT: u32 = 10;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 30;
/// Past this many tracked keys the oldest windows are dropped, so a flood of distinct keys
/// cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub(crate) struct FailureLimiter {
    windows: Mutex<HashMap<String, (Timestamp, u32)>>,
}

impl FailureLimiter {
    /// `Err(seconds)` when `key` has used up its failures in the current window.
    pub(crate) fn check(&self, key: &str, max: u32, now: Timestamp) -> Result<(), i64> {
        let Ok(windows) = self.windows.lock() else {
            return Ok(());
        };
        match windows.get(key) {
            Some((start, count)) if now.millis() - start.millis() < WINDOW_MS && *count >= max => {
                let left_ms = WINDOW_MS - (now.millis() - start.millis());
                Err((left_ms + 999) / 1000)
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn failed(&self, key: &str, now: Timestamp) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        if windows.len() >= MAX_KEYS {
            windows.retain(|_, (start, _)| now.millis() - start.millis() < WINDOW_MS);
            if windows.len() >= MAX_KEYS {
                windows.clear();
            }
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.millis() - entry.0.millis() >= WINDOW_MS {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_failures_until_the_window_ends() {
        let l = FailureLimiter::default();
        let t0 = Timestamp(1_000_000);
        for _ in 0..3 {
            assert_eq!(l.check("c", 3, t0), Ok(()));
            l.failed("c", t0);
        }
        assert_eq!(l.check("c", 3, t0), Err(60));
        assert_eq!(l.check("c", 3, Timestamp(t0.0 + 59_500)), Err(1));
        assert_eq!(l.check("c", 3, Timestamp(t0.0 + 60_000)), Ok(()));
        assert_eq!(l.check("other", 3, t0), Ok(()));
    }

    #[test]
    fn a_new_window_starts_counting_afresh() {
        let l = FailureLimiter::default();
        let t0 = Timestamp(0);
        l.failed("c", t0);
        l.failed("c", t0);
        l.failed("c", Timestamp(WINDOW_MS));
        assert_eq!(l.check("c", 2, Timestamp(WINDOW_MS)), Ok(()));
    }
}
