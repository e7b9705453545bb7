//! Postman collections (format v2.1) carrying a provider's values, and reading those values
//! back from a collection or an environment export (`scimd token --from`). Variable names
//! follow the common procedure: `server_url`, `scim_base_url`, `tokenUrl`, `scim_client_id`,
//! `scim_client_secret`. Building one for a provider reveals its secret, so it is audited
//! ([`Core::postman_collection`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::error::CoreError;
use crate::provider::Provider;
use crate::service::Core;
use crate::views::Urls;

pub const COLLECTION_SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

pub struct CollectionValues<'a> {
    pub provider_name: &'a str,
    pub server_url: &'a str,
    pub base_url: &'a str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

fn var(key: &str, value: &str) -> Value {
    json!({"key": key, "value": value, "type": "string"})
}

fn scim_request(name: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let query: Vec<Value> = match path.split_once('?') {
        Some((p, q)) => {
            segments = p.trim_start_matches('/').split('/').collect();
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect()
        }
        None => Vec::new(),
    };
    let mut request = json!({
        "method": method,
        "header": [
            {"key": "Accept", "value": "application/scim+json"},
            {"key": "Content-Type", "value": "application/scim+json"}
        ],
        "url": {
            "raw": format!("{{{{scim_base_url}}}}/{}", path.trim_start_matches('/')),
            "host": ["{{scim_base_url}}"],
            "path": segments,
        }
    });
    if !query.is_empty() {
        request["url"]["query"] = Value::Array(query);
    }
    if let Some(body) = body {
        request["body"] = json!({
            "mode": "raw",
            "raw": serde_json::to_string_pretty(&body).unwrap_or_default(),
            "options": {"raw": {"language": "json"}}
        });
    }
    json!({"name": name, "request": request})
}

/// A collection whose collection-level auth is OAuth 2.0 client credentials against
/// `{{tokenUrl}}` with client authentication in the header: "Get New Access Token" works.
pub fn collection(v: &CollectionValues<'_>) -> Value {
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jane.doe@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": "jane.doe@example.com", "type": "work"}],
        "displayName": "Jane Doe",
        "active": true
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineering",
        "members": []
    });
    let token_request = json!({
        "name": "Get activation token (client credentials)",
        "request": {
            "auth": {"type": "basic", "basic": [
                {"key": "username", "value": "{{scim_client_id}}", "type": "string"},
                {"key": "password", "value": "{{scim_client_secret}}", "type": "string"}
            ]},
            "method": "POST",
            "header": [{"key": "Content-Type", "value": "application/x-www-form-urlencoded"}],
            "body": {"mode": "urlencoded", "urlencoded": [{"key": "grant_type", "value": "client_credentials", "type": "text"}]},
            "url": {"raw": "{{tokenUrl}}", "host": ["{{tokenUrl}}"]}
        }
    });
    json!({
        "info": {
            "name": format!("scimd - {}", v.provider_name),
            "description": "SCIM 2.0 requests for one scimd identity provider. Open the collection's Authorization tab and press \"Get New Access Token\", then \"Use Token\".",
            "schema": COLLECTION_SCHEMA
        },
        "auth": {
            "type": "oauth2",
            "oauth2": [
                var("grant_type", "client_credentials"),
                var("accessTokenUrl", "{{tokenUrl}}"),
                var("clientId", "{{scim_client_id}}"),
                var("clientSecret", "{{scim_client_secret}}"),
                var("client_authentication", "header"),
                var("addTokenTo", "header"),
                var("headerPrefix", "Bearer"),
                var("tokenName", "scimd activation token")
            ]
        },
        "variable": [
            var("server_url", v.server_url),
            var("scim_base_url", v.base_url),
            var("tokenUrl", v.token_url),
            var("scim_client_id", v.client_id),
            var("scim_client_secret", v.client_secret)
        ],
        "item": [
            token_request,
            scim_request("Service provider configuration", "GET", "/ServiceProviderConfig", None),
            scim_request("List users", "GET", "/Users?startIndex=1&count=100", None),
            scim_request("Create a user", "POST", "/Users", Some(user)),
            scim_request("Deactivate a user", "PATCH", "/Users/{{user_id}}", Some(patch)),
            scim_request("Push a group", "POST", "/Groups", Some(group))
        ]
    })
}

impl Core {
    /// The provider's collection, holding its client secret: an audited reveal.
    pub async fn postman_collection(
        &self,
        id: &str,
        urls: &Urls,
        actor: &Actor,
    ) -> Result<(Provider, Value), CoreError> {
        let p = self.provider(id).await?;
        let secret = self.reveal_secret(id, actor).await?;
        let doc = collection_for(&p, urls, &secret);
        Ok((p, doc))
    }
}

/// The collection of provider `p` at `urls`, with `secret` as its client secret (empty:
/// left for its user to fill in).
pub fn collection_for(p: &Provider, urls: &Urls, secret: &str) -> Value {
    collection(&CollectionValues {
        provider_name: &p.name,
        server_url: urls.public(),
        base_url: &urls.base(p.id.as_str()),
        token_url: &urls.token(),
        client_id: p.client_id.as_str(),
        client_secret: secret,
    })
}

/// The variables of a collection (`variable`) or an environment export (`values`, enabled
/// ones only).
pub fn variables(doc: &Value) -> Result<BTreeMap<String, String>, String> {
    let list = doc
        .get("variable")
        .or_else(|| doc.get("values"))
        .and_then(Value::as_array)
        .ok_or("this is neither a Postman collection with variables nor a Postman environment")?;
    let mut out = BTreeMap::new();
    for item in list {
        if item.get("enabled").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        if let (Some(k), Some(v)) = (
            item.get("key").and_then(Value::as_str),
            item.get("value").and_then(Value::as_str),
        ) {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_carries_its_values_and_reads_back() {
        let c = collection(&CollectionValues {
            provider_name: "Okta",
            server_url: "http://h",
            base_url: "http://h/scim/v2/okta",
            token_url: "http://h/oauth2/token",
            client_id: "cid",
            client_secret: "sec",
        });
        let vars = variables(&c).unwrap_or_default();
        assert_eq!(vars.get("tokenUrl").map(String::as_str), Some("http://h/oauth2/token"));
        assert_eq!(vars.get("scim_client_secret").map(String::as_str), Some("sec"));
        assert_eq!(c["auth"]["type"], "oauth2");
    }

    #[test]
    fn environments_skip_disabled_values() {
        let env = json!({"values": [
            {"key": "scim_client_id", "value": "a", "enabled": true},
            {"key": "scim_client_secret", "value": "b", "enabled": false}
        ]});
        let vars = variables(&env).unwrap_or_default();
        assert_eq!(vars.len(), 1);
        assert!(variables(&json!({"x": 1})).is_err());
    }
}
