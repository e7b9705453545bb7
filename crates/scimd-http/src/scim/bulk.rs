//! Bulk operations (RFC 7644 §3.7): many changes in one request, `bulkId` references between
//! them (§3.7.2), `failOnErrors`, and the advertised limits enforced (413 beyond them).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use scim_proto::error::{ScimError, ScimType};
use scim_proto::schema::ResourceKind;
use scimd_core::{CoreError, Provider};
use serde_json::{Map, Value, json};

use super::Authenticated;
use super::body::ScimJson;
use crate::AppState;
use crate::error::{ErrorNote, ScimFailure, scim_error, scim_json};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const MAX_OPERATIONS: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/Bulk", post(bulk))
}

struct Operation {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<i64>,
}

fn parse_operations(body: &Value) -> Result<(Vec<Operation>, Option<usize>), ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "a BulkRequest must be a JSON object"))?;
    let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let declared = get("schemas").and_then(Value::as_array).is_some_and(|a| {
        a.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA)))
    });
    if !declared {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("a bulk body must declare {BULK_REQUEST_SCHEMA}"),
        ));
    }
    let fail_on_errors =
        match get("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                ScimError::bad_request(ScimType::InvalidValue, "failOnErrors must be a positive integer")
            })? as usize),
        };
    let ops = get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "a BulkRequest needs an Operations list"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many_operations("bulk", MAX_OPERATIONS, ops.len()));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let o = op.as_object().ok_or_else(|| {
            ScimError::bad_request(ScimType::InvalidSyntax, format!("operation {} is not an object", i + 1))
        })?;
        let field = |name: &str| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let method = field("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| {
                ScimError::bad_request(ScimType::InvalidSyntax, format!("operation {} has no method", i + 1))
            })?;
        let path = field("path")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                ScimError::bad_request(ScimType::InvalidSyntax, format!("operation {} has no path", i + 1))
            })?;
        let bulk_id = field("bulkId").and_then(Value::as_str).map(str::to_owned);
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("operation {} is a POST without a bulkId", i + 1),
            ));
        }
        let version = field("version")
            .and_then(Value::as_str)
            .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok());
        out.push(Operation {
            method,
            bulk_id,
            path,
            data: field("data").cloned(),
            version,
        });
    }
    Ok((out, fail_on_errors))
}

/// Replace every `"bulkId:<id>"` string with the id it created. `Err(name)` names a
/// reference not (yet) known.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("bulkId:") {
                *s = ids.get(name).cloned().ok_or_else(|| name.to_owned())?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve(v, ids)),
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve(v, ids)),
        _ => Ok(()),
    }
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    match path.split_once("bulkId:") {
        Some((head, name)) => ids
            .get(name)
            .map(|id| format!("{head}{id}"))
            .ok_or_else(|| name.to_owned()),
        None => Ok(path.to_owned()),
    }
}

/// `/Users`, `/Groups/{id}` -> kind and optional id.
fn target(path: &str) -> Option<(ResourceKind, Option<String>)> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let kind = match parts.next()? {
        p if p.eq_ignore_ascii_case("Users") => ResourceKind::User,
        p if p.eq_ignore_ascii_case("Groups") => ResourceKind::Group,
        _ => return None,
    };
    Some((kind, parts.next().filter(|s| !s.is_empty()).map(str::to_owned)))
}

struct Outcome {
    status: u16,
    location: Option<String>,
    version: Option<String>,
    id: Option<String>,
    error: Option<ScimError>,
}

async fn run_one(state: &AppState, p: &Provider, base: &str, op: &Operation, ids: &HashMap<String, String>) -> Outcome {
    let fail = |e: ScimError| Outcome {
        status: e.status,
        location: None,
        version: None,
        id: None,
        error: Some(e),
    };
    let path = match resolve_path(&op.path, ids) {
        Ok(p) => p,
        Err(name) => {
            return fail(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("bulkId '{name}' does not name a created resource"),
            ));
        }
    };
    let mut data = op.data.clone().unwrap_or(Value::Null);
    if let Err(name) = resolve(&mut data, ids) {
        return fail(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("bulkId '{name}' does not name a created resource"),
        ));
    }
    let Some((kind, id)) = target(&path) else {
        return fail(ScimError::bad_request(
            ScimType::InvalidPath,
            format!("'{path}' is not a /Users or /Groups path"),
        ));
    };
    let result: Result<Option<scimd_core::ResourceRecord>, CoreError> = match (op.method.as_str(), id) {
        ("POST", None) => state.core.create_resource(p, kind, &data).await.map(Some),
        ("PUT", Some(id)) => state
            .core
            .replace_resource(p, kind, &id, &data, op.version)
            .await
            .map(Some),
        ("PATCH", Some(id)) => state
            .core
            .patch_resource(p, kind, &id, &data, op.version)
            .await
            .map(Some),
        ("DELETE", Some(id)) => state
            .core
            .delete_resource(p, kind, &id, op.version)
            .await
            .map(|()| None),
        (m, _) => {
            return fail(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("method {m} does not fit the path '{path}'"),
            ));
        }
    };
    match result {
        Ok(Some(rec)) => Outcome {
            status: if op.method == "POST" { 201 } else { 200 },
            location: Some(scimd_core::views::location(base, rec.kind, &rec.id)),
            version: Some(rec.etag()),
            id: Some(rec.id),
            error: None,
        },
        Ok(None) => Outcome {
            status: 204,
            location: None,
            version: None,
            id: None,
            error: None,
        },
        Err(e) => fail(scim_error(e)),
    }
}

fn mentions_bulk_id(op: &Operation) -> bool {
    op.path.contains("bulkId:") || op.data.as_ref().is_some_and(|d| d.to_string().contains("\"bulkId:"))
}

/// Does the operation mention `bulkId:<b>` for one of `waiting` (other than its own)?
fn refers_to(op: &Operation, waiting: &[&str]) -> bool {
    let data = op.data.as_ref().map(Value::to_string).unwrap_or_default();
    waiting.iter().any(|b| {
        Some(*b) != op.bulk_id.as_deref()
            && (op.path.ends_with(&format!("bulkId:{b}")) || data.contains(&format!("\"bulkId:{b}\"")))
    })
}

impl Outcome {
    fn to_json(&self, op: &Operation) -> Value {
        let mut r = Map::new();
        r.insert("method".into(), json!(op.method));
        if let Some(b) = &op.bulk_id {
            r.insert("bulkId".into(), json!(b));
        }
        if let Some(v) = &self.version {
            r.insert("version".into(), json!(v));
        }
        if let Some(l) = &self.location {
            r.insert("location".into(), json!(l));
        }
        r.insert("status".into(), json!(self.status.to_string()));
        if let Some(e) = &self.error {
            r.insert("response".into(), e.to_json());
        }
        Value::Object(r)
    }
}

async fn bulk(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimFailure> {
    let (ops, fail_on_errors) = parse_operations(&body)?;
    let ops: Vec<Arc<Operation>> = ops.into_iter().map(Arc::new).collect();
    let base = state.base_url(p.id.as_str());
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0usize;
    let mut first_error: Option<(usize, ScimError)> = None;
    // Operations run in order, except that one referring to a bulkId whose operation has
    // not run yet waits for it (RFC 7644 §3.7.2). When nothing can run, the rest run and
    // fail on their unresolved references (circular or missing ones).
    let mut queue: Vec<usize> = (0..ops.len()).collect();
    let mut force = false;
    'passes: while !queue.is_empty() {
        let waiting: Vec<&str> = queue.iter().filter_map(|&i| ops[i].bulk_id.as_deref()).collect();
        let (deferred, ready): (Vec<usize>, Vec<usize>) =
            queue.iter().partition(|&&i| !force && refers_to(&ops[i], &waiting));
        force = ready.is_empty();
        let mut k = 0;
        while k < ready.len() {
            // Creations that refer to no other operation are independent: they run together
            // and share commits. With failOnErrors the order of failures matters, so not then.
            let independent =
                |i: usize| fail_on_errors.is_none() && ops[i].method == "POST" && !mentions_bulk_id(&ops[i]);
            let mut end = k + 1;
            if independent(ready[k]) {
                while end < ready.len() && independent(ready[end]) {
                    end += 1;
                }
            }
            let outcomes: Vec<(usize, Outcome)> = if end - k > 1 {
                let mut set = tokio::task::JoinSet::new();
                for &i in &ready[k..end] {
                    let (state, p, base, op) = (state.clone(), Arc::clone(&p), base.clone(), Arc::clone(&ops[i]));
                    set.spawn(async move { (i, run_one(&state, &p, &base, &op, &HashMap::new()).await) });
                }
                let mut done = Vec::with_capacity(end - k);
                while let Some(joined) = set.join_next().await {
                    match joined {
                        Ok(pair) => done.push(pair),
                        Err(e) => tracing::error!(error = %e, "a bulk operation task failed"),
                    }
                }
                done
            } else {
                vec![(ready[k], run_one(&state, &p, &base, &ops[ready[k]], &ids).await)]
            };
            k = end;
            for (i, outcome) in outcomes {
                if let (Some(b), Some(id)) = (&ops[i].bulk_id, &outcome.id) {
                    ids.insert(b.clone(), id.clone());
                }
                if let Some(e) = &outcome.error {
                    errors += 1;
                    if first_error.as_ref().is_none_or(|(at, _)| i < *at) {
                        first_error = Some((i, e.clone()));
                    }
                }
                results[i] = Some(outcome.to_json(&ops[i]));
            }
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break 'passes;
            }
        }
        queue = deferred;
    }
    let operations: Vec<Value> = results.into_iter().flatten().collect();
    let mut resp = scim_json(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations}),
    );
    // Answered 200, yet a failure to whoever reads the provisioning log.
    if let Some((i, e)) = first_error {
        resp.extensions_mut().insert(ErrorNote {
            scim_type: e.scim_type.map(|t| t.as_str()),
            detail: format!(
                "{errors} of {} operations failed; the first, {} {}: {} ({})",
                ops.len(),
                ops[i].method,
                ops[i].path,
                e.detail,
                e.status
            ),
            partial: true,
        });
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_id_references_resolve_in_data_and_paths() {
        let ids = HashMap::from([("u1".to_owned(), "id-1".to_owned())]);
        let mut data = json!({"members": [{"value": "bulkId:u1"}]});
        assert!(resolve(&mut data, &ids).is_ok());
        assert_eq!(data["members"][0]["value"], "id-1");
        assert_eq!(
            resolve_path("/Groups/bulkId:u1", &ids).ok().as_deref(),
            Some("/Groups/id-1")
        );
        assert_eq!(resolve(&mut json!("bulkId:nope"), &ids), Err("nope".to_owned()));
    }

    #[test]
    fn paths_name_a_resource_type_and_maybe_an_id() {
        assert_eq!(target("/Users"), Some((ResourceKind::User, None)));
        assert_eq!(
            target("/Groups/abc"),
            Some((ResourceKind::Group, Some("abc".to_owned())))
        );
        assert_eq!(target("/Other"), None);
    }
}
