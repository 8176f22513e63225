//! What a series-day's value is, as a person reads it: transactions, or an
//! amount the API gives in whole minor units (cents when `amount_decimals`
//! is 2) and the page shows in major units (1234.50). Pure, tested natively.

use servicewatch_shared::Metric;

use crate::float_text::fixed;

/// The view's metric and, for amounts, the digits after the point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Unit {
    pub metric: Metric,
    /// `amount_decimals` of `/api/meta`.
    pub decimals: u8,
}

impl Unit {
    /// Amounts in `decimals`; counts have none.
    pub fn new(metric: Metric, decimals: u8) -> Unit {
        Unit { metric, decimals: if metric == Metric::Amount { decimals.min(MAX_DECIMALS) } else { 0 } }
    }

    /// What the values are, capitalised: "Transactions" or "Amount".
    pub fn name(self) -> &'static str {
        match self.metric {
            Metric::Count => "Transactions",
            Metric::Amount => "Amount",
        }
    }

    /// The value column's header: "Count" or "Amount".
    pub fn column(self) -> &'static str {
        match self.metric {
            Metric::Count => "Count",
            Metric::Amount => "Amount",
        }
    }

    /// Minor units in one major unit (1 for counts).
    pub fn scale(self) -> u64 {
        10u64.pow(u32::from(self.decimals))
    }

    /// A value (or a baseline) in major units.
    pub fn major(self, minor: f64) -> f64 {
        minor / self.scale() as f64
    }

    /// An exact value: `1234` for a count, `1234.50` for 123450 cents.
    pub fn exact(self, v: u64) -> String {
        self.format(v, false)
    }

    /// [`Unit::exact`] with thousands grouped: `1,234.50`.
    pub fn grouped(self, v: u64) -> String {
        self.format(v, true)
    }

    /// A baseline or a spread: one decimal for counts, the amount's own
    /// digits for amounts.
    pub fn approx(self, minor: f64) -> String {
        match self.metric {
            Metric::Count => fixed(minor, 1),
            Metric::Amount => fixed(self.major(minor), usize::from(self.decimals)),
        }
    }

    fn format(self, v: u64, group: bool) -> String {
        let (whole, frac) = (v / self.scale(), v % self.scale());
        let whole = if group { grouped(whole) } else { whole.to_string() };
        match self.decimals {
            0 => whole,
            d => format!("{whole}.{frac:0width$}", width = usize::from(d)),
        }
    }
}

/// The most decimals shown (10^19 still fits a `u64`).
const MAX_DECIMALS: u8 = 19;

/// `885388` as `885,388`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(885388), "885,388");
        assert_eq!(grouped(12345678), "12,345,678");
    }

    #[test]
    fn amounts_read_in_major_units_counts_as_they_are() {
        let cents = Unit::new(Metric::Amount, 2);
        assert_eq!(
            (cents.exact(123450), cents.exact(5), cents.exact(0)),
            ("1234.50".into(), "0.05".into(), "0.00".into())
        );
        assert_eq!(cents.grouped(123456789), "1,234,567.89");
        assert_eq!(cents.approx(123456.7), "1234.57");
        assert_eq!(cents.major(150.0), 1.5);
        assert_eq!((cents.name(), cents.column(), cents.scale()), ("Amount", "Amount", 100));
        let whole = Unit::new(Metric::Amount, 0);
        assert_eq!((whole.exact(1234), whole.approx(12.4)), ("1234".into(), "12".into()));
        let count = Unit::new(Metric::Count, 2);
        assert_eq!(
            (count.exact(1234), count.grouped(1234), count.approx(12.34)),
            ("1234".into(), "1,234".into(), "12.3".into())
        );
        assert_eq!((count.name(), count.column(), count.major(7.0)), ("Transactions", "Count", 7.0));
        assert_eq!(Unit::default(), count);
        assert_eq!(Unit::new(Metric::Amount, 30).exact(u64::MAX), "1.8446744073709551615");
    }
}
