//! The store conformance suite: what every backend must do, written once against
//! `Arc<dyn Store>`. Runs on SQLite (a temporary file) always, and on PostgreSQL when
//! `SCIMD_TEST_POSTGRES` holds an admin URL (each test makes and drops its own database).

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use scim_proto::filter::Filter;
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::path::AttrPath;
use scim_proto::schema::ResourceKind;
use scim_proto::value::normalize_resource;
use scimd_core::lifecycle::{DeletedQuery, GuardSettings, Notice, Removal};
use scimd_core::provider::{GroupPatchResponse, ProviderSettings};
use scimd_core::request_log::{LogBatch, LogEntry, LogFilter, LogLimits, StatsDelta};
use scimd_core::resource::{Change, ListQuery, ListRequest, NewResource, PageStart, ResourceKey, SortOrder};
use scimd_core::setup::{Received, SetupLink};
use scimd_core::{
    Actor, AuditEvent, AuditQuery, ClientId, CoreError, Population, Provider, ProviderId, Store, StoreError, Timestamp,
    TokenRecord,
};
use scimd_store::postgres::admin;
use scimd_store::{PgOptions, SqlStore};
use serde_json::{Value, json};

/// Run `body` against a fresh store of every backend under test.
async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    let sqlite: Arc<dyn Store> = Arc::new(SqlStore::sqlite(path.to_str().unwrap()).unwrap());
    body(sqlite).await;

    let Some(admin_url) = std::env::var("SCIMD_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    let mut salt = [0u8; 6];
    scimd_core::crypto::random_bytes(&mut salt);
    let name = format!(
        "scimd_conf_{}_{}",
        std::process::id(),
        salt.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let url = admin::create_database(&admin_url, &name).await.unwrap();
    let pg: Arc<dyn Store> = Arc::new(SqlStore::postgres(&url, PgOptions::default()).await.unwrap());
    body(Arc::clone(&pg)).await;
    drop(pg);
    admin::drop_database(&admin_url, &name).await.unwrap();
}

fn now() -> Timestamp {
    Timestamp(1_750_000_000_000)
}

fn event(action: &str, provider: &str) -> AuditEvent {
    AuditEvent::new(now(), &Actor::Cli("test".into()), action).provider(provider)
}

fn provider(id: &str, population: Population) -> Provider {
    Provider {
        id: ProviderId::parse(id).unwrap(),
        name: format!("Provider {id}"),
        population,
        enabled: true,
        description: "d".into(),
        tags: vec!["a".into()],
        token_ttl_seconds: 3600,
        allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
        client_id: ClientId::generate(),
        secret_sealed: vec![1, 2, 3],
        secret_hash: [7; 32],
        created: now(),
        modified: now(),
        settings: ProviderSettings {
            group_patch_response: GroupPatchResponse::Full,
            ..ProviderSettings::default()
        },
    }
}

async fn add_provider(s: &Arc<dyn Store>, id: &str, population: Population) -> Provider {
    let p = provider(id, population);
    s.create_provider(&p, &event("provider.create", id)).await.unwrap();
    p
}

/// Providers have no `PartialEq`; their Debug output shows every field.
fn debug(v: impl std::fmt::Debug) -> String {
    format!("{v:?}")
}

fn new_resource(p: &Provider, kind: ResourceKind, body: Value, members: &[&str]) -> NewResource {
    NewResource {
        id: uuid(),
        provider: p.id.clone(),
        population: p.population,
        kind,
        data: normalize_resource(kind.builtin(), &body).unwrap(),
        created: now(),
        members: members
            .iter()
            .map(|m| NewMember {
                id: (*m).to_owned(),
                display: None,
            })
            .collect(),
        index: Vec::new(),
        kept: Vec::new(),
        access_end: None,
    }
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    scimd_core::crypto::random_bytes(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

async fn user(s: &Arc<dyn Store>, p: &Provider, user_name: &str) -> Result<String, CoreError> {
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
        "active": true, "emails": [{"value": user_name, "type": "work", "primary": true}]});
    let r = s
        .create_resource(
            new_resource(p, ResourceKind::User, body, &[]),
            event("user.create", p.id.as_str()),
        )
        .await?;
    Ok(r.id)
}

async fn group(s: &Arc<dyn Store>, p: &Provider, name: &str, members: &[&str]) -> Result<String, CoreError> {
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
    let r = s
        .create_resource(
            new_resource(p, ResourceKind::Group, body, members),
            event("group.create", p.id.as_str()),
        )
        .await?;
    Ok(r.id)
}

fn is_uniqueness(e: &CoreError) -> bool {
    matches!(e, CoreError::Scim(s) if s.status == 409)
}

fn key(p: &Provider, kind: ResourceKind, id: &str) -> ResourceKey {
    ResourceKey::new(&p.id, kind, id)
}

fn set_attr(name: &'static str, value: Value) -> scimd_core::resource::UpdateFn {
    Box::new(move |rec| {
        let mut data = rec.data.clone();
        data[name] = value;
        Ok(Change {
            data,
            members: Vec::new(),
            attributes: vec![name.to_owned()],
            ..Change::default()
        })
    })
}

fn members_op(op: MemberOp) -> scimd_core::resource::UpdateFn {
    Box::new(move |rec| {
        Ok(Change {
            data: rec.data.clone(),
            members: vec![op],
            attributes: vec!["members".into()],
            ..Change::default()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_are_stored_found_updated_and_deleted() {
    each_backend(|s| async move {
        s.ping().await.unwrap();
        let p = add_provider(&s, "okta", Population::Internal).await;
        assert_eq!(debug(s.provider(&p.id).await.unwrap()), debug(Some(&p)));
        assert_eq!(
            debug(s.provider_by_client_id(&p.client_id).await.unwrap()),
            debug(Some(&p))
        );
        let again = provider("okta", Population::ThirdParty);
        let e = s
            .create_provider(&again, &event("provider.create", "okta"))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
        add_provider(&s, "entra", Population::ThirdParty).await;
        let ids: Vec<String> = s.providers().await.unwrap().iter().map(|p| p.id.to_string()).collect();
        assert_eq!(ids, ["entra", "okta"]);

        let mut changed = p.clone();
        changed.enabled = false;
        changed.name = "Renamed".into();
        changed.tags = vec!["x".into(), "y".into()];
        changed.settings.group_patch_response = GroupPatchResponse::NoContent;
        changed.modified = Timestamp(now().0 + 1);
        s.update_provider(&changed, &event("provider.update", "okta"))
            .await
            .unwrap();
        assert_eq!(debug(s.provider(&p.id).await.unwrap()), debug(Some(changed)));

        assert!(
            s.delete_provider(&p.id, &event("provider.delete", "okta"))
                .await
                .unwrap()
        );
        assert!(
            !s.delete_provider(&p.id, &event("provider.delete", "okta"))
                .await
                .unwrap()
        );
        assert!(s.provider(&p.id).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_found_by_hash_revoked_and_go_with_their_provider() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let token = |id: &str, n: u8| TokenRecord {
            id: id.into(),
            provider: p.id.clone(),
            hash: [n; 32],
            created: now(),
            expires: Timestamp(now().0 + 3_600_000),
            last_used: None,
            revoked: None,
            setup_link: None,
        };
        for (id, n) in [("t1", 1), ("t2", 2), ("t3", 3)] {
            s.create_token(&token(id, n), &event("token.create", "okta"))
                .await
                .unwrap();
        }
        let (t, owner) = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!((t, owner.id.clone()), (token("t1", 1), p.id.clone()));
        assert!(s.token_by_hash(&[9; 32]).await.unwrap().is_none());

        s.touch_token("t1", Timestamp(now().0 + 5)).await.unwrap();
        let at = Timestamp(now().0 + 10);
        assert!(
            s.revoke_token_by_hash(&[1; 32], at, &event("token.revoke", "okta"))
                .await
                .unwrap()
        );
        assert!(
            !s.revoke_token_by_hash(&[1; 32], at, &event("token.revoke", "okta"))
                .await
                .unwrap()
        );
        let (t1, _) = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!((t1.last_used, t1.revoked), (Some(Timestamp(now().0 + 5)), Some(at)));

        assert_eq!(
            s.revoke_tokens(&p.id, Some("t2"), at, &event("token.revoke", "okta"))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.revoke_tokens(&p.id, None, at, &event("token.revoke", "okta"))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.revoke_tokens(&p.id, None, at, &event("token.revoke", "okta"))
                .await
                .unwrap(),
            0
        );
        let ids: Vec<String> = s.tokens(&p.id).await.unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["t1", "t2", "t3"]);

        s.delete_provider(&p.id, &event("provider.delete", "okta"))
            .await
            .unwrap();
        assert!(s.token_by_hash(&[2; 32]).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_links_open_by_hash_reveal_once_and_revoke_their_own_tokens() {
    each_backend(|s| async move {
        let p = add_provider(&s, "vendor", Population::ThirdParty).await;
        let link = SetupLink {
            id: "l1".into(),
            provider: p.id.clone(),
            hash: [4; 32],
            created: now(),
            created_by: "cli:ops".into(),
            expires: Timestamp(now().0 + 3_600_000),
            revoked: None,
            reveal_secret: true,
            secret_revealed: None,
            first_viewed: None,
        };
        s.create_setup_link(&link, &event("setup_link.create", "vendor"))
            .await
            .unwrap();
        let (found, owner) = s.setup_link_by_hash(&[4; 32]).await.unwrap().unwrap();
        assert_eq!((found, owner.id.clone()), (link.clone(), p.id.clone()));
        assert!(s.setup_link_by_hash(&[5; 32]).await.unwrap().is_none());

        let later = Timestamp(now().0 + 10);
        s.mark_setup_link_viewed("l1", later, &event("setup_link.view", "vendor"))
            .await
            .unwrap();
        s.mark_setup_link_viewed("l1", Timestamp(later.0 + 1), &event("setup_link.view", "vendor"))
            .await
            .unwrap();
        assert!(
            s.claim_setup_secret("l1", later, &event("provider.secret.reveal", "vendor"))
                .await
                .unwrap()
        );
        assert!(
            !s.claim_setup_secret("l1", later, &event("provider.secret.reveal", "vendor"))
                .await
                .unwrap()
        );
        let stored = s.setup_links(&p.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].first_viewed, stored[0].secret_revealed),
            (Some(later), Some(later))
        );
        let views = s
            .audit_events(&AuditQuery {
                action: Some("setup_link.view".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(views.len(), 1, "only the first view is recorded");

        let token = |id: &str, n: u8, via: Option<&str>| TokenRecord {
            id: id.into(),
            provider: p.id.clone(),
            hash: [n; 32],
            created: now(),
            expires: Timestamp(now().0 + 3_600_000),
            last_used: None,
            revoked: None,
            setup_link: via.map(str::to_owned),
        };
        for t in [
            token("a", 11, Some("l1")),
            token("b", 12, Some("l1")),
            token("c", 13, None),
        ] {
            s.create_token(&t, &event("token.issue", "vendor")).await.unwrap();
        }
        let (a, _) = s.token_by_hash(&[11; 32]).await.unwrap().unwrap();
        assert_eq!(a.setup_link.as_deref(), Some("l1"));
        // A token not made through the link is not revoked with it, even when named.
        let n = s
            .revoke_setup_link(
                &p.id,
                "l1",
                &["a".into(), "c".into()],
                later,
                &event("setup_link.revoke", "vendor"),
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let states: Vec<(String, bool)> = s
            .tokens(&p.id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.revoked.is_some()))
            .collect();
        assert_eq!(states, [("a".into(), true), ("b".into(), false), ("c".into(), false)]);
        assert_eq!(s.setup_links(&p.id).await.unwrap()[0].revoked, Some(later));
        // Revoked already: revoking again only takes the tokens named.
        let n = s
            .revoke_setup_link(&p.id, "l1", &["b".into()], later, &event("setup_link.revoke", "vendor"))
            .await
            .unwrap();
        assert_eq!(n, 1);

        assert_eq!(s.received(&p.id).await.unwrap(), Received::default());
        user(&s, &p, "jane@example.com").await.unwrap();
        assert_eq!(s.received(&p.id).await.unwrap(), Received { users: 1, groups: 0 });

        s.delete_provider(&p.id, &event("provider.delete", "vendor"))
            .await
            .unwrap();
        assert!(s.setup_link_by_hash(&[4; 32]).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_names_are_unique_per_population_case_insensitively() {
    each_backend(|s| async move {
        let okta = add_provider(&s, "okta", Population::Internal).await;
        let entra = add_provider(&s, "entra", Population::Internal).await;
        let vendor = add_provider(&s, "vendor", Population::ThirdParty).await;
        user(&s, &okta, "Jane@Example.com").await.unwrap();
        let e = user(&s, &entra, "jane@EXAMPLE.com").await.unwrap_err();
        assert!(is_uniqueness(&e), "{e:?}");
        let e = user(&s, &okta, "ΣΟΦΙΑ@example.com")
            .await
            .and(user(&s, &okta, "σοφια@example.com").await);
        assert!(is_uniqueness(&e.unwrap_err()));
        user(&s, &vendor, "jane@example.com").await.unwrap();

        // A rename into a taken name is refused too, and leaves the record as it was.
        let bob = user(&s, &okta, "bob@example.com").await.unwrap();
        let e = s
            .update_resource(
                key(&okta, ResourceKind::User, &bob),
                None,
                now(),
                set_attr("userName", json!("JANE@example.com")),
                event("user.replace", "okta"),
            )
            .await
            .unwrap_err();
        assert!(is_uniqueness(&e), "{e:?}");
        let rec = s.resource(&okta.id, ResourceKind::User, &bob).await.unwrap().unwrap();
        assert_eq!(
            (rec.data["userName"].as_str(), rec.version),
            (Some("bob@example.com"), 1)
        );

        // Group names are unique per provider.
        group(&s, &okta, "Ops", &[]).await.unwrap();
        assert!(is_uniqueness(&group(&s, &okta, "OPS", &[]).await.unwrap_err()));
        group(&s, &entra, "ops", &[]).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_run_on_the_current_record_and_honour_if_match() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let id = user(&s, &p, "jane@example.com").await.unwrap();
        let k = key(&p, ResourceKind::User, &id);
        let e = s
            .update_resource(
                k.clone(),
                Some(7),
                now(),
                set_attr("title", json!("x")),
                event("user.patch", "okta"),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::PreconditionFailed(_)), "{e:?}");
        let rec = s
            .update_resource(
                k.clone(),
                Some(1),
                now(),
                set_attr("title", json!("Boss")),
                event("user.patch", "okta"),
            )
            .await
            .unwrap();
        assert_eq!((rec.version, rec.data["title"].as_str()), (2, Some("Boss")));

        // Concurrent read-modify-writes queue up: none is lost.
        let n = 16;
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (s, k) = (Arc::clone(&s), k.clone());
                tokio::spawn(async move {
                    let bump: scimd_core::resource::UpdateFn = Box::new(|rec| {
                        let mut data = rec.data.clone();
                        let count: u64 = data["nickName"].as_str().unwrap_or("0").parse().unwrap_or(0);
                        data["nickName"] = json!((count + 1).to_string());
                        Ok(Change {
                            data,
                            members: Vec::new(),
                            attributes: vec!["nickName".into()],
                            ..Change::default()
                        })
                    });
                    s.update_resource(k, None, now(), bump, event("user.patch", "okta"))
                        .await
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let rec = s.resource(&p.id, ResourceKind::User, &id).await.unwrap().unwrap();
        assert_eq!(rec.data["nickName"], json!(n.to_string()));
        assert_eq!(rec.version, 2 + n as i64);

        let missing = key(&p, ResourceKind::User, &uuid());
        let e = s
            .update_resource(
                missing,
                None,
                now(),
                set_attr("title", json!("x")),
                event("user.patch", "okta"),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::NotFound(_)), "{e:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memberships_are_kept_apart_and_cascade() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let other = add_provider(&s, "entra", Population::Internal).await;
        let a = user(&s, &p, "a@example.com").await.unwrap();
        let b = user(&s, &p, "b@example.com").await.unwrap();
        let foreign = user(&s, &other, "c@example.com").await.unwrap();
        let g = group(&s, &p, "Ops", &[&a]).await.unwrap();
        let e = group(&s, &p, "Bad", &[&foreign]).await.unwrap_err();
        assert!(matches!(&e, CoreError::Scim(x) if x.status == 400), "{e:?}");

        let gk = key(&p, ResourceKind::Group, &g);
        let add = MemberOp::Add(vec![NewMember {
            id: b.clone(),
            display: Some("Bee".into()),
        }]);
        s.update_resource(gk.clone(), None, now(), members_op(add), event("group.patch", "okta"))
            .await
            .unwrap();
        let grec = s.resource(&p.id, ResourceKind::Group, &g).await.unwrap().unwrap();
        let members = s.members_of(&[grec.seq]).await.unwrap().remove(&grec.seq).unwrap();
        let ids: Vec<(&str, Option<&str>)> = members.iter().map(|m| (m.id.as_str(), m.display.as_deref())).collect();
        assert_eq!(ids, [(a.as_str(), None), (b.as_str(), Some("Bee"))]);

        let brec = s.resource(&p.id, ResourceKind::User, &b).await.unwrap().unwrap();
        let groups = s.groups_of(&[brec.seq]).await.unwrap().remove(&brec.seq).unwrap();
        assert_eq!(groups.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [g.as_str()]);

        s.update_resource(
            gk.clone(),
            None,
            now(),
            members_op(MemberOp::Remove(vec![a.clone()])),
            event("group.patch", "okta"),
        )
        .await
        .unwrap();
        // Deleting a member removes its memberships.
        s.delete_resource(
            key(&p, ResourceKind::User, &b),
            None,
            Removal::hard(),
            event("user.delete", "okta"),
        )
        .await
        .unwrap();
        let members = s.members_of(&[grec.seq]).await.unwrap();
        assert!(members.get(&grec.seq).is_none_or(|m| m.is_empty()), "{members:?}");

        // Concurrent additions of different members to one group all land.
        let ids: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..12 {
                v.push(user(&s, &p, &format!("m{i}@example.com")).await.unwrap());
            }
            v
        };
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (s, gk, id) = (Arc::clone(&s), gk.clone(), id.clone());
                tokio::spawn(async move {
                    let op = MemberOp::Add(vec![NewMember { id, display: None }]);
                    s.update_resource(gk, None, now(), members_op(op), event("group.patch", "okta"))
                        .await
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let members = s.members_of(&[grec.seq]).await.unwrap().remove(&grec.seq).unwrap();
        assert_eq!(members.len(), ids.len());

        let e = s
            .delete_resource(gk.clone(), Some(1), Removal::hard(), event("group.delete", "okta"))
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::PreconditionFailed(_)), "{e:?}");
        s.delete_resource(gk.clone(), None, Removal::hard(), event("group.delete", "okta"))
            .await
            .unwrap();
        let e = s
            .delete_resource(gk, None, Removal::hard(), event("group.delete", "okta"))
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::NotFound(_)), "{e:?}");
    })
    .await;
}

fn query(filter: Option<&str>, sort: Option<(&str, SortOrder)>, start: PageStart, count: u64) -> ListQuery {
    ListQuery::new(
        ResourceKind::User.builtin().clone(),
        ListRequest {
            filter: filter.map(|f| Filter::parse(f).unwrap()),
            sort: sort.map(|(p, o)| (AttrPath::parse(p).unwrap(), o)),
            start,
            count,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_sort_page_and_continue_after_a_cursor() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let names = ["dave", "Alice", "carol", "bob", "Eve", "frank", "Ëlodie"];
        let mut ids = Vec::new();
        for n in names {
            ids.push(user(&s, &p, &format!("{n}@example.com")).await.unwrap());
        }
        let user_names = |page: &scimd_core::resource::Page| -> Vec<String> {
            page.items
                .iter()
                .map(|r| r.data["userName"].as_str().unwrap().to_owned())
                .collect()
        };
        let all = s
            .list_resources(&p.id, ResourceKind::User, query(None, None, PageStart::Index(1), 100))
            .await
            .unwrap();
        assert_eq!(all.total, 7);
        assert_eq!(all.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids);

        let sorted = s
            .list_resources(
                &p.id,
                ResourceKind::User,
                query(None, Some(("userName", SortOrder::Ascending)), PageStart::Index(2), 3),
            )
            .await
            .unwrap();
        assert_eq!(sorted.total, 7);
        assert_eq!(
            user_names(&sorted),
            ["bob@example.com", "carol@example.com", "dave@example.com"]
        );

        let desc = s
            .list_resources(
                &p.id,
                ResourceKind::User,
                query(None, Some(("userName", SortOrder::Descending)), PageStart::Index(1), 2),
            )
            .await
            .unwrap();
        assert_eq!(user_names(&desc), ["Ëlodie@example.com", "frank@example.com"]);

        let filtered = s
            .list_resources(
                &p.id,
                ResourceKind::User,
                query(
                    Some(r#"userName sw "E" or emails[type eq "work" and value co "ALICE"]"#),
                    None,
                    PageStart::Index(1),
                    10,
                ),
            )
            .await
            .unwrap();
        assert_eq!(user_names(&filtered), ["Alice@example.com", "Eve@example.com"]);

        let counted = s
            .list_resources(
                &p.id,
                ResourceKind::User,
                query(Some("active eq true"), None, PageStart::Index(1), 0),
            )
            .await
            .unwrap();
        assert_eq!((counted.total, counted.items.len()), (7, 0));

        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let page = s
                .list_resources(&p.id, ResourceKind::User, query(None, None, PageStart::After(after), 3))
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|r| r.id.clone()));
            match page.more_after {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, ids);

        let e = s
            .list_resources(
                &p.id,
                ResourceKind::User,
                query(Some(r#"bogus eq "x""#), None, PageStart::Index(1), 10),
            )
            .await
            .unwrap_err();
        assert!(matches!(&e, CoreError::Scim(x) if x.status == 400), "{e:?}");

        let population = s
            .population_resources(Population::Internal, ResourceKind::User, 0, 100)
            .await
            .unwrap();
        assert_eq!(population.len(), 7);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_leaves_its_audit_event() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        add_provider(&s, "entra", Population::Internal).await;
        let id = user(&s, &p, "jane@example.com").await.unwrap();
        s.update_resource(
            key(&p, ResourceKind::User, &id),
            None,
            now(),
            set_attr("title", json!("Boss")),
            event("user.patch", "okta"),
        )
        .await
        .unwrap();
        // A failed change leaves no event.
        let _ = user(&s, &p, "JANE@example.com").await.unwrap_err();
        s.record(&event("provider.secret.reveal", "okta")).await.unwrap();

        let q = |provider: Option<&str>, action: Option<&str>, limit| AuditQuery {
            provider: provider.map(str::to_owned),
            action: action.map(str::to_owned),
            limit,
            ..AuditQuery::default()
        };
        let okta = s.audit_events(&q(Some("okta"), None, 100)).await.unwrap();
        let actions: Vec<&str> = okta.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["provider.secret.reveal", "user.patch", "user.create", "provider.create"]
        );
        assert_eq!(okta[1].attributes, ["title"]);
        assert!(okta.windows(2).all(|w| w[0].seq > w[1].seq));
        let creates = s.audit_events(&q(None, Some("provider.create"), 1)).await.unwrap();
        assert_eq!(creates.len(), 1);
        assert_eq!(creates[0].provider.as_deref(), Some("entra"));
    })
    .await;
}

#[tokio::test]
async fn administrators_sessions_and_api_tokens_are_kept_by_their_hashes() {
    use scimd_core::admin::{AdminRecord, ApiTokenRecord, SessionRecord};
    each_backend(|s| async move {
        let admin = AdminRecord {
            name: "alice".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created: now(),
        };
        s.create_admin(&admin, &event("admin.create", "-")).await.unwrap();
        let again = s.create_admin(&admin, &event("admin.create", "-")).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
        assert_eq!(s.admin("alice").await.unwrap(), Some(admin.clone()));
        assert_eq!(s.admin("bob").await.unwrap(), None);

        let session = |hash: u8, created: i64| SessionRecord {
            hash: [hash; 32],
            admin: "alice".into(),
            created: Timestamp(created),
            expires: Timestamp(created + 1000),
        };
        s.create_session(&session(1, 0), &event("admin.signin", "-"))
            .await
            .unwrap();
        assert_eq!(s.session(&[1; 32]).await.unwrap(), Some(session(1, 0)));
        // Use moves a session's end later, never earlier.
        s.extend_session(&[1; 32], Timestamp(1500)).await.unwrap();
        s.extend_session(&[1; 32], Timestamp(1200)).await.unwrap();
        let extended = s.session(&[1; 32]).await.unwrap().map(|r| r.expires);
        assert_eq!(extended, Some(Timestamp(1500)));
        // A new session sweeps the expired ones away.
        s.create_session(&session(2, 5000), &event("admin.signin", "-"))
            .await
            .unwrap();
        assert_eq!(s.session(&[1; 32]).await.unwrap(), None);
        assert!(s.delete_session(&[2; 32], &event("admin.signout", "-")).await.unwrap());
        assert!(!s.delete_session(&[2; 32], &event("admin.signout", "-")).await.unwrap());

        let token = |id: &str, hash: u8| ApiTokenRecord {
            id: id.into(),
            name: "ci".into(),
            hash: [hash; 32],
            created: now(),
            revoked: None,
        };
        s.create_api_token(&token("t1", 1), &event("admin.token.create", "-"))
            .await
            .unwrap();
        let dup = s
            .create_api_token(&token("t2", 2), &event("admin.token.create", "-"))
            .await
            .unwrap_err();
        assert!(
            matches!(dup, StoreError::Conflict(_)),
            "one live token per name: {dup:?}"
        );
        assert!(
            s.revoke_api_token("ci", now(), &event("admin.token.revoke", "-"))
                .await
                .unwrap()
        );
        assert!(s.api_token(&[1; 32]).await.unwrap().unwrap().revoked.is_some());
        s.create_api_token(&token("t2", 2), &event("admin.token.create", "-"))
            .await
            .unwrap();
        assert_eq!(s.api_tokens().await.unwrap().len(), 2);
        assert!(
            !s.revoke_api_token("nobody", now(), &event("admin.token.revoke", "-"))
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn populations_are_searched_and_group_members_paged_across_providers() {
    use scimd_core::PopulationQuery;
    each_backend(|s| async move {
        let okta = add_provider(&s, "okta", Population::Internal).await;
        let entra = add_provider(&s, "entra", Population::Internal).await;
        let vendor = add_provider(&s, "vendor", Population::ThirdParty).await;
        let a = user(&s, &okta, "Ann_Lee@example.com").await.unwrap();
        let b = user(&s, &okta, "bob@example.com").await.unwrap();
        let c = user(&s, &entra, "carl@example.com").await.unwrap();
        user(&s, &vendor, "vera@vendor.example").await.unwrap();
        let g = group(&s, &okta, "Everyone", &[&a, &b]).await.unwrap();
        let q = |text: Option<&str>, offset, limit| PopulationQuery {
            population: Population::Internal,
            kind: ResourceKind::User,
            text: text.map(str::to_owned),
            offset,
            limit,
        };
        let all = s.search_population(&q(None, 0, 10)).await.unwrap();
        assert_eq!(all.total, 3, "both internal providers' users");
        assert_eq!(
            all.items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            [&a, &b, &c]
        );
        let second = s.search_population(&q(None, 1, 1)).await.unwrap();
        assert_eq!((second.total, second.items[0].id.as_str()), (3, b.as_str()));
        assert_eq!(s.search_population(&q(Some("ANN_"), 0, 10)).await.unwrap().total, 1);
        // LIKE's wildcards are literal text in a search.
        assert_eq!(s.search_population(&q(Some("%"), 0, 10)).await.unwrap().total, 0);
        assert_eq!(s.search_population(&q(Some("n_l"), 0, 10)).await.unwrap().total, 1);
        assert_eq!(s.search_population(&q(Some("b_b"), 0, 10)).await.unwrap().total, 0);
        assert_eq!(s.search_population(&q(Some("vera"), 0, 10)).await.unwrap().total, 0);

        assert!(
            s.population_resource(Population::ThirdParty, ResourceKind::User, &a)
                .await
                .unwrap()
                .is_none()
        );
        let group = s
            .population_resource(Population::Internal, ResourceKind::Group, &g)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.member_counts(&[group.seq]).await.unwrap()[&group.seq], 2);
        let first = s.member_page(group.seq, 0, 1).await.unwrap();
        assert_eq!(first[0].member.id, a);
        assert_eq!(first[0].member.display.as_deref(), Some("Ann_Lee@example.com"));
        let rest = s.member_page(group.seq, first[0].seq, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|m| m.member.id.as_str()).collect::<Vec<_>>(),
            [b.as_str()]
        );

        let by_actor = s
            .audit_events(&AuditQuery {
                actor: Some("cli:*".into()),
                action: Some("user.*".into()),
                provider: Some("okta".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(by_actor.len(), 2, "okta's two user.create events");
        let none = s
            .audit_events(&AuditQuery {
                action: Some("user%".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(none.is_empty(), "% is not a wildcard in a filter");
    })
    .await;
}

fn log_entry(provider: &str, n: i64, failed: bool) -> LogEntry {
    LogEntry {
        seq: 0,
        provider: provider.into(),
        time: Timestamp(now().0 + n * 1000),
        method: "GET".into(),
        path: format!("/Users/{n}"),
        status: if failed { 404 } else { 200 },
        failed,
        latency_us: 900,
        request_id: format!("r{n}"),
        client: "10.0.0.1".into(),
        user_agent: Some("Okta".into()),
        scim_type: None,
        detail: failed.then(|| "not found".to_owned()),
        body: failed.then(|| "{\"password\":\"********\"}".to_owned()),
    }
}

fn stats(provider: &str, unauthenticated: u64, recent: i64, recent_count: i64) -> StatsDelta {
    StatsDelta {
        provider: provider.into(),
        unauthenticated,
        last_unauthenticated: (unauthenticated > 0).then(now),
        recent,
        recent_count,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provisioning_log_keeps_failures_and_successes_in_budgets_of_their_own() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        // Failures at seconds 0-2, successes at 3-12, and a provider that does not exist.
        let mut entries: Vec<LogEntry> = (0..13).map(|n| log_entry("okta", n, n < 3)).collect();
        entries.push(log_entry("gone", 13, true));
        let batch = LogBatch {
            entries,
            stats: vec![stats("okta", 2, 0b101, 3), stats("gone", 5, 1, 1)],
        };
        assert_eq!(
            s.append_log(batch).await.unwrap(),
            13,
            "the unknown provider's entry is left out"
        );
        let read = |f: LogFilter| {
            let s = Arc::clone(&s);
            let id = p.id.clone();
            async move { s.log_entries(&id, &LogFilter { limit: 100, ..f }).await.unwrap() }
        };
        let all = read(LogFilter::default()).await;
        assert_eq!(all.len(), 13);
        assert_eq!(all[0].path, "/Users/12", "newest first");
        assert_eq!(all[12].body.as_deref(), Some("{\"password\":\"********\"}"));
        assert_eq!(
            read(LogFilter {
                failed: true,
                ..LogFilter::default()
            })
            .await
            .len(),
            3
        );
        assert_eq!(
            read(LogFilter {
                status: Some((200, 300)),
                ..LogFilter::default()
            })
            .await
            .len(),
            10
        );
        let prefixed = read(LogFilter {
            path: Some("/USERS/1".into()),
            ..LogFilter::default()
        })
        .await;
        assert_eq!(prefixed.len(), 4, "/Users/1, 10, 11, 12 in any case");
        let t = |n: i64| Some(Timestamp(now().0 + n * 1000));
        assert_eq!(
            read(LogFilter {
                since: t(5),
                until: t(7),
                ..LogFilter::default()
            })
            .await
            .len(),
            2
        );
        let after = read(LogFilter {
            after: Some(all[2].seq),
            ..LogFilter::default()
        })
        .await;
        assert_eq!(
            after.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["/Users/11", "/Users/12"]
        );
        let before = read(LogFilter {
            before: Some(all[10].seq),
            limit: 1,
            ..LogFilter::default()
        })
        .await;
        assert_eq!(before[0].path, "/Users/1");

        // Counters add up; the window of outcomes shifts (newest lowest).
        s.append_log(LogBatch {
            entries: vec![],
            stats: vec![stats("okta", 1, 1, 1)],
        })
        .await
        .unwrap();
        let health = s.log_health().await.unwrap();
        assert_eq!(health.len(), 1, "{health:?}");
        let (id, h) = &health[0];
        assert_eq!(
            (id.as_str(), h.unauthenticated, h.recent_failed, h.recent_total),
            ("okta", 3, 3, 4)
        );
        assert_eq!(h.last_unauthenticated, Some(now()));

        // Each budget by count: the newest two failures, the newest four successes.
        let limits = LogLimits {
            failure_retention_seconds: 86_400,
            failure_max: 2,
            success_max: 4,
        };
        assert_eq!(s.prune_log(&p.id, &limits, now(), 100).await.unwrap(), (7, false));
        let left = read(LogFilter::default()).await;
        let paths: Vec<&str> = left.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/Users/12",
                "/Users/11",
                "/Users/10",
                "/Users/9",
                "/Users/2",
                "/Users/1"
            ]
        );
        // Failures by age (successes never): at second 7 with a 5-second retention, those of
        // seconds 1 and 2 are past it.
        let limits = LogLimits {
            failure_retention_seconds: 5,
            ..limits
        };
        let later = Timestamp(now().0 + 7_500);
        assert_eq!(s.prune_log(&p.id, &limits, later, 100).await.unwrap(), (2, false));
        assert_eq!(
            read(LogFilter {
                failed: true,
                ..LogFilter::default()
            })
            .await
            .len(),
            0
        );
        // At most `chunk` rows a statement; `more` says another round is due.
        let none = LogLimits {
            success_max: 0,
            ..limits
        };
        assert_eq!(s.prune_log(&p.id, &none, later, 3).await.unwrap(), (3, true));
        assert_eq!(s.prune_log(&p.id, &none, later, 3).await.unwrap(), (1, false));
        // A deleted provider's log and counters go with it.
        s.append_log(LogBatch {
            entries: vec![log_entry("okta", 20, true)],
            stats: vec![],
        })
        .await
        .unwrap();
        assert!(
            s.delete_provider(&p.id, &event("provider.delete", "okta"))
                .await
                .unwrap()
        );
        assert!(s.log_health().await.unwrap().is_empty());
        let p2 = add_provider(&s, "okta", Population::Internal).await;
        assert!(
            s.log_entries(
                &p2.id,
                &LogFilter {
                    limit: 10,
                    ..LogFilter::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
        );
    })
    .await;
}

/// The two migration lists, applied, give the same schema: the same tables with the same
/// columns (of corresponding types and nullability) and primary keys, the same indexes
/// (columns, uniqueness, partial or not), unique and CHECK constraints, foreign keys, and
/// triggers on the same events. Runs when PostgreSQL is available.
#[tokio::test]
async fn both_migration_lists_give_the_same_schema() {
    let Some(admin_url) = std::env::var("SCIMD_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    drop(SqlStore::sqlite(path.to_str().unwrap()).unwrap());
    let sqlite = sqlite_schema(path.to_str().unwrap());

    let name = format!("scimd_parity_{}", std::process::id());
    let url = admin::create_database(&admin_url, &name).await.unwrap();
    drop(SqlStore::postgres(&url, PgOptions::default()).await.unwrap());
    let pg = postgres_schema(&url).await;
    admin::drop_database(&admin_url, &name).await.unwrap();

    assert!(sqlite.len() > 40, "too little read from SQLite: {sqlite:#?}");
    let only_sqlite: Vec<_> = sqlite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "the schemas differ:\nonly in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_pg:#?}"
    );
}

/// A column type as both schemas can say it: SQLite keeps booleans as INTEGER and JSON as
/// TEXT.
fn type_class(t: &str) -> &'static str {
    match t.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "boolean" | "smallint" => "number",
        "text" | "jsonb" => "text",
        "blob" | "bytea" => "bytes",
        _ => "other",
    }
}

fn sqlite_schema(path: &str) -> std::collections::BTreeSet<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let strings = |sql: &str| -> Vec<Vec<String>> {
        let mut s = c.prepare(sql).unwrap();
        let n = s.column_count();
        s.query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => String::new(),
                        rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        other => format!("{other:?}"),
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut out = std::collections::BTreeSet::new();
    let tables = strings("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    for t in &tables {
        let table = &t[0];
        out.insert(format!("table {table}"));
        out.insert(format!("checks {table} {}", t[1].matches("CHECK (").count()));
        for col in strings(&format!("PRAGMA table_info({table})")) {
            let (name, ty, notnull, pk) = (&col[1], &col[2], col[3] == "1" || col[5] != "0", col[5] != "0");
            out.insert(format!(
                "column {table}.{name} {} notnull={notnull} pk={pk}",
                type_class(ty)
            ));
        }
        for idx in strings(&format!("PRAGMA index_list({table})")) {
            let (name, unique, origin, partial) = (&idx[1], idx[2] == "1", &idx[3], idx[4] == "1");
            let cols: Vec<String> = strings(&format!("PRAGMA index_info({name})"))
                .into_iter()
                .map(|r| r[2].clone())
                .collect();
            match origin.as_str() {
                "c" => out.insert(format!(
                    "index {name} on {table}({}) unique={unique} partial={partial}",
                    cols.join(",")
                )),
                "u" => out.insert(format!("unique {table}({})", cols.join(","))),
                _ => false,
            };
        }
        for fk in strings(&format!("PRAGMA foreign_key_list({table})")) {
            out.insert(format!(
                "fk {table}.{} -> {}.{} on delete {}",
                fk[3],
                fk[2],
                fk[4],
                fk[6].to_lowercase()
            ));
        }
    }
    for t in strings("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'") {
        let sql = t[1].to_uppercase();
        for event in ["UPDATE", "DELETE", "INSERT"] {
            if sql.contains(&format!("BEFORE {event}")) || sql.contains(&format!("AFTER {event}")) {
                out.insert(format!("trigger on {} {}", t[0], event.to_lowercase()));
            }
        }
    }
    out
}

async fn postgres_schema(url: &str) -> std::collections::BTreeSet<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let task = tokio::spawn(conn);
    let rows = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        }
    };
    let mut out = std::collections::BTreeSet::new();
    let skip = |t: &str| t == "scimd_schema";
    for t in rows("SELECT c.relname::text, (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c')::text \
                   FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace").await {
        if skip(&t[0]) {
            continue;
        }
        out.insert(format!("table {}", t[0]));
        out.insert(format!("checks {} {}", t[0], t[1]));
    }
    for c in rows("SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text, \
                   (SELECT 'pk' FROM information_schema.key_column_usage k JOIN information_schema.table_constraints tc \
                    ON tc.constraint_name = k.constraint_name AND tc.table_name = k.table_name \
                    WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name AND k.column_name = c.column_name LIMIT 1) \
                   FROM information_schema.columns c WHERE c.table_schema = 'public'").await {
        if skip(&c[0]) {
            continue;
        }
        let pk = c[4] == "pk";
        out.insert(format!(
            "column {}.{} {} notnull={} pk={pk}",
            c[0], c[1], type_class(&c[2]), c[3] == "NO"
        ));
    }
    for i in rows("SELECT t.relname::text, i.relname::text, x.indisunique::text, (x.indpred IS NOT NULL)::text, \
                   array_to_string(ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ','), \
                   (SELECT k.contype::text FROM pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = t.oid AND k.contype IN ('p', 'u')) \
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
                   WHERE t.relnamespace = 'public'::regnamespace").await {
        if skip(&i[0]) {
            continue;
        }
        match i[5].as_str() {
            "p" => {}
            "u" => {
                out.insert(format!("unique {}({})", i[0], i[4]));
            }
            _ => {
                out.insert(format!(
                    "index {} on {}({}) unique={} partial={}",
                    i[1], i[0], i[4], i[2] == "true", i[3] == "true"
                ));
            }
        }
    }
    for f in rows("SELECT tc.table_name::text, kcu.column_name::text, ccu.table_name::text, ccu.column_name::text, rc.delete_rule::text \
                   FROM information_schema.table_constraints tc \
                   JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name \
                   JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name \
                   JOIN information_schema.referential_constraints rc ON rc.constraint_name = tc.constraint_name \
                   WHERE tc.constraint_type = 'FOREIGN KEY'").await {
        out.insert(format!("fk {}.{} -> {}.{} on delete {}", f[0], f[1], f[2], f[3], f[4].to_lowercase()));
    }
    // TRUNCATE has no SQLite counterpart (SQLite has no TRUNCATE).
    for t in
        rows("SELECT event_object_table::text, lower(event_manipulation::text) FROM information_schema.triggers").await
    {
        out.insert(format!("trigger on {} {}", t[0], t[1]));
    }
    drop(client);
    let _ = task.await;
    out
}

/// Delete a resource of `p` as `how` says, which must work.
async fn remove(s: &Arc<dyn Store>, p: &Provider, kind: ResourceKind, id: &str, how: Removal) {
    let action = format!("{}.delete", kind.name().to_lowercase());
    s.delete_resource(key(p, kind, id), None, how, event(&action, "okta"))
        .await
        .unwrap();
}

fn soft(purge_after: Timestamp) -> Removal {
    Removal {
        keep_until: Some(purge_after),
        guard: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deleted_resources_are_kept_apart_restored_with_their_memberships_and_purged_in_batches() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let a = user(&s, &p, "a@example.com").await.unwrap();
        let b = user(&s, &p, "b@example.com").await.unwrap();
        let g = group(&s, &p, "Ops", &[&a, &b]).await.unwrap();
        let later = Timestamp(now().0 + 1000);
        remove(&s, &p, ResourceKind::User, &a, soft(later)).await;
        // Out of every live read, its name free at once.
        assert!(s.resource(&p.id, ResourceKind::User, &a).await.unwrap().is_none());
        let again = user(&s, &p, "A@example.com").await.unwrap();
        let d = s.deleted_resource(ResourceKind::User, &a).await.unwrap().unwrap();
        assert_eq!((d.deleted_by.as_str(), d.purge_after), ("cli:test", later));
        assert_eq!(d.record.data["userName"], "a@example.com");
        let q = DeletedQuery {
            population: Population::Internal,
            kind: ResourceKind::User,
            offset: 0,
            limit: 10,
        };
        assert_eq!(s.deleted_page(&q).await.unwrap().0, 1);
        // While the name is taken the restore is refused and changes nothing.
        let e = s
            .restore_resource(ResourceKind::User, &a, Vec::new(), event("user.restore", "okta"))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Conflict(m) if m.contains("taken since")),
            "{e:?}"
        );
        assert!(s.deleted_resource(ResourceKind::User, &a).await.unwrap().is_some());
        remove(&s, &p, ResourceKind::User, &again, Removal::hard()).await;
        let back = s
            .restore_resource(ResourceKind::User, &a, Vec::new(), event("user.restore", "okta"))
            .await
            .unwrap();
        assert_eq!((back.id.as_str(), back.version), (a.as_str(), d.record.version + 1));
        let grec = s.resource(&p.id, ResourceKind::Group, &g).await.unwrap().unwrap();
        let mut members: Vec<String> = s.members_of(&[grec.seq]).await.unwrap()[&grec.seq]
            .iter()
            .map(|m| m.id.clone())
            .collect();
        members.sort();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(members, want);
        assert!(s.deleted_resource(ResourceKind::User, &a).await.unwrap().is_none());

        // A group keeps its members for a restore; those gone since stay out.
        remove(&s, &p, ResourceKind::Group, &g, soft(later)).await;
        remove(&s, &p, ResourceKind::User, &b, Removal::hard()).await;
        let back = s
            .restore_resource(ResourceKind::Group, &g, Vec::new(), event("group.restore", "okta"))
            .await
            .unwrap();
        let members = s.members_of(&[back.seq]).await.unwrap().remove(&back.seq).unwrap();
        assert_eq!(members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [a.as_str()]);

        // Purged a batch at a time, only what is past its retention, each audited.
        let mut soft_ids = Vec::new();
        for i in 0..5 {
            let id = user(&s, &p, &format!("p{i}@example.com")).await.unwrap();
            let until = if i < 4 { later } else { Timestamp(later.0 + 10_000) };
            remove(&s, &p, ResourceKind::User, &id, soft(until)).await;
            soft_ids.push(id);
        }
        assert!(s.purge_due(now(), 100).await.unwrap().is_empty());
        assert_eq!(s.purge_due(later, 100).await.unwrap().len(), 4);
        let purge = AuditEvent::new(later, &Actor::System, "purge");
        assert_eq!(s.purge(later, 3, &purge).await.unwrap(), 3);
        assert_eq!(s.purge(later, 3, &purge).await.unwrap(), 1);
        assert_eq!(s.purge(later, 3, &purge).await.unwrap(), 0);
        assert!(
            s.deleted_resource(ResourceKind::User, &soft_ids[4])
                .await
                .unwrap()
                .is_some()
        );
        let audit = s
            .audit_events(&AuditQuery {
                action: Some("user.purge".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(audit.len(), 4);
        // Erased for good, soft-deleted or live.
        assert!(s.erase_user(&soft_ids[4], event("user.erase", "okta")).await.unwrap());
        assert!(
            s.deleted_resource(ResourceKind::User, &soft_ids[4])
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.erase_user(&a, event("user.erase", "okta")).await.unwrap());
        assert!(!s.erase_user(&a, event("user.erase", "okta")).await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_counts_removals_trips_and_releases_and_job_leases_have_one_holder() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::Internal).await;
        let settings = GuardSettings {
            enabled: true,
            share_percent: 20,
            window_seconds: 600,
            min_users: 5,
        };
        let guarded = Removal {
            keep_until: None,
            guard: Some(settings),
        };
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(user(&s, &p, &format!("g{i}@example.com")).await.unwrap());
        }
        for id in &ids[..2] {
            s.delete_resource(
                key(&p, ResourceKind::User, id),
                None,
                guarded,
                event("user.delete", "okta"),
            )
            .await
            .unwrap();
        }
        let e = s
            .delete_resource(
                key(&p, ResourceKind::User, &ids[2]),
                None,
                guarded,
                event("user.delete", "okta"),
            )
            .await
            .unwrap_err();
        let CoreError::Guarded(refusal) = e else {
            panic!("{e:?}")
        };
        assert_eq!((refusal.removed, refusal.base, refusal.newly), (2, 10, true));
        assert!(s.resource(&p.id, ResourceKind::User, &ids[2]).await.unwrap().is_some());
        let trip = event("provider.guard.trip", "okta");
        assert!(s.trip_guard(&refusal, &trip).await.unwrap());
        assert!(!s.trip_guard(&refusal, &trip).await.unwrap(), "tripped once");
        assert_eq!(s.tripped_guards().await.unwrap().len(), 1);
        let e = s
            .delete_resource(
                key(&p, ResourceKind::User, &ids[3]),
                None,
                guarded,
                event("user.delete", "okta"),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Guarded(ref r) if !r.newly), "{e:?}");
        let release = event("provider.guard.release", "okta");
        assert!(s.release_guard(&p.id, now(), &release).await.unwrap());
        assert!(!s.release_guard(&p.id, now(), &release).await.unwrap());
        let state = s.guard_state(&p.id).await.unwrap();
        assert!(state.tripped.is_none() && state.released.is_some());
        remove(&s, &p, ResourceKind::User, &ids[2], guarded).await;

        let (t0, t1) = (now(), Timestamp(now().0 + 30_000));
        assert!(s.take_job_lease("lifecycle", "a", t0, t1).await.unwrap());
        assert!(!s.take_job_lease("lifecycle", "b", t0, t1).await.unwrap());
        assert!(
            s.take_job_lease("lifecycle", "a", t0, t1).await.unwrap(),
            "renewed by its holder"
        );
        assert!(
            s.take_job_lease("lifecycle", "b", Timestamp(t1.0 + 1), Timestamp(t1.0 + 30_000))
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_end_dates_are_announced_once_and_renewed() {
    each_backend(|s| async move {
        let p = add_provider(&s, "okta", Population::ThirdParty).await;
        let end = Timestamp(now().0 + 20 * 86_400_000);
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "v@example.com"});
        let new = NewResource {
            access_end: Some(end),
            ..new_resource(&p, ResourceKind::User, body, &[])
        };
        let rec = s.create_resource(new, event("user.create", "okta")).await.unwrap();
        assert_eq!(rec.access_end, Some(end));
        let k = key(&p, ResourceKind::User, &rec.id);
        let horizon = |t: Timestamp| Timestamp(t.0 + 14 * 86_400_000);
        assert!(s.access_due(now(), horizon(now()), 10).await.unwrap().is_empty());
        let soon = Timestamp(end.0 - 86_400_000);
        let due = s.access_due(soon, horizon(soon), 10).await.unwrap();
        assert_eq!(
            due.iter().map(|(r, n)| (r.id.as_str(), *n)).collect::<Vec<_>>(),
            [(rec.id.as_str(), Notice::None)]
        );
        assert!(
            s.record_access_notice(k.clone(), end, Notice::Expiring, event("user.access.expiring", "okta"))
                .await
                .unwrap()
        );
        assert!(
            !s.record_access_notice(k.clone(), end, Notice::Expiring, event("user.access.expiring", "okta"))
                .await
                .unwrap()
        );
        assert!(
            s.access_due(soon, horizon(soon), 10).await.unwrap().is_empty(),
            "announced once"
        );
        assert_eq!(
            s.access_ending_counts(soon, horizon(soon)).await.unwrap(),
            [("okta".to_owned(), 1)]
        );
        let past = Timestamp(end.0 + 1);
        assert!(
            s.record_access_notice(k.clone(), end, Notice::Expired, event("user.access.expire", "okta"))
                .await
                .unwrap()
        );
        let expired = s.resource(&p.id, ResourceKind::User, &rec.id).await.unwrap().unwrap();
        assert_eq!(
            expired.version,
            rec.version + 1,
            "an expiry changes what the provider reads"
        );
        assert_eq!(
            s.access_ending(Population::ThirdParty, horizon(past), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        // A renewal from a stale end: the notice is not recorded against the new one.
        let renewed = s
            .renew_access(
                k.clone(),
                Timestamp(past.0 + 90 * 86_400_000),
                past,
                event("user.access.renew", "okta"),
            )
            .await
            .unwrap();
        assert!(
            !s.record_access_notice(k, end, Notice::Expired, event("user.access.expire", "okta"))
                .await
                .unwrap()
        );
        assert!(s.access_due(past, horizon(past), 10).await.unwrap().is_empty());
        assert_eq!(renewed.version, expired.version + 1);
        // A user without an end date has nothing to renew.
        let plain = user(&s, &p, "plain@example.com").await.unwrap();
        let e = s
            .renew_access(
                key(&p, ResourceKind::User, &plain),
                past,
                past,
                event("user.access.renew", "okta"),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Invalid(_)), "{e:?}");
    })
    .await;
}
