//! Who the statements run as, following Databricks unified client auth:
//!
//! 1. the end user's own token (`X-Forwarded-Access-Token`), when the server
//!    runs behind the Databricks Apps proxy with user authorization: Unity
//!    Catalog then applies that user's permissions. Only trusted when a
//!    setting says the proxy is there, since anyone can send the header;
//! 2. a personal access token (`DATABRICKS_TOKEN`);
//! 3. OAuth machine-to-machine (`DATABRICKS_CLIENT_ID` and
//!    `DATABRICKS_CLIENT_SECRET`, what an app's service principal gets): a
//!    token from `{host}/oidc/v1/token`, kept until shortly before it expires;
//! 4. the same two from a `~/.databrickscfg` profile (resolved in
//!    [`crate::config`]).
//!
//! Tokens are [`Secret`]s: they print as `***` and never reach a log or an
//! answer.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::super::{Caller, WarehouseError};

/// A credential. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The server's own credentials (the end user's come with each request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A personal access token.
    Token(Secret),
    /// OAuth M2M: a service principal's client id and secret.
    OAuth { client_id: String, client_secret: Secret },
}

/// Hands out bearer tokens for each call.
pub struct Auth {
    host: String,
    creds: Credentials,
    /// Whether `X-Forwarded-Access-Token` comes from the Databricks Apps
    /// proxy (and so is the user's), not from whoever sent the request.
    trust_forwarded: bool,
    /// The cached OAuth token and when to stop using it.
    oauth: Mutex<Option<(Secret, Instant)>>,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Auth {
    pub fn new(host: String, creds: Credentials, trust_forwarded: bool, http: reqwest::Client) -> Auth {
        Auth { host, creds, trust_forwarded, oauth: Mutex::new(None), http }
    }

    /// The end user's token, when it may be trusted.
    pub fn user_token<'a>(&self, caller: &'a Caller) -> Option<&'a str> {
        if self.trust_forwarded {
            caller.token.as_deref().filter(|t| !t.is_empty())
        } else {
            None
        }
    }

    /// Which cache entries a caller may share: the end user's own when the
    /// query runs with their token, the server's otherwise.
    pub fn scope(&self, caller: &Caller) -> String {
        match self.user_token(caller) {
            None => String::new(),
            Some(token) => match caller.user.as_deref().filter(|u| !u.is_empty()) {
                Some(user) => format!("user:{user}"),
                // No forwarded identity: one scope per token, never shared.
                None => {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    token.hash(&mut h);
                    format!("token:{:016x}", h.finish())
                }
            },
        }
    }

    /// The bearer token for a call made for `caller`.
    pub async fn bearer(&self, caller: &Caller) -> Result<Secret, WarehouseError> {
        if let Some(t) = self.user_token(caller) {
            return Ok(Secret::new(t));
        }
        match &self.creds {
            Credentials::Token(t) => Ok(t.clone()),
            Credentials::OAuth { client_id, client_secret } => {
                let mut cached = self.oauth.lock().await;
                if let Some((token, until)) = cached.as_ref() {
                    if Instant::now() < *until {
                        return Ok(token.clone());
                    }
                }
                let (token, until) = self.fetch_oauth(client_id, client_secret).await?;
                *cached = Some((token.clone(), until));
                Ok(token)
            }
        }
    }

    /// Forgets a cached OAuth token the workspace refused (revoked, or its
    /// clock disagrees with ours), so the next call asks for a new one.
    /// Returns whether there was one to forget.
    pub async fn refused(&self, caller: &Caller) -> bool {
        if self.user_token(caller).is_some() {
            return false;
        }
        self.oauth.lock().await.take().is_some()
    }

    async fn fetch_oauth(&self, client_id: &str, secret: &Secret) -> Result<(Secret, Instant), WarehouseError> {
        let url = format!("{}/oidc/v1/token", self.host);
        let sent = Instant::now();
        let resp = self
            .http
            .post(&url)
            .basic_auth(client_id, Some(secret.expose()))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .map_err(|e| WarehouseError::Unavailable(format!("cannot reach {url}: {}", without_url(&e))))?;
        let status = resp.status();
        if status.is_client_error() {
            return Err(WarehouseError::NotAuthorised(format!(
                "{url} refused OAuth client `{client_id}` ({status}); check DATABRICKS_CLIENT_ID and \
                 DATABRICKS_CLIENT_SECRET"
            )));
        }
        if !status.is_success() {
            return Err(WarehouseError::Unavailable(format!("{url} answered {status}")));
        }
        let answer: TokenAnswer = resp
            .json()
            .await
            .map_err(|e| WarehouseError::query(format!("{url}: unexpected answer: {}", without_url(&e))))?;
        // At most a day, whatever the endpoint says (and no overflow).
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(86_400));
        // Renew a minute early (half the lifetime for short-lived tokens).
        let margin = (lifetime / 2).min(Duration::from_secs(60));
        Ok((Secret::new(answer.access_token), sent + lifetime - margin))
    }
}

/// A reqwest error's text without its URL (presigned URLs carry credentials).
pub fn without_url(e: &reqwest::Error) -> String {
    let mut kind = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_decode() || e.is_body() {
        "could not read the answer".to_string()
    } else {
        "request failed".to_string()
    };
    if let Some(src) = std::error::Error::source(e) {
        kind.push_str(&format!(": {src}"));
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(trust: bool) -> Auth {
        Auth::new("http://x".into(), Credentials::Token(Secret::new("pat")), trust, reqwest::Client::new())
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::OAuth { client_id: "id".into(), client_secret: Secret::new("hunter2") };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Token(Secret::new("dapi123"))).contains("dapi123"));
    }

    #[tokio::test]
    async fn a_forwarded_token_counts_only_behind_the_proxy() {
        let caller = Caller { user: Some("a@x".into()), token: Some("user-token".into()) };
        assert_eq!(auth(false).bearer(&caller).await.unwrap().expose(), "pat");
        assert_eq!(auth(false).scope(&caller), "");
        assert_eq!(auth(true).bearer(&caller).await.unwrap().expose(), "user-token");
        assert_eq!(auth(true).scope(&caller), "user:a@x");
        let anonymous = Caller { user: None, token: Some("t2".into()) };
        let (a, b) = (auth(true).scope(&anonymous), auth(true).scope(&caller));
        assert!(a.starts_with("token:") && a != b && !a.contains("t2"));
    }
}
