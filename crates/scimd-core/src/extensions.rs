//! Extension schemas a provider declares (RFC 7643 §3.3, §7): declaring one checks the
//! values its provider already stored under its URN and fills the index of its indexed
//! attributes; removing one is refused while resources hold values for it, unless forced
//! (then the values go, each resource's change audited). What a provider sent that no schema
//! declares is advertised as a discovered schema until one is declared.

use std::collections::BTreeMap;
use std::sync::Arc;

use scim_proto::schema::{AttrType, Extension, ResourceKind, ResourceSchemas, Schema, Uniqueness};
use scim_proto::value::normalize_stored;
use serde_json::Value;

use crate::audit::Actor;
use crate::error::CoreError;
use crate::provider::{ExtensionDecl, Provider, parse_resource_type};
use crate::resource::{Change, Discovered, ResourceKey, ResourceRecord, index_entries, indexed_attributes};
use crate::service::Core;

/// Resources read per page when a declaration checks, indexes or removes values.
const PAGE: u32 = 500;
/// Offending resources named at most in a refusal.
const NAMED: usize = 20;

/// A declaration as an administrator gives it (the CLI's flags, the admin API's body, the
/// console's form).
#[derive(Debug, Clone)]
pub struct ExtensionInput {
    /// The RFC 7643 §7 schema.
    pub schema: Value,
    /// `User` (the default) or `Group`.
    pub resource_type: Option<String>,
    pub required: bool,
    /// String attributes to index for fast equality lookups.
    pub index: Vec<String>,
    /// Drop stored values that do not fit the declared types instead of refusing.
    pub force: bool,
}

/// What a declaration found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclareReport {
    /// Resources holding values under the schema's URN.
    pub checked: u64,
    /// Resources whose unfitting values were dropped (`force`).
    pub cleaned: Vec<String>,
    /// Index rows written.
    pub indexed: u64,
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Invalid(msg.into())
}

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

/// The index list checked against the schema: every name a string attribute of it.
fn check_index(schema: &Schema, index: &[String]) -> Result<Vec<String>, CoreError> {
    let mut out = Vec::new();
    for name in index.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let name = name.rsplit(':').next().unwrap_or(name);
        let attr = schema.attribute(name).ok_or_else(|| {
            invalid(format!(
                "--index {name}: the schema '{}' declares no such attribute",
                schema.id
            ))
        })?;
        if attr.ty != AttrType::String {
            return Err(invalid(format!(
                "--index {name}: only string attributes can be indexed ('{name}' is {})",
                attr.ty.as_str()
            )));
        }
        if !out.contains(&attr.name) {
            out.push(attr.name.clone());
        }
    }
    Ok(out)
}

impl Core {
    /// Declare an extension schema for one of a provider's resource types.
    pub async fn declare_extension(
        &self,
        provider_id: &str,
        input: ExtensionInput,
        actor: &Actor,
    ) -> Result<(Provider, DeclareReport), CoreError> {
        let mut p = self.provider(provider_id).await?;
        let schema = Schema::parse_extension(&input.schema).map_err(invalid)?;
        let kind = parse_resource_type(input.resource_type.as_deref().unwrap_or("User")).map_err(invalid)?;
        if schema.id.eq_ignore_ascii_case(crate::lifecycle::ACCESS_SCHEMA) {
            return Err(invalid(format!(
                "'{}' is scimd's own access extension (--access-ttl): an extension needs a URN of its own",
                schema.id
            )));
        }
        if p.settings
            .extensions
            .iter()
            .any(|e| e.schema.id.eq_ignore_ascii_case(&schema.id))
        {
            return Err(CoreError::Conflict(format!(
                "'{provider_id}' already declares '{}': remove it first to change it",
                schema.id
            )));
        }
        let index = check_index(&schema, &input.index)?;
        let decl = ExtensionDecl {
            resource_type: kind,
            schema: Arc::new(schema),
            required: input.required,
            index,
        };
        // The schemas as they will be, to check and index what is stored under the URN.
        let mut next = p.clone();
        next.settings.extensions.push(decl.clone());
        let schemas = next.schemas(kind);
        let report = self.check_stored(&p, &schemas, &decl, input.force, actor).await?;
        let started = self.now();
        let mut indexed = self.fill_index(&p, &schemas, &decl, None).await?;
        p.settings.extensions.push(decl.clone());
        p.modified = self.now();
        let event = self
            .provider_event(actor, "provider.schema.declare", &p)
            .attributes(vec![decl.schema.id.clone()]);
        self.store().update_provider(&p, &event).await?;
        // Resources changed while the index was filled were written with the old schemas:
        // index them again, now that every new write indexes itself.
        indexed += self.fill_index(&p, &schemas, &decl, Some(started)).await?;
        self.store().forget_discovered(&p.id, kind, &decl.schema.id).await?;
        self.tokens.clear();
        Ok((p, DeclareReport { indexed, ..report }))
    }

    /// Check the values stored under the extension's URN against its types and rules:
    /// unfitting values fail the declaration with the resources named, or with `force` are
    /// dropped (each resource's change audited).
    async fn check_stored(
        &self,
        p: &Provider,
        schemas: &ResourceSchemas,
        decl: &ExtensionDecl,
        force: bool,
        actor: &Actor,
    ) -> Result<DeclareReport, CoreError> {
        let urn = &decl.schema.id;
        let mut report = DeclareReport::default();
        let mut bad: Vec<(String, String)> = Vec::new();
        let mut unique: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = self
                .store()
                .resources_holding(&p.id, decl.resource_type, urn, after, PAGE)
                .await?;
            for rec in &page {
                report.checked += 1;
                if let Err(e) = normalize_stored(schemas, &rec.data) {
                    bad.push((rec.id.clone(), e.detail));
                    continue;
                }
                for e in index_entries(schemas, &rec.data).into_iter().filter(|e| e.unique) {
                    if let Some(other) = unique.insert((e.attr.clone(), e.value.clone()), rec.id.clone()) {
                        bad.push((
                            rec.id.clone(),
                            format!("'{}' {:?} is also the value of {other}", e.attr, e.value),
                        ));
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.seq,
                _ => break,
            }
        }
        if decl.required {
            let total = self
                .store()
                .list_resources(
                    &p.id,
                    decl.resource_type,
                    crate::resource::ListQuery::new(
                        decl.resource_type.builtin().clone(),
                        crate::resource::ListRequest {
                            filter: None,
                            sort: None,
                            start: crate::resource::PageStart::Index(1),
                            count: 0,
                        },
                    ),
                )
                .await?
                .total;
            if total > report.checked {
                return Err(invalid(format!(
                    "{} {}s of '{}' carry no '{urn}': declare it not required, or give them its values first",
                    total - report.checked,
                    noun(decl.resource_type),
                    p.id
                )));
            }
        }
        if bad.is_empty() {
            return Ok(report);
        }
        if !force {
            let named: Vec<String> = bad.iter().take(NAMED).map(|(id, why)| format!("{id}: {why}")).collect();
            return Err(invalid(format!(
                "{} stored {}{} do not fit '{urn}' ({}{}); fix them, or declare it with force (CLI --force, API ?force=true) to drop the values that do not fit",
                bad.len(),
                noun(decl.resource_type),
                if bad.len() == 1 { "" } else { "s" },
                named.join("; "),
                if bad.len() > NAMED { "; ..." } else { "" }
            )));
        }
        for (id, _) in &bad {
            self.drop_extension_values(p, schemas, decl, id, actor).await?;
            report.cleaned.push(id.clone());
        }
        Ok(report)
    }

    /// Keep of a resource's values under the extension only those that fit the schema.
    async fn drop_extension_values(
        &self,
        p: &Provider,
        schemas: &ResourceSchemas,
        decl: &ExtensionDecl,
        id: &str,
        actor: &Actor,
    ) -> Result<(), CoreError> {
        let urn = decl.schema.id.clone();
        let schemas = schemas.clone();
        let kind = decl.resource_type;
        self.edit_document(p, kind, id, "extension.drop", actor, move |old| {
            let mut data = old.data.clone();
            let mut dropped = Vec::new();
            if let Some(ext) = data.get_mut(&urn).and_then(Value::as_object_mut) {
                let names: Vec<String> = ext.keys().cloned().collect();
                for name in names {
                    let mut one = old.data.clone();
                    if let Some(o) = one.get_mut(&urn).and_then(Value::as_object_mut) {
                        o.retain(|k, _| *k == name);
                    }
                    if normalize_stored(&schemas, &one).is_err() {
                        ext.remove(&name);
                        dropped.push(format!("{urn}:{name}"));
                    }
                }
            }
            (data, dropped)
        })
        .await
    }

    /// An administrator's edit of one resource's document (the index and memberships stay
    /// as they are), audited as `{user|group}.{verb}` with the attribute names it returns.
    async fn edit_document(
        &self,
        p: &Provider,
        kind: ResourceKind,
        id: &str,
        verb: &str,
        actor: &Actor,
        edit: impl FnOnce(&ResourceRecord) -> (Value, Vec<String>) + Send + 'static,
    ) -> Result<(), CoreError> {
        let update = Box::new(move |old: &ResourceRecord| {
            let (data, attributes) = edit(old);
            Ok(Change {
                index: Vec::new(),
                indexed: Vec::new(),
                kept: Vec::new(),
                data,
                members: Vec::new(),
                attributes,
                guard: None,
            })
        });
        let event = self.resource_event_by(actor, p, kind, verb, id);
        self.store()
            .update_resource(ResourceKey::new(&p.id, kind, id), None, self.now(), update, event)
            .await?;
        self.announce();
        Ok(())
    }

    /// Write the index rows of the extension's indexed attributes for the resources holding
    /// it (only those changed since `since`, when given); how many rows.
    async fn fill_index(
        &self,
        p: &Provider,
        schemas: &ResourceSchemas,
        decl: &ExtensionDecl,
        since: Option<crate::clock::Timestamp>,
    ) -> Result<u64, CoreError> {
        let only = ResourceSchemas::new(
            decl.resource_type,
            vec![Extension {
                schema: Arc::clone(&decl.schema),
                required: false,
                indexed: decl.index.clone(),
            }],
        );
        let attrs = indexed_attributes(&only);
        if attrs.is_empty() {
            return Ok(0);
        }
        let (mut after, mut rows) = (0, 0u64);
        loop {
            let page = self
                .store()
                .resources_holding(&p.id, decl.resource_type, &decl.schema.id, after, PAGE)
                .await?;
            for rec in page.iter().filter(|r| since.is_none_or(|t| r.modified >= t)) {
                let entries: Vec<_> = index_entries(schemas, &rec.data)
                    .into_iter()
                    .filter(|e| attrs.contains(&e.attr))
                    .collect();
                rows += entries.len() as u64;
                self.store()
                    .reindex(&p.id, decl.resource_type, rec.seq, attrs.clone(), entries)
                    .await?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.seq,
                _ => return Ok(rows),
            }
        }
    }

    /// Remove a declared extension. Refused while resources hold values for it, unless
    /// `force`: then the values go first, each resource's change audited. Returns how many
    /// resources lost values.
    pub async fn remove_extension(
        &self,
        provider_id: &str,
        urn: &str,
        force: bool,
        actor: &Actor,
    ) -> Result<u64, CoreError> {
        let mut p = self.provider(provider_id).await?;
        let Some(at) = p
            .settings
            .extensions
            .iter()
            .position(|e| e.schema.id.eq_ignore_ascii_case(urn))
        else {
            return Err(CoreError::NotFound(format!(
                "extension '{urn}' of provider '{provider_id}'"
            )));
        };
        let decl = p.settings.extensions[at].clone();
        let kind = decl.resource_type;
        let holding = self.holding(&p, &decl).await?;
        if !holding.is_empty() && !force {
            return Err(CoreError::Conflict(format!(
                "{} {}{} of '{provider_id}' hold values for '{}': remove it with force (CLI --force, API ?force=true) to delete those values too",
                holding.len(),
                noun(kind),
                if holding.len() == 1 { "" } else { "s" },
                decl.schema.id
            )));
        }
        for id in &holding {
            let urn = decl.schema.id.clone();
            self.edit_document(&p, kind, id, "extension.remove", actor, move |old| {
                let mut data = old.data.clone();
                if let Some(o) = data.as_object_mut() {
                    o.shift_remove(&urn);
                    if let Some(Value::Array(list)) = o.get_mut("schemas") {
                        list.retain(|u| u.as_str() != Some(urn.as_str()));
                    }
                }
                (data, vec![urn])
            })
            .await?;
        }
        let only = ResourceSchemas::new(
            kind,
            vec![Extension {
                schema: Arc::clone(&decl.schema),
                required: false,
                indexed: decl.index.clone(),
            }],
        );
        p.settings.extensions.remove(at);
        p.modified = self.now();
        let event = self
            .provider_event(actor, "provider.schema.remove", &p)
            .attributes(vec![decl.schema.id.clone()]);
        self.store().update_provider(&p, &event).await?;
        self.store().clear_index(&p.id, kind, indexed_attributes(&only)).await?;
        self.tokens.clear();
        Ok(holding.len() as u64)
    }

    /// Ids of the provider's resources holding values under the extension's URN.
    async fn holding(&self, p: &Provider, decl: &ExtensionDecl) -> Result<Vec<String>, CoreError> {
        let (mut out, mut after) = (Vec::new(), 0);
        loop {
            let page = self
                .store()
                .resources_holding(&p.id, decl.resource_type, &decl.schema.id, after, PAGE)
                .await?;
            out.extend(page.iter().map(|r| r.id.clone()));
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.seq,
                _ => return Ok(out),
            }
        }
    }

    /// What the provider sent that no schema declares.
    pub async fn discovered(&self, provider: &Provider) -> Result<Vec<Discovered>, CoreError> {
        Ok(self.store().discovered(&provider.id).await?)
    }
}

/// `uniqueness: server` and `--index` attributes of a declaration, for people.
pub fn index_summary(decl: &ExtensionDecl) -> Vec<String> {
    decl.schema
        .attributes
        .iter()
        .filter(|a| a.uniqueness != Uniqueness::None || decl.index.iter().any(|n| n.eq_ignore_ascii_case(&a.name)))
        .map(|a| a.name.clone())
        .collect()
}

/// A discovered attribute as a schema attribute: its JSON type read as the nearest SCIM
/// type, readWrite, described as kept as sent.
fn discovered_attribute(d: &Discovered) -> scim_proto::schema::AttributeDef {
    let (ty, multi) = match d.json_type.as_str() {
        "boolean" => (AttrType::Boolean, false),
        "number" => (AttrType::Decimal, false),
        "object" => (AttrType::Complex, false),
        "array" => (AttrType::String, true),
        _ => (AttrType::String, false),
    };
    scim_proto::schema::AttributeDef {
        multi_valued: multi,
        ..scim_proto::schema::attribute(
            &d.name,
            ty,
            &format!(
                "Not declared: kept as sent (first seen {}). Declare it with `scimd provider schema add` to type, filter and index it.",
                d.first_seen.to_rfc3339()
            ),
        )
    }
}

impl Core {
    /// Every schema the provider's resources use, for `/Schemas`: the core schemas (with
    /// the top-level attributes kept as sent, described so), the enterprise extension, the
    /// declared extensions, and a discovered schema per extension URN sent but not declared.
    pub async fn provider_schemas(&self, p: &Provider) -> Result<Vec<Schema>, CoreError> {
        let discovered = self.discovered(p).await?;
        let mut out = Vec::new();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let mut core = kind.core_schema().clone();
            core.attributes.extend(
                discovered
                    .iter()
                    .filter(|d| d.kind == kind && d.uri.is_empty())
                    .map(discovered_attribute),
            );
            out.push(core);
        }
        out.push(scim_proto::schema::enterprise_user_schema().clone());
        for decl in &p.settings.extensions {
            if !out.iter().any(|s| s.id.eq_ignore_ascii_case(&decl.schema.id)) {
                out.push((*decl.schema).clone());
            }
        }
        // scimd's own access extension, for providers whose users' access ends.
        if p.settings.access_ttl_seconds.is_some() {
            out.push((*crate::lifecycle::access::access_schema()).clone());
        }
        // One discovered schema per URN sent but not declared (attributes in first-seen order).
        let mut by_uri: BTreeMap<&str, Vec<&Discovered>> = BTreeMap::new();
        for d in discovered.iter().filter(|d| !d.uri.is_empty()) {
            if !out.iter().any(|s| s.id.eq_ignore_ascii_case(&d.uri)) {
                by_uri.entry(&d.uri).or_default().push(d);
            }
        }
        for (uri, attrs) in by_uri {
            let kind = attrs.first().map_or(ResourceKind::User, |d| d.kind);
            out.push(Schema {
                id: uri.to_owned(),
                name: uri.rsplit(':').nth(2).unwrap_or("Discovered").to_owned(),
                description: format!(
                    "Discovered: sent by this provider for {}s but not declared, so kept as sent.",
                    noun(kind)
                ),
                attributes: attrs.into_iter().map(discovered_attribute).collect(),
            });
        }
        Ok(out)
    }
}
