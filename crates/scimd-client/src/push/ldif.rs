//! LDIF content records (RFC 2849) into a [`Directory`]: folded lines, comments, base64
//! (`::`) values, attribute options; `inetOrgPerson` entries become users and
//! `groupOfNames` / `groupOfUniqueNames` entries groups (members by DN, RFC 4519 §2.17, §2.40).
//! Other attributes become extension attributes only through `--map` ([`FieldMap`]).

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::source::{Attr, Builder, Directory, FieldMap, Origin, Problem, SourceUser, UserAttrs, blank_to_none};

/// One entry: its DN, the line it starts on, and its attributes (names lower-cased, options
/// such as `;lang-en` dropped) in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub line: usize,
    pub attrs: Vec<(String, String)>,
}

impl Entry {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is(&self, class: &str) -> bool {
        self.all("objectclass").any(|c| c.eq_ignore_ascii_case(class))
    }
}

/// Unfold lines (a line starting with one space continues the one before), drop comments,
/// and split into records at blank lines: `(line number, logical line)` per record.
fn logical_records(text: &str) -> Vec<Vec<(usize, String)>> {
    let mut records = Vec::new();
    let mut cur: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            if !in_comment {
                if let Some((_, last)) = cur.last_mut() {
                    last.push_str(rest);
                }
            }
            continue;
        }
        in_comment = line.starts_with('#');
        if in_comment {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.is_empty() {
                records.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push((i + 1, line.to_owned()));
    }
    if !cur.is_empty() {
        records.push(cur);
    }
    records
}

/// `name: value`, `name:: base64` or `name:< url` (refused).
fn attr_value(line: &str) -> Result<(String, String), String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| format!("'{line}' is not 'attribute: value'"))?;
    let name = name.split(';').next().unwrap_or(name).trim().to_ascii_lowercase();
    if let Some(b64) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("{name}: bad base64: {e}"))?;
        let v = String::from_utf8(bytes).map_err(|_| format!("{name}: the base64 value is not UTF-8 text"))?;
        Ok((name, v))
    } else if rest.starts_with('<') {
        Err(format!("{name}: URL values (':<') are not supported"))
    } else {
        Ok((name, rest.trim_start_matches(' ').to_owned()))
    }
}

/// The entries of an LDIF file, and the records that could not be read.
pub fn entries(file: &str, text: &str) -> (Vec<Entry>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for record in logical_records(text) {
        let first_line = record.first().map(|(l, _)| *l).unwrap_or(0);
        let origin = Origin {
            file: file.into(),
            line: first_line,
        };
        let mut attrs = Vec::new();
        let mut err = None;
        for (line, l) in &record {
            match attr_value(l) {
                Ok(kv) => attrs.push(kv),
                Err(e) => {
                    err = Some(Problem {
                        origin: Origin {
                            file: file.into(),
                            line: *line,
                        },
                        message: e,
                    });
                    break;
                }
            }
        }
        if let Some(p) = err {
            problems.push(p);
            continue;
        }
        if attrs.len() == 1 && attrs[0].0 == "version" {
            continue;
        }
        let Some(("dn", dn)) = attrs.first().map(|(n, v)| (n.as_str(), v.clone())) else {
            problems.push(Problem {
                origin,
                message: "a record that does not start with dn:".into(),
            });
            continue;
        };
        attrs.remove(0);
        match attrs.iter().find(|(n, _)| n == "changetype").map(|(_, v)| v.as_str()) {
            None | Some("add") => {}
            Some(other) => {
                problems.push(Problem {
                    origin,
                    message: format!("changetype '{other}' is not content; only entries are pushed"),
                });
                continue;
            }
        }
        attrs.retain(|(n, _)| n != "changetype");
        out.push(Entry {
            dn,
            line: first_line,
            attrs,
        });
    }
    (out, problems)
}

/// A DN compared loosely: case and spaces around `,` `=` `+` do not matter.
pub fn dn_key(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|p| p.trim().to_lowercase())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `uniqueMember` values may carry an optional `#'0101'B` unique identifier.
fn strip_uid(v: &str) -> &str {
    match v.rfind("#'") {
        Some(i) if v.ends_with("'B") => &v[..i],
        _ => v,
    }
}

/// The users and groups of an LDIF file; `maps` read more attributes of people as extension
/// attributes (the first value of a multi-valued one).
pub fn parse(file: &str, text: &str, maps: &[FieldMap]) -> Result<Directory, String> {
    let (entries, problems) = entries(file, text);
    let mut b = Builder::default();
    b.dir.problems = problems;
    let mut by_dn: HashMap<String, String> = HashMap::new();
    let mut group_dns: HashMap<String, String> = HashMap::new();
    for e in &entries {
        let origin = Origin {
            file: file.into(),
            line: e.line,
        };
        let person = ["inetOrgPerson", "organizationalPerson", "person"]
            .iter()
            .any(|c| e.is(c));
        if person {
            let locked = e.get("nsaccountlock").is_some_and(|v| v.eq_ignore_ascii_case("true"))
                || e.get("pwdaccountlockedtime").is_some();
            let user_name = e.get("uid").or_else(|| e.get("mail")).unwrap_or_default();
            let u = SourceUser {
                attrs: UserAttrs {
                    user_name: user_name.trim().to_owned(),
                    external_id: e.get("entryuuid").and_then(blank_to_none),
                    given_name: e.get("givenname").and_then(blank_to_none),
                    family_name: e.get("sn").and_then(blank_to_none),
                    display_name: e.get("displayname").or_else(|| e.get("cn")).and_then(blank_to_none),
                    email: e.get("mail").and_then(blank_to_none),
                    title: e.get("title").and_then(blank_to_none),
                    active: !locked,
                    ext: maps
                        .iter()
                        .filter_map(|m| Some((m.to.clone(), Value::String(e.get(&m.field).and_then(blank_to_none)?))))
                        .collect(),
                },
                origin,
            };
            let name = u.attrs.user_name.clone();
            if b.user(u) {
                by_dn.insert(dn_key(&e.dn), name);
            }
        } else if e.is("groupOfNames") || e.is("groupOfUniqueNames") {
            if let Some(cn) = e.get("cn").and_then(blank_to_none) {
                group_dns.insert(dn_key(&e.dn), cn);
            }
        }
    }
    for e in &entries {
        let Some(cn) = group_dns.get(&dn_key(&e.dn)) else {
            continue;
        };
        let origin = Origin {
            file: file.into(),
            line: e.line,
        };
        if b.has_group(cn) {
            b.problem(origin, format!("group '{cn}' given twice"));
            continue;
        }
        let mut members = Vec::new();
        for m in e.all("member").chain(e.all("uniquemember")).map(strip_uid) {
            if m.trim().is_empty() {
                continue;
            }
            match by_dn.get(&dn_key(m)) {
                Some(user) => members.push(user.clone()),
                None => {
                    let what = if group_dns.contains_key(&dn_key(m)) {
                        "is a nested group, not pushed"
                    } else {
                        "is not a user of this file"
                    };
                    b.dir.warnings.push(Problem {
                        origin: origin.clone(),
                        message: format!("member '{m}' of '{cn}' {what}"),
                    });
                }
            }
        }
        let g = b.group(cn, &origin);
        g.external_id = e.get("entryuuid").and_then(blank_to_none);
        g.members = members;
    }
    let mut dir = b.finish();
    dir.managed.extend(Attr::PROFILE);
    // Mapped attributes are stated like the profile ones: an entry without one clears it.
    // That no entry at all has it is more likely a misspelt --map: say so before it clears.
    for m in maps {
        dir.managed.insert(Attr::Ext(m.to.clone()));
        if !dir.users.iter().any(|u| u.attrs.ext.contains_key(&m.to)) {
            dir.warnings.push(Problem {
                origin: Origin {
                    file: file.into(),
                    line: 0,
                },
                message: format!(
                    "--map {}: no user entry has this attribute, so every user's {} is removed",
                    m.field,
                    m.to.path()
                ),
            });
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LDIF: &str = "version: 1\n\
# a comment that\n  continues\n\
\n\
dn: uid=jane,ou=people,dc=example,dc=com\n\
objectClass: top\n\
objectClass: inetOrgPerson\n\
uid: jane\n\
cn: Jane Doe\n\
sn: Doe\n\
givenName: Jane\n\
mail: jane@exa\n mple.com\n\
title;lang-en:: 4pyTIENoaWVm\n\
\n\
dn: uid=bob, ou=People, dc=example, dc=com\n\
objectClass: inetOrgPerson\n\
uid: bob\n\
sn: B\n\
nsAccountLock: TRUE\n\
\n\
dn: cn=ops,ou=groups,dc=example,dc=com\n\
objectClass: groupOfUniqueNames\n\
cn: Ops\n\
uniqueMember: uid=jane,ou=people,dc=example,dc=com#'0101'B\n\
uniqueMember: UID=bob,ou=people,dc=example,dc=com\n\
uniqueMember: cn=eng,ou=groups,dc=example,dc=com\n\
\n\
dn: cn=eng,ou=groups,dc=example,dc=com\n\
objectClass: groupOfNames\n\
cn: Eng\n\
member: uid=ghost,dc=example,dc=com\n\
\n\
dn: uid=x,dc=example,dc=com\n\
changetype: delete\n\
\n\
objectClass: person\n\
bad line\n";

    #[test]
    fn ldif_folds_decodes_and_maps_people_and_groups() {
        let d = parse("d.ldif", LDIF, &[]).unwrap();
        assert_eq!(d.users.len(), 2);
        let jane = &d.users[0];
        assert_eq!(jane.attrs.user_name, "jane");
        assert_eq!(jane.attrs.email.as_deref(), Some("jane@example.com"));
        assert_eq!(jane.attrs.title.as_deref(), Some("✓ Chief"));
        assert_eq!(jane.attrs.display_name.as_deref(), Some("Jane Doe"));
        assert_eq!(jane.origin.line, 5);
        assert!(!d.users[1].attrs.active);
        assert_eq!(d.groups[0].display_name, "Ops");
        assert_eq!(d.groups[0].members, ["jane", "bob"]);
        assert!(d.groups[1].members.is_empty());
        assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
        let at: Vec<String> = d.problems.iter().map(|p| p.to_string()).collect();
        assert!(at[0].starts_with("d.ldif:34: changetype 'delete'"), "{at:?}");
        assert!(at[1].starts_with("d.ldif:38:"), "{at:?}");
    }

    #[test]
    fn mapped_ldap_attributes_become_extension_attributes() {
        let ldif = "dn: uid=jane,dc=x\n\
objectClass: inetOrgPerson\n\
uid: jane\n\
departmentNumber: 42\n\
departmentNumber: 43\n\
costCenter;x-hr: CC-1\n\
\n\
dn: uid=bob,dc=x\n\
objectClass: inetOrgPerson\n\
uid: bob\n";
        const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let maps: Vec<FieldMap> = [
            format!("DepartmentNumber={ENTERPRISE}:department"),
            format!("CostCenter={ACME}:costCenter"),
            format!("costCentre={ACME}:misspelt"),
        ]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
        let d = parse("m.ldif", ldif, &maps).unwrap();
        let jane: Vec<(&str, &str)> = d.users[0]
            .attrs
            .ext
            .iter()
            .map(|(k, v)| (k.path(), v.as_str().unwrap_or_default()))
            .collect();
        assert_eq!(
            jane,
            [
                (format!("{ACME}:costCenter").as_str(), "CC-1"),
                (format!("{ENTERPRISE}:department").as_str(), "42")
            ]
        );
        assert!(d.users[1].attrs.ext.is_empty());
        assert!(maps.iter().all(|m| d.managed.contains(&Attr::Ext(m.to.clone()))));
        let warned: Vec<String> = d.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("--map costcentre: no user entry"), "{warned:?}");
    }

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(dn_key("UID=a , OU=People,dc=x"), "uid=a,ou=people,dc=x");
        assert_eq!(strip_uid("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
    }
}
