//! Query-string parsing with messages a person can act on. Unknown
//! parameters are errors too: a typo must not silently change the answer.

use std::collections::HashMap;
use std::str::FromStr;

use servicewatch_shared::Day;

use super::error::ApiError;

/// The query string as name → values, checked against allowed names.
pub struct Query {
    values: HashMap<String, Vec<String>>,
}

/// Parameters that may be given more than once, each value one item
/// (`services=a&services=b`), as standard clients encode a list: services
/// and the dimensions' filters.
const REPEATABLE: &[&str] = &["services", "segment", "channel", "payment_method"];

/// Parameters holding service names or dimension values, taken exactly as
/// sent: a stored value may have padding (CHAR columns) or be blanks only.
const EXACT: &[&str] = &["services", "orderservice", "series", "segment", "channel", "payment_method"];

/// `%XX` and `+` decoded, as browsers encode query strings.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

impl Query {
    /// Parses `a=1&b=x`: every name allowed, given once (or repeatable),
    /// with a value.
    pub fn new(raw: Option<&str>, allowed: &[&str]) -> Result<Query, ApiError> {
        let mut q = Query { values: HashMap::new() };
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name);
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad(format!(
                    "unknown parameter `{name}`; expected one of: {}",
                    allowed.join(", ")
                )));
            }
            // `from=` meaning "the default" or `services=` meaning "all" would
            // be silent repairs; the OpenAPI description says `minLength: 1`.
            let value = decode(value);
            let exact = EXACT.contains(&name.as_str());
            if value.is_empty() || (!exact && value.trim().is_empty()) {
                return Err(ApiError::bad(format!("`{name}` is empty: give a value or leave the parameter out")));
            }
            let values = q.values.entry(name.clone()).or_default();
            if !values.is_empty() && !REPEATABLE.contains(&name.as_str()) {
                return Err(ApiError::bad(format!("`{name}` is given more than once")));
            }
            values.push(value);
        }
        Ok(q)
    }

    /// A single-valued parameter, trimmed.
    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.first()).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn day(&self, name: &str) -> Result<Option<Day>, ApiError> {
        self.get(name)
            .map(|s| Day::parse(s).map_err(|_| ApiError::bad(format!("`{name}`: `{s}` is not a date; use YYYY-MM-DD"))))
            .transpose()
    }

    /// A number in `[lo, hi]`, or `default`.
    pub fn number<T>(&self, name: &str, default: T, lo: T, hi: T) -> Result<T, ApiError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let Some(s) = self.get(name) else { return Ok(default) };
        match s.parse::<T>() {
            Ok(v) if v >= lo && v <= hi => Ok(v),
            _ => Err(ApiError::bad(format!("`{name}`: `{s}` is not a number from {lo} to {hi}"))),
        }
    }

    /// A value of a text enum (method, direction).
    pub fn choice<T: FromStr<Err = String>>(&self, name: &str, default: T) -> Result<T, ApiError> {
        self.get(name).map(|s| s.parse().map_err(|e| ApiError::bad(format!("`{name}`: {e}")))).unwrap_or(Ok(default))
    }

    /// A value of a text enum with no default (absent: `None`).
    pub fn optional<T: FromStr<Err = String>>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name).map(|s| s.parse().map_err(|e| ApiError::bad(format!("`{name}`: {e}")))).transpose()
    }

    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(s) => Err(ApiError::bad(format!("`{name}`: `{s}` is not true or false"))),
        }
    }

    /// A name parameter exactly as sent (never trimmed).
    pub fn exact(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of a repeatable parameter, in order, exactly as sent;
    /// empty when it is not given.
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }
}
