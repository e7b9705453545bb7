//! Sources for `scimd push`, read into one neutral [`Directory`]: CSV (RFC 4180, a header
//! row naming the columns), JSON (SCIM-shaped users and groups, RFC 7643 §4) and LDIF
//! (RFC 2849, in the `ldif` module). A bad row becomes a [`Problem`] with its file and line;
//! the row is left out and the caller decides whether that is fatal (`--strict`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde_json::Value;

/// The user attributes a push manages besides `userName` and `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attr {
    UserName,
    ExternalId,
    GivenName,
    FamilyName,
    DisplayName,
    Email,
    Title,
    Active,
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

    /// The SCIM attribute path (RFC 7644 §3.10).
    pub fn path(self) -> &'static str {
        match self {
            Attr::UserName => "userName",
            Attr::ExternalId => "externalId",
            Attr::GivenName => "name.givenName",
            Attr::FamilyName => "name.familyName",
            Attr::DisplayName => "displayName",
            Attr::Email => "emails",
            Attr::Title => "title",
            Attr::Active => "active",
        }
    }
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
        }
    }

    /// The value of `attr` (`active` as "true"/"false").
    pub fn value(&self, attr: Attr) -> Option<String> {
        match attr {
            Attr::UserName => Some(self.user_name.clone()),
            Attr::ExternalId => self.external_id.clone(),
            Attr::GivenName => self.given_name.clone(),
            Attr::FamilyName => self.family_name.clone(),
            Attr::DisplayName => self.display_name.clone(),
            Attr::Email => self.email.clone(),
            Attr::Title => self.title.clone(),
            Attr::Active => Some(self.active.to_string()),
        }
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Attr(Attr),
    Groups,
}

fn column(name: &str) -> Option<Col> {
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .collect::<String>()
        .to_lowercase();
    Some(match n.as_str() {
        "username" | "login" => Col::Attr(Attr::UserName),
        "externalid" => Col::Attr(Attr::ExternalId),
        "givenname" | "firstname" | "namegivenname" => Col::Attr(Attr::GivenName),
        "familyname" | "lastname" | "surname" | "namefamilyname" => Col::Attr(Attr::FamilyName),
        "displayname" => Col::Attr(Attr::DisplayName),
        "email" | "mail" | "emails" => Col::Attr(Attr::Email),
        "title" => Col::Attr(Attr::Title),
        "active" => Col::Attr(Attr::Active),
        "groups" => Col::Groups,
        _ => return None,
    })
}

/// CSV with a header row; see docs/push.md for the columns. `groups` lists group names
/// separated by `;`.
pub fn parse_csv(file: &str, text: &str) -> Result<Directory, String> {
    let records = csv_records(text).map_err(|(line, e)| format!("{file}:{line}: {e}"))?;
    let mut rows = records.into_iter();
    let (_, header) = rows
        .next()
        .ok_or_else(|| format!("{file}: empty file, no header row"))?;
    let cols: Vec<Option<Col>> = header.iter().map(|h| column(h)).collect();
    if !cols.contains(&Some(Col::Attr(Attr::UserName))) {
        return Err(format!("{file}:1: the header has no userName column"));
    }
    let mut b = Builder::default();
    for (i, c) in cols.iter().enumerate() {
        match c {
            Some(Col::Attr(a)) if !matches!(a, Attr::ExternalId) => {
                b.dir.managed.insert(*a);
            }
            None => b.dir.warnings.push(Problem {
                origin: Origin {
                    file: file.into(),
                    line: 1,
                },
                message: format!("unknown column '{}' ignored", header[i]),
            }),
            _ => {}
        }
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
    Ok(dir)
}

#[cfg(test)]
mod tests {
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
        let d = parse_csv("u.csv", text).unwrap();
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

    #[test]
    fn a_csv_without_a_user_name_column_is_refused() {
        assert!(parse_csv("u.csv", "email\na@x\n").unwrap_err().contains("u.csv:1"));
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
