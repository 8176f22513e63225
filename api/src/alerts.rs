//! `scan --alert URL`: one webhook message per newly flagged day, at least
//! once.
//!
//! The store's outbox is what makes it reliable: new alerts are written
//! there first, then every pending one is posted (those left by earlier
//! runs too). One the webhook did not take stays queued for the next run,
//! and the run exits non-zero so a scheduler sees it. A delivery whose
//! answer was lost is sent again; the idempotency key (one per series-day,
//! also the `Idempotency-Key` header) lets the receiver drop the repeat.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use reqwest::Url;
use servicewatch_shared::wire::Alert;
use servicewatch_shared::{Anomaly, Day};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, clap::Args)]
pub struct AlertArgs {
    /// POST each newly flagged day (every one, whatever `--limit` prints)
    /// to this webhook as Slack-compatible JSON, once per series-day; days
    /// marked expected or confirmed are not alerted. The outbox is kept in
    /// the store (`--audit-db`, or `--store-schema` on Databricks).
    #[arg(long = "alert", value_name = "URL", env = "SERVICEWATCH_ALERT_URL", hide_env_values = true, value_parser = parse_url)]
    pub url: Option<Url>,
    /// Seconds to wait for the webhook's answer to one request.
    #[arg(long = "alert-timeout-secs", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
    /// Tries per alert in one run; what is left is retried next run.
    #[arg(long = "alert-attempts", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: u32,
    /// Wait before an alert's first retry, doubling for each further one.
    #[arg(long = "alert-backoff-ms", default_value_t = 500)]
    pub backoff_ms: u64,
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("a webhook is http or https, not {other}")),
    }
}

/// The idempotency key of a series-day: the same whatever method or
/// parameters flag it, so a day is alerted once.
///
/// ```
/// use servicewatch::alerts::key;
/// let day = servicewatch_shared::Day::parse("2024-03-01").unwrap();
/// assert_eq!(key("brakes", day).len(), 3 + 32);
/// assert_ne!(key("brakes", day), key("tyres", day));
/// ```
pub fn key(series: &str, date: Day) -> String {
    // The unit separator cannot be confused with anything in a name.
    let digest = Sha256::digest(format!("{series}\u{1f}{date}"));
    digest[..16].iter().fold(String::from("sw-"), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// One line for people, as Slack shows it: the name escaped the way Slack
/// asks (`&`, `<`, `>`) and kept on one line.
///
/// ```
/// use servicewatch_shared::{Anomaly, Day};
/// let a = Anomaly { key: "brakes".into(), date: Day::parse("2024-03-01").unwrap(), value: 120,
///     center: 52.2, spread: 12.0, z: 5.27, day_factor: 1.0 };
/// assert_eq!(servicewatch::alerts::text(&a),
///     "servicewatch: brakes on 2024-03-01: spike, 120 transactions, usual 52 (z 5.3)");
/// ```
pub fn text(a: &Anomaly) -> String {
    let name = a.key.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace(['\n', '\r'], " ");
    let what = if a.z < 0.0 { "drop" } else { "spike" };
    let mut line = format!(
        "servicewatch: {name} on {}: {what}, {} transactions, usual {:.0} (z {:.1}",
        a.date, a.value, a.center, a.z
    );
    // The baseline already includes a business-wide move; say so, or a
    // reader takes a quiet holiday for a broken service.
    if a.day_factor != 1.0 {
        let _ = write!(line, "; all services {:+.0} %", (a.day_factor - 1.0) * 100.0);
    }
    line.push(')');
    line
}

/// The alert for one flagged day.
pub fn alert(a: &Anomaly, method: &str, params: &str) -> Alert {
    Alert {
        idempotency_key: key(&a.key, a.date),
        text: text(a),
        anomaly: a.clone(),
        method: method.to_string(),
        params: params.to_string(),
    }
}

/// Queues the days `flagged` now that are new and not marked (`marked`:
/// the days marked expected or confirmed, by series, as the scan's
/// baselines left them out), then delivers every pending alert to
/// `args.url`. Pending alerts at the end are an error (they stay queued).
pub async fn run(
    args: &AlertArgs,
    store: &Arc<dyn Store>,
    config: &Config,
    (flagged, marked): (&[Anomaly], &BTreeMap<String, Vec<Day>>),
    method: &str,
    params: &str,
) -> anyhow::Result<()> {
    let Some(url) = &args.url else { return Ok(()) };
    // An analyst already knows of a day marked expected or confirmed.
    let known = |a: &Anomaly| marked.get(&a.key).is_some_and(|days| days.binary_search(&a.date).is_ok());
    let mut new: Vec<Alert> = flagged.iter().filter(|a| !known(a)).map(|a| alert(a, method, params)).collect();
    // Oldest day first, so a channel reads in order.
    new.sort_by(|a, b| (a.anomaly.date, &a.anomaly.key).cmp(&(b.anomaly.date, &b.anomaly.key)));
    let queued = blocking(store, move |s| s.enqueue_alerts(&new, Utc::now())).await?;

    let pending = blocking(store, |s| s.pending_alerts()).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        // A redirected POST would arrive as a GET: not delivered.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the webhook client")?;
    let mut delivered = 0;
    for a in &pending {
        if deliver(&client, url, a, args, store).await? {
            delivered += 1;
        }
    }
    let left = pending.len() - delivered;
    eprintln!("scan: alerts: queued {queued} new, delivered {delivered}, pending {left}");
    if left > 0 {
        anyhow::bail!(
            "{left} alert(s) not delivered: they stay queued in {} and will be retried next run",
            config.store_place()
        );
    }
    Ok(())
}

/// Posts one alert, up to `args.attempts` times with a doubling wait
/// between; every attempt is counted in the store. True when delivered.
async fn deliver(
    client: &reqwest::Client,
    url: &Url,
    alert: &Alert,
    args: &AlertArgs,
    store: &Arc<dyn Store>,
) -> anyhow::Result<bool> {
    let mut wait = Duration::from_millis(args.backoff_ms);
    for attempt in 1..=args.attempts {
        let outcome = post(client, url, alert, args.timeout_secs).await;
        let (key, at) = (alert.idempotency_key.clone(), Utc::now());
        match outcome {
            Ok(()) => {
                blocking(store, move |s| s.alert_delivered(&key, at)).await?;
                return Ok(true);
            }
            Err(error) => {
                if attempt == args.attempts {
                    let a = &alert.anomaly;
                    eprintln!(
                        "scan: alert for {} on {} not delivered after {attempt} attempt(s): {error}",
                        a.key, a.date
                    );
                }
                blocking(store, move |s| s.alert_failed(&key, at, &error)).await?;
            }
        }
        if attempt < args.attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    Ok(false)
}

/// One POST; a 2xx answer is delivered, anything else says why not.
async fn post(client: &reqwest::Client, url: &Url, alert: &Alert, timeout_secs: u64) -> Result<(), String> {
    let mut resp = client
        .post(url.clone())
        .header("Idempotency-Key", &alert.idempotency_key)
        .json(alert)
        .send()
        .await
        .map_err(|e| transport_error(e, timeout_secs))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    // The start of the body says why (Slack answers `invalid_payload`, ...).
    let mut body = Vec::new();
    while body.len() < 200 {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let body = String::from_utf8_lossy(&body[..body.len().min(200)]).replace(['\n', '\r'], " ");
    Err(match body.trim() {
        "" => format!("HTTP {status}"),
        why => format!("HTTP {status}: {why}"),
    })
}

/// What went wrong before an answer, with its causes but never the URL: a
/// webhook's URL is its secret, and this text is printed and stored.
fn transport_error(e: reqwest::Error, timeout_secs: u64) -> String {
    if e.is_timeout() {
        return format!("no answer within {timeout_secs} s");
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let _ = write!(text, ": {c}");
        cause = c.source();
    }
    text
}

/// Runs a store call off the async threads (store calls block).
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || call(&*store)).await.context("the store task failed")??)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(key: &str, value: u64, center: f64, z: f64, day_factor: f64) -> Anomaly {
        Anomaly { key: key.into(), date: Day::parse("2024-03-01").unwrap(), value, center, spread: 10.0, z, day_factor }
    }

    #[test]
    fn the_key_is_a_hash_of_the_series_day() {
        let day = Day::parse("2024-03-01").unwrap();
        let k = key("brakes", day);
        assert!(
            k.starts_with("sw-") && k[3..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{k}"
        );
        assert_eq!(k.len(), 35);
        // SHA-256("brakes\x1f2024-03-01"), its first 16 bytes.
        let want = Sha256::digest("brakes\u{1f}2024-03-01");
        assert_eq!(k[3..], want[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_eq!(key("brakes", day), k, "stable");
        // The separator keeps names and days apart.
        assert_ne!(key("brakes2", Day::parse("2024-03-02").unwrap()), key("brakes", Day::parse("2024-03-02").unwrap()));
        assert_ne!(k, key("brakes", Day::parse("2024-03-02").unwrap()));
    }

    #[test]
    fn the_text_is_one_slack_line() {
        assert_eq!(
            text(&anomaly("brakes", 3, 52.4, -5.14, 1.0)),
            "servicewatch: brakes on 2024-03-01: drop, 3 transactions, usual 52 (z -5.1)"
        );
        assert_eq!(
            text(&anomaly("brakes", 2, 15.0, -4.0, 0.29)),
            "servicewatch: brakes on 2024-03-01: drop, 2 transactions, usual 15 (z -4.0; all services -71 %)"
        );
        assert_eq!(
            text(&anomaly("<b> & \"c\"\nd", 90, 40.0, 5.0, 1.5)),
            "servicewatch: &lt;b&gt; &amp; \"c\" d on 2024-03-01: spike, 90 transactions, usual 40 (z 5.0; all services +50 %)"
        );
    }

    #[test]
    fn webhook_urls_are_http() {
        assert!(parse_url("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(parse_url("http://127.0.0.1:9/hook").is_ok());
        assert!(parse_url("ftp://example.com/").unwrap_err().contains("http or https"));
        assert!(parse_url("hooks.slack.com").unwrap_err().contains("not a URL"));
    }
}
