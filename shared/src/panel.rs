//! The engine's input: every service's daily counts in one columnar block.
//!
//! Service names are stored once; each service owns a contiguous slice of the
//! `days` and `counts` columns, strictly increasing by day. Days without
//! transactions are simply absent (the methods decide what absence means).

use crate::Day;

/// The largest total a panel may hold: 2^53 - 1, so every sum the engine
/// reports is exact in `u64`, in `f64` and in JavaScript.
pub const MAX_TOTAL: u64 = (1 << 53) - 1;

/// Why a panel was rejected. The engine never repairs input silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PanelError {
    #[error("service `{key}`: {days} dates but {values} values")]
    LengthMismatch { key: String, days: usize, values: usize },
    #[error("service `{key}`: days must be strictly increasing, but {day} follows {prev}")]
    Unsorted { key: String, prev: Day, day: Day },
    #[error("service `{key}`: day {day} appears twice")]
    Duplicate { key: String, day: Day },
    #[error("service `{key}` appears twice")]
    DuplicateService { key: String },
    #[error("the counts add up to more than 2^53 - 1 transactions")]
    TotalTooLarge,
    #[error("too many service-days for one panel (the limit is 2^32 - 1)")]
    TooLarge,
}

/// Daily transaction counts per service, columnar.
///
/// ```
/// use servicewatch_shared::{Day, Panel};
/// let d = |s| Day::parse(s).unwrap();
/// let mut p = Panel::builder();
/// p.push("oil-change", &[d("2024-01-01"), d("2024-01-03")], &[5, 7]).unwrap();
/// p.push("tyres", &[d("2024-01-02")], &[1]).unwrap();
/// let p = p.build();
/// assert_eq!(p.len(), 2);
/// assert_eq!(p.key(0), "oil-change");
/// assert_eq!(p.counts(0), &[5, 7]);
/// assert_eq!(p.bounds(), Some((d("2024-01-01"), d("2024-01-03"))));
///
/// // Unsorted or duplicate days are an error, never silently fixed:
/// let mut bad = Panel::builder();
/// assert!(bad.push("x", &[d("2024-01-02"), d("2024-01-01")], &[1, 1]).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    keys: Vec<String>,
    offsets: Vec<u32>,
    days: Vec<Day>,
    counts: Vec<u64>,
}

/// Builds a [`Panel`] service by service, validating as it goes.
#[derive(Debug, Default)]
pub struct PanelBuilder {
    panel: Panel,
    total: u64,
    seen: std::collections::HashSet<String>,
}

impl PanelBuilder {
    /// Appends one service's series. On error the builder is unchanged.
    pub fn push(&mut self, key: &str, days: &[Day], counts: &[u64]) -> Result<(), PanelError> {
        let err_key = || key.to_string();
        if days.len() != counts.len() {
            return Err(PanelError::LengthMismatch { key: err_key(), days: days.len(), values: counts.len() });
        }
        if self.seen.contains(key) {
            return Err(PanelError::DuplicateService { key: err_key() });
        }
        for w in days.windows(2) {
            if w[1] == w[0] {
                return Err(PanelError::Duplicate { key: err_key(), day: w[0] });
            }
            if w[1] < w[0] {
                return Err(PanelError::Unsorted { key: err_key(), prev: w[0], day: w[1] });
            }
        }
        let mut total = self.total;
        for &c in counts {
            total = total.checked_add(c).filter(|t| *t <= MAX_TOTAL).ok_or(PanelError::TotalTooLarge)?;
        }
        let end = u32::try_from(self.panel.days.len() + days.len()).map_err(|_| PanelError::TooLarge)?;
        let p = &mut self.panel;
        if p.offsets.is_empty() {
            p.offsets.push(0);
        }
        p.keys.push(key.to_string());
        p.days.extend_from_slice(days);
        p.counts.extend_from_slice(counts);
        p.offsets.push(end);
        self.total = total;
        self.seen.insert(key.to_string());
        Ok(())
    }

    pub fn build(self) -> Panel {
        self.panel
    }
}

impl Panel {
    pub fn builder() -> PanelBuilder {
        PanelBuilder::default()
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of (service, day) rows with at least one transaction.
    pub fn service_days(&self) -> usize {
        self.days.len()
    }

    /// The bytes the panel holds on the heap (what a cache of it costs).
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self.keys.iter().map(|k| k.capacity()).sum();
        keys + self.keys.capacity() * std::mem::size_of::<String>()
            + self.offsets.capacity() * 4
            + self.days.capacity() * std::mem::size_of::<Day>()
            + self.counts.capacity() * 8
    }

    pub fn key(&self, s: usize) -> &str {
        &self.keys[s]
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Index of a service by name.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    fn range(&self, s: usize) -> std::ops::Range<usize> {
        self.offsets[s] as usize..self.offsets[s + 1] as usize
    }

    pub fn days(&self, s: usize) -> &[Day] {
        &self.days[self.range(s)]
    }

    pub fn counts(&self, s: usize) -> &[u64] {
        &self.counts[self.range(s)]
    }

    /// First and last day with data across all services.
    pub fn bounds(&self) -> Option<(Day, Day)> {
        (0..self.len())
            .filter_map(|s| Some((*self.days(s).first()?, *self.days(s).last()?)))
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }

    /// The sub-slice of service `s` whose days fall in `[from, to]`.
    pub fn window(&self, s: usize, from: Day, to: Day) -> (&[Day], &[u64]) {
        let days = self.days(s);
        let lo = days.partition_point(|d| *d < from);
        let hi = days.partition_point(|d| *d <= to);
        let hi = hi.max(lo);
        (&days[lo..hi], &self.counts(s)[lo..hi])
    }
}
