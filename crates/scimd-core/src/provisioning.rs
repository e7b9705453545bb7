//! The resource service (RFC 7644 §3.3-3.6): create, read, replace, patch, delete and query
//! users and groups within one provider, with the schema rules of RFC 7643 applied before
//! anything reaches the store.

use scim_proto::error::{ScimError, ScimType};
use scim_proto::patch::{MemberOp, NewMember, apply_patch, parse_members, parse_patch, split_members};
use scim_proto::schema::{ResourceKind, ResourceSchemas};
use scim_proto::value::{
    Kept, changed_attributes, check_immutable, kept_attributes, normalize_resource, strip_never_returned,
};
use serde_json::Value;

use crate::audit::{Actor, AuditEvent};
use crate::crypto;
use crate::error::CoreError;
use crate::lifecycle::access::{names_access, strip_access};
use crate::lifecycle::{OnDelete, Removal};
use crate::provider::Provider;
use crate::resource::{
    Change, ListQuery, ListRequest, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn, index_entries,
    indexed_attributes,
};
use crate::service::Core;

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

fn not_found(kind: ResourceKind, id: &str) -> CoreError {
    CoreError::NotFound(format!("{} '{id}'", kind.name()))
}

/// Take a group's members out of its document: they live in their own table.
fn take_members(doc: &mut Value) -> Result<Option<Vec<NewMember>>, ScimError> {
    match doc.as_object_mut().and_then(|o| o.remove("members")) {
        None => Ok(None),
        Some(Value::Array(list)) => parse_members(Some(&Value::Array(list))).map(Some),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(_) => Err(ScimError::bad_request(ScimType::InvalidValue, "members must be a list")),
    }
}

/// Top-level attribute names whose values differ between two documents.
/// The undeclared attributes `new` holds that `old` did not: only those can be news to the
/// provider's discovered attributes, so an update does not rewrite what is already recorded.
fn newly_kept(schemas: &ResourceSchemas, old: &Value, new: &Value) -> Vec<Kept> {
    let before = kept_attributes(schemas, old);
    kept_attributes(schemas, new)
        .into_iter()
        .filter(|k| !before.iter().any(|b| b.uri == k.uri && b.name == k.name))
        .collect()
}

impl Core {
    fn resource_event(&self, provider: &Provider, kind: ResourceKind, verb: &str, id: &str) -> AuditEvent {
        self.resource_event_by(&Actor::Provider(provider.id.to_string()), provider, kind, verb, id)
    }

    /// The audit event of a change to one of `provider`'s resources, made by `actor`.
    pub(crate) fn resource_event_by(
        &self,
        actor: &Actor,
        provider: &Provider,
        kind: ResourceKind,
        verb: &str,
        id: &str,
    ) -> AuditEvent {
        AuditEvent::new(self.now(), actor, &format!("{}.{verb}", noun(kind)))
            .provider(provider.id.as_str())
            .resource(format!("{}/{id}", kind.name()))
            .population(provider.population)
    }

    pub async fn create_resource(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        body: &Value,
    ) -> Result<ResourceRecord, CoreError> {
        let schemas = provider.schemas(kind);
        let mut data = normalize_resource(&schemas, body)?;
        strip_never_returned(&schemas, &mut data);
        strip_access(&mut data);
        let members = match kind {
            ResourceKind::Group => take_members(&mut data)?.unwrap_or_default(),
            ResourceKind::User => Vec::new(),
        };
        let id = crypto::random_uuid();
        // Access ends a lifetime after creation, whatever the provider says later.
        let access_end = match (kind, provider.settings.access_ttl_seconds) {
            (ResourceKind::User, Some(ttl)) => Some(self.now().plus_seconds(ttl)),
            _ => None,
        };
        let mut attributes = changed_attributes(&schemas, &Value::Null, &data);
        if !members.is_empty() {
            attributes.push("members".into());
        }
        let event = self
            .resource_event(provider, kind, "create", &id)
            .attributes(attributes);
        let (index, kept) = (index_entries(&schemas, &data), kept_attributes(&schemas, &data));
        let new = NewResource {
            id,
            provider: provider.id.clone(),
            population: provider.population,
            kind,
            data,
            created: self.now(),
            members,
            index,
            kept,
            access_end,
        };
        let rec = self.store().create_resource(new, event).await?;
        self.announce();
        Ok(rec)
    }

    pub async fn get_resource(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        id: &str,
    ) -> Result<ResourceRecord, CoreError> {
        self.store()
            .resource(&provider.id, kind, id)
            .await?
            .ok_or_else(|| not_found(kind, id))
    }

    /// PUT (RFC 7644 §3.5.1): the body replaces the client's attributes; immutable ones may
    /// not change. A group's members are replaced when `members` is given and kept when it
    /// is absent, so a PUT that omits them never empties a group by accident.
    pub async fn replace_resource(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<ResourceRecord, CoreError> {
        let schemas = provider.schemas(kind);
        let mut data = normalize_resource(&schemas, body)?;
        strip_never_returned(&schemas, &mut data);
        strip_access(&mut data);
        let members = match kind {
            ResourceKind::Group => take_members(&mut data)?,
            ResourceKind::User => None,
        };
        let guard = Some(provider.settings.guard);
        if let Some(given) = body.get("id").and_then(Value::as_str)
            && given != id
        {
            return Err(ScimError::bad_request(
                ScimType::Mutability,
                "id is read-only and differs from the resource's",
            )
            .into());
        }
        let update = Box::new(move |old: &ResourceRecord| {
            check_immutable(&schemas, &old.data, &data)?;
            let mut attributes = changed_attributes(&schemas, &old.data, &data);
            let members = match members {
                Some(ids) => {
                    attributes.push("members".into());
                    vec![MemberOp::ReplaceAll(ids)]
                }
                None => Vec::new(),
            };
            Ok(Change {
                index: index_entries(&schemas, &data),
                indexed: indexed_attributes(&schemas),
                kept: newly_kept(&schemas, &old.data, &data),
                data,
                members,
                attributes,
                guard,
            })
        });
        self.update(provider, kind, id, if_match, "replace", update).await
    }

    /// PATCH (RFC 7644 §3.5.2), all or nothing. Group member operations become membership
    /// changes; the rest applies to the document.
    pub async fn patch_resource(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<ResourceRecord, CoreError> {
        let ops = parse_patch(body)?;
        let (doc_ops, member_ops) = match kind {
            ResourceKind::Group => split_members(ops)?,
            ResourceKind::User => (ops, Vec::new()),
        };
        let schemas = provider.schemas(kind);
        let guard = Some(provider.settings.guard);
        let update = Box::new(move |old: &ResourceRecord| {
            let mut data = old.data.clone();
            let mut attributes = if doc_ops.is_empty() {
                Vec::new()
            } else {
                apply_patch(&schemas, &mut data, &doc_ops)?
            };
            strip_never_returned(&schemas, &mut data);
            strip_access(&mut data);
            if !member_ops.is_empty() {
                attributes.push("members".into());
            }
            Ok(Change {
                index: index_entries(&schemas, &data),
                indexed: indexed_attributes(&schemas),
                kept: newly_kept(&schemas, &old.data, &data),
                data,
                members: member_ops,
                attributes,
                guard,
            })
        });
        self.update(provider, kind, id, if_match, "patch", update).await
    }

    /// Run `update` on the current record inside the store's transaction, with its event.
    async fn update(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        id: &str,
        if_match: Option<i64>,
        verb: &str,
        update: UpdateFn,
    ) -> Result<ResourceRecord, CoreError> {
        let event = self.resource_event(provider, kind, verb, id);
        let key = ResourceKey::new(&provider.id, kind, id);
        let updated = self
            .store()
            .update_resource(key, if_match, self.now(), update, event)
            .await;
        let rec = self.guarded(updated).await?;
        self.announce();
        Ok(rec)
    }

    /// DELETE (RFC 7644 §3.6): soft (kept for the provider's retention, restorable) or hard,
    /// as the provider is set; counted against its mass-deletion guard.
    pub async fn delete_resource(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), CoreError> {
        let event = self.resource_event(provider, kind, "delete", id);
        let settings = &provider.settings;
        let how = Removal {
            keep_until: (settings.on_delete == OnDelete::Soft)
                .then(|| self.now().plus_seconds(settings.retention_seconds)),
            guard: Some(settings.guard),
        };
        let deleted = self
            .store()
            .delete_resource(ResourceKey::new(&provider.id, kind, id), if_match, how, event)
            .await;
        self.guarded(deleted).await?;
        self.announce();
        Ok(())
    }

    /// A refusal that tripped the provider's mass-deletion guard is recorded (audited, once)
    /// before it is answered.
    async fn guarded<T>(&self, result: Result<T, CoreError>) -> Result<T, CoreError> {
        if let Err(CoreError::Guarded(refusal)) = &result
            && refusal.newly
        {
            let event = AuditEvent::new(
                refusal.tripped_at,
                &Actor::Provider(refusal.provider.clone()),
                "provider.guard.trip",
            )
            .provider(&refusal.provider)
            .resource(format!("Provider/{}", refusal.provider))
            .attributes(vec![refusal.kind.clone()]);
            if let Err(e) = self.store().trip_guard(refusal, &event).await {
                tracing::warn!(error = %e, provider = %refusal.provider, "cannot record the tripped guard");
            }
        }
        result
    }

    pub async fn list_resources(
        &self,
        provider: &Provider,
        kind: ResourceKind,
        request: ListRequest,
    ) -> Result<Page, CoreError> {
        let schemas = provider.schemas(kind);
        if names_access(&schemas, request.filter.as_ref(), request.sort.as_ref().map(|(p, _)| p)) {
            return Err(ScimError::bad_request(
                ScimType::InvalidFilter,
                "the access extension's accessEnd and state are stated by scimd at each read: they cannot be \
                 filtered or sorted on",
            )
            .into());
        }
        let query = ListQuery::new(schemas, request);
        self.store().list_resources(&provider.id, kind, query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_leave_the_group_document() {
        let mut doc = json!({"displayName": "Ops", "members": [{"value": "a"}, {"value": "b", "display": "B"}]});
        let ids: Option<Vec<String>> = take_members(&mut doc)
            .ok()
            .flatten()
            .map(|l| l.into_iter().map(|m| m.id).collect());
        assert_eq!(ids, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert!(doc.get("members").is_none());
        let mut bad = json!({"members": [{"display": "x"}]});
        assert!(take_members(&mut bad).is_err());
    }
}
