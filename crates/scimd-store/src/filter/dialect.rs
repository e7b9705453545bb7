//! How SQLite and PostgreSQL spell what the filter generator computes: JSON extraction,
//! iterating a JSON array, booleans, null-safe equality, substring tests and text order.
//! The generator (`mod.rs`) decides *what* a filter means; a [`Dialect`] only writes it.

use super::Repr;

/// The SQL dialect a fragment is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.45+: `json_extract`, `json_each`, 0/1 booleans, `?` placeholders.
    Sqlite,
    /// PostgreSQL 13+: `jsonb` operators, `jsonb_array_elements`, real booleans; fragments
    /// still carry `?` placeholders, numbered (`$n`) when the whole statement is assembled.
    Postgres,
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// SQLite's JSON path literal: `'$."name"."sub"'`.
fn json_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut p = String::from("$");
    for key in path.iter().map(AsRef::as_ref) {
        debug_assert!(!key.contains(['"', '\\']), "schema name {key}");
        p.push_str(&format!(".\"{key}\""));
    }
    sql_str(&p)
}

impl Dialect {
    pub(crate) fn lit(self, b: bool) -> &'static str {
        match (self, b) {
            (Dialect::Sqlite, true) => "1",
            (Dialect::Sqlite, false) => "0",
            (Dialect::Postgres, true) => "TRUE",
            (Dialect::Postgres, false) => "FALSE",
        }
    }

    /// `expr`, or false when it is NULL.
    pub(crate) fn or_false(self, expr: &str) -> String {
        format!("coalesce({expr}, {})", self.lit(false))
    }

    /// The value at `path` (object keys from the static schemas) inside the JSON `doc`, as
    /// an SQL value of `repr`; NULL when absent or JSON null.
    pub(crate) fn extract<S: AsRef<str>>(self, doc: &str, path: &[S], repr: Repr) -> String {
        match self {
            Dialect::Sqlite if repr == Repr::Millis => {
                self.millis_of(&format!("json_extract({doc}, {})", json_path(path)))
            }
            Dialect::Sqlite => format!("json_extract({doc}, {})", json_path(path)),
            Dialect::Postgres => {
                let keys = |last_op: &str| -> String {
                    match path.split_last() {
                        None => format!("{doc} #>> '{{}}'"),
                        Some((last, init)) => {
                            let mut s = doc.to_owned();
                            for k in init {
                                s.push_str(&format!(" -> {}", sql_str(k.as_ref())));
                            }
                            format!("{s} {last_op} {}", sql_str(last.as_ref()))
                        }
                    }
                };
                match repr {
                    Repr::Millis => self.millis_of(&format!("({})", keys("->>"))),
                    Repr::Object if path.is_empty() => format!("nullif({doc}, 'null'::jsonb)"),
                    Repr::Object => format!("nullif({}, 'null'::jsonb)", keys("->")),
                    Repr::Bool => format!("({})::boolean", keys("->>")),
                    Repr::Number => format!("({})::float8", keys("->>")),
                    _ => format!("({})", keys("->>")),
                }
            }
        }
    }

    /// Is there a value (even JSON null) at `path` in `doc`?
    pub(crate) fn present<S: AsRef<str>>(self, doc: &str, path: &[S]) -> String {
        match self {
            Dialect::Sqlite => format!("json_type({doc}, {}) IS NOT NULL", json_path(path)),
            Dialect::Postgres => {
                let mut s = doc.to_owned();
                for k in path {
                    s.push_str(&format!(" -> {}", sql_str(k.as_ref())));
                }
                format!("({s}) IS NOT NULL")
            }
        }
    }

    /// A complex value is assigned: not absent, null or `{}`.
    pub(crate) fn object_assigned(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => format!("coalesce({sql}, '{{}}') <> '{{}}'"),
            Dialect::Postgres => format!("coalesce({sql}, '{{}}'::jsonb) <> '{{}}'::jsonb"),
        }
    }

    /// A FROM item with one row per element of the JSON array at `path` in `doc`, under
    /// `alias`: `alias.value` is the element, `alias.key` its position.
    pub(crate) fn each<S: AsRef<str>>(self, doc: &str, path: &[S], alias: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({doc}, {}) AS {alias}", json_path(path)),
            Dialect::Postgres => {
                let arr = self.extract(doc, path, Repr::Object);
                // A non-array (never in a canonical document) iterates as no elements
                // instead of failing the query.
                format!(
                    "jsonb_array_elements(CASE jsonb_typeof({arr}) WHEN 'array' THEN {arr} END) \
                     WITH ORDINALITY AS {alias}(value, key)"
                )
            }
        }
    }

    /// One element of [`Dialect::each`] as a scalar of `repr`.
    pub(crate) fn element(self, alias: &str, repr: Repr) -> String {
        match self {
            Dialect::Sqlite if repr == Repr::Millis => self.millis_of(&format!("{alias}.value")),
            Dialect::Sqlite => format!("{alias}.value"),
            Dialect::Postgres => self.extract::<&str>(&format!("{alias}.value"), &[], repr),
        }
    }

    /// Order of elements of [`Dialect::each`]: primary first, then list order.
    pub(crate) fn primary_first(self, alias: &str) -> String {
        let primary = self.extract(&format!("{alias}.value"), &["primary"], Repr::Bool);
        format!("{} DESC, {alias}.key", self.or_false(&primary))
    }

    /// Text compared or sorted by code point (as Rust compares `str`), whatever the
    /// database's collation.
    pub(crate) fn binary_order(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => sql.to_owned(),
            Dialect::Postgres => format!("({sql}) COLLATE \"C\""),
        }
    }

    /// Equality with one placeholder that is never NULL, as 0/1 (never NULL) and usable by
    /// an index: SQLite's `IS` is both; PostgreSQL cannot use an index for `IS NOT DISTINCT
    /// FROM` (a `userName eq` then scanned every user), so it gets a plain `=` that the
    /// `IS NOT NULL` turns from NULL into false.
    pub(crate) fn is(self, lhs: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{lhs} IS ?"),
            Dialect::Postgres => format!("({lhs} = ? AND {lhs} IS NOT NULL)"),
        }
    }

    pub(crate) fn is_not(self, lhs: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{lhs} IS NOT ?"),
            Dialect::Postgres => format!("{lhs} IS DISTINCT FROM ?"),
        }
    }

    /// `lhs` contains the placeholder's text (0/1, never NULL).
    pub(crate) fn contains(self, lhs: &str) -> String {
        match self {
            Dialect::Sqlite => self.or_false(&format!("instr({lhs}, ?) > 0")),
            Dialect::Postgres => self.or_false(&format!("strpos({lhs}, ?) > 0")),
        }
    }

    pub(crate) fn starts_with(self, lhs: &str) -> String {
        match self {
            Dialect::Sqlite => self.or_false(&format!("instr({lhs}, ?) = 1")),
            Dialect::Postgres => self.or_false(&format!("starts_with({lhs}, ?)")),
        }
    }

    /// Two placeholders, both bound to the suffix.
    pub(crate) fn ends_with(self, lhs: &str) -> String {
        match self {
            Dialect::Sqlite => self.or_false(&format!("substr({lhs}, length({lhs}) - length(?) + 1) = ?")),
            Dialect::Postgres => self.or_false(&format!("right({lhs}, length(?)) = ?")),
        }
    }

    /// The epoch milliseconds (floored) of RFC 3339 text, NULL when the text is NULL: how a
    /// dateTime kept in the JSON document compares like the `created` column. (Values were
    /// checked to be RFC 3339 when stored.)
    pub(crate) fn millis_of(self, text: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST(round((julianday({text}) - 2440587.5) * 86400000.0) AS INTEGER)"),
            Dialect::Postgres => format!("floor(extract(epoch from ({text})::timestamptz) * 1000)::int8"),
        }
    }

    /// Epoch milliseconds in `col` printed as `Timestamp::to_rfc3339` does, for co/sw/ew.
    pub(crate) fn millis_text(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(strftime('%Y-%m-%dT%H:%M:%S', {col} / 1000, 'unixepoch') || CASE WHEN {col} % 1000 = 0 THEN '' \
                 ELSE rtrim('.' || printf('%03d', {col} % 1000), '0') END || 'Z')"
            ),
            Dialect::Postgres => format!(
                "(to_char(to_timestamp({col} / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || \
                 CASE WHEN {col} % 1000 = 0 THEN '' ELSE rtrim('.' || lpad(({col} % 1000)::text, 3, '0'), '0') END \
                 || 'Z')"
            ),
        }
    }
}
