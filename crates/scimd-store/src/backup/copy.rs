//! Moving rows between a database and the backup format, once for both backends. A backup
//! reads every table a page at a time in key order inside one snapshot (SQLite: a read
//! transaction in WAL mode; PostgreSQL: `REPEATABLE READ`) while scimd keeps serving. A
//! restore loads everything in one transaction — on SQLite into a fresh file renamed into
//! place at the end, on PostgreSQL into the emptied tables — so a failed restore leaves the
//! target as it was.

use std::path::Path;

use scimd_core::StoreError;
use serde_json::Value;

use super::{Kind, Reader, Summary, TABLES, Table, bytes_value, check_tables, exported, header, trailer, write_line};
use crate::db::sqlite::{backend, open_conn};
use crate::db::{Arg, Cell, Db, Dialect, Exec, Row, run_now};
use crate::store::SqlStore;

const PAGE: usize = 1000;

pub(crate) async fn export(
    store: &SqlStore,
    out: &mut (dyn std::io::Write + Send),
    with_logs: bool,
) -> Result<Summary, StoreError> {
    match &store.db {
        Db::Sqlite(db) => {
            let mut c = open_conn(db.path())?;
            c.raw().execute_batch("BEGIN").map_err(backend)?;
            let summary = run_now(Box::pin(export_rows(&mut c, out, with_logs)))?;
            c.raw().execute_batch("COMMIT").map_err(backend)?;
            Ok(summary)
        }
        Db::Postgres(db) => {
            let mut c = db.conn().await?;
            c.begin().await?;
            c.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?;
            let outcome = export_rows(&mut c, out, with_logs).await;
            c.end(outcome).await
        }
    }
}

async fn table_names(x: &mut dyn Exec) -> Result<Vec<String>, StoreError> {
    let sql = match x.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    x.query(sql, &[]).await?.iter().map(|r| r.text(0)).collect()
}

/// A column's value as the backup writes it.
fn json_of(t: &Table, col: usize, c: &Cell) -> Result<Value, StoreError> {
    let (name, kind) = t.columns[col];
    Ok(match (kind, c) {
        (_, Cell::Null) => Value::Null,
        (Kind::Int, Cell::Int(n)) => Value::from(*n),
        (Kind::Bool, Cell::Bool(b)) => Value::Bool(*b),
        (Kind::Bool, Cell::Int(n)) => Value::Bool(*n != 0),
        (Kind::Text, Cell::Text(s)) | (Kind::Json, Cell::Text(s)) => Value::String(s.clone()),
        (Kind::Json, Cell::Json(v)) => Value::String(v.to_string()),
        (Kind::Bytes, Cell::Bytes(b)) => bytes_value(b),
        _ => {
            return Err(StoreError::Backend(format!(
                "{}.{name} holds a value of an unexpected type",
                t.name
            )));
        }
    })
}

/// A cell as a value bound to a placeholder of its column's kind (nulls typed too).
fn arg<'a>(kind: Kind, c: &'a Cell) -> Arg<'a> {
    match (kind, c) {
        (_, Cell::Text(s)) => Arg::Text(Some(s)),
        (_, Cell::Int(n)) => Arg::Int(Some(*n)),
        (_, Cell::Bool(b)) => Arg::Bool(Some(*b)),
        (_, Cell::Bytes(b)) => Arg::Bytes(Some(b)),
        (_, Cell::Json(v)) => Arg::Json(v),
        (_, Cell::Real(x)) => Arg::Real(Some(*x)),
        (Kind::Text | Kind::Json, Cell::Null) => Arg::Text(None),
        (Kind::Int, Cell::Null) => Arg::Int(None),
        (Kind::Bool, Cell::Null) => Arg::Bool(None),
        (Kind::Bytes, Cell::Null) => Arg::Bytes(None),
    }
}

async fn export_rows(
    x: &mut dyn Exec,
    out: &mut (dyn std::io::Write + Send),
    with_logs: bool,
) -> Result<Summary, StoreError> {
    check_tables(&table_names(x).await?)?;
    let schema = crate::migrations::version(x).await?;
    write_line(out, &header(schema, with_logs))?;
    let mut summary = Summary::default();
    for t in exported(with_logs) {
        let columns: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let key_at: Vec<usize> = t
            .key
            .iter()
            .filter_map(|k| t.columns.iter().position(|(c, _)| c == k))
            .collect();
        let keys = t.key.join(", ");
        let first = format!(
            "SELECT {} FROM {} ORDER BY {keys} LIMIT {PAGE}",
            columns.join(", "),
            t.name
        );
        let next = format!(
            "SELECT {} FROM {} WHERE ({keys}) > ({}) ORDER BY {keys} LIMIT {PAGE}",
            columns.join(", "),
            t.name,
            vec!["?"; key_at.len()].join(", ")
        );
        let mut n = 0u64;
        let mut last: Option<Row> = None;
        loop {
            let rows = match &last {
                None => x.query(&first, &[]).await?,
                Some(row) => {
                    let bound: Vec<Arg<'_>> = key_at.iter().map(|&i| arg(t.columns[i].1, &row.0[i])).collect();
                    x.query(&next, &bound).await?
                }
            };
            let full = rows.len() == PAGE;
            for row in &rows {
                let mut line = vec![Value::from(t.name)];
                for (i, c) in row.0.iter().enumerate() {
                    line.push(json_of(t, i, c)?);
                }
                write_line(out, &Value::Array(line))?;
                n += 1;
            }
            last = rows.into_iter().last();
            if !full {
                break;
            }
        }
        summary.tables.push((t.name.to_owned(), n));
    }
    write_line(out, &trailer(&summary))?;
    Ok(summary)
}

pub(crate) async fn import(store: SqlStore, reader: &mut Reader<'_>, force: bool) -> Result<Summary, StoreError> {
    match store.db {
        Db::Sqlite(db) => {
            // The file is replaced below: nothing of this store may keep it open.
            let path = db.path().to_owned();
            drop(db);
            let path = path.as_str();
            let mut target = open_conn(path)?;
            if run_now(Box::pin(has_data(&mut target)))? && !force {
                return Err(not_empty());
            }
            drop(target);
            let tmp = format!("{path}.restoring");
            remove_database(&tmp);
            let summary = match load_file(&tmp, reader) {
                Ok(s) => s,
                Err(e) => {
                    remove_database(&tmp);
                    return Err(e);
                }
            };
            remove_database(path);
            std::fs::rename(&tmp, path)
                .map_err(|e| StoreError::Backend(format!("cannot move the restored database into place: {e}")))?;
            Ok(summary)
        }
        Db::Postgres(db) => {
            let mut c = db.conn().await?;
            c.begin().await?;
            let outcome = replace_postgres(&mut c, reader, force).await;
            c.end(outcome).await
        }
    }
}

fn not_empty() -> StoreError {
    StoreError::Backend(
        "the database is not empty: restore into an empty one, or pass --force to replace everything in it".into(),
    )
}

async fn has_data(x: &mut dyn Exec) -> Result<bool, StoreError> {
    for t in TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", t.name);
        if x.query_one(&sql, &[]).await?.bool(0)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A fresh SQLite file at `tmp`, migrated and loaded in one transaction.
fn load_file(tmp: &str, reader: &mut Reader<'_>) -> Result<Summary, StoreError> {
    let mut c = open_conn(tmp)?;
    c.raw().execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let loaded = run_now(Box::pin(async {
        crate::migrations::migrate(&mut c).await?;
        load_rows(&mut c, reader).await
    }));
    match loaded {
        Ok(summary) => {
            c.raw().execute_batch("COMMIT").map_err(backend)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = c.raw().execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

async fn replace_postgres(x: &mut dyn Exec, reader: &mut Reader<'_>, force: bool) -> Result<Summary, StoreError> {
    // Nobody appends to the audit chain while it is being replaced.
    crate::audit::lock(x).await?;
    let had_data = has_data(x).await?;
    if had_data && !force {
        return Err(not_empty());
    }
    if had_data {
        // Console sessions go too: they belong to the accounts being replaced, and a
        // restored server starts with everyone signed out (as on SQLite); so does the log of
        // delivery attempts of the subscriptions being replaced.
        let names: Vec<&str> = TABLES
            .iter()
            .map(|t| t.name)
            .chain(["admin_session", "delivery_attempt"])
            .collect();
        x.batch(&format!(
            "ALTER TABLE audit_event DISABLE TRIGGER USER; TRUNCATE {} RESTART IDENTITY; \
             ALTER TABLE audit_event ENABLE TRIGGER USER;",
            names.join(", ")
        ))
        .await?;
    }
    let summary = load_rows(x, reader).await?;
    for t in TABLES.iter().filter(|t| t.identity) {
        x.batch(&format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'seq'), coalesce(max(seq), 0) + 1, false) FROM {0}",
            t.name
        ))
        .await?;
    }
    Ok(summary)
}

/// Insert every row of the backup; generated `seq` values are carried over as they are.
async fn load_rows(x: &mut dyn Exec, reader: &mut Reader<'_>) -> Result<Summary, StoreError> {
    let mut counts = vec![0u64; TABLES.len()];
    while let Some(row) = reader.next_row()? {
        let t = row.table;
        let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let overriding = if t.identity && x.is_postgres() {
            "OVERRIDING SYSTEM VALUE "
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {} ({}) {overriding}VALUES ({})",
            t.name,
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        let bound: Vec<Arg<'_>> = t
            .columns
            .iter()
            .zip(&row.values)
            .map(|((_, k), v)| arg(*k, v))
            .collect();
        x.execute(&sql, &bound)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot restore a row of {}: {}", t.name, StoreError::from(e))))?;
        if let Some(i) = TABLES.iter().position(|k| k.name == t.name) {
            counts[i] += 1;
        }
    }
    Ok(Summary {
        tables: TABLES.iter().zip(counts).map(|(t, n)| (t.name.to_owned(), n)).collect(),
    })
}

/// A database file with its companions.
fn remove_database(path: &str) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = format!("{path}{suffix}");
        if Path::new(&p).exists() {
            let _ = std::fs::remove_file(&p);
        }
    }
}
