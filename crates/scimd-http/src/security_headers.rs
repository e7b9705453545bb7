//! Response headers that make browsers careful: `X-Content-Type-Options: nosniff` on every
//! response, `Strict-Transport-Security` on every response when scimd serves HTTPS itself,
//! and on every HTML page a Content Security Policy, `X-Frame-Options: DENY` and
//! `Referrer-Policy: no-referrer`. A page that sets its own policy (a nonce, say) keeps it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Whether scimd itself serves HTTPS (behind a TLS-terminating proxy it does not, and the
/// proxy sets HSTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Https(pub bool);

/// Two years, as the HSTS preload list asks; subdomains are not scimd's to decide.
pub const HSTS: &str = "max-age=63072000";
/// The one Content Security Policy: pages load nothing but their own scripts, styles and
/// images (no inline script at all), fetch only from scimd, submit forms only to scimd, and
/// are framed by nobody.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn every_response(State(Https(https)): State<Https>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if html {
        page_headers(h);
    }
    resp
}

/// The page headers for every response of a router, HTML or not (e.g. the admin console,
/// whose JSON and redirects should not be framed either): `.layer(from_fn(pages))`.
pub async fn pages(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    page_headers(resp.headers_mut());
    resp
}

fn page_headers(h: &mut HeaderMap) {
    set_default(h, header::CONTENT_SECURITY_POLICY, CSP);
    set_default(h, header::X_FRAME_OPTIONS, "DENY");
    set_default(h, header::REFERRER_POLICY, "no-referrer");
}

fn set_default(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !h.contains_key(&name) {
        h.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::response::Html;
    use axum::routing::get;

    use super::*;

    fn headers_of(router: Router, path: &str) -> HeaderMap {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            use tower_service::Service;
            let mut svc = router;
            let req = Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap_or_else(|e| panic!("{e}"));
            let resp = svc.call(req).await.unwrap_or_else(|e| match e {});
            resp.headers().clone()
        })
    }

    fn router(https: bool) -> Router {
        Router::new()
            .route("/page", get(|| async { Html("<p>hi</p>") }))
            .route(
                "/own",
                get(|| async { ([(header::CONTENT_SECURITY_POLICY, "default-src 'none'")], Html("x")) }),
            )
            .route("/json", get(|| async { axum::Json(serde_json::json!({})) }))
            .layer(axum::middleware::from_fn_with_state(Https(https), every_response))
    }

    #[test]
    fn every_response_is_nosniff_and_strict_transport_only_under_tls() {
        let plain = headers_of(router(false), "/json");
        assert_eq!(
            plain.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert!(plain.get("strict-transport-security").is_none());
        assert!(
            plain.get("content-security-policy").is_none(),
            "JSON needs no page policy"
        );
        let tls = headers_of(router(true), "/json");
        assert_eq!(
            tls.get("strict-transport-security").map(|v| v.as_bytes()),
            Some(HSTS.as_bytes())
        );
    }

    #[test]
    fn html_pages_get_a_policy_and_refuse_frames_but_keep_their_own_policy() {
        let page = headers_of(router(false), "/page");
        assert_eq!(
            page.get("content-security-policy").map(|v| v.as_bytes()),
            Some(CSP.as_bytes())
        );
        assert_eq!(page.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]));
        let own = headers_of(router(false), "/own");
        assert_eq!(
            own.get("content-security-policy").map(|v| v.as_bytes()),
            Some(&b"default-src 'none'"[..])
        );
        assert_eq!(own.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    }
}
