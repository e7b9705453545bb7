//! `scimd token`: the client-credentials grant by hand; the token alone on stdout. Also the
//! credentials logic `scimd push` shares: flags, then `SCIMD_*` variables, then a Postman file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, anyhow};
use scimd_client::{CaRoots, ClientAuth, TokenRequest, request_token};
use scimd_core::postman;

use crate::cli::{AuthArg, GrantArgs, TokenArgs};

/// The variables of a Postman collection or environment (`--from`), or none.
fn postman_vars(from: Option<&Path>) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(path) = from else {
        return Ok(BTreeMap::new());
    };
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    postman::variables(&doc).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// A flag (or its environment variable), else the Postman variable `var`.
pub fn pick(flag: &Option<String>, vars: &BTreeMap<String, String>, var: &str, what: &str) -> anyhow::Result<String> {
    flag.clone()
        .or_else(|| vars.get(var).cloned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "no {what}: pass --{} or use --from FILE with a '{var}' variable",
                what.replace(' ', "-")
            )
        })
}

impl GrantArgs {
    /// The Postman variables of `--from` (none without it), and the CA roots of `--ca-file`.
    pub fn sources(&self) -> anyhow::Result<(BTreeMap<String, String>, Option<CaRoots>)> {
        Ok((postman_vars(self.from.as_deref())?, ca_roots(self.ca_file.as_deref())?))
    }

    /// The grant's request from the flags, else the Postman variables.
    pub fn request(&self, vars: &BTreeMap<String, String>, ca: Option<&CaRoots>) -> anyhow::Result<TokenRequest> {
        Ok(TokenRequest {
            token_url: pick(&self.token_url, vars, "tokenUrl", "token url")?,
            client_id: pick(&self.client_id, vars, "scim_client_id", "client id")?,
            client_secret: pick(&self.client_secret, vars, "scim_client_secret", "client secret")?,
            auth: match self.auth {
                AuthArg::Basic => ClientAuth::Basic,
                AuthArg::Body => ClientAuth::Body,
            },
            scope: self.scope.clone(),
            ca: ca.cloned(),
        })
    }
}

/// The CA file's certificates, when one is given.
fn ca_roots(file: Option<&Path>) -> anyhow::Result<Option<CaRoots>> {
    let Some(path) = file else { return Ok(None) };
    let pem = fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
    CaRoots::from_pem(&pem)
        .map(Some)
        .map_err(|e| anyhow!("the CA file {}: {e}", path.display()))
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let (vars, ca) = args.grant.sources()?;
    let req = args.grant.request(&vars, ca.as_ref())?;
    let response = request_token(&req)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        println!("{}", response["access_token"].as_str().unwrap_or_default());
    }
    Ok(())
}
