//! What the analyst chooses. Split in two on purpose: [`BaselineParams`]
//! decide the expensive per-day baselines, [`FlagParams`] only decide which
//! already-scored days are flagged, so moving a slider among the latter
//! never recomputes a baseline.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Day;

/// How a day's baseline (centre and spread) is estimated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The original app: mean and sample standard deviation of the days in
    /// range that have transactions, the day itself included.
    Classic,
    /// Median and MAD of the nearest days (zeros included), leaving the
    /// day under test out, with a count-noise floor. See `methods::robust`.
    #[default]
    Robust,
}

/// Which side of the baseline counts as unusual.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Spikes and drops: |z| >= threshold.
    #[default]
    Both,
    /// Only more transactions than usual: z >= threshold.
    Spikes,
    /// Only fewer transactions than usual: z <= -threshold.
    Drops,
}

impl Direction {
    /// Whether `z` passes `threshold` on this side.
    ///
    /// ```
    /// use servicewatch_shared::Direction;
    /// assert!(Direction::Both.passes(-3.0, 3.0));
    /// assert!(!Direction::Spikes.passes(-3.0, 3.0));
    /// assert!(Direction::Drops.passes(-3.5, 3.0));
    /// ```
    #[inline]
    pub fn passes(self, z: f64, threshold: f64) -> bool {
        match self {
            Direction::Both => z.abs() >= threshold,
            Direction::Spikes => z >= threshold,
            Direction::Drops => -z >= threshold,
        }
    }
}

/// What each series-day's value is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Transactions.
    #[default]
    Count,
    /// The sum of the amount column (`columns.amount`) over the
    /// transactions with an amount of 0 or more, in minor units (cents when
    /// `amount_decimals` is 2): exact integers, never drifting floats.
    Amount,
}

/// A column that splits each service into one series per value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// `columns.segment`: the customer segment.
    Segment,
    /// `columns.channel`: where the order came in.
    Channel,
    /// `columns.payment_method`.
    PaymentMethod,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Segment, Dimension::Channel, Dimension::PaymentMethod];
}

/// Between a service and a dimension's value in a split series' key.
pub const SPLIT_SEPARATOR: &str = " · ";

macro_rules! text_enum {
    ($t:ty, $what:literal, $($v:ident = $s:literal),+) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $(Self::$v => $s),+ })
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$v),)+
                    _ => Err(format!(concat!("unknown ", $what, " `{}`: expected one of {}"), s, [$($s),+].join(", "))),
                }
            }
        }
    };
}
text_enum!(Method, "method", Classic = "classic", Robust = "robust");
text_enum!(Direction, "direction", Both = "both", Spikes = "spikes", Drops = "drops");
text_enum!(Metric, "metric", Count = "count", Amount = "amount");
text_enum!(Dimension, "dimension", Segment = "segment", Channel = "channel", PaymentMethod = "payment_method");

/// Inputs that shape the baselines. Changing any of these rescoring from
/// scratch ([`crate::Scores::compute`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineParams {
    /// First day in range (inclusive); `None` = the data's first day.
    pub from: Option<Day>,
    /// Last day in range (inclusive); `None` = the data's last day.
    pub to: Option<Day>,
    pub method: Method,
    /// Divide out each service's day-of-week pattern first (robust only).
    pub weekly: bool,
    /// What the panel's values are: counts, or amounts in minor units.
    #[serde(default)]
    pub metric: Metric,
    /// What one transaction is worth in a series' values, by series key:
    /// the mean ticket of an amount series (its sum over its count). The
    /// robust method scores each series in transactions (values / unit),
    /// so an amount series gets the count-noise floor and sparse rules a
    /// count series gets, instead of treating one cent as one order. 1
    /// where absent (counts). Classic is the same at any unit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, f64>,
    /// Days the extract covers only in part (its first day when it starts
    /// mid-day, its last while that day is still running). The robust
    /// method never flags them: a half day is not a drop. (A service that
    /// starts or stops inside the range has edges of its own, handled
    /// without being named here: a low reading on its first or last day
    /// goes unscored.) Classic, the original app's logic, scores them like
    /// any other day.
    #[serde(default)]
    pub partial: Vec<Day>,
    /// Days left out of their series' baseline, by service key: the days
    /// an analyst marked expected or confirmed (`wire::MarkKind::excludes`).
    /// They are still scored (against neighbours that never include them),
    /// but no other day's baseline learns from them. Both methods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exclude: BTreeMap<String, Vec<Day>>,
    /// Days a holiday calendar names (the `holidays` setting,
    /// [`crate::holidays`]), sorted. The robust method leaves them out of
    /// every baseline and does not flag a drop on one unless a common
    /// factor measured the day ([`crate::methods::common::calendar`]).
    /// Classic, the original logic, ignores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<Day>,
}

impl BaselineParams {
    /// Whether the weekly pattern is divided out unless asked otherwise.
    pub const DEFAULT_WEEKLY: bool = true;
}

impl Default for BaselineParams {
    fn default() -> Self {
        BaselineParams {
            from: None,
            to: None,
            method: Method::default(),
            weekly: BaselineParams::DEFAULT_WEEKLY,
            metric: Metric::Count,
            units: BTreeMap::new(),
            partial: Vec::new(),
            exclude: BTreeMap::new(),
            holidays: Vec::new(),
        }
    }
}

/// Inputs that only choose among scored days: cheap to change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlagParams {
    /// Flag when |z| (or the signed z for one direction) reaches this.
    pub z: f64,
    /// Skip services with fewer days of history than this.
    pub min_days: u32,
    /// Only flag days with at least this many transactions.
    pub min_count: u64,
    pub direction: Direction,
    /// Only these services (indices into the panel); `None` = all.
    pub services: Option<Vec<usize>>,
}

impl FlagParams {
    /// The default threshold: |z| >= 3.
    pub const DEFAULT_Z: f64 = 3.0;
    /// The default minimum history, in days.
    pub const DEFAULT_MIN_DAYS: u32 = 7;
    /// The default minimum daily count (none).
    pub const DEFAULT_MIN_COUNT: u64 = 0;
}

impl Default for FlagParams {
    /// The engine's defaults, which the API, `scan` and the app all start from.
    fn default() -> Self {
        FlagParams {
            z: FlagParams::DEFAULT_Z,
            min_days: FlagParams::DEFAULT_MIN_DAYS,
            min_count: FlagParams::DEFAULT_MIN_COUNT,
            direction: Direction::default(),
            services: None,
        }
    }
}

/// Rows an answer lists unless asked otherwise (the API's `limit`).
pub const DEFAULT_LIMIT: usize = 100;
