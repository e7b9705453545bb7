//! Sources for `scimd push`, read into one neutral [`Directory`]: CSV (RFC 4180, a header
//! row naming the columns), JSON (SCIM-shaped users and groups, RFC 7643 §4) and LDIF
//! (RFC 2849, in the `ldif` module). A bad row becomes a [`Problem`] with its file and line;
//! the row is left out and the caller decides whether that is fatal (`--strict`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde_json::Value;

use crate::scim::USER_SCHEMA;

/// The user attributes a push compares: the core ones it knows by name, and any extension
/// attribute by its URN-qualified path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attr {
    UserName,
    ExternalId,
    GivenName,
    FamilyName,
    DisplayName,
    Email,
    Title,
    Active,
    Ext(ExtAttr),
}

impl Attr {
    /// The profile attributes a structured source (JSON, LDIF) always states: absent there
    /// means "clear it", unlike a CSV without the column.
    pub const PROFILE: [Attr; 5] = [
        Attr::GivenName,
        Attr::FamilyName,
        Attr::DisplayName,
        Attr::Email,
        Attr::Title,
    ];

    /// Every core attribute, in the order a new user's document lists them.
    pub const CORE: [Attr; 8] = [
        Attr::UserName,
        Attr::ExternalId,
        Attr::GivenName,
        Attr::FamilyName,
        Attr::DisplayName,
        Attr::Email,
        Attr::Title,
        Attr::Active,
    ];

    /// The SCIM attribute path (RFC 7644 §3.10); URN-qualified for an extension attribute.
    pub fn path(&self) -> &str {
        match self {
            Attr::UserName => "userName",
            Attr::ExternalId => "externalId",
            Attr::GivenName => "name.givenName",
            Attr::FamilyName => "name.familyName",
            Attr::DisplayName => "displayName",
            Attr::Email => "emails",
            Attr::Title => "title",
            Attr::Active => "active",
            Attr::Ext(e) => e.path(),
        }
    }
}

/// An attribute of an extension schema (RFC 7643 §3.3): its values live in an object keyed by
/// the schema's URN. Kept as the source spells it (that is what is sent) but compared without
/// regard to case, since SCIM names and URNs are case-insensitive (RFC 7643 §2.1) and a
/// server may spell them otherwise.
#[derive(Debug, Clone)]
pub struct ExtAttr {
    /// `urn:…:attrName`.
    path: String,
    /// Where `attrName` starts in `path`.
    name_at: usize,
}

impl ExtAttr {
    /// The attribute `name` of the schema `urn`: a URN (`urn:…`) other than the core User
    /// schema's, and an RFC 7643 §2.1 ATTRNAME (a letter, then letters, digits, `-`, `_`).
    pub fn new(urn: &str, name: &str) -> Result<ExtAttr, String> {
        let urn_ok = is_urn(urn) && urn.len() > 4 && !urn.contains(char::is_whitespace);
        if !urn_ok {
            return Err(format!("'{urn}' is not a schema URN (urn:…)"));
        }
        if urn.eq_ignore_ascii_case(USER_SCHEMA) {
            return Err(format!(
                "'{name}' is a core attribute: name it without the URN of the core User schema"
            ));
        }
        let mut chars = name.chars();
        let name_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "'{name}' is not an attribute name (a letter, then letters, digits, '-' or '_')"
            ));
        }
        Ok(ExtAttr {
            path: format!("{urn}:{name}"),
            name_at: urn.len() + 1,
        })
    }

    /// `urn:…:attrName`, split at the last `:` (URNs hold colons, attribute names never do).
    pub fn parse(path: &str) -> Result<ExtAttr, String> {
        let (urn, name) = path
            .rsplit_once(':')
            .ok_or_else(|| format!("'{path}' is not URN:ATTRIBUTE"))?;
        ExtAttr::new(urn, name)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn urn(&self) -> &str {
        &self.path[..self.name_at - 1]
    }

    pub fn name(&self) -> &str {
        &self.path[self.name_at..]
    }

    fn folded(&self) -> impl Iterator<Item = u8> + '_ {
        self.path.bytes().map(|b| b.to_ascii_lowercase())
    }
}

impl PartialEq for ExtAttr {
    fn eq(&self, other: &Self) -> bool {
        self.path.eq_ignore_ascii_case(&other.path)
    }
}

impl Eq for ExtAttr {}

impl Ord for ExtAttr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.folded().cmp(other.folded())
    }
}

impl PartialOrd for ExtAttr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for ExtAttr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded().for_each(|b| state.write_u8(b));
    }
}

/// `--map FIELD=URN:ATTR`: a source field read as an extension attribute. LDAP attribute
/// names cannot hold the `:` of a URN, so LDIF needs it; it also renames a CSV column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    /// The LDIF attribute or CSV column, ASCII lower-cased: both are matched without case.
    pub field: String,
    pub to: ExtAttr,
}

impl FromStr for FieldMap {
    type Err = String;

    fn from_str(s: &str) -> Result<FieldMap, String> {
        let (field, to) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not FIELD=URN:ATTRIBUTE"))?;
        let field = field.trim();
        if field.is_empty() {
            return Err(format!("'{s}' names no field before '='"));
        }
        Ok(FieldMap {
            field: field.to_ascii_lowercase(),
            to: ExtAttr::parse(to.trim())?,
        })
    }
}

/// Does `s` start like a URN (RFC 8141: the `urn` scheme, any case)?
fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// The extension attribute `field` is mapped to, if any.
fn mapped<'a>(maps: &'a [FieldMap], field: &str) -> Option<&'a ExtAttr> {
    maps.iter()
        .find(|m| m.field.eq_ignore_ascii_case(field.trim()))
        .map(|m| &m.to)
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A record that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// The user attributes a push compares: what the source gives, or what a server holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserAttrs {
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub active: bool,
    /// Extension attributes with a single simple value (string, number, boolean), typed as
    /// read: a JSON number stays a number, a CSV or LDIF value is a string.
    pub ext: BTreeMap<ExtAttr, Value>,
}

/// A user of the source, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceUser {
    pub attrs: UserAttrs,
    pub origin: Origin,
}

impl UserAttrs {
    /// The attributes of a SCIM User representation (values trimmed, blanks absent; the
    /// primary email, else the first), with `active` as the caller read it.
    pub fn from_scim(v: &Value, active: bool) -> UserAttrs {
        let email = v.get("emails").and_then(Value::as_array).and_then(|es| {
            es.iter()
                .find(|e| {
                    // Some servers write booleans as strings ("True").
                    e.get("primary").is_some_and(|p| {
                        p.as_bool() == Some(true) || p.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
                    })
                })
                .or_else(|| es.first())
                .and_then(|e| text(e, "value"))
        });
        let name = v.get("name").unwrap_or(&Value::Null);
        UserAttrs {
            user_name: text(v, "userName").unwrap_or_default(),
            external_id: text(v, "externalId"),
            given_name: text(name, "givenName"),
            family_name: text(name, "familyName"),
            display_name: text(v, "displayName"),
            email,
            title: text(v, "title"),
            active,
            ext: extension_entries(v)
                .into_iter()
                .filter_map(|(urn, name, x)| Some((ExtAttr::new(urn, name).ok()?, simple(x)?)))
                .collect(),
        }
    }

    /// The value of `attr` as JSON: a string, `active` a boolean, an extension attribute as read.
    pub fn value(&self, attr: &Attr) -> Option<Value> {
        let s = |v: &Option<String>| v.clone().map(Value::String);
        match attr {
            Attr::UserName => Some(Value::String(self.user_name.clone())),
            Attr::ExternalId => s(&self.external_id),
            Attr::GivenName => s(&self.given_name),
            Attr::FamilyName => s(&self.family_name),
            Attr::DisplayName => s(&self.display_name),
            Attr::Email => s(&self.email),
            Attr::Title => s(&self.title),
            Attr::Active => Some(Value::Bool(self.active)),
            Attr::Ext(e) => self.ext.get(e).cloned(),
        }
    }

    /// Every attribute that has a value, core ones first, with that value.
    pub fn present(&self) -> impl Iterator<Item = (Attr, Value)> + '_ {
        Attr::CORE
            .into_iter()
            .chain(self.ext.keys().cloned().map(Attr::Ext))
            .filter_map(|a| Some((a.clone(), self.value(&a)?)))
    }
}

/// Every extension attribute of a SCIM resource, as `(urn, name, value)`: the members of each
/// object under a URN other than the core User schema's (RFC 7643 §3.3), and URN-qualified
/// keys at the top level (`"urn:…:User:costCenter": "CC-1"`), which some sources write.
/// Values of any shape: the caller decides what it can use.
fn extension_entries(v: &Value) -> Vec<(&str, &str, &Value)> {
    let mut out = Vec::new();
    for (key, val) in v.as_object().into_iter().flatten() {
        if !is_urn(key) || key.eq_ignore_ascii_case(USER_SCHEMA) {
            continue;
        }
        match val.as_object() {
            Some(attrs) => out.extend(attrs.iter().map(|(name, x)| (key.as_str(), name.as_str(), x))),
            None => out.extend(
                key.rsplit_once(':')
                    .filter(|(urn, _)| !urn.eq_ignore_ascii_case(USER_SCHEMA))
                    .map(|(urn, name)| (urn, name, val)),
            ),
        }
    }
    out
}

/// A single simple value as a push keeps it: a string trimmed (absent when blank), a number
/// or a boolean as is; `None` for null, objects and arrays.
fn simple(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => blank_to_none(s).map(Value::String),
        Value::Number(_) | Value::Bool(_) => Some(v.clone()),
        _ => None,
    }
}

/// A value as the text a push compares: a string as is, a number as JSON prints it, a
/// boolean `true`/`false`. A CSV's `"42"` and a server's `42` are then the same value, which
/// they are once the server has read the string as its declared integer type.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Members by `userName`.
    pub members: Vec<String>,
    pub origin: Origin,
}

/// What a source says the directory should be.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: Vec<SourceUser>,
    pub groups: Vec<SourceGroup>,
    /// The attributes this source speaks for: a CSV without a `title` column leaves titles
    /// alone. `userName` and `active` are always managed; `externalId` only where given.
    pub managed: BTreeSet<Attr>,
    pub problems: Vec<Problem>,
    /// Worth saying, but nothing was left out (an unknown column, a nested group).
    pub warnings: Vec<Problem>,
}

pub(crate) fn blank_to_none(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "y" | "1" | "active" | "enabled" => Some(true),
        "false" | "no" | "n" | "0" | "inactive" | "disabled" => Some(false),
        _ => None,
    }
}

/// Adds a user unless its `userName` is empty, malformed or a duplicate; adds its groups.
#[derive(Default)]
pub(crate) struct Builder {
    pub dir: Directory,
    seen: HashMap<String, usize>,
    groups: BTreeMap<String, usize>,
}

impl Builder {
    pub fn problem(&mut self, origin: Origin, message: impl Into<String>) {
        self.dir.problems.push(Problem {
            origin,
            message: message.into(),
        });
    }

    pub fn user(&mut self, u: SourceUser) -> bool {
        if u.attrs.user_name.is_empty() {
            self.problem(u.origin, "no userName");
            return false;
        }
        if u.attrs.email.as_deref().is_some_and(|e| !e.contains('@')) {
            let msg = format!(
                "email '{}' is not an address",
                u.attrs.email.as_deref().unwrap_or_default()
            );
            self.problem(u.origin, msg);
            return false;
        }
        let key = u.attrs.user_name.to_lowercase();
        if let Some(first) = self.seen.get(&key) {
            let msg = format!(
                "userName '{}' already given at line {}",
                u.attrs.user_name, self.dir.users[*first].origin.line
            );
            self.problem(u.origin, msg);
            return false;
        }
        self.seen.insert(key, self.dir.users.len());
        self.dir.users.push(u);
        true
    }

    /// The group named `name`, created on first mention.
    pub fn group(&mut self, name: &str, origin: &Origin) -> &mut SourceGroup {
        let key = name.to_lowercase();
        let i = match self.groups.get(&key) {
            Some(i) => *i,
            None => {
                self.dir.groups.push(SourceGroup {
                    display_name: name.to_owned(),
                    origin: origin.clone(),
                    ..Default::default()
                });
                self.groups.insert(key, self.dir.groups.len() - 1);
                self.dir.groups.len() - 1
            }
        };
        &mut self.dir.groups[i]
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(&name.to_lowercase())
    }

    pub fn finish(mut self) -> Directory {
        self.dir.managed.insert(Attr::UserName);
        self.dir.managed.insert(Attr::Active);
        if self.dir.users.iter().any(|u| u.attrs.external_id.is_some()) {
            self.dir.managed.insert(Attr::ExternalId);
        }
        self.dir
    }
}

/// A CSV record: the line it starts on, and its fields.
pub type CsvRecord = (usize, Vec<String>);

/// RFC 4180 records: `(line the record starts on, fields)`. Quoted fields may hold commas,
/// doubled quotes and line breaks; CRLF and LF both end records.
pub fn csv_records(text: &str) -> Result<Vec<CsvRecord>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let (mut line, mut start) = (1usize, 1usize);
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => return Err((line, "a quote inside an unquoted field".into())),
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    out.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                start = line;
            }
            _ if was_quoted => return Err((line, "text after a closing quote".into())),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err((start, "a quoted field is never closed".into()));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

#[derive(Clone, PartialEq, Eq)]
enum Col {
    Attr(Attr),
    Groups,
}

/// What a header names: a `--map`ped column, an extension attribute by its URN-qualified path,
/// or a core attribute by one of its aliases (`None`: unknown, ignored with a warning). A
/// header starting with `urn:` that is no attribute path is an error rather than a warning:
/// ignored, it would leave the attribute it was meant for unmanaged without a word.
fn column(name: &str, maps: &[FieldMap]) -> Result<Option<Col>, String> {
    if let Some(to) = mapped(maps, name) {
        return Ok(Some(Col::Attr(Attr::Ext(to.clone()))));
    }
    if is_urn(name.trim()) {
        return ExtAttr::parse(name.trim()).map(|e| Some(Col::Attr(Attr::Ext(e))));
    }
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .collect::<String>()
        .to_lowercase();
    Ok(Some(match n.as_str() {
        "username" | "login" => Col::Attr(Attr::UserName),
        "externalid" => Col::Attr(Attr::ExternalId),
        "givenname" | "firstname" | "namegivenname" => Col::Attr(Attr::GivenName),
        "familyname" | "lastname" | "surname" | "namefamilyname" => Col::Attr(Attr::FamilyName),
        "displayname" => Col::Attr(Attr::DisplayName),
        "email" | "mail" | "emails" => Col::Attr(Attr::Email),
        "title" => Col::Attr(Attr::Title),
        "active" => Col::Attr(Attr::Active),
        "groups" => Col::Groups,
        _ => return Ok(None),
    }))
}

/// CSV with a header row; see docs/push.md for the columns. `groups` lists group names
/// separated by `;`; `maps` read other columns as extension attributes.
pub fn parse_csv(file: &str, text: &str, maps: &[FieldMap]) -> Result<Directory, String> {
    let records = csv_records(text).map_err(|(line, e)| format!("{file}:{line}: {e}"))?;
    let mut rows = records.into_iter();
    let (_, header) = rows
        .next()
        .ok_or_else(|| format!("{file}: empty file, no header row"))?;
    let cols = header
        .iter()
        .map(|h| column(h, maps).map_err(|e| format!("{file}:1: column '{h}': {e}")))
        .collect::<Result<Vec<Option<Col>>, String>>()?;
    if !cols.contains(&Some(Col::Attr(Attr::UserName))) {
        return Err(format!("{file}:1: the header has no userName column"));
    }
    let mut b = Builder::default();
    let header_warning = |message: String| Problem {
        origin: Origin {
            file: file.into(),
            line: 1,
        },
        message,
    };
    for (i, c) in cols.iter().enumerate() {
        match c {
            Some(Col::Attr(a)) if !matches!(a, Attr::ExternalId) => {
                b.dir.managed.insert(a.clone());
            }
            None => b
                .dir
                .warnings
                .push(header_warning(format!("unknown column '{}' ignored", header[i]))),
            _ => {}
        }
    }
    for m in maps
        .iter()
        .filter(|m| !header.iter().any(|h| m.field.eq_ignore_ascii_case(h.trim())))
    {
        b.dir
            .warnings
            .push(header_warning(format!("--map {}: no such column", m.field)));
    }
    for (line, fields) in rows {
        let origin = Origin {
            file: file.into(),
            line,
        };
        if fields.len() != cols.len() {
            let msg = format!("{} fields where the header has {}", fields.len(), cols.len());
            b.problem(origin, msg);
            continue;
        }
        let mut u = SourceUser {
            attrs: UserAttrs {
                active: true,
                ..Default::default()
            },
            origin: origin.clone(),
        };
        let mut groups = Vec::new();
        let mut bad = None;
        for (col, value) in cols.iter().zip(&fields) {
            match col {
                Some(Col::Attr(Attr::UserName)) => u.attrs.user_name = value.trim().to_owned(),
                Some(Col::Attr(Attr::ExternalId)) => u.attrs.external_id = blank_to_none(value),
                Some(Col::Attr(Attr::GivenName)) => u.attrs.given_name = blank_to_none(value),
                Some(Col::Attr(Attr::FamilyName)) => u.attrs.family_name = blank_to_none(value),
                Some(Col::Attr(Attr::DisplayName)) => u.attrs.display_name = blank_to_none(value),
                Some(Col::Attr(Attr::Email)) => u.attrs.email = blank_to_none(value),
                Some(Col::Attr(Attr::Title)) => u.attrs.title = blank_to_none(value),
                Some(Col::Attr(Attr::Ext(e))) => {
                    if let Some(v) = blank_to_none(value) {
                        u.attrs.ext.insert(e.clone(), Value::String(v));
                    }
                }
                Some(Col::Attr(Attr::Active)) => match parse_bool(value) {
                    Some(a) => u.attrs.active = a,
                    None => bad = Some(format!("active '{value}' is not true or false")),
                },
                Some(Col::Groups) => groups = value.split(';').filter_map(blank_to_none).collect(),
                None => {}
            }
        }
        if let Some(msg) = bad {
            b.problem(origin, msg);
            continue;
        }
        let name = u.attrs.user_name.clone();
        if b.user(u) {
            for g in groups {
                b.group(&g, &origin).members.push(name.clone());
            }
        }
    }
    Ok(b.finish())
}

/// The line of every object directly inside the top-level array, or inside the arrays
/// `Users`, `Groups` and `Resources` of the top-level object, by array name ("" for a
/// top-level array). serde_json's `Value` forgets positions; this scan recovers them.
fn element_lines(text: &str) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    let mut stack: Vec<char> = Vec::new();
    let (mut line, mut in_str, mut esc) = (1usize, false, false);
    let (mut last_str, mut cur) = (String::new(), String::new());
    let mut array_key: Option<String> = None;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => {
                    in_str = false;
                    last_str = std::mem::take(&mut cur);
                }
                _ => cur.push(c),
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' => {
                if stack.is_empty() {
                    array_key = Some(String::new());
                } else if stack == ['{'] {
                    array_key = Some(last_str.clone());
                }
                stack.push('[');
            }
            '{' => {
                if stack == ['['] || stack == ['{', '['] {
                    if let Some(k) = &array_key {
                        out.entry(k.clone()).or_default().push(line);
                    }
                }
                stack.push('{');
            }
            ']' | '}' => {
                stack.pop();
            }
            _ => {}
        }
    }
    out
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A string attribute of SCIM JSON, trimmed; absent when missing or blank.
pub(super) fn text(v: &Value, key: &str) -> Option<String> {
    str_at(v, key).map(str::to_owned)
}

fn json_user(v: &Value, origin: Origin) -> Result<SourceUser, String> {
    let active = match v.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool(s).ok_or_else(|| format!("active '{s}' is not true or false"))?,
        Some(other) => return Err(format!("active {other} is not true or false")),
    };
    Ok(SourceUser {
        attrs: UserAttrs::from_scim(v, active),
        origin,
    })
}

/// The extension attributes a JSON user names, each then managed for the whole file (like a
/// CSV column: a user without it, or with null or blank, has it removed). An object or array
/// value, or a bad name, cannot be compared as one value: that attribute is left alone,
/// noted in `unusable` with the first place it was seen, to be said once, not once a user.
fn note_extensions(v: &Value, origin: &Origin, managed: &mut BTreeSet<Attr>, unusable: &mut BTreeMap<String, Problem>) {
    for (urn, name, x) in extension_entries(v) {
        let why = match ExtAttr::new(urn, name) {
            Ok(a) if !matches!(x, Value::Object(_) | Value::Array(_)) => {
                managed.insert(Attr::Ext(a));
                continue;
            }
            Ok(_) => "holds an object or array; only single simple values are pushed, so it is left alone".to_owned(),
            Err(e) => e,
        };
        let path = format!("{urn}:{name}");
        unusable.entry(path.to_lowercase()).or_insert_with(|| Problem {
            origin: origin.clone(),
            message: format!("{path}: {why}"),
        });
    }
}

/// JSON: `{"Users": [...], "Groups": [...]}`, a ListResponse (`Resources`) or a top-level
/// array of users and groups. Group members name a user of the file by its `id`,
/// `externalId` or `userName` (`value`, else `display`), or a user already on the server by
/// `userName`.
pub fn parse_json(file: &str, text: &str) -> Result<Directory, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("{file}:{}: not JSON: {e}", e.line()))?;
    let lines = element_lines(text);
    let mut items: Vec<(Value, usize, Option<bool>)> = Vec::new();
    let mut take = |key: &str, arr: Option<&Vec<Value>>, is_user: Option<bool>| {
        let ls = lines.get(key).cloned().unwrap_or_default();
        for (i, v) in arr.into_iter().flatten().enumerate() {
            items.push((v.clone(), ls.get(i).copied().unwrap_or(0), is_user));
        }
    };
    match &doc {
        Value::Array(a) => take("", Some(a), None),
        Value::Object(_) => {
            take("Users", doc.get("Users").and_then(Value::as_array), Some(true));
            take("Groups", doc.get("Groups").and_then(Value::as_array), Some(false));
            take("Resources", doc.get("Resources").and_then(Value::as_array), None);
        }
        _ => return Err(format!("{file}: neither an object with Users and Groups nor an array")),
    }
    let mut b = Builder::default();
    let mut aliases: HashMap<String, String> = HashMap::new();
    let mut groups = Vec::new();
    let mut unusable = BTreeMap::new();
    for (v, line, is_user) in items {
        let origin = Origin {
            file: file.into(),
            line,
        };
        let schemas = v["schemas"].to_string();
        let user = is_user.unwrap_or_else(|| schemas.contains(":User\"") || v.get("userName").is_some());
        if !user {
            groups.push((v, origin));
            continue;
        }
        note_extensions(&v, &origin, &mut b.dir.managed, &mut unusable);
        match json_user(&v, origin.clone()) {
            Ok(u) => {
                let name = u.attrs.user_name.clone();
                let ext = u.attrs.external_id.clone();
                if b.user(u) {
                    for alias in [str_at(&v, "id").map(str::to_owned), ext].into_iter().flatten() {
                        aliases.insert(alias, name.clone());
                    }
                }
            }
            Err(e) => b.problem(origin, e),
        }
    }
    for (v, origin) in groups {
        let Some(name) = str_at(&v, "displayName") else {
            b.problem(origin, "a group without displayName");
            continue;
        };
        if b.has_group(name) {
            b.problem(origin, format!("group '{name}' given twice"));
            continue;
        }
        let members: Vec<String> = v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| match m {
                Value::String(s) => blank_to_none(s),
                _ => str_at(m, "value").or_else(|| str_at(m, "display")).map(str::to_owned),
            })
            .map(|m| aliases.get(&m).cloned().unwrap_or(m))
            .collect();
        let g = b.group(name, &origin);
        g.external_id = str_at(&v, "externalId").map(str::to_owned);
        g.members = members;
    }
    let mut dir = b.finish();
    dir.managed.extend(Attr::PROFILE);
    dir.warnings.extend(unusable.into_values());
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_records_follow_rfc_4180_quotes_and_line_breaks() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\nlast,,\n";
        let r = csv_records(text).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (2, vec!["x, y".into(), "say \"hi\"".into(), "two\nlines".into()]));
        assert_eq!(r[2], (5, vec!["last".into(), "".into(), "".into()]));
        assert_eq!(csv_records("a\n\"open\n").unwrap_err().0, 2);
        assert!(csv_records("a\nx\"y\n").is_err());
        assert_eq!(csv_records("a,b").unwrap(), vec![(1, vec!["a".into(), "b".into()])]);
    }

    #[test]
    fn csv_rows_become_users_and_groups_and_bad_rows_name_their_line() {
        let text = "userName,first_name,Last Name,email,active,groups,title\n\
                    jane@x.com,Jane,Doe,jane@x.com,true,Ops;Eng,CTO\n\
                    bob@x.com,Bob,,bob@x.com,maybe,,\n\
                    JANE@x.com,J,D,j@x.com,,,\n\
                    short,row\n\
                    ann@x.com,Ann,Lee,,false,Ops,\n";
        let d = parse_csv("u.csv", text, &[]).unwrap();
        assert_eq!(d.users.len(), 2);
        assert_eq!(d.users[0].attrs.family_name.as_deref(), Some("Doe"));
        assert_eq!(d.users[0].attrs.title.as_deref(), Some("CTO"));
        assert!(!d.users[1].attrs.active && d.users[1].attrs.email.is_none());
        let lines: Vec<String> = d.problems.iter().map(|p| p.origin.to_string()).collect();
        assert_eq!(lines, ["u.csv:3", "u.csv:4", "u.csv:5"]);
        assert!(d.problems[1].message.contains("line 2"), "{}", d.problems[1]);
        let ops = d.groups.iter().find(|g| g.display_name == "Ops").unwrap();
        assert_eq!(ops.members, ["jane@x.com", "ann@x.com"]);
        assert!(d.managed.contains(&Attr::Title) && !d.managed.contains(&Attr::DisplayName));
    }

    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn ext(path: &str) -> ExtAttr {
        ExtAttr::parse(path).unwrap()
    }

    #[test]
    fn extension_paths_split_at_the_last_colon_and_compare_without_case() {
        let a = ext(&format!("{ENTERPRISE}:employeeNumber"));
        assert_eq!((a.urn(), a.name()), (ENTERPRISE, "employeeNumber"));
        assert_eq!(a, ext(&format!("{}:EMPLOYEENUMBER", ENTERPRISE.to_uppercase())));
        assert!(ext(&format!("{ACME}:costCenter")) < a, "ordered by the folded path");
        let bad = |p: &str| ExtAttr::parse(p).unwrap_err();
        assert!(bad("urn:x:y:cost center").contains("not an attribute name"));
        assert!(bad("urn:x:y:1st").contains("not an attribute name"));
        assert!(bad("urn:title").contains("not a schema URN"));
        assert!(bad(&format!("{USER_SCHEMA}:title")).contains("core attribute"));
        let m: FieldMap = format!(" Dept = {ACME}:department").parse().unwrap();
        assert_eq!((m.field.as_str(), m.to.name()), ("dept", "department"));
        assert!("dept".parse::<FieldMap>().is_err());
        assert!(format!("={ACME}:x").parse::<FieldMap>().is_err());
    }

    #[test]
    fn csv_urn_columns_and_mapped_columns_are_managed_extension_attributes() {
        let text = format!(
            "userName,{ACME}:costCenter,{}:employeeNumber,Dept,title\n\
             a@x,CC-1,42,Ops,\n\
             b@x, ,,,\n",
            ENTERPRISE.to_uppercase()
        );
        let maps = [
            format!("dept={ACME}:department").parse().unwrap(),
            format!("nothere={ACME}:x").parse().unwrap(),
        ];
        let d = parse_csv("u.csv", &text, &maps).unwrap();
        let a = &d.users[0].attrs;
        assert_eq!(
            a.ext.get(&ext(&format!("{ACME}:costCenter"))),
            Some(&Value::from("CC-1"))
        );
        assert_eq!(
            a.ext.get(&ext(&format!("{ENTERPRISE}:employeeNumber"))),
            Some(&Value::from("42")),
            "a CSV value is a string; the server reads it as the declared type"
        );
        assert_eq!(
            a.ext.get(&ext(&format!("{ACME}:department"))),
            Some(&Value::from("Ops"))
        );
        assert!(d.users[1].attrs.ext.is_empty(), "blank cells are no value");
        for p in ["costCenter", "department"] {
            assert!(d.managed.contains(&Attr::Ext(ext(&format!("{ACME}:{p}")))), "{p}");
        }
        assert!(
            d.managed
                .contains(&Attr::Ext(ext(&format!("{ENTERPRISE}:employeeNumber"))))
        );
        assert!(!d.managed.contains(&Attr::Ext(ext(&format!("{ACME}:x")))));
        let warned: Vec<String> = d.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warned, ["u.csv:1: --map nothere: no such column"]);
    }

    #[test]
    fn a_bad_urn_column_is_refused_by_name() {
        for (column, why) in [
            ("urn:x:y:cost center", "not an attribute name"),
            ("urn:costCenter", "not a schema URN"),
            ("urn:ietf:params:scim:schemas:core:2.0:User:title", "core attribute"),
        ] {
            let err = parse_csv("u.csv", &format!("userName,{column}\na@x,1\n"), &[]).unwrap_err();
            assert!(err.starts_with(&format!("u.csv:1: column '{column}': ")), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn json_extension_objects_and_urn_keys_keep_their_types() {
        let text = format!(
            r#"{{"Users": [
  {{"schemas": ["{USER_SCHEMA}", "{ACME}"], "userName": "a@x",
    "{ACME}": {{"costCenter": " CC-1 ", "level": 3, "remote": true,
               "sites": [{{"value": "x"}}]}},
    "{ENTERPRISE}:employeeNumber": "E-7"}},
  {{"userName": "b@x", "{ACME}": {{"costCenter": null, "sites": {{"value": "y"}}}},
    "urn:x:y:1bad": "v"}}
]}}"#
        );
        let d = parse_json("d.json", &text).unwrap();
        let a = &d.users[0].attrs;
        let got: Vec<(&str, &Value)> = a.ext.iter().map(|(k, v)| (k.name(), v)).collect();
        assert_eq!(
            got,
            [
                ("costCenter", &json!("CC-1")),
                ("level", &json!(3)),
                ("remote", &json!(true)),
                ("employeeNumber", &json!("E-7"))
            ]
        );
        assert!(d.users[1].attrs.ext.is_empty());
        let managed: Vec<&str> = d
            .managed
            .iter()
            .map(Attr::path)
            .filter(|p| p.starts_with("urn:"))
            .collect();
        assert_eq!(
            managed,
            [
                format!("{ACME}:costCenter"),
                format!("{ACME}:level"),
                format!("{ACME}:remote"),
                format!("{ENTERPRISE}:employeeNumber")
            ]
        );
        let warned: Vec<String> = d.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warned.len(), 2, "one warning per attribute, not per user: {warned:?}");
        assert!(
            warned[0].starts_with(&format!("d.json:2: {ACME}:sites: holds an object or array")),
            "{warned:?}"
        );
        assert!(
            warned[1].starts_with("d.json:6: urn:x:y:1bad: '1bad' is not"),
            "{warned:?}"
        );
        assert_eq!(
            [json!(3), json!(true), json!("x"), json!(2.5)].map(|v| as_text(&v)),
            ["3", "true", "x", "2.5"]
        );
    }

    #[test]
    fn a_csv_without_a_user_name_column_is_refused() {
        assert!(parse_csv("u.csv", "email\na@x\n", &[]).unwrap_err().contains("u.csv:1"));
    }

    #[test]
    fn json_users_and_groups_resolve_members_by_id_external_id_or_user_name() {
        let text = r#"{
  "Users": [
    {"id": "u1", "userName": "jane@x.com", "name": {"givenName": "Jane"},
     "emails": [{"value": "j2@x.com"}, {"value": "jane@x.com", "primary": true}]},
    {"userName": "bob@x.com", "externalId": "E2", "active": "False"},
    {"userName": "", "title": "nobody"}
  ],
  "Groups": [
    {"displayName": "Ops", "members": [{"value": "u1"}, {"value": "E2"}, "carl@x.com"]},
    {"members": []}
  ]
}"#;
        let d = parse_json("d.json", text).unwrap();
        assert_eq!(d.users.len(), 2);
        assert_eq!(d.users[0].attrs.email.as_deref(), Some("jane@x.com"));
        assert!(!d.users[1].attrs.active);
        assert_eq!(d.groups[0].members, ["jane@x.com", "bob@x.com", "carl@x.com"]);
        let at: Vec<String> = d.problems.iter().map(|p| p.origin.to_string()).collect();
        assert_eq!(at, ["d.json:6", "d.json:10"]);
        assert!(d.managed.contains(&Attr::ExternalId));
    }

    #[test]
    fn a_list_response_sorts_users_from_groups_by_schema() {
        let text = r#"{"Resources": [
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "members": [{"display": "a@x"}]},
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@x"}]}"#;
        let d = parse_json("l.json", text).unwrap();
        assert_eq!((d.users.len(), d.groups.len()), (1, 1));
        assert!(
            parse_json("bad.json", "{\n\"x\": ")
                .unwrap_err()
                .starts_with("bad.json:2")
        );
    }
}
