//! SCIM filters (RFC 7644 §3.4.2.2) and `sortBy` (§3.4.2.3) as parameterised SQL over the
//! `resource` row `r`, for SQLite and PostgreSQL alike: one generator, and a [`Dialect`] for
//! the spellings that differ. The SQL means exactly what `Filter::matches` means on the resource
//! as the API returns it: indexed columns where there is one, the JSON document otherwise, and
//! the `membership` table for `members` and `groups`. Every fragment is true or false, never NULL,
//! so `not (...)` cannot fall into SQL's three-valued logic.
//!
//! Documents are assumed canonical (as `normalize_resource` leaves them): attribute names in
//! schema spelling, values of their schema type, multi-valued attributes as arrays.

mod dialect;

use scim_proto::error::ScimError;
use scim_proto::filter::{CompValue, CompareOp, Filter};
use scim_proto::path::AttrPath;
use scim_proto::schema::{AttrType, AttributeDef, ResourceKind, ResourceSchemas, Schema};
use scimd_core::Timestamp;

pub use dialect::Dialect;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Case folding used for case-insensitive comparison on both sides; Rust's `str::to_lowercase`.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A value bound to a placeholder, in either database.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::Text(s.to_owned())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Param {
        Param::Int(n)
    }
}

/// A boolean SQL expression with positional `?` placeholders and their values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<Param>,
}

/// A boolean SQL expression over the row alias `r` (table `resource`), 0 or 1, true exactly when
/// `filter` matches. Unknown attributes and operators that do not fit the attribute's type are
/// 400 invalidFilter, as `Filter::validate` judges them.
pub fn filter_sql(dialect: Dialect, schemas: &ResourceSchemas, filter: &Filter) -> Result<SqlFragment, ScimError> {
    provider_filter_sql(dialect, None, schemas, filter)
}

/// [`filter_sql`] within one provider's resources: an equality on an indexed extension
/// attribute becomes a lookup in `attribute_index` instead of a scan of the documents.
pub(crate) fn provider_filter_sql(
    dialect: Dialect,
    provider: Option<&str>,
    schemas: &ResourceSchemas,
    filter: &Filter,
) -> Result<SqlFragment, ScimError> {
    filter.validate(schemas)?;
    let mut g = Gen::new(dialect);
    g.provider = provider.map(str::to_owned);
    g.filter(filter, Scope::Root(schemas))?;
    Ok(g.finish())
}

/// A boolean SQL expression over the alias `x`, a member row of a group, for the relative
/// filter of `members[...]` (PATCH remove): `value` is `x.id`, `display` the member's display
/// name, `type` its kind; `$ref` never matches (it depends on the request's base URL).
pub(crate) fn member_filter_sql(dialect: Dialect, filter: &Filter) -> Result<SqlFragment, ScimError> {
    let members = AttrPath::new("members");
    let wrapped = Filter::ValuePath {
        attr: members.clone(),
        filter: Box::new(filter.clone()),
    };
    let groups = ResourceKind::Group.builtin();
    wrapped.validate(groups)?;
    let def = groups.resolve(&members).ok_or_else(|| unknown(&members))?.attr;
    let mut g = Gen::new(dialect);
    g.filter(filter, Scope::Elem(def, &Elem::Member("x".into())))?;
    Ok(g.finish())
}

/// An SQL expression to `ORDER BY` for `sortBy`: case-folded text unless the attribute is
/// caseExact; a multi-valued attribute sorts by its primary (or else first) value. An attribute
/// no schema declares is 400 invalidFilter, as in a filter; one that cannot be ordered (a
/// complex attribute without `value`) is 400 invalidValue.
pub(crate) fn sort_sql(dialect: Dialect, schemas: &ResourceSchemas, path: &AttrPath) -> Result<String, ScimError> {
    let r = schemas.resolve(path).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "cannot sort by '{path}': no schema declares it (an extension attribute kept as sent is \
             declared with `scimd provider schema add`)"
        ))
    })?;
    let sub = match r.sub {
        None if r.attr.is_complex() => Some(r.attr.sub_attribute("value").ok_or_else(|| {
            ScimError::invalid_value(format!("cannot sort by '{path}': name one of its sub-attributes"))
        })?),
        sub => sub,
    };
    let def = sub.unwrap_or(r.attr);
    if r.schema.is_core() && r.attr.name == "meta" && def.name == "version" {
        // The version counter, not its entity-tag text, so that 10 sorts after 9.
        return Ok("r.version".into());
    }
    let mut g = Gen::new(dialect);
    let place = g.root_place(schemas.kind, r.schema, r.attr);
    let vals = g
        .with_sub(place, sub)
        .map_err(|e| ScimError::invalid_value(format!("cannot sort by '{path}': {}", e.detail)))?;
    let key = |op: &Operand| match op.repr {
        Repr::Text if !def.case_exact => dialect.binary_order(&format!("scim_fold({})", op.sql)),
        Repr::Text | Repr::Folded => dialect.binary_order(&op.sql),
        Repr::Absent => "NULL".into(),
        _ => op.sql.clone(),
    };
    Ok(match vals {
        Vals::One(op) => key(&op),
        Vals::Many(rows, op) => format!(
            "(SELECT {} FROM {}{} ORDER BY {} LIMIT 1)",
            key(&op),
            rows.from,
            rows.correl.map(|c| format!(" WHERE {c}")).unwrap_or_default(),
            rows.order
        ),
    })
}

fn unknown(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!("unknown attribute '{path}' in filter"))
}

/// How an operand's SQL value relates to the SCIM value it stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Repr {
    /// The text itself.
    Text,
    /// `fold` of the text (a `*_folded` column, or text that is lower-case by construction).
    Folded,
    /// A boolean (0 or 1 in SQLite).
    Bool,
    Number,
    /// Epoch milliseconds of a dateTime (`created`, `modified`; NOT NULL columns).
    Millis,
    /// The JSON of a complex value (text in SQLite, `jsonb` in PostgreSQL).
    Object,
    /// A value the store cannot know (`$ref`: it depends on the request's base URL).
    Absent,
}

/// One SQL expression standing for at most one value (NULL when there is none).
#[derive(Debug, Clone)]
struct Operand {
    sql: String,
    repr: Repr,
}

fn operand(sql: impl Into<String>, repr: Repr) -> Operand {
    Operand { sql: sql.into(), repr }
}

fn repr_of(def: &AttributeDef) -> Repr {
    match def.ty {
        AttrType::Boolean => Repr::Bool,
        AttrType::Integer | AttrType::Decimal => Repr::Number,
        AttrType::Complex => Repr::Object,
        AttrType::DateTime => Repr::Millis,
        AttrType::String | AttrType::Reference | AttrType::Binary => Repr::Text,
    }
}

/// One complex value, whose sub-attributes are operands.
#[derive(Debug, Clone)]
enum Elem {
    /// The JSON object at `path` (object keys) in the JSON `doc`.
    Json { doc: String, path: Vec<String> },
    /// A group's member: the resource row with this alias.
    Member(String),
    /// A user's group: the resource row with this alias.
    Group(String),
    /// `meta`, kept in columns of `r`.
    Meta,
}

/// The rows of a correlated subquery, one per value of a multi-valued attribute.
#[derive(Debug, Clone)]
struct Rows {
    from: String,
    correl: Option<String>,
    /// The order in which the first value comes first (primary first, then list order).
    order: String,
    item: Item,
}

#[derive(Debug, Clone)]
enum Item {
    Scalar(Operand),
    Complex(Elem),
}

/// Where a top-level attribute's values are.
enum Place {
    One(Operand),
    Complex(Elem),
    Many(Rows),
}

/// The values a comparison ranges over ("any value matches", RFC 7644 §3.4.2.2).
enum Vals {
    One(Operand),
    Many(Rows, Operand),
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Root(&'a ResourceSchemas),
    /// Inside `attr[...]`: paths name sub-attributes of `def`, read from the element.
    Elem(&'a AttributeDef, &'a Elem),
}

fn comp_text(v: &CompValue) -> String {
    match v {
        CompValue::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A dateTime literal as the floor of its epoch milliseconds and whether a sub-millisecond
/// remainder is left, so that it compares exactly with millisecond columns. Validity is the
/// `time` crate's RFC 3339 (as in `Filter::matches`); the fraction past milliseconds is cut off
/// before parsing again, which makes the result a floor for any sign of the epoch.
fn instant(s: &str) -> Option<(i64, bool)> {
    let whole = Timestamp::parse_rfc3339(s)?.0;
    let b = s.as_bytes();
    // A leap second reads as 59.999999999 (after 1972, so truncation is a floor).
    if b.get(17..19) == Some(b"60".as_slice()) {
        return Some((whole, true));
    }
    if b.get(19) != Some(&b'.') {
        return Some((whole, false));
    }
    let digits = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
    let keep = digits.min(3);
    let rest = b[20 + keep..20 + digits.min(9)].iter().any(|&c| c != b'0');
    let cut = format!("{}{}", &s[..20 + keep], &s[20 + digits..]);
    Some((Timestamp::parse_rfc3339(&cut)?.0, rest))
}

struct Gen {
    d: Dialect,
    out: String,
    params: Vec<Param>,
    aliases: u32,
    /// The provider the rows belong to, when known: indexed lookups need it.
    provider: Option<String>,
}

impl Gen {
    fn new(d: Dialect) -> Gen {
        Gen {
            d,
            out: String::new(),
            params: Vec::new(),
            aliases: 0,
            provider: None,
        }
    }

    fn lit(&mut self, b: bool) {
        let l = self.d.lit(b);
        self.out.push_str(l);
    }

    /// The operand's value is assigned (RFC 7643 §2.5: not null, "", [] or {}).
    fn assigned(&self, op: &Operand) -> String {
        let sql = &op.sql;
        match op.repr {
            Repr::Text | Repr::Folded => format!("coalesce({sql}, '') <> ''"),
            Repr::Bool | Repr::Number | Repr::Millis => format!("{sql} IS NOT NULL"),
            Repr::Object => self.d.object_assigned(sql),
            Repr::Absent => self.d.lit(false).into(),
        }
    }

    fn elem_assigned(&self, elem: &Elem) -> String {
        match elem {
            Elem::Json { doc, path } => self.assigned(&operand(self.d.extract(doc, path, Repr::Object), Repr::Object)),
            Elem::Member(_) | Elem::Group(_) | Elem::Meta => self.d.lit(true).into(),
        }
    }

    fn finish(self) -> SqlFragment {
        SqlFragment {
            sql: self.out,
            params: self.params,
        }
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn bind(&mut self, sql: &str, params: impl IntoIterator<Item = Param>) {
        self.out.push_str(sql);
        self.params.extend(params);
    }

    fn filter(&mut self, f: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                self.push("(");
                self.filter(a, scope)?;
                self.push(if matches!(f, Filter::And(..)) { " AND " } else { " OR " });
                self.filter(b, scope)?;
                self.push(")");
            }
            Filter::Not(inner) => {
                self.push("NOT (");
                self.filter(inner, scope)?;
                self.push(")");
            }
            Filter::Present(path) => self.present(scope, path)?,
            Filter::Compare { path, op, value } => self.compare(scope, path, *op, value)?,
            Filter::ValuePath { attr, filter } => self.value_path(scope, attr, filter)?,
        }
        Ok(())
    }

    /// Where a top-level attribute lives: indexed columns first, then the memberships, then
    /// the JSON document.
    fn root_place(&mut self, kind: ResourceKind, schema: &Schema, attr: &AttributeDef) -> Place {
        if schema.is_core() {
            let col = |sql: &str, repr| Place::One(operand(sql, repr));
            match (kind, attr.name.as_str()) {
                (_, "id") => return col("r.id", Repr::Text),
                (_, "externalId") => return col("r.external_id", Repr::Text),
                (_, "displayName") => return col("r.display_name_folded", Repr::Folded),
                (ResourceKind::User, "userName") => return col("r.user_name_folded", Repr::Folded),
                (ResourceKind::User, "active") => return col("r.active", Repr::Bool),
                (_, "meta") => return Place::Complex(Elem::Meta),
                (ResourceKind::Group, "members") | (ResourceKind::User, "groups") => {
                    let (m, o) = (self.alias("m"), self.alias("o"));
                    let (this, other, elem) = match kind {
                        ResourceKind::Group => ("group_seq", "member_seq", Elem::Member(o.clone())),
                        ResourceKind::User => ("member_seq", "group_seq", Elem::Group(o.clone())),
                    };
                    return Place::Many(Rows {
                        from: format!("membership {m} JOIN resource {o} ON {o}.seq = {m}.{other}"),
                        correl: Some(format!("{m}.{this} = r.seq")),
                        order: format!("{m}.{other}"),
                        item: Item::Complex(elem),
                    });
                }
                _ => {}
            }
        }
        let path = if schema.is_core() {
            vec![attr.name.clone()]
        } else {
            vec![schema.id.clone(), attr.name.clone()]
        };
        if attr.multi_valued {
            let e = self.alias("e");
            let item = if attr.is_complex() {
                Item::Complex(Elem::Json {
                    doc: format!("{e}.value"),
                    path: Vec::new(),
                })
            } else {
                Item::Scalar(operand(self.d.element(&e, repr_of(attr)), repr_of(attr)))
            };
            let order = if attr.sub_attribute("primary").is_some() {
                self.d.primary_first(&e)
            } else {
                format!("{e}.key")
            };
            Place::Many(Rows {
                from: self.d.each("r.data", &path, &e),
                correl: None,
                order,
                item,
            })
        } else if attr.is_complex() {
            Place::Complex(Elem::Json {
                doc: "r.data".into(),
                path,
            })
        } else {
            Place::One(operand(self.d.extract("r.data", &path, repr_of(attr)), repr_of(attr)))
        }
    }

    fn with_sub(&mut self, place: Place, sub: Option<&AttributeDef>) -> Result<Vals, ScimError> {
        Ok(match (place, sub) {
            (Place::One(op), None) => Vals::One(op),
            (Place::Complex(elem), Some(sub)) => Vals::One(sub_operand(self.d, &elem, sub)?),
            (Place::Many(rows), None) => match &rows.item {
                Item::Scalar(op) => {
                    let op = op.clone();
                    Vals::Many(rows, op)
                }
                Item::Complex(_) => return Err(ScimError::invalid_filter("a complex attribute needs a sub-attribute")),
            },
            (Place::Many(rows), Some(sub)) => match &rows.item {
                Item::Complex(elem) => {
                    let op = sub_operand(self.d, elem, sub)?;
                    Vals::Many(rows, op)
                }
                Item::Scalar(_) => return Err(ScimError::invalid_filter("a simple attribute has no sub-attributes")),
            },
            (Place::One(_), Some(_)) => {
                return Err(ScimError::invalid_filter("a simple attribute has no sub-attributes"));
            }
            (Place::Complex(_), None) => {
                return Err(ScimError::invalid_filter("a complex attribute needs a sub-attribute"));
            }
        })
    }

    /// `emails[...]`, `members[...]`, `name[...]`: one element satisfies the whole inner filter.
    fn value_path(&mut self, scope: Scope<'_>, attr: &AttrPath, inner: &Filter) -> Result<(), ScimError> {
        let Scope::Root(schemas) = scope else {
            return Err(ScimError::invalid_filter(format!("'{attr}[...]' cannot be nested")));
        };
        let kind = schemas.kind;
        let r = schemas.resolve(attr).ok_or_else(|| unknown(attr))?;
        if let Some(id) = member_id_eq(r.attr, inner) {
            return self.membership_in(kind, r.attr, id);
        }
        match self.root_place(kind, r.schema, r.attr) {
            Place::Complex(elem) => {
                let present = match &elem {
                    Elem::Json { doc, path } => self.d.present(doc, path),
                    _ => self.d.lit(true).into(),
                };
                self.push(&format!("({present} AND "));
                self.filter(inner, Scope::Elem(r.attr, &elem))?;
                self.push(")");
            }
            Place::Many(Rows {
                from,
                correl,
                item: Item::Complex(elem),
                ..
            }) => {
                self.exists_open(&from, correl.as_deref());
                self.filter(inner, Scope::Elem(r.attr, &elem))?;
                self.push("))");
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{attr}[...]' needs a complex attribute"
                )));
            }
        }
        Ok(())
    }

    fn exists_open(&mut self, from: &str, correl: Option<&str>) {
        self.push(&format!("EXISTS (SELECT 1 FROM {from} WHERE "));
        if let Some(c) = correl {
            self.push(&format!("{c} AND "));
        }
        self.push("(");
    }

    /// The values of `path` in `scope`; a comparison on a complex attribute compares its
    /// `value` (as `Filter::matches` does).
    fn values<'a>(&mut self, scope: Scope<'a>, path: &AttrPath) -> Result<(Vals, &'a AttributeDef), ScimError> {
        match scope {
            Scope::Root(schemas) => {
                let kind = schemas.kind;
                let r = schemas.resolve(path).ok_or_else(|| unknown(path))?;
                let sub = match r.sub {
                    None if r.attr.is_complex() => Some(r.attr.sub_attribute("value").ok_or_else(|| {
                        ScimError::invalid_filter(format!("'{path}' is complex: compare one of its sub-attributes"))
                    })?),
                    sub => sub,
                };
                let place = self.root_place(kind, r.schema, r.attr);
                Ok((self.with_sub(place, sub)?, sub.unwrap_or(r.attr)))
            }
            Scope::Elem(parent, elem) => {
                let sub = elem_sub(parent, path)?;
                Ok((Vals::One(sub_operand(self.d, elem, sub)?), sub))
            }
        }
    }

    /// `pred` for any one of the values.
    fn any(
        &mut self,
        vals: &Vals,
        pred: impl FnOnce(&mut Gen, &Operand) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
        match vals {
            Vals::One(op) => pred(self, op),
            Vals::Many(rows, op) => {
                self.exists_open(&rows.from, rows.correl.as_deref());
                pred(self, op)?;
                self.push("))");
                Ok(())
            }
        }
    }

    fn present(&mut self, scope: Scope<'_>, path: &AttrPath) -> Result<(), ScimError> {
        if let Scope::Root(schemas) = scope {
            let kind = schemas.kind;
            let r = schemas.resolve(path).ok_or_else(|| unknown(path))?;
            if r.sub.is_none() {
                match self.root_place(kind, r.schema, r.attr) {
                    Place::One(op) => self.push(&self.assigned(&op)),
                    Place::Complex(elem) => self.push(&self.elem_assigned(&elem)),
                    Place::Many(rows) => {
                        self.exists_open(&rows.from, rows.correl.as_deref());
                        let cond = match &rows.item {
                            Item::Scalar(op) => self.assigned(op),
                            Item::Complex(elem) => self.elem_assigned(elem),
                        };
                        self.push(&cond);
                        self.push("))");
                    }
                }
                return Ok(());
            }
        }
        // With a sub-attribute (or inside brackets) `pr` asks about the sub-attribute itself.
        let vals = match scope {
            Scope::Root(schemas) => {
                let r = schemas.resolve(path).ok_or_else(|| unknown(path))?;
                let place = self.root_place(schemas.kind, r.schema, r.attr);
                self.with_sub(place, r.sub)?
            }
            Scope::Elem(..) => self.values(scope, path)?.0,
        };
        self.any(&vals, |g, op| {
            g.push(&g.assigned(op));
            Ok(())
        })
    }

    fn compare(
        &mut self,
        scope: Scope<'_>,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<(), ScimError> {
        if let Scope::Root(schemas) = scope
            && op == CompareOp::Eq
            && let CompValue::Str(want) = value
            && let Some(provider) = self.provider.clone()
            && let Some(r) = schemas.resolve(path)
            && r.sub.is_none()
            && r.is_extension()
            && schemas.declared(&r.schema.id).is_some_and(|e| e.is_indexed(r.attr))
        {
            let attr = format!("{}:{}", r.schema.id, r.attr.name);
            let want = if r.attr.case_exact { want.clone() } else { fold(want) };
            self.bind(
                "r.seq IN (SELECT ai.seq FROM attribute_index ai WHERE ai.provider_id = ? AND ai.kind = ? \
                 AND ai.attr = ? AND ai.value = ?)",
                [
                    Param::Text(provider),
                    Param::Text(schemas.kind.name().into()),
                    Param::Text(attr),
                    Param::Text(want),
                ],
            );
            return Ok(());
        }
        if let Scope::Root(schemas) = scope
            && matches!(op, CompareOp::Eq | CompareOp::Ne)
            && *value != CompValue::Null
            && let Some(r) = schemas.resolve(path)
            && is_membership(r.attr)
            && r.sub.is_none_or(|s| s.name == "value")
        {
            if op == CompareOp::Ne {
                self.push("NOT (");
            }
            self.membership_in(schemas.kind, r.attr, &comp_text(value))?;
            if op == CompareOp::Ne {
                self.push(")");
            }
            return Ok(());
        }
        let (vals, def) = self.values(scope, path)?;
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => {
                self.push("NOT (");
                self.any(&vals, |g, o| {
                    g.push(&g.assigned(o));
                    Ok(())
                })?;
                self.push(")");
            }
            (CompareOp::Ne, CompValue::Null) => self.any(&vals, |g, o| {
                g.push(&g.assigned(o));
                Ok(())
            })?,
            // `ne` is the negation of `eq`: an absent attribute is "not equal".
            (CompareOp::Ne, _) => {
                self.push("NOT (");
                self.any(&vals, |g, o| g.compare_one(def, CompareOp::Eq, value, o))?;
                self.push(")");
            }
            _ => self.any(&vals, |g, o| g.compare_one(def, op, value, o))?,
        }
        Ok(())
    }

    /// `r` is a group with this member, or a user in this group, by id: an index lookup of
    /// the id, then of the membership, whatever the number of groups.
    fn membership_in(&mut self, kind: ResourceKind, attr: &AttributeDef, id: &str) -> Result<(), ScimError> {
        let (this, other) = match (kind, attr.name.as_str()) {
            (ResourceKind::Group, "members") => ("group_seq", "member_seq"),
            (ResourceKind::User, "groups") => ("member_seq", "group_seq"),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{}' is not a membership",
                    attr.name
                )));
            }
        };
        // Ids are lower-case UUIDs, so comparing them with the folded value is
        // `value`'s case-insensitive comparison.
        self.bind(
            &format!(
                "r.seq IN (SELECT m.{this} FROM membership m WHERE m.{other} = (SELECT seq FROM resource WHERE id = ?))"
            ),
            [Param::Text(fold(id))],
        );
        Ok(())
    }

    /// One value against the filter's value, 0 or 1. `validate` has ruled out combinations
    /// that make no sense for the type.
    fn compare_one(
        &mut self,
        def: &AttributeDef,
        op: CompareOp,
        want: &CompValue,
        have: &Operand,
    ) -> Result<(), ScimError> {
        if have.repr == Repr::Absent {
            self.lit(false);
            return Ok(());
        }
        let x = &have.sql;
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        match def.ty {
            AttrType::Boolean => match want.as_bool() {
                Some(b) if op == CompareOp::Eq => self.bind(&self.d.is(x), [Param::Bool(b)]),
                _ => self.lit(false),
            },
            AttrType::Integer | AttrType::Decimal => match (want.as_f64(), sql_op(op)) {
                (Some(n), Some(o)) => self.bind(&self.d.or_false(&format!("{x} {o} ?")), [Param::Real(n)]),
                _ => self.lit(false),
            },
            AttrType::DateTime if !substring => {
                if have.repr != Repr::Millis {
                    return Err(ScimError::invalid_filter(format!(
                        "filtering on dateTime attribute '{}' is not supported",
                        def.name
                    )));
                }
                let CompValue::Str(s) = want else {
                    self.lit(false);
                    return Ok(());
                };
                let Some((ms, rest)) = instant(s) else {
                    self.lit(false);
                    return Ok(());
                };
                // `x` counts whole milliseconds; the literal is ms + a fraction `rest` > 0 or not.
                let o = match op {
                    CompareOp::Eq if rest => None,
                    CompareOp::Eq => Some("="),
                    CompareOp::Gt => Some(">"),
                    CompareOp::Ge => Some(if rest { ">" } else { ">=" }),
                    CompareOp::Lt => Some(if rest { "<=" } else { "<" }),
                    CompareOp::Le => Some("<="),
                    _ => None,
                };
                match o {
                    // Created and modified are NOT NULL: the comparison is never NULL, and a
                    // bare column comparison can use the index.
                    Some(o) if x == "r.created" || x == "r.modified" => {
                        self.bind(&format!("{x} {o} ?"), [Param::Int(ms)])
                    }
                    // A dateTime from the document may be absent: never NULL, so `not` holds.
                    Some(o) => self.bind(&self.d.or_false(&format!("{x} {o} ?")), [Param::Int(ms)]),
                    None => self.lit(false),
                }
            }
            _ => {
                let (sql, repr) = match have.repr {
                    Repr::Millis => (self.d.millis_text(x), Repr::Text),
                    r => (x.clone(), r),
                };
                let raw = comp_text(want);
                let (lhs, needle) = match (def.case_exact, repr) {
                    (true, _) => (sql, raw),
                    (false, Repr::Folded) => (sql, fold(&raw)),
                    (false, _) => (format!("scim_fold({sql})"), fold(&raw)),
                };
                let needle = Param::Text(needle);
                let d = self.d;
                match op {
                    CompareOp::Eq => self.bind(&d.is(&lhs), [needle]),
                    CompareOp::Ne => self.bind(&d.is_not(&lhs), [needle]),
                    CompareOp::Co => self.bind(&d.contains(&lhs), [needle]),
                    CompareOp::Sw => self.bind(&d.starts_with(&lhs), [needle]),
                    CompareOp::Ew => self.bind(&d.ends_with(&lhs), [needle.clone(), needle]),
                    CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                        let o = sql_op(op).unwrap_or("=");
                        self.bind(&d.or_false(&format!("{} {o} ?", d.binary_order(&lhs))), [needle]);
                    }
                }
            }
        }
        Ok(())
    }
}

fn sql_op(op: CompareOp) -> Option<&'static str> {
    match op {
        CompareOp::Eq => Some("="),
        CompareOp::Ne => Some("<>"),
        CompareOp::Gt => Some(">"),
        CompareOp::Ge => Some(">="),
        CompareOp::Lt => Some("<"),
        CompareOp::Le => Some("<="),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
    }
}

fn is_membership(attr: &AttributeDef) -> bool {
    matches!(attr.name.as_str(), "members" | "groups") && attr.is_complex()
}

/// `members[value eq "id"]`: the inside of brackets that names one member id.
fn member_id_eq<'f>(attr: &AttributeDef, inner: &'f Filter) -> Option<&'f str> {
    match inner {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if is_membership(attr)
            && path.uri.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(id)
        }
        _ => None,
    }
}

fn elem_sub<'a>(parent: &'a AttributeDef, path: &AttrPath) -> Result<&'a AttributeDef, ScimError> {
    if path.uri.is_some() || path.sub.is_some() {
        return Err(unknown(path));
    }
    parent.sub_attribute(&path.name).ok_or_else(|| unknown(path))
}

/// A sub-attribute of one complex value.
fn sub_operand(d: Dialect, elem: &Elem, sub: &AttributeDef) -> Result<Operand, ScimError> {
    Ok(match elem {
        Elem::Json { doc, path } => {
            let mut path = path.clone();
            path.push(sub.name.clone());
            operand(d.extract(doc, &path, repr_of(sub)), repr_of(sub))
        }
        // Ids are lower-case UUIDs: the id is its own fold.
        Elem::Member(x) => match sub.name.as_str() {
            "value" => operand(format!("{x}.id"), Repr::Folded),
            "display" => operand(
                format!("coalesce({x}.display_name_folded, {x}.user_name_folded)"),
                Repr::Folded,
            ),
            "type" => operand(format!("{x}.kind"), Repr::Text),
            _ => operand("NULL", Repr::Absent),
        },
        Elem::Group(g) => match sub.name.as_str() {
            "value" => operand(format!("{g}.id"), Repr::Folded),
            "display" => operand(format!("{g}.display_name_folded"), Repr::Folded),
            "type" => operand("'direct'", Repr::Folded),
            _ => operand("NULL", Repr::Absent),
        },
        Elem::Meta => match sub.name.as_str() {
            "created" => operand("r.created", Repr::Millis),
            "lastModified" => operand("r.modified", Repr::Millis),
            "resourceType" => operand("r.kind", Repr::Text),
            "version" => operand("('W/\"' || r.version || '\"')", Repr::Text),
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "'meta.{other}' cannot be filtered on: it depends on the request's base URL"
                )));
            }
        },
    })
}
