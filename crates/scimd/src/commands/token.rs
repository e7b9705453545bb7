//! `scimd token`: the client-credentials grant by hand; the token alone on stdout.

use std::fs;

use anyhow::{Context, anyhow};
use scimd_client::{ClientAuth, TokenRequest, postman, request_token};

use crate::cli::{AuthArg, TokenArgs};

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let from = match &args.from {
        Some(path) => {
            let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            postman::variables(&doc).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Default::default(),
    };
    let pick = |flag: &Option<String>, var: &str, what: &str| -> anyhow::Result<String> {
        flag.clone()
            .or_else(|| from.get(var).cloned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "no {what}: pass --{} or use --from FILE with a '{var}' variable",
                    what.replace(' ', "-")
                )
            })
    };
    let req = TokenRequest {
        token_url: pick(&args.token_url, "tokenUrl", "token url")?,
        client_id: pick(&args.client_id, "scim_client_id", "client id")?,
        client_secret: pick(&args.client_secret, "scim_client_secret", "client secret")?,
        auth: match args.auth {
            AuthArg::Basic => ClientAuth::Basic,
            AuthArg::Body => ClientAuth::Body,
        },
        scope: args.scope,
    };
    let response = request_token(&req)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        println!("{}", response["access_token"].as_str().unwrap_or_default());
    }
    Ok(())
}
