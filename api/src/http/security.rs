//! Headers on every response: a Content-Security-Policy the app works
//! under, which also says who may embed it (`frame_ancestors`), and no
//! MIME sniffing or cross-site referrers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub struct Headers(Vec<(HeaderName, HeaderValue)>);

/// CSP hash of the empty string.
const EMPTY: &str = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";

/// The policy: only this server's scripts (and trunk's inline loader, by
/// hash), styles, images and API; framed only by `frame_ancestors`.
pub fn policy(frame_ancestors: &str, script_hashes: &[String]) -> String {
    let hashes: String = script_hashes.iter().map(|h| format!(" {h}")).collect();
    // 'wasm-unsafe-eval': compiling the app's wasm, nothing else.
    // style-src: plotly.js appends an *empty* <style> and fills it through
    // CSSOM (insertRule, allowed), and d3 sets styles through CSSOM too, so
    // the hash of the empty string is all it needs: no 'unsafe-inline'.
    // base-uri: the app's URLs are relative, so an injected <base> must not
    // move them; default-src does not cover it.
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self' {EMPTY}; \
         img-src 'self' data: blob:; connect-src 'self'; base-uri 'self'; object-src 'none'; \
         frame-ancestors {frame_ancestors}"
    )
}

impl Headers {
    /// `frame_ancestors` is the validated setting (see `config`).
    pub fn new(frame_ancestors: &str, script_hashes: &[String]) -> anyhow::Result<Headers> {
        let csp = HeaderValue::from_str(&policy(frame_ancestors, script_hashes))?;
        Ok(Headers(vec![
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            // The URL holds the view (service names, ranges): other sites
            // get the origin at most; same-origin requests keep it for logs.
            (header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin")),
        ]))
    }
}

/// No X-Frame-Options: it cannot list several portals; frame-ancestors
/// replaces it in every current browser.
pub async fn add(State(headers): State<Arc<Headers>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    for (name, value) in &headers.0 {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}
