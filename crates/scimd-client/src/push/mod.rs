//! `scimd push`: provision a directory (CSV, JSON or LDIF) into any SCIM 2.0 server the way
//! Okta does (RFC 7644 §3.3 create, §3.5.1 PUT, §3.5.2 PATCH, §3.6 DELETE, §3.4.2 queries).
//! Reads the server's state in pages, plans the difference ([`plan`]), then writes only that
//! difference with `jobs` threads ([`exec`]); a second push of the same source writes nothing.

pub mod exec;
pub mod ldif;
pub mod plan;
pub mod progress;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::scim::{Capabilities, Client, ClientError, RequestCounts};
pub use plan::{Missing, Options, Plan};
pub use progress::ProgressMode;
pub use source::{Directory, FieldMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// PATCH when the server says it supports it, else PUT.
    Auto,
    Put,
    Patch,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub jobs: usize,
    pub dry_run: bool,
    /// Any bad source record or unreachable member is fatal, before the first write.
    pub strict: bool,
    pub update: UpdateMode,
    /// Most membership changes sent in one group PATCH (and members in one group POST).
    pub batch: usize,
    pub scope: Options,
    pub progress: ProgressMode,
    /// Create users through `/Bulk` when the server offers it (RFC 7644 §3.7).
    pub bulk: bool,
    /// Refuse, before any write, a plan that deactivates or deletes more users and groups
    /// than this: a truncated source file must not empty the directory.
    pub max_removals: Option<usize>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            jobs: 4,
            dry_run: false,
            strict: false,
            update: UpdateMode::Auto,
            batch: 1000,
            scope: Options::default(),
            progress: ProgressMode::Auto,
            bulk: true,
            max_removals: Some(DEFAULT_MAX_REMOVALS),
        }
    }
}

/// Removals a push makes without being told it may make more.
pub const DEFAULT_MAX_REMOVALS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Scim(#[from] ClientError),
    #[error("--strict: {} problem(s), nothing was written:\n  {}", .0.len(), .0.join("\n  "))]
    Strict(Vec<String>),
    #[error(
        "the plan would deactivate or delete {planned} users and groups, more than --max-removals {max}; nothing was written (check the source, look at --dry-run, then raise --max-removals if it is right)"
    )]
    TooManyRemovals { planned: usize, max: usize },
}

/// Counts of what was done (or, for a dry run, what would be).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub users_created: usize,
    pub users_updated: usize,
    pub users_unchanged: usize,
    pub users_deactivated: usize,
    pub users_deleted: usize,
    pub groups_created: usize,
    pub groups_updated: usize,
    pub groups_unchanged: usize,
    pub groups_deleted: usize,
    pub members_added: usize,
    pub members_removed: usize,
}

impl Tally {
    pub fn changes(&self) -> usize {
        self.users_created
            + self.users_updated
            + self.users_deactivated
            + self.users_deleted
            + self.groups_created
            + self.groups_updated
            + self.groups_deleted
    }

    fn of_plan(p: &Plan) -> Tally {
        Tally {
            users_created: p.creates.len(),
            users_updated: p.updates.len(),
            users_unchanged: p.unchanged_users,
            users_deactivated: p.deactivations.len(),
            users_deleted: p.user_deletions.len(),
            groups_created: p.group_creates.len(),
            groups_updated: p.group_updates.len(),
            groups_unchanged: p.unchanged_groups,
            groups_deleted: p.group_deletions.len(),
            members_added: p.members_added(),
            members_removed: p.members_removed(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    pub tally: Tally,
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    pub requests: RequestCounts,
    pub seconds: f64,
    /// The plan, one line per change, for a dry run.
    pub plan_text: String,
    /// The push stopped: the server's mass-deletion guard refused a removal (its detail).
    pub guarded: Option<String>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        let t = &self.tally;
        json!({
            "dry_run": self.dry_run,
            "changed": t.changes() > 0,
            "users": {"created": t.users_created, "updated": t.users_updated, "unchanged": t.users_unchanged,
                      "deactivated": t.users_deactivated, "deleted": t.users_deleted},
            "groups": {"created": t.groups_created, "updated": t.groups_updated, "unchanged": t.groups_unchanged,
                       "deleted": t.groups_deleted, "members_added": t.members_added,
                       "members_removed": t.members_removed},
            "requests": self.requests.to_json(),
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "failures": self.failures,
            "warnings": self.warnings,
            "stopped_by_guard": self.guarded,
        })
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let t = &self.tally;
        let r = &self.requests;
        let mut s = String::new();
        if self.dry_run {
            s.push_str("dry run: nothing was written; the counts are what a push would do\n");
        }
        s.push_str(&format!(
            "users:  {} created, {} updated, {} deactivated, {} deleted, {} unchanged\n\
             groups: {} created, {} updated (+{} -{} members), {} deleted, {} unchanged\n\
             requests: {} GET, {} POST, {} PUT, {} PATCH, {} DELETE, {} retries in {:.1} s\n",
            t.users_created,
            t.users_updated,
            t.users_deactivated,
            t.users_deleted,
            t.users_unchanged,
            t.groups_created,
            t.groups_updated,
            t.members_added,
            t.members_removed,
            t.groups_deleted,
            t.groups_unchanged,
            r.get,
            r.post,
            r.put,
            r.patch,
            r.delete,
            r.retries,
            self.seconds
        ));
        if t.changes() == 0 && self.failures.is_empty() {
            s.push_str("no changes: the server already matches the source\n");
        }
        if let Some(detail) = &self.guarded {
            s.push_str(&format!(
                "stopped: the server's mass-deletion guard refused a delete or deactivation, so nothing more was \
                 written; once an administrator releases the guard (scimd: `scimd provider guard release PROVIDER` \
                 or the console), push again. The server said: {detail}\n"
            ));
        }
        if !self.failures.is_empty() {
            s.push_str(&format!("{} failure(s):\n", self.failures.len()));
            for f in &self.failures {
                s.push_str(&format!("  {f}\n"));
            }
        }
        s
    }
}

/// The server's users and groups, with the raw user documents (for PUT) by id.
pub struct Fetched {
    pub state: plan::ServerState,
    pub raw_users: HashMap<String, Value>,
}

/// Read what the server holds: users in pages, groups in pages without members, then the
/// members of only the groups the source names (one GET each, `jobs` at a time).
pub fn fetch(
    client: &Client,
    caps: &Capabilities,
    dir: &Directory,
    opts: &PushOptions,
) -> Result<Fetched, ClientError> {
    let page = caps.page_size;
    let mut state = plan::ServerState::default();
    let mut raw_users = HashMap::new();
    for v in client.list_all("Users", "excludedAttributes=groups", page)? {
        if let Some(u) = plan::ServerUser::from_json(&v) {
            raw_users.insert(u.id.clone(), v);
            state.users.push(u);
        }
    }
    if !opts.scope.groups {
        return Ok(Fetched { state, raw_users });
    }
    let listed = client.list_all("Groups", "excludedAttributes=members", page)?;
    let has_members = listed.iter().any(|g| g.get("members").is_some());
    state.groups = listed.iter().filter_map(plan::ServerGroup::from_json).collect();
    if !has_members {
        let names: HashSet<String> = dir.groups.iter().map(|g| g.display_name.to_lowercase()).collect();
        let exts: HashSet<&str> = dir.groups.iter().filter_map(|g| g.external_id.as_deref()).collect();
        let wanted: Vec<usize> = (0..state.groups.len())
            .filter(|i| {
                let g = &state.groups[*i];
                names.contains(&g.display_name.to_lowercase())
                    || g.external_id.as_deref().is_some_and(|e| exts.contains(e))
            })
            .collect();
        let results = std::sync::Mutex::new(Vec::new());
        exec::parallel(opts.jobs, &wanted, |i| {
            let id = &state.groups[*i].id;
            let r = client.get(&format!("/Groups/{id}?attributes=members"));
            if let Ok(mut all) = results.lock() {
                all.push((*i, r));
            }
        });
        for (i, r) in results.into_inner().unwrap_or_default() {
            state.groups[i].members = plan::member_ids(&r?);
        }
    }
    Ok(Fetched { state, raw_users })
}

/// Push `dir` to the server behind `client`.
pub fn push(client: &Client, dir: &Directory, opts: &PushOptions) -> Result<Report, PushError> {
    let start = Instant::now();
    let mut warnings: Vec<String> = dir.warnings.iter().map(ToString::to_string).collect();
    let skipped: Vec<String> = dir.problems.iter().map(|p| format!("{p} (skipped)")).collect();
    if opts.strict && !skipped.is_empty() {
        return Err(PushError::Strict(skipped));
    }
    let mut scope = opts.scope;
    if !skipped.is_empty() && scope.missing != Missing::Keep {
        warnings.push(format!(
            "{} source record(s) skipped: absent users and groups are left alone this time, since a skipped record may be one of them",
            skipped.len()
        ));
        scope.missing = Missing::Keep;
    }
    warnings.extend(skipped);
    let caps = client.capabilities()?;
    let fetched = fetch(client, &caps, dir, opts)?;
    let plan = plan::plan(dir, &fetched.state, scope);
    if opts.strict && !plan.problems.is_empty() {
        return Err(PushError::Strict(plan.problems));
    }
    warnings.extend(plan.problems.iter().cloned());
    if let Some(max) = opts.max_removals.filter(|max| plan.removals() > *max) {
        let planned = plan.removals();
        if !opts.dry_run {
            return Err(PushError::TooManyRemovals { planned, max });
        }
        warnings.push(format!(
            "{planned} removals exceed --max-removals {max}: without --dry-run this push would be refused"
        ));
    }
    let mut report = Report {
        dry_run: opts.dry_run,
        warnings,
        ..Report::default()
    };
    if opts.dry_run {
        report.tally = Tally::of_plan(&plan);
        report.plan_text = plan.describe();
    } else {
        let out = exec::execute(client, &caps, dir, &fetched, &plan, opts);
        report.tally = out.tally;
        report.failures = out.failures;
        report.guarded = out.guarded;
    }
    report.requests = client.counts();
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ldif,
}

impl Format {
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ldif" | "ldf" => Some(Format::Ldif),
            _ => None,
        }
    }
}

/// Read a source file, `maps` naming the CSV columns and LDIF attributes that are extension
/// attributes. I/O errors and unreadable files are `Err`; bad records are problems.
pub fn read(path: &Path, format: Format, maps: &[FieldMap]) -> Result<Directory, String> {
    if format == Format::Json && !maps.is_empty() {
        return Err(
            "--map is for CSV columns and LDIF attributes; JSON names extension attributes by their URN".into(),
        );
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("{} is not UTF-8: {e}", path.display()))?;
    let file = path.display().to_string();
    match format {
        Format::Csv => source::parse_csv(&file, &text, maps),
        Format::Json => source::parse_json(&file, &text),
        Format::Ldif => ldif::parse(&file, &text, maps),
    }
}
