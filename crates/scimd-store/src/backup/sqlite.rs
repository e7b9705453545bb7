//! Backup and restore for SQLite: the backup reads everything in one read transaction (a
//! snapshot in WAL mode, while the server writes); the restore loads a fresh file next to
//! the target and renames it into place, so a failed restore leaves the target as it was.

use std::path::Path;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, params_from_iter};
use scimd_core::StoreError;
use serde_json::Value;

use super::{Cell, Kind, Reader, Summary, TABLES, bytes_value, check_tables, header, trailer, write_line};
use crate::sqlite::backend;

pub(crate) fn export(path: &str, out: &mut (dyn std::io::Write + Send)) -> Result<Summary, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
    conn.execute_batch("BEGIN").map_err(backend)?;
    let present: Vec<String> = {
        let mut s = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .map_err(backend)?;
        let names = s.query_map([], |r| r.get(0)).map_err(backend)?;
        names.collect::<Result<_, _>>().map_err(backend)?
    };
    check_tables(&present)?;
    let schema: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    write_line(out, &header(schema))?;
    let mut summary = Summary::default();
    for t in TABLES {
        let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            t.name,
            t.key.join(", ")
        );
        let mut s = conn.prepare(&sql).map_err(backend)?;
        let mut rows = s.query([]).map_err(backend)?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(backend)? {
            let mut line = vec![Value::from(t.name)];
            for (i, (col, kind)) in t.columns.iter().enumerate() {
                let v = r.get_ref(i).map_err(backend)?;
                line.push(json_of(*kind, v).ok_or_else(|| {
                    StoreError::Backend(format!("{}.{col} holds a value of an unexpected type", t.name))
                })?);
            }
            write_line(out, &Value::Array(line))?;
            n += 1;
        }
        summary.tables.push((t.name.to_owned(), n));
    }
    write_line(out, &trailer(&summary))?;
    conn.execute_batch("COMMIT").map_err(backend)?;
    Ok(summary)
}

fn json_of(kind: Kind, v: ValueRef<'_>) -> Option<Value> {
    Some(match (kind, v) {
        (_, ValueRef::Null) => Value::Null,
        (Kind::Int, ValueRef::Integer(n)) => Value::from(n),
        (Kind::Bool, ValueRef::Integer(n)) => Value::Bool(n != 0),
        (Kind::Text | Kind::Json, ValueRef::Text(t)) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (Kind::Bytes, ValueRef::Blob(b)) => bytes_value(b),
        _ => return None,
    })
}

fn sql_of(c: &Cell) -> Sql {
    match c {
        Cell::Null => Sql::Null,
        Cell::Text(s) => Sql::Text(s.clone()),
        Cell::Int(n) => Sql::Integer(*n),
        Cell::Bool(b) => Sql::Integer(i64::from(*b)),
        Cell::Bytes(b) => Sql::Blob(b.clone()),
    }
}

fn has_data(conn: &Connection) -> Result<bool, StoreError> {
    for t in TABLES {
        let any: bool = conn
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {})", t.name), [], |r| r.get(0))
            .map_err(backend)?;
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn import(path: &str, reader: &mut Reader<'_>, force: bool) -> Result<Summary, StoreError> {
    {
        let target = Connection::open(path).map_err(backend)?;
        if has_data(&target)? && !force {
            return Err(StoreError::Backend(format!(
                "the database '{path}' is not empty: restore into an empty one, or pass --force to replace everything in it"
            )));
        }
    }
    let tmp = format!("{path}.restoring");
    remove_database(&tmp);
    let outcome = load(&tmp, reader);
    let summary = match outcome {
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

fn load(tmp: &str, reader: &mut Reader<'_>) -> Result<Summary, StoreError> {
    let conn = Connection::open(tmp).map_err(backend)?;
    crate::sqlite::register_functions(&conn).map_err(backend)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(backend)?;
    crate::sqlite::migrate(&conn)?;
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let mut counts = vec![0u64; TABLES.len()];
    while let Some(row) = reader.next_row()? {
        let t = row.table;
        let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            t.name,
            cols.join(", "),
            marks.join(", ")
        );
        conn.prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(row.values.iter().map(sql_of))))
            .map_err(|e| StoreError::Backend(format!("cannot restore a row of {}: {e}", t.name)))?;
        if let Some(i) = TABLES.iter().position(|k| k.name == t.name) {
            counts[i] += 1;
        }
    }
    conn.execute_batch("COMMIT").map_err(backend)?;
    conn.close().map_err(|(_, e)| backend(e))?;
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
