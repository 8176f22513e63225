//! Which vector instructions the scoring kernel may use, found at run time.
//!
//! The server's binary is built for the x86-64 baseline (SSE2), so it runs
//! on any x86-64 host a Databricks App or a scheduled scan lands on. The
//! robust method's kernel (the window's one-pass slide and clipped sums,
//! each day's calibrated z) is also compiled for AVX2 and for AVX-512, and
//! each service is scored by the widest of the three the CPU has
//! ([`crate::methods::robust::score`]): two to four times the lanes for
//! the slide, and 32 vector registers where the baseline's 16 spill. In
//! criterion a full re-scoring of a million service-days took 45.5 ms at
//! AVX-512 against 55.4 at the baseline (`docs/benchmarks.md`).
//!
//! Only the instructions change, never the arithmetic: Rust fuses no
//! multiply with an add and reorders no floating-point sum, so every level
//! gives the same bits, as the browser's wasm does (tested in `robust`).
//! The browser's module has one level (no SIMD: older browsers refuse a
//! module that uses it).

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernel is compiled for, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// What every build targets: x86-64's SSE2, or wasm32.
    Baseline = 0,
    /// x86-64-v3: AVX2, BMI1/2, LZCNT, POPCNT.
    Avx2 = 1,
    /// x86-64-v4: AVX-512 F, VL, DQ, BW, CD, on top of AVX2.
    Avx512 = 2,
}

const LEVELS: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

/// The widest level allowed ([`limit`]); not yet found: `UNKNOWN`.
static LIMIT: AtomicU8 = AtomicU8::new(Level::Avx512 as u8);
static FOUND: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = u8::MAX;

/// The level the kernel runs at: the widest this CPU has, within [`limit`].
///
/// ```
/// use servicewatch_shared::cpu::{self, Level};
/// assert!(cpu::level() <= cpu::found());
/// // What the benchmarks do to time the baseline beside the widest level.
/// cpu::limit(Level::Baseline);
/// assert_eq!(cpu::level(), Level::Baseline);
/// cpu::limit(Level::Avx512);
/// assert_eq!(cpu::level(), cpu::found());
/// ```
pub fn level() -> Level {
    found().min(LEVELS[LIMIT.load(Ordering::Relaxed) as usize])
}

/// The widest level this CPU has (asked once, then remembered).
pub fn found() -> Level {
    match FOUND.load(Ordering::Relaxed) {
        UNKNOWN => {
            let level = detect();
            FOUND.store(level as u8, Ordering::Relaxed);
            level
        }
        k => LEVELS[k as usize],
    }
}

/// Caps the level for the rest of the process: the benchmarks measure the
/// baseline beside the widest level this way.
pub fn limit(to: Level) {
    LIMIT.store(to as u8, Ordering::Relaxed);
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt");
    // `avx512f` implies FMA and F16C to the compiler: checked too (every
    // AVX-512 CPU has them, a virtual machine may mask them).
    let avx512 = has!("avx512f")
        && has!("avx512vl")
        && has!("avx512dq")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("fma")
        && has!("f16c");
    match (avx2, avx512) {
        (true, true) => Level::Avx512,
        (true, false) => Level::Avx2,
        _ => Level::Baseline,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}
