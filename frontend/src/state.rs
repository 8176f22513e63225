//! The app's controls, and their round trip through the URL query string so
//! a copied link reopens the same view. Names match the API's parameters.

use servicewatch_shared::{Day, Direction, FlagParams, Method};

#[derive(Clone, Debug, PartialEq)]
pub struct Controls {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub z: f64,
    pub min_days: u32,
    pub min_count: u64,
    pub direction: Direction,
    pub method: Method,
    pub weekly: bool,
    pub services: Vec<String>,
    /// The service the chart shows (set by clicking a row).
    pub focus: Option<String>,
}

impl Default for Controls {
    fn default() -> Self {
        let f = FlagParams::default();
        Controls {
            from: None,
            to: None,
            z: f.z,
            min_days: f.min_days,
            min_count: f.min_count,
            direction: f.direction,
            method: Method::default(),
            weekly: true,
            services: Vec::new(),
            focus: None,
        }
    }
}

impl Controls {
    /// Reads `?from=..&z=..`; anything unreadable keeps its default.
    pub fn from_query(query: &str) -> Controls {
        let mut c = Controls::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(raw);
            match k {
                "from" => c.from = Day::parse(&v).ok(),
                "to" => c.to = Day::parse(&v).ok(),
                "z" => c.z = v.parse().ok().filter(|z: &f64| z.is_finite() && *z >= 0.0).unwrap_or(c.z),
                "min_days" => c.min_days = v.parse().unwrap_or(c.min_days),
                "min_count" => c.min_count = v.parse().unwrap_or(c.min_count),
                "direction" => c.direction = v.parse().unwrap_or(c.direction),
                "method" => c.method = v.parse().unwrap_or(c.method),
                "weekly" => c.weekly = v != "false",
                // One name per `services=`, exactly (a comma inside one is
                // `%2C`); a raw `,` still separates names, as older links
                // wrote them. A name given twice is kept once.
                "services" => {
                    for name in raw.split(',').map(decode).filter(|s| !s.is_empty()) {
                        if !c.services.contains(&name) {
                            c.services.push(name);
                        }
                    }
                }
                "focus" => c.focus = Some(v).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
        c
    }

    /// The query string for this state (only what differs from defaults).
    pub fn to_query(&self) -> String {
        let d = Controls::default();
        let mut parts = Vec::new();
        if let Some(f) = self.from {
            parts.push(format!("from={f}"));
        }
        if let Some(t) = self.to {
            parts.push(format!("to={t}"));
        }
        if self.z != d.z {
            parts.push(format!("z={}", self.z));
        }
        if self.min_days != d.min_days {
            parts.push(format!("min_days={}", self.min_days));
        }
        if self.min_count != d.min_count {
            parts.push(format!("min_count={}", self.min_count));
        }
        if self.direction != d.direction {
            parts.push(format!("direction={}", self.direction));
        }
        if self.method != d.method {
            parts.push(format!("method={}", self.method));
        }
        if self.weekly != d.weekly {
            parts.push(format!("weekly={}", self.weekly));
        }
        // Repeated, as the API takes them: no name can be split wrongly.
        for s in &self.services {
            parts.push(format!("services={}", encode(s)));
        }
        if let Some(f) = &self.focus {
            parts.push(format!("focus={}", encode(f)));
        }
        parts.join("&")
    }
}

/// Percent-decoding for query values (UTF-8; `+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip() {
        let c = Controls {
            from: Day::parse("2024-02-01").ok(),
            to: Day::parse("2024-03-01").ok(),
            z: 2.5,
            min_days: 30,
            min_count: 4,
            direction: Direction::Drops,
            method: Method::Classic,
            weekly: false,
            services: vec!["oil change".into(), "tyres&co".into(), "Brakes, front".into()],
            focus: Some("tyres&co".into()),
        };
        assert_eq!(Controls::from_query(&c.to_query()), c);
        let q = c.to_query();
        assert!(q.contains("services=oil%20change&services=tyres%26co&services=Brakes%2C%20front"), "{q}");
        // Names as stored, padding included; older comma-joined links still read.
        let padded = Controls { services: vec!["BRAKES  ".into(), "a,b".into()], ..Controls::default() };
        assert_eq!(padded.to_query(), "services=BRAKES%20%20&services=a%2Cb");
        assert_eq!(Controls::from_query(&padded.to_query()), padded);
        let old = Controls::from_query("?services=a,b%2Cc&services=d&services=a");
        assert_eq!(old.services, ["a", "b,c", "d"]);
        assert_eq!(Controls::from_query(""), Controls::default());
        assert_eq!(Controls::from_query("?z=abc&min_days=-1").z, 3.0);
    }
}
