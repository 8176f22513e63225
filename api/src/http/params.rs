//! Query-string parsing with messages a person can act on. Unknown
//! parameters are errors too: a typo must not silently change the answer.

use std::collections::HashMap;
use std::str::FromStr;

use servicewatch_shared::Day;

use super::error::ApiError;

/// The raw query string as name → value, checked against allowed names.
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn new(raw: HashMap<String, String>, allowed: &[&str]) -> Result<Query, ApiError> {
        let mut unknown: Vec<&String> = raw.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        if let Some(k) = unknown.first() {
            return Err(ApiError::bad(format!("unknown parameter `{k}`; expected one of: {}", allowed.join(", "))));
        }
        Ok(Query(raw))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
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

    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(s) => Err(ApiError::bad(format!("`{name}`: `{s}` is not true or false"))),
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// A comma-separated list of service names (at most `max`).
    pub fn list(&self, name: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
        let Some(s) = self.get(name) else { return Ok(None) };
        let items: Vec<String> = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
        if items.len() > max {
            return Err(ApiError::bad(format!("`{name}`: at most {max} services per request")));
        }
        Ok(Some(items))
    }
}
