//! Backup and restore for PostgreSQL: the backup reads every table in one `REPEATABLE READ`
//! transaction (one snapshot, while other instances write), a page at a time in key order;
//! the restore loads everything in one transaction, so a failed restore changes nothing.

use scimd_core::StoreError;
use serde_json::Value;
use tokio_postgres::Row as PgRow;
use tokio_postgres::types::ToSql;

use super::{Cell, Kind, Reader, Summary, TABLES, Table, bytes_value, check_tables, header, trailer, write_line};
use crate::postgres::{PgStore, backend};

const PAGE: i64 = 1000;

fn select_list(t: &Table) -> String {
    t.columns
        .iter()
        .map(|(c, k)| {
            if *k == Kind::Json {
                format!("{c}::text")
            } else {
                (*c).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn placeholder(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Text => format!("${n}::text"),
        Kind::Int => format!("${n}::int8"),
        Kind::Bool => format!("${n}::boolean"),
        Kind::Bytes => format!("${n}::bytea"),
        Kind::Json => format!("${n}::text::jsonb"),
    }
}

fn cell_of(kind: Kind, r: &PgRow, i: usize) -> Result<Cell, tokio_postgres::Error> {
    Ok(match kind {
        Kind::Text | Kind::Json => r.try_get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text),
        Kind::Int => r.try_get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int),
        Kind::Bool => r.try_get::<_, Option<bool>>(i)?.map_or(Cell::Null, Cell::Bool),
        Kind::Bytes => r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Cell::Null, Cell::Bytes),
    })
}

fn json_of(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Text(s) => Value::String(s.clone()),
        Cell::Int(n) => Value::from(*n),
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Bytes(b) => bytes_value(b),
    }
}

/// A cell as a parameter of the type its placeholder names (nulls typed too).
fn param_of(kind: Kind, c: &Cell) -> Box<dyn ToSql + Sync + Send> {
    match (kind, c) {
        (_, Cell::Text(s)) => Box::new(Some(s.clone())),
        (_, Cell::Int(n)) => Box::new(Some(*n)),
        (_, Cell::Bool(b)) => Box::new(Some(*b)),
        (_, Cell::Bytes(b)) => Box::new(Some(b.clone())),
        (Kind::Text | Kind::Json, Cell::Null) => Box::new(None::<String>),
        (Kind::Int, Cell::Null) => Box::new(None::<i64>),
        (Kind::Bool, Cell::Null) => Box::new(None::<bool>),
        (Kind::Bytes, Cell::Null) => Box::new(None::<Vec<u8>>),
    }
}

pub(crate) async fn export(store: &PgStore, out: &mut (dyn std::io::Write + Send)) -> Result<Summary, StoreError> {
    let mut c = store.conn().await?;
    c.begin().await?;
    let outcome = async {
        c.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(backend)?;
        let present: Vec<String> = c
            .query(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                &[],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        check_tables(&present)?;
        let schema: i32 = c
            .query_one("SELECT coalesce(max(version), 0) FROM scimd_schema", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(backend)?;
        write_line(out, &header(i64::from(schema)))?;
        let mut summary = Summary::default();
        for t in TABLES {
            let mut n = 0u64;
            let mut last: Option<Vec<Cell>> = None;
            loop {
                let key_kinds: Vec<Kind> = t
                    .key
                    .iter()
                    .filter_map(|k| t.columns.iter().find(|(c, _)| c == k).map(|(_, kind)| *kind))
                    .collect();
                let after = match &last {
                    None => String::new(),
                    Some(_) => {
                        let marks: Vec<String> = key_kinds
                            .iter()
                            .enumerate()
                            .map(|(i, k)| placeholder(*k, i + 1))
                            .collect();
                        format!("WHERE ({}) > ({})", t.key.join(", "), marks.join(", "))
                    }
                };
                let sql = format!(
                    "SELECT {} FROM {} {after} ORDER BY {} LIMIT {PAGE}",
                    select_list(t),
                    t.name,
                    t.key.join(", ")
                );
                let params: Vec<Box<dyn ToSql + Sync + Send>> = match &last {
                    None => Vec::new(),
                    Some(key) => key_kinds.iter().zip(key).map(|(k, c)| param_of(*k, c)).collect(),
                };
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
                let rows = c.query(&sql, &refs).await.map_err(backend)?;
                for r in &rows {
                    let cells: Vec<Cell> = t
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, k))| cell_of(*k, r, i))
                        .collect::<Result<_, _>>()
                        .map_err(backend)?;
                    let mut line = vec![Value::from(t.name)];
                    line.extend(cells.iter().map(json_of));
                    write_line(out, &Value::Array(line))?;
                    last = Some(
                        t.key
                            .iter()
                            .filter_map(|k| t.columns.iter().position(|(c, _)| c == k))
                            .map(|i| cells[i].clone())
                            .collect(),
                    );
                    n += 1;
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
            summary.tables.push((t.name.to_owned(), n));
        }
        write_line(out, &trailer(&summary))?;
        Ok(summary)
    }
    .await;
    c.end(outcome).await
}

pub(crate) async fn import(store: &PgStore, reader: &mut Reader<'_>, force: bool) -> Result<Summary, StoreError> {
    let mut c = store.conn().await?;
    c.begin().await?;
    let outcome = async {
        // Nobody appends to the audit chain while it is being replaced.
        crate::postgres::audit_lock(&mut c).await?;
        let mut has_data = false;
        for t in TABLES {
            let any: bool = c
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {})", t.name), &[])
                .await
                .and_then(|r| r.try_get(0))
                .map_err(backend)?;
            has_data |= any;
        }
        if has_data && !force {
            return Err(StoreError::Backend(
                "the database is not empty: restore into an empty one, or pass --force to replace everything in it"
                    .into(),
            ));
        }
        if has_data {
            // Console sessions go too: they belong to the accounts being replaced, and a
            // restored server starts with everyone signed out (as on SQLite).
            let names: Vec<&str> = TABLES.iter().map(|t| t.name).chain(["admin_session"]).collect();
            c.batch(&format!(
                "ALTER TABLE audit_event DISABLE TRIGGER USER; TRUNCATE {} RESTART IDENTITY; \
                 ALTER TABLE audit_event ENABLE TRIGGER USER;",
                names.join(", ")
            ))
            .await
            .map_err(backend)?;
        }
        let mut counts = vec![0u64; TABLES.len()];
        while let Some(row) = reader.next_row()? {
            let t = row.table;
            let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
            let marks: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| placeholder(*k, i + 1))
                .collect();
            let sql = format!(
                "INSERT INTO {} ({}) {}VALUES ({})",
                t.name,
                cols.join(", "),
                if t.identity { "OVERRIDING SYSTEM VALUE " } else { "" },
                marks.join(", ")
            );
            let params: Vec<Box<dyn ToSql + Sync + Send>> = t
                .columns
                .iter()
                .zip(&row.values)
                .map(|((_, k), v)| param_of(*k, v))
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            c.execute(&sql, &refs).await.map_err(|e| {
                StoreError::Backend(format!(
                    "cannot restore a row of {}: {}",
                    t.name,
                    crate::postgres::describe_error(&e)
                ))
            })?;
            if let Some(i) = TABLES.iter().position(|k| k.name == t.name) {
                counts[i] += 1;
            }
        }
        for t in TABLES.iter().filter(|t| t.identity) {
            c.batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'seq'), coalesce(max(seq), 0) + 1, false) FROM {0}",
                t.name
            ))
            .await
            .map_err(backend)?;
        }
        Ok(Summary {
            tables: TABLES.iter().zip(counts).map(|(t, n)| (t.name.to_owned(), n)).collect(),
        })
    }
    .await;
    c.end(outcome).await
}
