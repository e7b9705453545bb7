//! The admin API's OpenAPI 3.1 document, built from the route table so that it cannot miss
//! a route; the request bodies' schemas are written out here.

use serde_json::{Value, json};

use super::{PREFIX, table};

/// OpenAPI 3.1, built from the route table.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in table() {
        let mut params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(
            route
                .query
                .iter()
                .map(|(name, d)| json!({"name": name, "in": "query", "required": false, "description": d, "schema": {"type": "string"}})),
        );
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method.as_str().to_lowercase(), route.path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            "security": [{"adminToken": []}],
            "responses": {
                route.status.to_string(): {"description": "success"},
                "400": {"description": "refused (invalid input, or an action that does not apply), with the reason", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "no or an invalid admin API token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(body) = route.body {
            op["requestBody"] = json!({"required": !route.body_optional, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        let path = format!("{PREFIX}{}", route.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    paths.insert(
        format!("{PREFIX}/openapi.json"),
        json!({"get": {"summary": "This document", "operationId": "get_openapi", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}),
    );
    let list = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "scimd admin API", "version": "1", "description": "Everything the admin console does, as JSON. Authenticate with an admin API token (`scimd admin token create NAME`)."},
        "paths": paths,
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "an admin API token, scimdadm_..."}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
                "ProviderInput": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "population": {"type": "string", "enum": ["internal", "third-party"], "description": "on creation only; fixed once saved"},
                    "enabled": {"type": "boolean"},
                    "description": {"type": "string"},
                    "tags": list("tags"),
                    "token_ttl": {"type": "string", "description": "token lifetime, e.g. 365d"},
                    "token_expiry_date": {"type": "string", "format": "date", "description": "or the date tokens issued today expire"},
                    "allowed_networks": list("CIDR networks allowed to request tokens and push; empty: any"),
                    "group_patch_response": {"type": "string", "enum": ["no-content", "full"], "description": "the answer to a group PATCH without attributes: 204, or 200 with the whole group"},
                    "undeclared": {"type": "string", "enum": ["keep", "reject"], "description": "attributes no schema declares: kept as sent, or refused"},
                    "log_failure_retention": {"type": "string", "description": "how long the provisioning log keeps failed requests, e.g. 30d; \"default\" (or empty): the server's"},
                    "log_failure_max": {"type": ["integer", "string"], "description": "at most this many failed requests are kept; \"default\": the server's"},
                    "log_success_max": {"type": ["integer", "string"], "description": "the last this many successful requests are kept; \"default\": the server's"},
                    "on_delete": {"type": "string", "enum": ["soft", "hard"], "description": "what a DELETE does: kept and restorable for the retention (default), or gone for good"},
                    "retention": {"type": "string", "description": "how long soft-deleted resources are kept, e.g. 30d (default), 12h, 2s"},
                    "access_ttl": {"type": "string", "description": "users get an access end date this long after creation, e.g. 90d; none: no end date (default)"},
                    "guard": {"type": "string", "enum": ["on", "off"], "description": "the mass-deletion guard (default on)"},
                    "guard_share": {"type": "string", "description": "the share of live users (or groups) the provider may delete or deactivate within the window, e.g. 20% (default)"},
                    "guard_window": {"type": "string", "description": "the guard's window, e.g. 10m (default)"},
                    "guard_min_users": {"type": ["integer", "string"], "description": "below this many users (or groups) the guard does not trip (default 50)"}
                }},
                "RenewInput": {"type": "object", "additionalProperties": false, "required": ["for"], "properties": {
                    "for": {"type": "string", "description": "how long from now the access lasts, e.g. 90d"}
                }},
                "SubscriptionInput": {"type": "object", "additionalProperties": false, "required": ["format"], "properties": {
                    "format": {"type": "string", "enum": ["webhook", "set"], "description": "Standard Webhooks, or RFC 9967 Security Event Tokens"},
                    "url": {"type": "string", "description": "where events are POSTed: https, or an address --receiver-allow allows; without it a set subscription is polled (RFC 8936)"},
                    "providers": list("only these providers' events; empty: all"),
                    "population": {"type": "string", "enum": ["internal", "third-party"], "description": "only this population's events; absent: both"},
                    "events": list("only these event types (user.created, group.member_added, ...); empty: all"),
                    "payload": {"type": "string", "enum": ["full", "notice"], "description": "the resource after the change (default), or ids and attribute names only"}
                }},
                "SetupLinkInput": {"type": "object", "additionalProperties": false, "properties": {
                    "expires": {"type": "string", "description": "how long the link works, e.g. 72h (default) or 7d; at most 30d"},
                    "reveal_secret": {"type": "boolean", "description": "the page may show the client secret, once (default false)"}
                }},
                "RotateInput": {"type": "object", "additionalProperties": false, "properties": {
                    "overlap": {"type": "string", "description": "how long the old secret still signs, e.g. 24h (default), 0 to cut over at once; at most 30d"}
                }},
                "ReplayInput": {"type": "object", "additionalProperties": false, "required": ["from"], "properties": {
                    "from": {"type": "integer", "minimum": 1, "description": "the stream position to deliver again from (inclusive)"},
                    "provider": {"type": "string", "description": "only this provider's stream (default: every provider the subscription covers)"}
                }},
                "ExtensionInput": {"type": "object", "additionalProperties": false, "required": ["schema"], "properties": {
                    "schema": {"type": "object", "description": "an RFC 7643 section 7 schema: id (a URN), name, description, attributes"},
                    "resourceType": {"type": "string", "enum": ["User", "Group"], "description": "default User"},
                    "required": {"type": "boolean", "description": "every resource of the type must carry it"},
                    "index": list("string attributes to index for fast equality lookups")
                }}
            }
        }
    })
}
