//! Service names as the API's `services` and `scan --services` take them:
//! resolved to panel indices, exactly as stored. Shared by the HTTP routes
//! and `scan`.

use std::collections::HashMap;

/// Why a `services` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicesError {
    /// Well-formed, but the data has no such service (the API answers 404).
    #[error("unknown service `{0}`")]
    Unknown(String),
    /// The value itself is wrong: empty, ambiguous, too many (400).
    #[error("{0}")]
    Bad(String),
}

/// Most services one request may name.
pub const MAX_SERVICES: usize = 5000;

/// The indices in `keys` of the services `values` name, each once, first
/// mention first; an unknown name is an error. Names are compared exactly
/// as stored (padding included). Given more than once, each value is one
/// name. A single value is split at commas and must split into known names
/// in exactly one way: a name holding commas ("Brakes, front") is matched
/// whole, and `a,b` is refused when `a`, `b` and `a,b` are all names.
/// `flag` names the parameter (or option) in messages.
pub fn service_indices(values: &[String], keys: &[String], flag: &str) -> Result<Vec<usize>, ServicesError> {
    let too_many = || ServicesError::Bad(format!("`{flag}`: at most {MAX_SERVICES} services per request"));
    if values.len() > MAX_SERVICES {
        return Err(too_many());
    }
    let index: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let names = match values {
        [one] => split_known(one, &index, flag)?,
        many => many.iter().map(String::as_str).collect(),
    };
    let mut seen = vec![false; keys.len()];
    let mut chosen = Vec::new();
    for name in names {
        let &s = index.get(name).ok_or_else(|| ServicesError::Unknown(name.to_string()))?;
        if !std::mem::replace(&mut seen[s], true) {
            chosen.push(s);
        }
    }
    if chosen.len() > MAX_SERVICES {
        return Err(too_many());
    }
    Ok(chosen)
}

/// `value` split at commas into known names, when there is exactly one
/// way to (counted over every split, not greedily: with the names `a,b`,
/// `a` and `b,c`, `a,b,a,b,c` is those three).
fn split_known<'a>(value: &'a str, index: &HashMap<&str, usize>, flag: &str) -> Result<Vec<&'a str>, ServicesError> {
    // Item k is value[starts[k]..end(k)].
    let starts: Vec<usize> = std::iter::once(0).chain(value.match_indices(',').map(|(i, _)| i + 1)).collect();
    let n = starts.len();
    let end = |k: usize| if k + 1 < n { starts[k + 1] - 1 } else { value.len() };
    let known = |i: usize, j: usize| index.contains_key(&value[starts[i]..end(j)]);
    let max_commas = index.keys().map(|k| k.matches(',').count()).max().unwrap_or(0);
    let last = |i: usize| (i + max_commas).min(n - 1);
    // ways[i]: how many ways items i.. split into names (2 = several);
    // next[i]: the last item of the first name of one such split.
    let mut ways = vec![0u8; n + 1];
    let mut next = vec![0; n];
    ways[n] = 1;
    for i in (0..n).rev() {
        for j in i..=last(i) {
            if ways[j + 1] > 0 && known(i, j) {
                if ways[i] == 0 {
                    next[i] = j;
                }
                ways[i] = (ways[i] + ways[j + 1]).min(2);
            }
        }
    }
    match ways[0] {
        1 => {
            let (mut out, mut i) = (Vec::new(), 0);
            while i < n {
                out.push(&value[starts[i]..end(next[i])]);
                i = next[i] + 1;
            }
            Ok(out)
        }
        0 => {
            // Name the first item no known name covers.
            let covered = |k: usize| (k.saturating_sub(max_commas)..=k).any(|i| (k..=last(i)).any(|j| known(i, j)));
            Err(match (0..n).find(|&k| !covered(k)).map(|k| &value[starts[k]..end(k)]) {
                Some("") => {
                    ServicesError::Bad(format!("`{flag}` holds an empty name (a comma with nothing on one side)"))
                }
                Some(item) => ServicesError::Unknown(item.to_string()),
                None => ServicesError::Bad(format!("`{flag}`: `{value}` does not split into known service names")),
            })
        }
        _ => Err(ServicesError::Bad(format!(
            "`{flag}`: `{value}` splits into known service names in more than one way: give each name as a \
             `{flag}` value of its own"
        ))),
    }
}
