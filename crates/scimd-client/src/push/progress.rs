//! Progress of a push: an `indicatif` bar with counts, rate and ETA on a terminal, plain
//! periodic lines otherwise (logs, CI), or nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when standard error is a terminal, else plain lines.
    Auto,
    Plain,
    Off,
}

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Mutex<Instant>>,
    every: Duration,
    done: AtomicU64,
    total: u64,
    start: Instant,
}

impl Progress {
    pub fn new(total: u64, mode: ProgressMode) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let start = Instant::now();
        let (bar, plain) = match mode {
            ProgressMode::Auto if tty => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) =
                    ProgressStyle::with_template("{wide_bar} {pos}/{len} changes  {per_sec}  ETA {eta}  {msg}")
                {
                    bar.set_style(style);
                }
                (Some(bar), None)
            }
            ProgressMode::Auto | ProgressMode::Plain => (None, Some(Mutex::new(start))),
            ProgressMode::Off => (None, None),
        };
        Progress {
            bar,
            plain,
            every: Duration::from_secs(2),
            done: AtomicU64::new(0),
            total,
            start,
        }
    }

    /// One more change done (or failed).
    pub fn inc(&self) {
        self.inc_by(1);
    }

    pub fn inc_by(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(last) = &self.plain {
            let Ok(mut last) = last.lock() else { return };
            if last.elapsed() >= self.every {
                *last = Instant::now();
                eprintln!("{}", self.line(done));
            }
        }
    }

    fn line(&self, done: u64) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            format!("{:.0}s", self.total.saturating_sub(done) as f64 / rate)
        } else {
            "?".into()
        };
        format!("push: {done}/{} changes, {rate:.0}/s, ETA {eta}", self.total)
    }

    pub fn message(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_owned());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.plain.is_some() && self.total > 0 {
            eprintln!("{}", self.line(self.done.load(Ordering::Relaxed)));
        }
    }
}
