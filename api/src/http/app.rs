//! The built browser app (trunk's dist), with cache headers: hashed assets
//! are immutable, `index.html` is revalidated so a deploy shows at once.
//! A path with a file extension that is not in dist is a 404, never
//! index.html (which a hashed name would cache for a year); other paths
//! are the app's own and get index.html (the single-page fallback).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use base64::Engine;
use sha2::Digest;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::error::ApiError;

pub struct App {
    dir: PathBuf,
    /// index.html as read at start: the page served is the page whose
    /// inline scripts the CSP allows by hash (a new build needs a restart).
    index: Option<Bytes>,
}

impl App {
    pub fn load(dir: &Path) -> App {
        App { dir: dir.to_path_buf(), index: std::fs::read(dir.join("index.html")).ok().map(Bytes::from) }
    }

    /// `'sha256-…'` of each inline `<script>` of index.html (trunk's loader).
    pub fn script_hashes(&self) -> Vec<String> {
        self.index.as_ref().map(|i| inline_script_hashes(&String::from_utf8_lossy(i))).unwrap_or_default()
    }

    pub fn routes(self) -> Router {
        Router::new().fallback(serve).with_state(Arc::new(self))
    }

    fn page(index: &Bytes) -> Response {
        let headers = [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")];
        (headers, index.clone()).into_response()
    }
}

async fn serve(State(app): State<Arc<App>>, req: Request) -> Response {
    let Some(index) = &app.index else {
        return Html(format!(
            "<!doctype html><title>servicewatch</title><p>The browser app is not built: run \
             <code>trunk build --release</code> (or <code>scripts/run.sh</code>); expected it in {}.</p>",
            app.dir.display()
        ))
        .into_response();
    };
    let name = req.uri().path().rsplit('/').next().unwrap_or_default().to_string();
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    if read && (name.is_empty() || name == "index.html") {
        return App::page(index);
    }
    let files = ServeDir::new(&app.dir).append_index_html_on_directories(false);
    let Ok(resp) = files.oneshot(req).await;
    let mut resp = resp.map(Body::new);
    if resp.status() == StatusCode::NOT_FOUND {
        // Only extension-less paths are the app's own routes.
        return if name.contains('.') {
            ApiError::NotFound(format!("no file `{name}` in the app")).into_response()
        } else {
            App::page(index)
        };
    }
    // trunk names assets `name-<hash>.ext` (`name-<hash>_bg.wasm`);
    // everything else may change.
    let hashed = name.rsplit_once('.').and_then(|(stem, _)| stem.rsplit_once('-')).is_some_and(|(_, tail)| {
        let hash = tail.split('_').next().unwrap_or_default();
        hash.len() >= 16 && hash.chars().all(|c| c.is_ascii_hexdigit())
    });
    let found = matches!(resp.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED);
    let value = if hashed && found { "public, max-age=31536000, immutable" } else { "no-cache" };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    resp
}

/// CSP hash sources of the inline `<script>` blocks of a page (those
/// without `src`), over their text as the browser sees it.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    // The HTML parser turns CR LF and CR into LF before the hash is taken.
    let html = html.replace("\r\n", "\n").replace('\r', "\n");
    let lower = html.to_ascii_lowercase(); // same byte offsets
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let Some(body) = lower[start..].find('>').map(|i| start + i + 1) else { break };
        let Some(end) = lower[body..].find("</script").map(|i| body + i) else { break };
        let has_src = lower[start..body].split_ascii_whitespace().any(|a| a == "src" || a.starts_with("src="));
        if !has_src {
            let digest = sha2::Sha256::digest(&html.as_bytes()[body..end]);
            hashes.push(format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
        }
        at = end;
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_only_are_hashed() {
        let page = "<head><script src=\"plotly.js\"></script>\r\n<SCRIPT type=\"module\">\r\nimport init from './a.js';\r\n</SCRIPT>\n<script>x()</script></head>";
        // `printf '\nimport init from '"'"'./a.js'"'"';\n' | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            inline_script_hashes(page),
            [
                "'sha256-b8dPs/81WrgdLiiXFdRIvTN+J/lNbYF2vbwDBORDYHw='",
                "'sha256-D6IGS8VMvCoyaR/l0h9tERrBTATY01CoPS7l6xDv0kI='"
            ]
        );
    }
}
