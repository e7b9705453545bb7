//! Backups in one portable format for both backends: JSON lines, a header naming each
//! table's columns, then one line per row (`["table", value, ...]`), then a trailer with the
//! row count, so a cut-off file is recognised. Taken in one read transaction (a consistent
//! snapshot while scimd keeps serving); restored into an empty database of either kind,
//! which makes it also the way from SQLite to PostgreSQL and back.
//!
//! A backup holds what the database holds: sealed client secrets and token hashes, never a
//! secret or token in clear. Sealed secrets open only with the key file, kept apart. The
//! provisioning log ([`LOGS`]: request bodies and client addresses, personal data kept for
//! diagnosis) is left out unless asked for.

mod copy;

use std::io::{BufRead, Write};

use base64::Engine;
use scimd_core::StoreError;
use serde_json::{Value, json};

use crate::db::Cell;

pub const FORMAT: &str = "scimd-backup";
pub const VERSION: u64 = 1;

/// How a column's values are written: the file's types, whatever each database calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Int,
    Bool,
    /// Bytes, as standard base64.
    Bytes,
    /// A JSON document, as its text.
    Json,
}

pub(crate) struct Table {
    pub name: &'static str,
    /// The primary key columns, for ordering (and paging on PostgreSQL).
    pub key: &'static [&'static str],
    /// A generated `seq` column to carry over and move the generator past.
    pub identity: bool,
    pub columns: &'static [(&'static str, Kind)],
    /// Values for columns a backup made by an older scimd lacks (added by a later schema).
    pub defaults: &'static [(&'static str, &'static str)],
}

use Kind::{Bool, Bytes, Int, Json, Text};

/// Every table scimd keeps, parents before children. A table in the database that is not
/// listed here fails the backup: nothing is left out silently.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "provider",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("name", Text),
            ("population", Text),
            ("enabled", Bool),
            ("description", Text),
            ("tags", Text),
            ("token_ttl_seconds", Int),
            ("allowed_networks", Text),
            ("client_id", Text),
            ("secret_sealed", Bytes),
            ("secret_hash", Bytes),
            ("created", Int),
            ("modified", Int),
            ("settings", Text),
        ],
        defaults: &[("settings", "{}")],
    },
    Table {
        name: "access_token",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("provider_id", Text),
            ("hash", Bytes),
            ("created", Int),
            ("expires", Int),
            ("last_used", Int),
            ("revoked", Int),
            ("setup_link", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "setup_link",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("provider_id", Text),
            ("hash", Bytes),
            ("created", Int),
            ("created_by", Text),
            ("expires", Int),
            ("revoked", Int),
            ("reveal_secret", Bool),
            ("secret_revealed", Int),
            ("first_viewed", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "resource",
        key: &["seq"],
        identity: true,
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("provider_id", Text),
            ("population", Text),
            ("kind", Text),
            ("user_name", Text),
            ("user_name_folded", Text),
            ("external_id", Text),
            ("display_name", Text),
            ("display_name_folded", Text),
            ("active", Bool),
            ("created", Int),
            ("modified", Int),
            ("version", Int),
            ("data", Json),
            ("access_end", Int),
            ("access_notice", Int),
        ],
        defaults: &[("access_notice", "0")],
    },
    Table {
        name: "deleted_resource",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("provider_id", Text),
            ("population", Text),
            ("kind", Text),
            ("user_name", Text),
            ("display_name", Text),
            ("external_id", Text),
            ("created", Int),
            ("modified", Int),
            ("version", Int),
            ("data", Json),
            ("access_end", Int),
            ("deleted", Int),
            ("deleted_by", Text),
            ("purge_after", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "deleted_membership",
        key: &["resource_id", "group_id", "member_id"],
        identity: false,
        columns: &[
            ("resource_id", Text),
            ("group_id", Text),
            ("member_id", Text),
            ("display", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "provider_guard",
        key: &["provider_id"],
        identity: false,
        columns: &[
            ("provider_id", Text),
            ("counts", Text),
            ("tripped_at", Int),
            ("tripped", Text),
            ("released_at", Int),
            ("released_by", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "membership",
        key: &["group_seq", "member_seq"],
        identity: false,
        columns: &[("group_seq", Int), ("member_seq", Int), ("display", Text)],
        defaults: &[],
    },
    Table {
        name: "attribute_index",
        key: &["seq", "attr", "value"],
        identity: false,
        columns: &[
            ("seq", Int),
            ("provider_id", Text),
            ("kind", Text),
            ("attr", Text),
            ("value", Text),
            ("is_unique", Bool),
        ],
        defaults: &[],
    },
    Table {
        name: "discovered_attribute",
        key: &["provider_id", "kind", "uri", "name"],
        identity: false,
        columns: &[
            ("provider_id", Text),
            ("kind", Text),
            ("uri", Text),
            ("name", Text),
            ("json_type", Text),
            ("first_seen", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "audit_event",
        key: &["seq"],
        identity: true,
        columns: &[
            ("seq", Int),
            ("time", Int),
            ("actor", Text),
            ("action", Text),
            ("provider_id", Text),
            ("resource", Text),
            ("population", Text),
            ("attributes", Text),
            ("prev_hash", Bytes),
            ("hash", Bytes),
        ],
        defaults: &[],
    },
    Table {
        name: "admin",
        key: &["name"],
        identity: false,
        columns: &[("name", Text), ("password_hash", Text), ("created", Int)],
        defaults: &[],
    },
    Table {
        name: "admin_api_token",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("name", Text),
            ("hash", Bytes),
            ("created", Int),
            ("revoked", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "provider_stream",
        key: &["provider_id"],
        identity: false,
        columns: &[("provider_id", Text), ("head", Int)],
        defaults: &[],
    },
    Table {
        name: "change_event",
        key: &["seq"],
        identity: true,
        columns: &[
            ("seq", Int),
            ("provider_id", Text),
            ("position", Int),
            ("id", Text),
            ("time", Int),
            ("population", Text),
            ("txn", Text),
            ("type", Text),
            ("verb", Text),
            ("resource_kind", Text),
            ("resource_id", Text),
            ("member_id", Text),
            ("attributes", Text),
            ("resource", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "subscription",
        key: &["id"],
        identity: false,
        columns: &[
            ("id", Text),
            ("format", Text),
            ("url", Text),
            ("providers", Text),
            ("population", Text),
            ("events", Text),
            ("payload", Text),
            ("secret", Bytes),
            ("old_secret", Bytes),
            ("old_until", Int),
            ("poll_hash", Bytes),
            ("state", Text),
            ("state_reason", Text),
            ("created", Int),
            ("lease_holder", Text),
            ("lease_until", Int),
            ("last_success", Int),
            ("last_error", Text),
            ("last_error_at", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "subscription_cursor",
        key: &["subscription_id", "provider_id"],
        identity: false,
        columns: &[
            ("subscription_id", Text),
            ("provider_id", Text),
            ("position", Int),
            ("attempts", Int),
            ("retry_at", Int),
            ("failing_since", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "dead_letter",
        key: &["subscription_id", "event_id"],
        identity: false,
        columns: &[
            ("subscription_id", Text),
            ("event_id", Text),
            ("provider_id", Text),
            ("position", Int),
            ("time", Int),
            ("reason", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "signing_key",
        key: &["kid"],
        identity: false,
        columns: &[
            ("kid", Text),
            ("private_key", Bytes),
            ("public_jwk", Text),
            ("created", Int),
            ("retires", Int),
        ],
        defaults: &[],
    },
    Table {
        name: "request_log",
        key: &["provider_id", "failed", "seq"],
        identity: false,
        columns: &[
            ("provider_id", Text),
            ("failed", Bool),
            ("seq", Int),
            ("time", Int),
            ("method", Text),
            ("path", Text),
            ("status", Int),
            ("latency_us", Int),
            ("request_id", Text),
            ("client", Text),
            ("user_agent", Text),
            ("scim_type", Text),
            ("detail", Text),
            ("body", Text),
        ],
        defaults: &[],
    },
    Table {
        name: "request_log_stats",
        key: &["provider_id"],
        identity: false,
        columns: &[
            ("provider_id", Text),
            ("head", Int),
            ("unauthenticated", Int),
            ("last_unauthenticated", Int),
            ("recent", Int),
            ("recent_count", Int),
        ],
        defaults: &[],
    },
];

/// The provisioning log's tables: in a backup only when asked (`scimd backup --with-logs`).
pub const LOGS: &[&str] = &["request_log", "request_log_stats"];

/// The tables a backup writes.
pub(crate) fn exported(with_logs: bool) -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(move |t| with_logs || !LOGS.contains(&t.name))
}

/// Tables that are bookkeeping, not data. Console sessions are not carried over: a restored
/// server starts with everyone signed out; nor is the log of delivery attempts, nor what the
/// last server to run recorded about itself (the next one to start records it anew), nor
/// which instance ran a background job last.
const NOT_DATA: &[&str] = &[
    "scimd_schema",
    "admin_session",
    "delivery_attempt",
    "server_state",
    "job_lease",
];

/// What a backup or restore moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows per table, in [`TABLES`] order.
    pub tables: Vec<(String, u64)>,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Write a consistent backup of the database at `url` to `out`, with the provisioning log
/// when `with_logs`.
pub async fn export(
    url: &str,
    options: crate::PgOptions,
    out: &mut (dyn Write + Send),
    with_logs: bool,
) -> Result<Summary, StoreError> {
    copy::export(&crate::open_sql(url, options).await?, out, with_logs).await
}

/// Load a backup into the database at `url`, which must hold no data unless `force` (then
/// everything in it is replaced).
pub async fn import(
    url: &str,
    options: crate::PgOptions,
    input: &mut (dyn BufRead + Send),
    force: bool,
) -> Result<Summary, StoreError> {
    let mut reader = Reader::new(input)?;
    copy::import(crate::open_sql(url, options).await?, &mut reader, force).await
}

pub(crate) fn header(schema: i64, with_logs: bool) -> Value {
    let tables: serde_json::Map<String, Value> = exported(with_logs)
        .map(|t| {
            (
                t.name.to_owned(),
                json!(t.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>()),
            )
        })
        .collect();
    json!({
        "format": FORMAT,
        "version": VERSION,
        "schema": schema,
        "scimd": env!("CARGO_PKG_VERSION"),
        "tables": tables,
    })
}

pub(crate) fn write_line(out: &mut (dyn Write + Send), v: &Value) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, v).map_err(|e| StoreError::Backend(format!("cannot write the backup: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| StoreError::Backend(format!("cannot write the backup: {e}")))
}

pub(crate) fn trailer(summary: &Summary) -> Value {
    json!({"end": true, "rows": summary.rows()})
}

/// Refuse a database holding tables the backup would not carry.
pub(crate) fn check_tables(present: &[String]) -> Result<(), StoreError> {
    for t in present {
        if !TABLES.iter().any(|k| k.name == t) && !NOT_DATA.contains(&t.as_str()) {
            return Err(StoreError::Backend(format!(
                "the database has a table '{t}' this scimd's backup does not know; use the scimd that made it"
            )));
        }
    }
    Ok(())
}

pub(crate) fn bytes_value(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

/// A row of the backup, checked against its table's columns.
pub(crate) struct Row {
    pub table: &'static Table,
    /// Values in the table's column order (columns the file lacks are null).
    pub values: Vec<Cell>,
}

pub(crate) struct Reader<'a> {
    input: &'a mut (dyn BufRead + Send),
    /// For each table of the file: where each of its columns sits in the file's rows.
    layout: Vec<(&'static Table, Vec<Option<usize>>)>,
    line: String,
    lineno: u64,
    pub rows: u64,
    ended: bool,
}

impl<'a> Reader<'a> {
    fn new(input: &'a mut (dyn BufRead + Send)) -> Result<Self, StoreError> {
        let mut r = Reader {
            input,
            layout: Vec::new(),
            line: String::new(),
            lineno: 0,
            rows: 0,
            ended: false,
        };
        let head = r
            .next_value()?
            .ok_or_else(|| StoreError::Backend("the backup is empty".into()))?;
        if head["format"] != FORMAT {
            return Err(StoreError::Backend("this is not a scimd backup".into()));
        }
        if head["version"].as_u64() != Some(VERSION) {
            return Err(StoreError::Backend(format!(
                "the backup is in format version {}, this scimd reads version {VERSION}",
                head["version"]
            )));
        }
        let tables = head["tables"]
            .as_object()
            .ok_or_else(|| StoreError::Backend("the backup's header lists no tables".into()))?;
        for (name, cols) in tables {
            let table = TABLES.iter().find(|t| t.name == name).ok_or_else(|| {
                StoreError::Backend(format!("the backup has a table '{name}' this scimd does not know"))
            })?;
            let cols: Vec<&str> = cols
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(unknown) = cols.iter().find(|c| !table.columns.iter().any(|(k, _)| k == *c)) {
                return Err(StoreError::Backend(format!(
                    "the backup has a column '{name}.{unknown}' this scimd does not know"
                )));
            }
            let positions = table
                .columns
                .iter()
                .map(|(c, _)| cols.iter().position(|f| f == c))
                .collect();
            r.layout.push((table, positions));
        }
        Ok(r)
    }

    fn next_value(&mut self) -> Result<Option<Value>, StoreError> {
        self.line.clear();
        let n = self
            .input
            .read_line(&mut self.line)
            .map_err(|e| StoreError::Backend(format!("cannot read the backup: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        self.lineno += 1;
        serde_json::from_str(&self.line)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("the backup's line {} is not JSON: {e}", self.lineno)))
    }

    /// The next row, or `None` after the trailer (a missing trailer is an error).
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, StoreError> {
        if self.ended {
            return Ok(None);
        }
        let bad = |lineno: u64, what: &str| StoreError::Backend(format!("the backup's line {lineno}: {what}"));
        let Some(v) = self.next_value()? else {
            return Err(StoreError::Backend(
                "the backup ends too early (no trailer): it is incomplete".into(),
            ));
        };
        if v["end"] == true {
            if v["rows"].as_u64() != Some(self.rows) {
                return Err(bad(self.lineno, "the row count does not match the trailer"));
            }
            self.ended = true;
            return Ok(None);
        }
        let items = v.as_array().ok_or_else(|| bad(self.lineno, "not a row"))?;
        let name = items.first().and_then(Value::as_str).unwrap_or("");
        let (table, positions) = self
            .layout
            .iter()
            .find(|(t, _)| t.name == name)
            .ok_or_else(|| bad(self.lineno, "a row of an unknown table"))?;
        let mut values = Vec::with_capacity(table.columns.len());
        for ((col, kind), pos) in table.columns.iter().zip(positions) {
            let missing = table
                .defaults
                .iter()
                .find(|(c, _)| c == col)
                .map(|(_, v)| Value::from(*v));
            let raw = match pos {
                Some(p) => items.get(p + 1).unwrap_or(&Value::Null),
                None => missing.as_ref().unwrap_or(&Value::Null),
            };
            let cell = cell(*kind, raw).ok_or_else(|| bad(self.lineno, &format!("column {col} has a bad value")))?;
            values.push(cell);
        }
        self.rows += 1;
        Ok(Some(Row { table, values }))
    }
}

fn cell(kind: Kind, v: &Value) -> Option<Cell> {
    Some(match (kind, v) {
        (_, Value::Null) => Cell::Null,
        (Text, Value::String(s)) => Cell::Text(s.clone()),
        (Json, Value::String(s)) => Cell::Json(serde_json::from_str(s).ok()?),
        (Int, Value::Number(n)) => Cell::Int(n.as_i64()?),
        // A default for a column an older backup lacks (see `Table::defaults`).
        (Int, Value::String(s)) => Cell::Int(s.parse().ok()?),
        (Bool, Value::Bool(b)) => Cell::Bool(*b),
        (Bytes, Value::String(s)) => Cell::Bytes(base64::engine::general_purpose::STANDARD.decode(s).ok()?),
        _ => return None,
    })
}
