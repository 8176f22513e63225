//! The built browser app (trunk's dist), with cache headers: hashed assets
//! are immutable, `index.html` is revalidated so a deploy shows at once.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{Html, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub fn routes(dist: &Path) -> Router {
    if !dist.join("index.html").exists() {
        let msg = format!(
            "<!doctype html><title>servicewatch</title><p>The browser app is not built: run \
             <code>trunk build --release</code> (or <code>scripts/run.sh</code>); expected it in {}.</p>",
            dist.display()
        );
        return Router::new().fallback(move || {
            let msg = msg.clone();
            async move { Html(msg) }
        });
    }
    let files = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    Router::new().fallback_service(files).layer(axum::middleware::from_fn(cache_headers))
}

async fn cache_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    // trunk names assets `name-<hash>.ext`; everything else may change.
    let hashed = path.rsplit('/').next().is_some_and(|f| {
        f.rsplit_once('.').and_then(|(stem, _)| stem.rsplit_once('-')).is_some_and(|(_, h)| h.len() >= 16)
    });
    let value = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    resp
}
