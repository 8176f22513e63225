//! # servicewatch-shared
//!
//! The scoring engine and wire types of servicewatch. Pure functions over
//! columnar daily counts: no I/O and no clocks, and the same bits on the
//! server and in the browser (wasm32), on one core or several
//! (`Scores::recompute` splits the services between two threads natively),
//! whichever vector instructions the CPU has ([`cpu`]).
//!
//! The flow:
//!
//! ```text
//! Panel (per-service days + counts)
//!   └─ Scores::compute(BaselineParams)   range, method, weekly: expensive, once
//!        └─ Scores::flag(FlagParams)     threshold, history, count, direction,
//!             │                          services: cheap, every slider event
//!             └─ Scores::ranked(flags, n) the top n rows, sorted by |z|
//!
//! Scores::anomalies(FlagParams, n)       flag then rank: the one answer
//!                                        (wire::Anomalies) every side gives
//! ```
//!
//! Methods live in [`methods`]: [`methods::classic`] reproduces the original
//! app, [`methods::robust`] is the default (see its docs for why).

pub mod codec;
pub mod cpu;
pub mod day;
pub mod holidays;
pub mod ln;
pub mod methods;
pub mod panel;
pub mod params;
pub mod score;
pub mod stats;
pub mod timestamp;
pub mod wire;

#[cfg(feature = "synth")]
pub mod eval;
#[cfg(feature = "synth")]
pub mod synth;

pub use day::{BadDate, Day};
pub use methods::Status;
pub use panel::{Panel, PanelBuilder, PanelError};
pub use params::{BaselineParams, Dimension, Direction, FlagParams, Method, Metric};
pub use score::{Anomaly, Flags, Metrics, Scores, SeriesView, ServiceCounts, ServiceInfo};

/// The unit tests' made-up numbers: a linear congruential generator
/// (Knuth's MMIX constants) from `seed`, each call a number below `m`
/// from the state's top 31 bits. Deterministic, so a failure repeats.
#[cfg(test)]
pub(crate) fn lcg(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |m| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    }
}
