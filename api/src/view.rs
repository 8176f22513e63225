//! What a series is and what its daily value is: the view a request or a
//! scan asks for, and which views the table allows.
//!
//! A view is a metric (transactions, or the sum of the amount column), a
//! series key (the service alone, or the service and one dimension's value:
//! `"{service} · {value}"`, [`SPLIT_SEPARATOR`]) and filters (only rows
//! whose dimension holds one of some values). The default view (count, no
//! split, no filter) is what the server has always read.
//!
//! Which views the table allows depends on its columns, known only once the
//! warehouse is asked ([`crate::warehouse::Warehouse::columns`], once per
//! snapshot load): a column under its default name is used when the table
//! has it, a column a setting names must be there ([`Available::resolve`]).

use std::collections::BTreeMap;

use servicewatch_shared::params::SPLIT_SEPARATOR;
use servicewatch_shared::{Dimension, Metric};

use crate::config::Columns;
use crate::warehouse::WarehouseError;

/// Most values one dimension's filter may list.
pub const MAX_FILTER_VALUES: usize = 1000;

/// What each series is and what its days hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct View {
    pub metric: Metric,
    /// Split each service into one series per value of this dimension.
    pub split: Option<Dimension>,
    /// Only rows whose dimension's value (as text, exactly) is one of these:
    /// each list sorted, without duplicates, never empty (see [`View::new`]),
    /// so equal questions are equal keys in the caches.
    pub filters: BTreeMap<Dimension, Vec<String>>,
}

impl View {
    /// A view with its filters in canonical form. `filters` gives each
    /// dimension's values in any order; an empty list is no filter, which
    /// is a mistake (`segment=` means nothing), so an error.
    pub fn new(
        metric: Metric,
        split: Option<Dimension>,
        filters: impl IntoIterator<Item = (Dimension, Vec<String>)>,
    ) -> Result<View, String> {
        let mut canonical = BTreeMap::new();
        for (d, mut values) in filters {
            if values.is_empty() {
                return Err(format!("`{d}` is empty: give values or leave it out"));
            }
            if values.len() > MAX_FILTER_VALUES {
                return Err(format!("`{d}`: at most {MAX_FILTER_VALUES} values"));
            }
            values.sort_unstable();
            values.dedup();
            canonical.insert(d, values);
        }
        Ok(View { metric, split, filters: canonical })
    }

    /// The view the server has always read: counts per service, every row.
    pub fn is_default(&self) -> bool {
        *self == View::default()
    }

    /// About the heap bytes the view holds (a cache key's weight).
    pub fn heap_bytes(&self) -> usize {
        let per_value = |v: &String| size_of::<String>() + v.capacity();
        self.filters.values().map(|vs| 48 + vs.iter().map(per_value).sum::<usize>()).sum()
    }

    /// The view in the audit trail's parameter text, appended to the flag
    /// parameters: nothing for the default view (rows recorded before
    /// views existed keep their keys), else `;metric=amount`, the split and
    /// each filter (`;channel=app|web`). A split is in the series key
    /// already, but a count and an amount flag of one series-day are two
    /// rows, as are two filters.
    pub fn params_suffix(&self) -> String {
        let mut out = String::new();
        if self.metric != Metric::Count {
            out.push_str(&format!(";metric={}", self.metric));
        }
        if let Some(d) = self.split {
            out.push_str(&format!(";split={d}"));
        }
        for (d, values) in &self.filters {
            out.push_str(&format!(";{d}={}", values.join("|")));
        }
        out
    }

    /// How a split series of `service` with dimension value `value` is
    /// keyed (None: the value is NULL). The SQL builds the same text.
    pub fn split_key(service: &str, value: Option<&str>) -> String {
        format!("{service}{SPLIT_SEPARATOR}{}", value.unwrap_or(NONE_VALUE))
    }
}

/// A NULL dimension value in a split series' key.
pub const NONE_VALUE: &str = "(none)";

/// The metrics and dimensions the table has columns for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Available {
    /// The amount column is there (`metric=amount` can be asked for).
    pub amount: bool,
    /// The dimensions whose columns are there, in [`Dimension::ALL`] order.
    pub dimensions: Vec<Dimension>,
}

impl Available {
    /// Which optional columns of `columns` are among `have` (the table's
    /// column names, compared exactly). One that a setting names and the
    /// table lacks is an error naming both; one only defaulted is left out.
    pub fn resolve(columns: &Columns, have: &[String]) -> Result<Available, WarehouseError> {
        let present = |c: &crate::config::OptionalColumn, setting: &'static str| {
            let there = have.iter().any(|h| h == c.name.as_str());
            if !there && c.explicit {
                return Err(WarehouseError::MissingColumn {
                    column: c.name.as_str().to_string(),
                    setting,
                    have: have.to_vec(),
                });
            }
            Ok(there)
        };
        let amount = present(&columns.amount, "columns.amount")?;
        let mut dimensions = Vec::new();
        for d in Dimension::ALL {
            if present(columns.dimension(d), Columns::setting(d))? {
                dimensions.push(d);
            }
        }
        Ok(Available { amount, dimensions })
    }

    /// The metrics there are columns for: `count` always.
    pub fn metrics(&self) -> Vec<Metric> {
        if self.amount {
            vec![Metric::Count, Metric::Amount]
        } else {
            vec![Metric::Count]
        }
    }

    /// Whether the table has every column `view` needs; if not, what is
    /// missing, naming the parameter and the setting (a client's mistake:
    /// the API answers 400).
    pub fn check(&self, view: &View, columns: &Columns) -> Result<(), String> {
        let missing = |what: String, setting: &str, name: &str| {
            let have: Vec<String> = self.dimensions.iter().map(ToString::to_string).collect();
            let have = if have.is_empty() { "none".to_string() } else { have.join(", ") };
            format!("{what}: the table has no column `{name}` (setting `{setting}`); the dimensions it has: {have}")
        };
        if view.metric == Metric::Amount && !self.amount {
            return Err(format!(
                "`metric=amount`: the table has no column `{}` (setting `columns.amount`); only `count` can be \
                 asked for",
                columns.amount.name.as_str()
            ));
        }
        let wanted = view.split.map(|d| (format!("`split={d}`"), d)).into_iter();
        let filtered = view.filters.keys().map(|&d| (format!("`{d}`"), d));
        for (what, d) in wanted.chain(filtered) {
            if !self.dimensions.contains(&d) {
                return Err(missing(what, Columns::setting(d), columns.dimension(d).name.as_str()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Layer};

    fn columns(file: &str) -> Columns {
        Config::from_layers(&[toml::from_str::<Layer>(file).unwrap()]).unwrap().columns
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_are_used_when_there_and_settings_must_be() {
        let sample = names(&["transaction_timestamp", "orderservice", "amount", "customer_segment", "channel"]);
        let a = Available::resolve(&columns(""), &sample).unwrap();
        assert_eq!(a, Available { amount: true, dimensions: vec![Dimension::Segment, Dimension::Channel] });
        assert_eq!(a.metrics(), vec![Metric::Count, Metric::Amount]);
        let bare = Available::resolve(&columns(""), &names(&["transaction_timestamp", "orderservice"])).unwrap();
        assert_eq!((bare.amount, bare.dimensions.len(), bare.metrics()), (false, 0, vec![Metric::Count]));
        let e = Available::resolve(&columns("[columns]\nchannel = \"chan\""), &sample).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("the table has no column `chan` (setting `columns.channel`)"), "{text}");
        assert!(text.contains("orderservice, amount"), "names what the table has: {text}");
        // Explicitly the default name is explicit too.
        assert!(Available::resolve(&columns("[columns]\namount = \"amount\""), &sample).is_ok());
        let e = Available::resolve(&columns("[columns]\npayment_method = \"payment_method\""), &sample);
        assert!(e.unwrap_err().to_string().contains("setting `columns.payment_method`"));
    }

    #[test]
    fn a_view_needs_its_columns_and_says_which() {
        let c = columns("[columns]\nsegment = \"seg\"");
        let a = Available { amount: false, dimensions: vec![Dimension::Channel] };
        assert!(a.check(&View::default(), &c).is_ok());
        let amount = View { metric: Metric::Amount, ..View::default() };
        let e = a.check(&amount, &c).unwrap_err();
        assert!(e.contains("`metric=amount`") && e.contains("`amount`") && e.contains("columns.amount"), "{e}");
        let split = View { split: Some(Dimension::Segment), ..View::default() };
        let e = a.check(&split, &c).unwrap_err();
        assert!(e.contains("`split=segment`") && e.contains("`seg`") && e.contains("the dimensions it has: channel"));
        let filtered = View::new(Metric::Count, None, [(Dimension::PaymentMethod, names(&["card"]))]).unwrap();
        let e = a.check(&filtered, &c).unwrap_err();
        assert!(e.starts_with("`payment_method`: the table has no column `payment_method`"), "{e}");
        let fine = View::new(Metric::Count, Some(Dimension::Channel), [(Dimension::Channel, names(&["web"]))]);
        assert!(a.check(&fine.unwrap(), &c).is_ok());
    }

    #[test]
    fn equal_questions_are_equal_views() {
        let a = View::new(Metric::Count, None, [(Dimension::Channel, names(&["web", "app", "web"]))]).unwrap();
        let b = View::new(Metric::Count, None, [(Dimension::Channel, names(&["app", "web"]))]).unwrap();
        assert_eq!(a, b);
        assert!(!a.is_default() && View::new(Metric::Count, None, []).unwrap().is_default());
        assert!(View::new(Metric::Count, None, [(Dimension::Segment, vec![])]).unwrap_err().contains("`segment`"));
        assert_eq!(View::default().params_suffix(), "", "rows recorded before views keep their keys");
        let v = View::new(Metric::Amount, Some(Dimension::PaymentMethod), [(Dimension::Channel, names(&["web"]))]);
        assert_eq!(v.unwrap().params_suffix(), ";metric=amount;split=payment_method;channel=web");
        assert_eq!(View::split_key("SVC-1", Some("card")), "SVC-1 · card");
        assert_eq!(View::split_key("SVC-1", None), "SVC-1 · (none)");
    }
}
