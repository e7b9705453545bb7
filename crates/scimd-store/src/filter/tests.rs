//! The SQL translation against the reference: for every filter in the tables, the rows the SQL
//! selects are exactly those `Filter::matches` accepts on the resource as the API returns it.
//! Each table runs on SQLite, and on PostgreSQL too when `SCIMD_TEST_POSTGRES` names a server
//! (an admin URL; every run creates and drops its own database).

use rusqlite::{Connection, params_from_iter};
use scim_proto::error::ScimType;
use scim_proto::value::normalize_resource;
use serde_json::{Value as Json, json};

use super::*;

const MIGRATION: &str = include_str!("../../migrations/sqlite/0001_init.sql");
const PG_MIGRATION: &str = include_str!("../../migrations/postgres/0001_init.sql");
pub(super) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// 2024-01-01T00:00:00Z
pub(super) const BASE_MS: i64 = 1_704_067_200_000;

struct Row {
    seq: i64,
    id: String,
    kind: ResourceKind,
    data: Json,
    created: i64,
    modified: i64,
    version: i64,
}

/// A value to insert, bound as each database wants it.
enum Val {
    Text(Option<String>),
    Int(i64),
    Bool(Option<bool>),
    Json(Json),
}

struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    admin: String,
    name: String,
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self
            .rt
            .block_on(crate::postgres::admin::drop_database(&self.admin, &self.name));
    }
}

enum Conn {
    Sqlite(Connection),
    Pg(Box<Pg>),
}

/// The dialects to test: SQLite always, PostgreSQL when a server is named.
pub(super) fn dialects() -> Vec<Dialect> {
    let mut v = vec![Dialect::Sqlite];
    if std::env::var("SCIMD_TEST_POSTGRES").is_ok_and(|u| !u.is_empty()) {
        v.push(Dialect::Postgres);
    }
    v
}

impl Conn {
    fn open(d: Dialect) -> Conn {
        match d {
            Dialect::Sqlite => {
                let conn = Connection::open_in_memory().unwrap();
                conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
                conn.execute_batch(MIGRATION).unwrap();
                crate::db::sqlite::register_functions(&conn).unwrap();
                Conn::Sqlite(conn)
            }
            Dialect::Postgres => {
                let admin = std::env::var("SCIMD_TEST_POSTGRES").unwrap();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let name = format!("scimd_filter_{}_{}", std::process::id(), rand_suffix());
                let url = rt
                    .block_on(crate::postgres::admin::create_database(&admin, &name))
                    .unwrap();
                let client = rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                    tokio::spawn(conn);
                    client.batch_execute(PG_MIGRATION).await.unwrap();
                    client
                });
                Conn::Pg(Box::new(Pg {
                    rt,
                    client,
                    admin,
                    name,
                }))
            }
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    /// A statement with `?` placeholders and plain values; returns the first column of the
    /// first row, if any.
    fn insert(&self, sql: &str, vals: Vec<Val>) -> Option<i64> {
        match self {
            Conn::Sqlite(c) => {
                let vals: Vec<rusqlite::types::Value> = vals
                    .into_iter()
                    .map(|v| match v {
                        Val::Text(t) => t.into(),
                        Val::Int(n) => n.into(),
                        Val::Bool(b) => b.map(i64::from).into(),
                        Val::Json(j) => j.to_string().into(),
                    })
                    .collect();
                let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
                let mut rows = stmt.query(params_from_iter(vals)).unwrap();
                rows.next().unwrap().map(|r| r.get(0).unwrap())
            }
            Conn::Pg(pg) => {
                let mut n = 0;
                let sql: String = sql
                    .chars()
                    .map(|c| {
                        if c == '?' {
                            n += 1;
                            format!("${n}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                let bound: Vec<Box<dyn tokio_postgres::types::ToSql + Sync>> = vals
                    .into_iter()
                    .map(|v| -> Box<dyn tokio_postgres::types::ToSql + Sync> {
                        match v {
                            Val::Text(t) => Box::new(t),
                            Val::Int(n) => Box::new(n),
                            Val::Bool(b) => Box::new(b),
                            Val::Json(j) => Box::new(j),
                        }
                    })
                    .collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = bound.iter().map(|b| b.as_ref()).collect();
                let rows = pg
                    .rt
                    .block_on(pg.client.query(&sql, &refs))
                    .unwrap_or_else(|e| panic!("{e:?}: {sql}"));
                rows.first().map(|r| r.get(0))
            }
        }
    }

    /// Rows of (bigint, 0/1-or-NULL) from generated SQL with `?` placeholders.
    fn query(&self, sql: &str, params: Vec<Param>) -> Vec<(i64, Option<i64>)> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
                stmt.query_map(params_from_iter(params.iter().map(crate::db::Arg::from)), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            }
            Conn::Pg(pg) => {
                let args: Vec<crate::db::Arg<'_>> = params.iter().map(crate::db::Arg::from).collect();
                let sql = crate::db::postgres::numbered(sql, &args);
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
                    .iter()
                    .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                let rows = pg
                    .rt
                    .block_on(pg.client.query(&sql, &refs))
                    .unwrap_or_else(|e| panic!("{e:?}: {sql}"));
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
        }
    }

    /// A boolean fragment as a 0/1 (or NULL) integer.
    fn int(&self, frag: &str) -> String {
        match self {
            Conn::Sqlite(_) => format!("({frag})"),
            Conn::Pg(_) => format!("(({frag})::int4::int8)"),
        }
    }
}

fn rand_suffix() -> String {
    let mut b = [0u8; 6];
    scimd_core::crypto::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) struct Db {
    conn: Conn,
    rows: Vec<Row>,
    /// (group seq, member seq)
    links: Vec<(i64, i64)>,
}

fn id_of(n: usize) -> String {
    format!("{n:08x}-0000-4000-8000-{:012x}", n * 7919)
}

fn user_body(i: usize) -> Json {
    const GIVEN: [&str; 10] = [
        "Alice", "Bob", "Carol", "Dave", "Ëlodie", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    ];
    const FAMILY: [&str; 6] = ["Smith", "Jones", "Ng", "O'Brien", "Schmidt", "smithers"];
    const TYPES: [&str; 3] = ["work", "home", "other"];
    let (given, family) = (GIVEN[i % 10], FAMILY[i % 6]);
    let mut user_name = format!("{given}.{family}{i}@Example.com");
    if i % 3 == 0 {
        user_name = user_name.to_uppercase();
    }
    let mut b = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "emails": [{"value": format!("{}{i}@example.com", given.to_lowercase()), "type": TYPES[i % 3], "primary": i % 2 == 0}],
    });
    if i % 4 == 1 {
        b["emails"]
            .as_array_mut()
            .unwrap()
            .push(json!({"value": format!("{given}{i}@Home.Example.org"), "type": "home"}));
    }
    if i % 3 != 2 {
        b["name"] = json!({"givenName": given, "familyName": family});
    }
    if i % 2 == 0 {
        b["displayName"] = json!(format!("{given} {family}"));
    }
    match i % 3 {
        0 => b["active"] = json!(true),
        1 => b["active"] = json!(false),
        _ => {}
    }
    match i % 4 {
        0 => b["externalId"] = json!(format!("ext-{i}")),
        1 => b["externalId"] = json!(format!("EXT-{i}")),
        _ => {}
    }
    if i % 7 == 0 {
        b["title"] = json!("Engineer");
    }
    let mut ent = serde_json::Map::new();
    if i % 2 == 0 {
        ent.insert("employeeNumber".into(), json!(format!("{}", 1000 + i)));
    }
    if i % 5 == 0 {
        ent.insert("manager".into(), json!({"value": id_of(1)}));
    }
    if i % 6 == 0 {
        ent.insert("department".into(), json!("Sales"));
    }
    if !ent.is_empty() {
        b[ENTERPRISE] = Json::Object(ent);
    }
    b
}

/// Six hand-written users with the edge cases, then generated ones.
fn user_bodies() -> Vec<Json> {
    let mut v = vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "Alice.Smith@Example.com", "name": {"givenName": "Alice", "familyName": "Smith"},
            "displayName": "Alice Smith", "active": true, "externalId": "ext-1", "title": "Boss",
            "emails": [{"value": "Alice.Smith@Example.com", "type": "work", "primary": true},
                       {"value": "alice@home.example.org", "type": "home"}],
            ENTERPRISE: {"employeeNumber": "1001", "department": "Engineering"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "bob@example.com", "name": {"givenName": "Bob", "familyName": "Jones"},
            "active": false, "externalId": "EXT-1",
            "emails": [{"value": "bob@example.com", "type": "work"}],
            ENTERPRISE: {"employeeNumber": "1002", "manager": {"value": id_of(0)}}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "CAROL@EXAMPLE.COM", "displayName": "Carol", "emails": [],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}], "roles": [{"value": "admin"}]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "dave", "name": {"givenName": "Dave", "middleName": "M"}, "active": true, "nickName": 42,
            "emails": [{"value": "dave@example.org", "type": "home", "primary": true, "display": "Dave home"}],
            "addresses": [{"country": "DE", "type": "work"}],
            ENTERPRISE: {"manager": {"value": id_of(0)}, "department": "eng ops"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Ëlodie@example.com", "displayName": "Élodie Ü", "name": {"givenName": "Élodie"},
            "active": true, "emails": [{"value": "E@X.example.com", "type": "other"}]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "o'brien@example.com", "displayName": "\"quoted\" O'Brien", "externalId": "ext-2",
            "active": false, "ims": [{"value": "ob", "type": "skype"}]}),
    ];
    v.extend((6..30).map(user_body));
    v
}

impl Db {
    /// A database with one provider and no resources.
    pub(super) fn empty(d: Dialect) -> Db {
        let conn = Conn::open(d);
        let t = d.lit(true);
        let bytes = if d == Dialect::Sqlite {
            "x'00'"
        } else {
            "'\\x00'::bytea"
        };
        conn.insert(
            &format!(
                "INSERT INTO provider (id, name, population, enabled, token_ttl_seconds, client_id, secret_sealed, \
                 secret_hash, created, modified) VALUES ('p1', 'P', 'internal', {t}, 3600, 'c1', {bytes}, {bytes}, 0, 0)"
            ),
            vec![],
        );
        Db {
            conn,
            rows: Vec::new(),
            links: Vec::new(),
        }
    }

    /// The fixed table: the users of `user_bodies`, four groups, and their memberships.
    fn new(d: Dialect) -> Db {
        let mut db = Db::empty(d);
        for body in user_bodies() {
            db.insert(ResourceKind::User, &body);
        }
        let groups = [
            ("Engineering", None),
            ("Sales", Some("sales-ext")),
            ("Empty", None),
            ("sub-team", None),
        ];
        for (name, ext) in groups {
            let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
            if let Some(ext) = ext {
                body["externalId"] = json!(ext);
            }
            db.insert(ResourceKind::Group, &body);
        }
        let (eng, sales, sub) = (db.group("Engineering"), db.group("Sales"), db.group("sub-team"));
        let mut links: Vec<(i64, i64)> = (0..10).map(|u| (eng, db.rows[u].seq)).collect();
        links.push((eng, sub));
        links.extend((10..15).map(|u| (sales, db.rows[u].seq)));
        links.extend([(sales, db.rows[1].seq), (sub, db.rows[3].seq), (sub, db.rows[4].seq)]);
        for (g, m) in &links {
            db.conn.insert(
                "INSERT INTO membership (group_seq, member_seq) VALUES (?, ?)",
                vec![Val::Int(*g), Val::Int(*m)],
            );
        }
        db.links = links;
        db
    }

    /// Drop every resource, to fill the database anew.
    pub(super) fn clear(&mut self) {
        self.conn.insert("DELETE FROM membership", vec![]);
        self.conn.insert("DELETE FROM resource", vec![]);
        self.rows.clear();
        self.links.clear();
    }

    pub(super) fn insert(&mut self, kind: ResourceKind, body: &Json) {
        self.insert_in(kind.builtin(), body);
    }

    /// `insert` of a resource checked against `schemas` (a provider's extensions).
    fn insert_in(&mut self, schemas: &ResourceSchemas, body: &Json) {
        let kind = schemas.kind;
        let n = self.rows.len();
        let data = normalize_resource(schemas, body).unwrap();
        let text = |k: &str| data.get(k).and_then(Json::as_str).map(str::to_owned);
        let user_name = if kind == ResourceKind::User {
            text("userName")
        } else {
            None
        };
        let active = if kind == ResourceKind::User {
            data.get("active").and_then(Json::as_bool)
        } else {
            None
        };
        let created = BASE_MS + n as i64 * 43_200_000 + (n as i64 * 137) % 1000;
        let modified = created + (n as i64 % 7) * 86_400_000;
        let version = 1 + n as i64 % 3;
        let id = id_of(n);
        let seq = self
            .conn
            .insert(
                "INSERT INTO resource (id, provider_id, population, kind, user_name, user_name_folded, external_id, \
                 display_name, display_name_folded, active, created, modified, version, data) \
                 VALUES (?, 'p1', 'internal', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                vec![
                    Val::Text(Some(id.clone())),
                    Val::Text(Some(kind.name().to_owned())),
                    Val::Text(user_name.clone()),
                    Val::Text(user_name.as_deref().map(fold)),
                    Val::Text(text("externalId")),
                    Val::Text(text("displayName")),
                    Val::Text(text("displayName").as_deref().map(fold)),
                    Val::Bool(active),
                    Val::Int(created),
                    Val::Int(modified),
                    Val::Int(version),
                    Val::Json(data.clone()),
                ],
            )
            .unwrap();
        self.rows.push(Row {
            seq,
            id,
            kind,
            data,
            created,
            modified,
            version,
        });
    }

    fn group(&self, name: &str) -> i64 {
        self.rows.iter().find(|r| r.data["displayName"] == name).unwrap().seq
    }

    fn row(&self, seq: i64) -> &Row {
        self.rows.iter().find(|r| r.seq == seq).unwrap()
    }

    /// The resource as the API returns it (render.rs), without `meta.location` and `$ref`,
    /// which depend on the request's base URL.
    fn api_doc(&self, row: &Row) -> Json {
        let mut doc = row.data.clone();
        let o = doc.as_object_mut().unwrap();
        o.insert("id".into(), json!(row.id));
        // Ordered by the other end's seq, as members_of and groups_of read them.
        let mut links = self.links.clone();
        links.sort();
        links.sort_by_key(|&(g, m)| if row.kind == ResourceKind::Group { m } else { g });
        let refs: Vec<Json> = match row.kind {
            ResourceKind::Group => links
                .iter()
                .filter(|(g, _)| *g == row.seq)
                .map(|(_, m)| {
                    let m = self.row(*m);
                    let display = m.data.get("displayName").or(m.data.get("userName"));
                    json!({"value": m.id, "display": display, "type": m.kind.name()})
                })
                .collect(),
            ResourceKind::User => links
                .iter()
                .filter(|(_, m)| *m == row.seq)
                .map(|(g, _)| {
                    let g = self.row(*g);
                    json!({"value": g.id, "display": g.data["displayName"], "type": "direct"})
                })
                .collect(),
        };
        if !refs.is_empty() {
            let name = if row.kind == ResourceKind::Group {
                "members"
            } else {
                "groups"
            };
            o.insert(name.into(), Json::Array(refs));
        }
        o.insert(
            "meta".into(),
            json!({
                "resourceType": row.kind.name(),
                "created": Timestamp(row.created).to_rfc3339(),
                "lastModified": Timestamp(row.modified).to_rfc3339(),
                "version": format!("W/\"{}\"", row.version),
            }),
        );
        doc
    }

    /// `{id3}`, `{ID3}` (upper case), `{g:Sales}`, `{created7}`, `{created7+02}`, `{created7sub}`.
    fn expand(&self, filter: &str) -> String {
        let mut s = filter.to_string();
        for (n, r) in self.rows.iter().enumerate().rev() {
            s = s.replace(&format!("{{id{n}}}"), &r.id);
            s = s.replace(&format!("{{ID{n}}}"), &r.id.to_uppercase());
            if let Some(name) = r.data.get("displayName").and_then(Json::as_str) {
                s = s.replace(&format!("{{g:{name}}}"), &r.id);
            }
        }
        let c7 = self.rows[7].created;
        let plus2 = Timestamp(c7 + 7_200_000).to_rfc3339().replace('Z', "+02:00");
        let sub = Timestamp(c7).to_rfc3339().replace('Z', "5Z");
        let hired9 = BASE_MS + 9 * 3_600_000 * 29;
        s.replace("{created7}", &Timestamp(c7).to_rfc3339())
            .replace("{acmehired9}", &Timestamp(hired9).to_rfc3339())
            .replace("{created7+02}", &plus2)
            .replace("{created7sub}", &sub)
    }

    fn query(&self, sql: &str, params: Vec<Param>) -> Vec<(i64, Option<i64>)> {
        self.conn.query(sql, params)
    }

    fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// Checks the filter both as a WHERE condition and as a 0/1 value in the select list;
    /// returns how many rows matched.
    fn check(&self, schemas: &ResourceSchemas, filter: &str) -> usize {
        let text = self.expand(filter);
        let f = Filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        self.check_filter_in(schemas, &f)
    }

    /// `check` for a filter already parsed (or generated).
    pub(super) fn check_filter(&self, kind: ResourceKind, f: &Filter) -> usize {
        self.check_filter_in(kind.builtin(), f)
    }

    fn check_filter_in(&self, schemas: &ResourceSchemas, f: &Filter) -> usize {
        let kind = schemas.kind;
        let text = f.to_string();
        let frag = filter_sql(self.dialect(), schemas, f).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: Vec<i64> = self
            .rows
            .iter()
            .filter(|r| r.kind == kind && f.matches(schemas, &self.api_doc(r)).unwrap())
            .map(|r| r.seq)
            .collect();
        let scope: Vec<Param> = vec!["p1".into(), kind.name().into()];

        let sql = format!(
            "SELECT r.seq, CAST(NULL AS BIGINT) FROM resource r WHERE r.provider_id = ? AND r.kind = ? AND ({}) ORDER BY r.seq",
            frag.sql
        );
        let got: Vec<i64> = self
            .query(&sql, scope.iter().cloned().chain(frag.params.iter().cloned()).collect())
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(got, expected, "{:?}: filter {text}\nsql {}", self.dialect(), frag.sql);

        let sql = format!(
            "SELECT r.seq, {} FROM resource r WHERE r.provider_id = ? AND r.kind = ? ORDER BY r.seq",
            self.conn.int(&frag.sql)
        );
        for (seq, v) in self.query(&sql, frag.params.iter().cloned().chain(scope).collect()) {
            let want = i64::from(expected.contains(&seq));
            assert_eq!(
                v,
                Some(want),
                "{:?}: filter {text} on row {seq} is not {want}\nsql {}",
                self.dialect(),
                frag.sql
            );
        }
        expected.len()
    }
}

/// Each filter is also checked negated: `not` is where SQL's NULLs would show.
fn check_all(db: &Db, kind: ResourceKind, filters: &[&str]) {
    check_all_in(db, kind.builtin(), filters);
}

fn check_all_in(db: &Db, schemas: &ResourceSchemas, filters: &[&str]) {
    let total = db.rows.iter().filter(|r| r.kind == schemas.kind).count();
    let mut interesting = 0;
    for f in filters {
        let n = db.check(schemas, f);
        let m = db.check(schemas, &format!("not ({f})"));
        assert_eq!(n + m, total, "{f} and its negation must split the rows");
        if n > 0 && m > 0 {
            interesting += 1;
        }
    }
    // Agreeing on empty results proves little: most filters must split the data.
    assert!(
        interesting * 4 >= filters.len() * 3,
        "{interesting} of {} filters split the rows",
        filters.len()
    );
}

#[test]
fn user_filters_select_what_matches_accepts() {
    for d in dialects() {
        let db = Db::new(d);
        check_all(
            &db,
            ResourceKind::User,
            &[
                r#"userName eq "alice.smith@example.com""#,
                r#"USERNAME EQ "ALICE.SMITH@EXAMPLE.COM""#,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com""#,
                r#"userName eq "ëlodie@EXAMPLE.com""#,
                r#"userName eq "o'brien@example.com""#,
                r#"userName co "EXAMPLE""#,
                r#"userName co "smith""#,
                r#"userName sw "c""#,
                r#"userName ew ".COM""#,
                r#"userName gt "m""#,
                r#"userName le "dave""#,
                r#"userName ne "bob@example.com""#,
                r#"userName sw """#,
                r#"id eq "{id5}""#,
                r#"id eq "{ID5}" or id eq "{id6}""#,
                r#"id ne "{id5}""#,
                r#"externalId eq "ext-1""#,
                r#"externalId eq "EXT-1""#,
                r#"externalId ne "ext-1""#,
                r#"externalId sw "EXT""#,
                r#"externalId pr"#,
                r#"displayName co "SMITH""#,
                r#"displayName eq "élodie ü""#,
                r#"displayName co "\"quoted\"""#,
                r#"displayName eq null"#,
                r#"displayName ne null"#,
                r#"name.givenName eq "alice""#,
                r#"name.familyName sw "S""#,
                r#"name.givenName gt "B" and name.givenName lt "F""#,
                r#"name pr"#,
                r#"name.middleName pr"#,
                r#"name[givenName eq "Bob" or familyName eq "smith"]"#,
                r#"name[not (givenName eq "Bob")]"#,
                r#"emails co "@example.org""#,
                r#"emails.value ew "EXAMPLE.COM""#,
                r#"emails[type eq "work" and value co "@example.com"]"#,
                r#"emails[type eq "work"] and emails[value co "home"]"#,
                r#"emails[type eq "home" and primary eq true]"#,
                r#"emails[not (type eq "work")]"#,
                r#"emails.primary eq true"#,
                r#"emails.primary ne true"#,
                r#"emails.type eq "WORK""#,
                r#"emails pr"#,
                r#"emails eq null"#,
                r#"emails.display pr"#,
                r#"emails ne "bob@example.com""#,
                r#"emails co """#,
                r#"phoneNumbers.value sw "+1" or ims pr"#,
                r#"roles[value eq "ADMIN"] or addresses.country eq "de""#,
                r#"active eq true"#,
                r#"active eq false"#,
                r#"active ne true"#,
                r#"active eq "True""#,
                r#"active pr"#,
                r#"active eq null"#,
                r#"meta.created gt "2024-01-05T00:00:00Z""#,
                r#"meta.created ge "2024-01-05T02:00:00+02:00""#,
                r#"meta.created lt "2024-01-03T12:00:00.5Z""#,
                r#"meta.lastModified le "2024-01-10T00:00:00Z""#,
                r#"meta.lastModified gt "2024-01-09T23:00:00-03:30""#,
                r#"meta.created eq "{created7}""#,
                r#"meta.created eq "{created7+02}" or meta.created eq "{created7sub}""#,
                r#"meta.created ge "{created7sub}""#,
                r#"meta.created le "{created7sub}""#,
                r#"meta.created gt "{created7sub}" or meta.created lt "{created7}""#,
                r#"meta.created co "T12:00:00.""#,
                r#"meta.created sw "2024-01-0""#,
                r#"meta.created ew "z""#,
                r#"meta.created eq "not a date" or meta.created ne "2024-01-01T00:00:00Z""#,
                r#"meta.resourceType eq "User" and meta.resourceType ne "user" and id sw "0000000""#,
                r#"meta.version eq "W/\"1\"""#,
                r#"meta[created lt "2024-01-04T00:00:00Z" and resourceType eq "User"]"#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1003" or employeeNumber eq "1001""#,
                r#"employeeNumber gt "1010""#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "{id0}""#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "{ID1}""#,
                r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department co "eng""#,
                r#"manager pr"#,
                r#"manager[value eq "{id1}"]"#,
                r#"groups eq "{g:Engineering}""#,
                r#"groups.value eq "{g:Sales}""#,
                r#"groups[value eq "{g:sub-team}"]"#,
                r#"groups.display co "ENG""#,
                r#"groups pr"#,
                r#"groups eq null"#,
                r#"groups.type eq "direct""#,
                r#"groups[display sw "sub"]"#,
                r#"groups ne "{g:Engineering}""#,
                r#"(userName sw "a" or userName sw "b") and active eq true"#,
                r#"userName sw "a" or userName sw "b" and active eq true"#,
                r#"not (userName co "e" and not (active eq false))"#,
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user""#,
                r#"title eq null"#,
                r#"nickName eq 42"#,
                r#"title ne "boss""#,
            ],
        );
    }
}

#[test]
fn group_filters_select_what_matches_accepts() {
    for d in dialects() {
        let db = Db::new(d);
        check_all(
            &db,
            ResourceKind::Group,
            &[
                r#"displayName eq "ENGINEERING""#,
                r#"displayName sw "s""#,
                r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName co "e""#,
                r#"members eq "{id3}""#,
                r#"members.value eq "{ID3}""#,
                r#"members[value eq "{id12}"]"#,
                r#"members[value eq "{ID1}" or value eq "{id14}"]"#,
                r#"members pr"#,
                r#"members eq null"#,
                r#"members.display co "alice""#,
                r#"members.display eq "carol@example.com" or members.display eq "carol""#,
                r#"members.type eq "group""#,
                r#"members[type eq "Group" and display sw "SUB"]"#,
                r#"members ne "{id3}""#,
                r#"id eq "{g:Engineering}" and members eq "{id3}""#,
                r#"members[type eq "User"]"#,
                r#"members co "0000000a" or members gt "00000013""#,
                r#"members.$ref pr or externalId pr"#,
                r#"meta.resourceType eq "Group" and displayName ne "empty""#,
            ],
        );
    }
}

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

/// Users with a provider's declared extension: every attribute type, multi-valued strings and
/// complex values, and undeclared attributes kept next to them.
fn acme_schemas() -> ResourceSchemas {
    let schema = Schema::parse_extension(&json!({
        "id": ACME, "name": "Acme",
        "attributes": [
            {"name": "costCenter", "type": "string"},
            {"name": "code", "type": "string", "caseExact": true},
            {"name": "level", "type": "integer"},
            {"name": "score", "type": "decimal"},
            {"name": "hired", "type": "dateTime"},
            {"name": "remote", "type": "boolean"},
            {"name": "tags", "type": "string", "multiValued": true},
            {"name": "sites", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"}, {"name": "type", "type": "string"},
                {"name": "floor", "type": "integer"}]},
            {"name": "desk", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"}, {"name": "number", "type": "integer"}]}
        ]
    }))
    .unwrap();
    let ext = scim_proto::schema::Extension {
        schema: std::sync::Arc::new(schema),
        required: false,
        indexed: vec!["costCenter".into()],
    };
    ResourceSchemas::new(ResourceKind::User, vec![ext])
}

fn acme_body(i: usize) -> Json {
    let mut acme = serde_json::Map::new();
    if i % 5 != 4 {
        acme.insert(
            "costCenter".into(),
            json!(format!("{}-{}", ["cc", "CC", "Ops"][i % 3], i % 4)),
        );
    }
    if i % 2 == 0 {
        acme.insert("code".into(), json!(["ab", "AB", "Ab"][i % 3]));
    }
    if i % 3 != 1 {
        acme.insert("level".into(), json!(i as i64 - 5));
    }
    if i % 4 != 3 {
        acme.insert("score".into(), json!(i as f64 / 4.0 - 1.5));
    }
    if i % 6 != 5 {
        // Offsets and fractions: compared as instants, not as text.
        let t = BASE_MS + i as i64 * 3_600_000 * 29 + (i as i64 % 3) * 250;
        let mut text = Timestamp(t).to_rfc3339();
        if i % 4 == 1 {
            text = Timestamp(t + 7_200_000).to_rfc3339().replace('Z', "+02:00");
        }
        acme.insert("hired".into(), json!(text));
    }
    match i % 3 {
        0 => {
            acme.insert("remote".into(), json!(true));
        }
        1 => {
            acme.insert("remote".into(), json!(false));
        }
        _ => {}
    }
    if i % 2 == 1 {
        acme.insert("tags".into(), json!(["vpn", format!("t{}", i % 5)]));
    }
    if i % 3 != 2 {
        let (city, kind) = (["Paris", "Berlin", "Lyon"][i % 3], ["office", "home"][i % 2]);
        acme.insert(
            "sites".into(),
            json!([{"value": city, "type": kind, "floor": i % 4}, {"value": "Remote", "type": "home"}]),
        );
    }
    if i % 4 == 0 {
        let building = ["B1", "b2"][i % 8 / 4];
        acme.insert("desk".into(), json!({"building": building, "number": i}));
    }
    let mut b = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
        "userName": format!("user{i}@example.com"),
        "badgeNumber": format!("B-{i}"),
    });
    if !acme.is_empty() {
        b[ACME] = Json::Object(acme);
    }
    b
}

#[test]
fn extension_filters_select_what_matches_accepts() {
    let schemas = acme_schemas();
    for d in dialects() {
        let mut db = Db::empty(d);
        for i in 0..24 {
            db.insert_in(&schemas, &acme_body(i));
        }
        check_all_in(
            &db,
            &schemas,
            &[
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter eq "CC-1""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter co "c-""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter sw "ops""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter ew "-2""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter pr"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter gt "cc-1""#,
                r#"costCenter eq "ops-0""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:code eq "AB""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:code sw "a""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:level gt 3"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:level le -2"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:level eq 0"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:level ne 1"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:score ge 1.25"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:score lt 0"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:hired gt "2024-01-10T00:00:00Z""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:hired le "2024-01-13T10:00:00.250+02:00""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:hired eq "{acmehired9}""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:hired pr"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:remote eq true"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:remote eq false"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:tags eq "vpn" and urn:ietf:params:scim:schemas:extension:acme:2.0:User:tags co "3""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:tags sw "T""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:sites[value eq "Paris"]"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:sites[type eq "office" and floor ge 2]"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:sites.value eq "lyon""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:sites.floor lt 1"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:sites pr"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:desk.building eq "B2""#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:desk.number gt 4"#,
                r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:desk pr or userName sw "user1""#,
            ],
        );
    }
}

#[test]
fn undeclared_attributes_cannot_be_filtered_and_say_how_to_declare_them() {
    let schemas = acme_schemas();
    for f in [
        r#"badgeNumber eq "B-1""#,
        r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:nope eq "x""#,
        r#"urn:ietf:params:scim:schemas:extension:other:2.0:User:x pr"#,
        r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:remote gt true"#,
        r#"urn:ietf:params:scim:schemas:extension:acme:2.0:User:desk co "x""#,
    ] {
        let e = filter_sql(Dialect::Sqlite, &schemas, &Filter::parse(f).unwrap()).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter)),
            "{f}: {e}"
        );
        if !f.contains(" gt ") && !f.contains(" co ") {
            assert!(e.detail.contains("scimd provider schema add"), "{f}: {e}");
        }
    }
}

#[test]
fn unknown_attributes_and_misfit_operators_are_invalid_filters() {
    for (kind, f) in [
        (ResourceKind::User, r#"userName2 eq "x""#),
        (ResourceKind::User, r#"members eq "x""#),
        (ResourceKind::Group, r#"userName eq "x""#),
        (ResourceKind::User, "active gt true"),
        (ResourceKind::User, r#"active co "t""#),
        (ResourceKind::User, r#"name co "x""#),
        (ResourceKind::User, r#"emails[type eq "work" and bogus pr]"#),
        (ResourceKind::User, r#"meta.created gt "yesterday""#),
        (ResourceKind::User, "meta.location pr"),
        (ResourceKind::User, r#"meta[location eq "x"]"#),
        (ResourceKind::User, r#"userName[value eq "x"]"#),
    ] {
        let parsed = Filter::parse(f).unwrap();
        let e = filter_sql(Dialect::Sqlite, kind.builtin(), &parsed).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter)),
            "{f}: {e}"
        );
    }
}

fn plan(db: &Db, kind: ResourceKind, filter: &str) -> String {
    let f = Filter::parse(&db.expand(filter)).unwrap();
    let frag = filter_sql(Dialect::Sqlite, kind.builtin(), &f).unwrap();
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT r.seq FROM resource r WHERE r.provider_id = ? AND r.kind = ? AND ({})",
        frag.sql
    );
    let mut params: Vec<Param> = vec!["p1".into(), kind.name().into()];
    params.extend(frag.params);
    let Conn::Sqlite(conn) = &db.conn else {
        unreachable!("query plans are SQLite's")
    };
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt
        .query_map(params_from_iter(params.iter().map(crate::db::Arg::from)), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.collect::<Result<Vec<_>, _>>().unwrap().join("\n")
}

#[test]
fn equality_on_indexed_attributes_searches_an_index() {
    let db = Db::new(Dialect::Sqlite);
    for (kind, f, index) in [
        (
            ResourceKind::User,
            r#"userName eq "Bob@Example.com""#,
            "resource_by_user_name",
        ),
        (
            ResourceKind::User,
            r#"externalId eq "ext-1""#,
            "resource_by_external_id",
        ),
        (ResourceKind::Group, r#"displayName eq "Sales""#, "resource_"),
        (
            ResourceKind::User,
            r#"meta.lastModified gt "2024-01-05T00:00:00Z""#,
            "resource_by_",
        ),
        (
            ResourceKind::Group,
            r#"members eq "{id3}""#,
            "membership_by_member (member_seq=?)",
        ),
        (
            ResourceKind::User,
            r#"groups eq "{g:Sales}""#,
            "SEARCH m USING PRIMARY KEY (group_seq=?)",
        ),
        (
            ResourceKind::Group,
            r#"id eq "{g:Sales}" and members eq "{id1}""#,
            "sqlite_autoindex_resource",
        ),
    ] {
        let p = plan(&db, kind, f);
        assert!(!p.lines().any(|l| l.starts_with("SCAN")), "{f} scans:\n{p}");
        assert!(p.contains(index), "{f} does not use {index}:\n{p}");
    }
}

fn sorted(db: &Db, kind: ResourceKind, path: &str) -> Vec<i64> {
    let key = sort_sql(db.dialect(), kind.builtin(), &AttrPath::parse(path).unwrap()).unwrap();
    let sql = format!(
        "SELECT r.seq, CAST(NULL AS BIGINT) FROM resource r WHERE r.kind = ? ORDER BY {key} ASC NULLS FIRST, r.seq ASC"
    );
    db.query(&sql, vec![kind.name().into()])
        .into_iter()
        .map(|(seq, _)| seq)
        .collect()
}

/// Rows of `kind` ordered by a key computed in Rust from the API document, ties by seq;
/// `None` (no value) sorts first, as `sorted` asks of the database.
fn sorted_by<K: Ord>(db: &Db, kind: ResourceKind, key: impl Fn(&Json) -> Option<K>) -> Vec<i64> {
    let mut rows: Vec<(Option<K>, i64)> = db
        .rows
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| (key(&db.api_doc(r)), r.seq))
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, seq)| seq).collect()
}

fn folded(v: &Json) -> Option<String> {
    v.as_str().map(fold)
}

#[test]
fn sorting_follows_the_attribute_type() {
    for d in dialects() {
        check_sorting(Db::new(d));
    }
}

fn check_sorting(db: Db) {
    let user = ResourceKind::User;
    assert_eq!(
        sorted(&db, user, "userName"),
        sorted_by(&db, user, |d| folded(&d["userName"]))
    );
    assert_eq!(
        sorted(&db, user, "externalId"),
        sorted_by(&db, user, |d| d["externalId"].as_str().map(str::to_owned))
    );
    assert_eq!(
        sorted(&db, user, "name.familyName"),
        sorted_by(&db, user, |d| folded(&d["name"]["familyName"]))
    );
    assert_eq!(
        sorted(&db, user, "meta.lastModified"),
        sorted_by(&db, user, |d| Timestamp::parse_rfc3339(
            d["meta"]["lastModified"].as_str()?
        )
        .map(|t| t.0))
    );
    assert_eq!(
        sorted(&db, user, "active"),
        sorted_by(&db, user, |d| d["active"].as_bool())
    );
    assert_eq!(
        sorted(&db, user, "employeeNumber"),
        sorted_by(&db, user, |d| folded(&d[ENTERPRISE]["employeeNumber"]))
    );
    // Multi-valued: the primary value, or else the first.
    let primary_or_first = |attr: &'static str, sub: &'static str| {
        move |d: &Json| {
            let items = d.get(attr)?.as_array()?;
            let item = items.iter().find(|e| e["primary"] == true).or(items.first())?;
            folded(&item[sub])
        }
    };
    assert_eq!(
        sorted(&db, user, "emails"),
        sorted_by(&db, user, primary_or_first("emails", "value"))
    );
    assert_eq!(
        sorted(&db, user, "emails.type"),
        sorted_by(&db, user, primary_or_first("emails", "type"))
    );
    assert_eq!(
        sorted(&db, user, "groups.display"),
        sorted_by(&db, user, primary_or_first("groups", "display"))
    );
    let group = ResourceKind::Group;
    assert_eq!(
        sorted(&db, group, "DISPLAYNAME"),
        sorted_by(&db, group, |d| folded(&d["displayName"]))
    );
    assert_eq!(
        sorted(&db, group, "members"),
        sorted_by(&db, group, primary_or_first("members", "value"))
    );
    // meta.version sorts by the counter, not its entity-tag text ("W/\"10\"" after "W/\"9\"").
    assert_eq!(
        sorted(&db, group, "meta.version"),
        sorted_by(&db, group, |d| {
            d["meta"]["version"]
                .as_str()?
                .trim_start_matches("W/\"")
                .trim_end_matches('"')
                .parse::<i64>()
                .ok()
        })
    );
}

#[test]
fn sorting_by_an_undeclared_attribute_is_an_invalid_filter_and_by_a_complex_one_an_invalid_value() {
    for (p, want) in [
        ("nope", ScimType::InvalidFilter),
        ("emails.nope", ScimType::InvalidFilter),
        ("badgeNumber", ScimType::InvalidFilter),
        ("name", ScimType::InvalidValue),
        ("meta", ScimType::InvalidValue),
        ("meta.location", ScimType::InvalidValue),
    ] {
        let e = sort_sql(
            Dialect::Sqlite,
            ResourceKind::User.builtin(),
            &AttrPath::parse(p).unwrap(),
        )
        .unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(want)), "{p}: {e}");
        if want == ScimType::InvalidFilter {
            assert!(e.detail.contains("scimd provider schema add"), "{p}: {e}");
        }
    }
}

#[test]
fn member_filters_select_members_of_one_group() {
    for d in dialects() {
        check_member_filters(Db::new(d));
    }
}

fn check_member_filters(db: Db) {
    let eng = db.group("Engineering");
    let members = AttrPath::new("members");
    let cases = [
        r#"value eq "{id3}""#,
        r#"value eq "{ID3}" or value eq "{id4}""#,
        r#"display eq "bob@example.com""#,
        r#"display co "SMITH""#,
        r#"type eq "group""#,
        r#"type eq "User" and not (display sw "a")"#,
        r#"$ref pr"#,
        r#"$ref eq "x" or display eq null"#,
        r#"not (value ne "{id5}")"#,
    ];
    let eng_doc = db.api_doc(db.row(eng));
    for c in cases {
        let text = db.expand(c);
        let f = Filter::parse_relative(&text).unwrap();
        let frag = member_filter_sql(db.dialect(), &f).unwrap();
        let sql = format!(
            "SELECT x.seq, CAST(NULL AS BIGINT) FROM membership m JOIN resource x ON x.seq = m.member_seq \
             WHERE m.group_seq = ? AND ({}) ORDER BY x.seq",
            frag.sql
        );
        let got: Vec<i64> = db
            .query(&sql, std::iter::once(eng.into()).chain(frag.params).collect())
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        // The reference: `members[f]` on a group holding just that one member.
        let probe = Filter::ValuePath {
            attr: members.clone(),
            filter: Box::new(f.clone()),
        };
        let expected: Vec<i64> = eng_doc["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                let one = json!({"displayName": "x", "members": [m]});
                probe.matches(ResourceKind::Group.builtin(), &one).unwrap()
            })
            .map(|m| db.rows.iter().find(|r| r.id == m["value"]).unwrap().seq)
            .collect();
        assert_eq!(got, expected, "{text}\n{}", frag.sql);
    }
    let bad = Filter::parse_relative(r#"nickName eq "x""#).unwrap();
    let e = member_filter_sql(db.dialect(), &bad).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
}

#[test]
fn fragments_grow_linearly_with_the_filter() {
    let term = r#"emails[type eq "work" and value co "x"]"#;
    // As long and as deep as the parser allows.
    let chain = (1..200)
        .map(|n| vec![term; n].join(" or "))
        .take_while(|f| Filter::parse(f).is_ok())
        .last()
        .unwrap();
    assert!(chain.len() > 2000, "{chain}");
    let nested = (1..64)
        .map(|n| format!("{}userName eq \"x\"{}", "not (".repeat(n), ")".repeat(n)))
        .take_while(|f| Filter::parse(f).is_ok())
        .last()
        .unwrap();
    for (d, f) in [Dialect::Sqlite, Dialect::Postgres]
        .into_iter()
        .flat_map(|d| [(d, chain.clone()), (d, nested.clone())])
    {
        let parsed = Filter::parse(&f).unwrap();
        let frag = filter_sql(d, ResourceKind::User.builtin(), &parsed).unwrap();
        assert!(
            frag.sql.len() < 40 * f.len(),
            "{} bytes of SQL for {} of filter",
            frag.sql.len(),
            f.len()
        );
        assert_eq!(frag.sql.matches('?').count(), frag.params.len());
    }
}

#[test]
fn scim_fold_is_fold_and_keeps_null() {
    let conn = Connection::open_in_memory().unwrap();
    crate::db::sqlite::register_functions(&conn).unwrap();
    let (a, b, c): (String, Option<String>, i64) = conn
        .query_row("SELECT scim_fold('ÀBÇ Ü'), scim_fold(NULL), scim_fold(7)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((a.as_str(), b, c), (fold("ÀBÇ Ü").as_str(), None, 7));
    assert_eq!(fold("ÀBÇ Ü"), "àbç ü");
}

#[test]
fn datetime_literals_become_exact_millisecond_bounds() {
    assert_eq!(instant("2024-01-01T00:00:00Z"), Some((BASE_MS, false)));
    assert_eq!(instant("2024-01-01T02:00:00+02:00"), Some((BASE_MS, false)));
    assert_eq!(instant("2024-01-01T00:00:00.123Z"), Some((BASE_MS + 123, false)));
    assert_eq!(instant("2024-01-01T00:00:00.1230000000Z"), Some((BASE_MS + 123, false)));
    assert_eq!(instant("2024-01-01T00:00:00.1234Z"), Some((BASE_MS + 123, true)));
    assert_eq!(instant("2024-01-01T00:00:00.0000000001Z"), Some((BASE_MS, false)));
    assert_eq!(instant("1969-12-31T23:59:59.9995Z"), Some((-1, true)));
    assert_eq!(instant("1969-12-31T23:59:59.999Z"), Some((-1, false)));
    assert_eq!(instant("2016-12-31T23:59:60Z").map(|(_, rest)| rest), Some(true));
    assert_eq!(instant("2024-02-30T00:00:00Z"), None);
    assert_eq!(instant("yesterday"), None);
}

#[test]
fn postgres_scim_fold_is_fold_where_icu_is_there() {
    if !dialects().contains(&Dialect::Postgres) {
        return;
    }
    let db = Conn::open(Dialect::Postgres);
    let Conn::Pg(pg) = &db else { unreachable!() };
    let samples = ["ÀBÇ Ü", "ΣΑΣ ΟΔΟΣ", "Straße", "İstanbul", "ǅ", "plain ascii"];
    for s in samples {
        let row = pg
            .rt
            .block_on(
                pg.client
                    .query_one("SELECT scim_fold($1::text), scim_fold(NULL)", &[&s]),
            )
            .unwrap();
        let (folded, null): (String, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(folded, fold(s), "{s}");
        assert_eq!(null, None);
    }
}
