//! A labelled synthetic data set: daily counts that look like a real
//! maintenance business, with anomalies injected and written down.
//!
//! What makes it hard, on purpose: weekly patterns (some services closed on
//! Sundays), public holidays (quiet, but not fraud), over-dispersed counts
//! (negative binomial), slow trends and a yearly cycle, services that start
//! late (a few weeks of history) or stop, and partial first and last days.
//! Injected and labelled: single-day spikes, multi-day bursts, drops and
//! outages (days with no transactions at all).
//!
//! Deterministic for a seed, on every platform (SplitMix64 and `libm`).

use crate::{Day, Panel};

/// What was injected on a labelled day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Spike,
    Burst,
    Drop,
    Outage,
    /// The day's amount jumped while its count stayed ordinary (bigger
    /// tickets: one kind of fraud): see [`amounts`].
    AmountJump,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Spike => "spike",
            Kind::Burst => "burst",
            Kind::Drop => "drop",
            Kind::Outage => "outage",
            Kind::AmountJump => "amount_jump",
        }
    }
}

/// A labelled anomalous service-day.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub service: usize,
    pub day: Day,
    pub kind: Kind,
}

/// Size and shape of a generated data set.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub services: usize,
    pub days: u32,
    pub start: Day,
    /// Chance that an anomaly starts on any given service-day.
    pub anomaly_rate: f64,
    /// Multiplies every service's typical daily volume.
    pub scale: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            services: 80,
            days: 730,
            start: Day(19723), /* 2024-01-01 */
            anomaly_rate: 0.004,
            scale: 1.0,
        }
    }
}

/// The generated data: counts, labels, and each service's active days.
#[derive(Clone, Debug)]
pub struct Labelled {
    pub panel: Panel,
    pub labels: Vec<Label>,
    /// First and last day each service operates (its calendar in the truth).
    pub lifetimes: Vec<(Day, Day)>,
}

/// SplitMix64: tiny, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        libm::sqrt(-2.0 * libm::log(u)) * libm::cos(2.0 * std::f64::consts::PI * v)
    }

    /// Gamma(shape, 1) for shape >= 1 (Marsaglia and Tsang).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / libm::sqrt(9.0 * d);
        loop {
            let x = self.normal();
            let v = (1.0 + c * x) * (1.0 + c * x) * (1.0 + c * x);
            if v > 0.0 && libm::log(1.0 - self.uniform()) < 0.5 * x * x + d - d * v + d * libm::log(v) {
                return d * v;
            }
        }
    }

    /// Poisson(mean): exact for small means, normal approximation above 50.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 50.0 {
            return (mean + libm::sqrt(mean) * self.normal()).round().max(0.0) as u64;
        }
        let limit = libm::exp(-mean);
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    /// Negative binomial with this mean and dispersion `r` (variance
    /// mean + mean² / r), as a gamma-Poisson mixture.
    pub fn neg_binomial(&mut self, mean: f64, r: f64) -> u64 {
        let g = self.gamma(r);
        self.poisson(mean * g / r)
    }
}

/// Quiet days for everyone (month, day): not anomalies, but they look like drops.
const HOLIDAYS: [(u32, u32); 7] = [(1, 1), (4, 1), (5, 1), (7, 4), (11, 28), (12, 25), (12, 26)];

fn is_holiday(d: Day) -> bool {
    use chrono::Datelike;
    let date = d.date();
    HOLIDAYS.contains(&(date.month(), date.day()))
}

/// What each count was drawn from, before any anomaly: the generator's own
/// model, which no method can know. [`crate::eval::ceiling`] scores with it
/// as a reference for how much of the labelled days a count can show.
#[derive(Clone, Debug)]
pub struct Truth {
    /// Per service, the negative binomial's mean on each day of its
    /// lifetime (first to last), holidays and half edge days included.
    pub means: Vec<Vec<f64>>,
    /// Per service, its dispersion `r` (variance `mean + mean² / r`).
    pub dispersion: Vec<f64>,
}

/// Generates a labelled data set.
///
/// ```
/// use servicewatch_shared::synth::{generate, Config};
/// let a = generate(&Config { services: 5, days: 60, ..Config::default() });
/// let b = generate(&Config { services: 5, days: 60, ..Config::default() });
/// assert_eq!(a.panel, b.panel); // deterministic for a seed
/// assert_eq!(a.panel.len(), 5);
/// ```
pub fn generate(cfg: &Config) -> Labelled {
    generate_with_truth(cfg).0
}

/// [`generate`], and the model every count was drawn from.
pub fn generate_with_truth(cfg: &Config) -> (Labelled, Truth) {
    let mut truth = Truth { means: Vec::with_capacity(cfg.services), dispersion: Vec::with_capacity(cfg.services) };
    let mut rng = Rng::new(cfg.seed);
    let mut builder = Panel::builder();
    let mut labels = Vec::new();
    let mut lifetimes = Vec::new();
    let span = cfg.days.max(1) as i32;
    let last_day = Day(cfg.start.0 + span - 1);
    for s in 0..cfg.services {
        let level = cfg.scale * libm::exp(rng.range(libm::log(0.8), libm::log(400.0)));
        let dispersion = rng.range(3.0, 40.0);
        let weekly: [f64; 7] = match rng.uniform() {
            u if u < 0.3 => [1.0; 7],
            u if u < 0.8 => {
                let w = rng.range(0.2, 0.7);
                [1.0, 1.0, 1.0, 1.0, 1.1, w, w * 0.8]
            }
            u if u < 0.9 => [1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.0],
            _ => [0.8, 0.8, 0.8, 0.9, 1.0, 1.5, 1.4],
        };
        let growth = rng.range(-0.5, 0.7);
        let phase = rng.range(0.0, std::f64::consts::TAU);
        // Lifetimes: most run throughout; some start late or stop early.
        let (first, last) = match rng.uniform() {
            u if u < 0.7 => (0, span - 1),
            u if u < 0.85 => (span - rng.int(14, 90).min(span as u64) as i32, span - 1),
            u if u < 0.95 => (0, (span - 1) - rng.int(30, 200).min(span as u64 - 1) as i32),
            _ => (rng.int(0, span as u64 / 2) as i32, span - 1),
        };
        let (first, last) = (first.clamp(0, span - 1), last.clamp(first.clamp(0, span - 1), span - 1));
        let mut days = Vec::new();
        let mut counts = Vec::new();
        let mut means = Vec::with_capacity((last - first + 1) as usize);
        let mut event: Option<(Kind, u32)> = None; // kind, days left
        for t in first..=last {
            let day = Day(cfg.start.0 + t);
            let mut mean = level
                * weekly[day.weekday()]
                * libm::exp(growth * t as f64 / span as f64)
                * (1.0 + 0.15 * libm::sin(std::f64::consts::TAU * t as f64 / 365.0 + phase));
            if is_holiday(day) {
                mean *= 0.35;
            }
            if t == 0 || day == last_day {
                mean *= 0.5; // partial first and last day of the extract
            }
            means.push(mean);
            let normal = rng.neg_binomial(mean, dispersion);
            if event.is_none() && t > first + 3 && rng.uniform() < cfg.anomaly_rate {
                event = match rng.uniform() {
                    u if u < 0.45 => Some((Kind::Spike, 1)),
                    u if u < 0.7 => Some((Kind::Burst, rng.int(2, 5) as u32)),
                    u if u < 0.9 && mean >= 15.0 => Some((Kind::Drop, rng.int(1, 3) as u32)),
                    _ if mean >= 5.0 => Some((Kind::Outage, rng.int(1, 2) as u32)),
                    _ => Some((Kind::Spike, 1)),
                };
            }
            let sd = libm::sqrt(mean + mean * mean / dispersion);
            let count = match event {
                Some((kind, left)) => {
                    event = (left > 1).then_some((kind, left - 1));
                    labels.push(Label { service: s, day, kind });
                    match kind {
                        Kind::Spike => normal + (rng.range(3.0, 8.0) * sd).max(5.0).round() as u64,
                        Kind::Burst => normal + (rng.range(3.0, 6.0) * sd).max(4.0).round() as u64,
                        Kind::Drop => (normal as f64 * rng.range(0.0, 0.25)).round() as u64,
                        Kind::Outage => 0,
                        Kind::AmountJump => normal, // only `amounts` makes these
                    }
                }
                None => normal,
            };
            if count > 0 {
                days.push(day);
                counts.push(count);
            }
        }
        // Keys sort like real service codes; push cannot fail on generated data.
        let key = format!("SVC-{s:04}");
        builder.push(&key, &days, &counts).expect("generated series are valid");
        lifetimes.push((Day(cfg.start.0 + first), Day(cfg.start.0 + last)));
        truth.means.push(means);
        truth.dispersion.push(dispersion);
    }
    (Labelled { panel: builder.build(), labels, lifetimes }, truth)
}

/// The same days as daily **amounts** in cents: each service has its own
/// typical ticket (lognormal, a few dollars to a few thousand), each
/// transaction's amount scatters around it (lognormal, σ = 0.6), and a
/// day's value is their sum. Every labelled count anomaly stays labelled
/// (a burst of orders is a burst of money too); on top, `rate` of the
/// other days with orders get [`Kind::AmountJump`]: tickets 2.5 to 4 times
/// their usual size while the count stays ordinary. Deterministic for `seed`.
///
/// ```
/// use servicewatch_shared::synth::{amounts, generate, Config, Kind};
/// let counts = generate(&Config { services: 5, days: 120, ..Config::default() });
/// let money = amounts(&counts, 7, 0.01);
/// assert_eq!(money.panel.days(0), counts.panel.days(0)); // the same days
/// assert!(money.panel.counts(0)[0] > counts.panel.counts(0)[0]); // cents
/// assert!(money.labels.iter().any(|l| l.kind == Kind::AmountJump));
/// assert!(money.labels.len() > counts.labels.len());
/// ```
pub fn amounts(data: &Labelled, seed: u64, rate: f64) -> Labelled {
    const SIGMA: f64 = 0.6;
    let mut rng = Rng::new(seed);
    let mut builder = Panel::builder();
    let mut labels = data.labels.clone();
    let labelled: std::collections::HashSet<(usize, Day)> = data.labels.iter().map(|l| (l.service, l.day)).collect();
    // A lognormal ticket's mean and standard deviation, relative to its median.
    let (mean, sd) = {
        let m = libm::exp(SIGMA * SIGMA / 2.0);
        (m, m * libm::sqrt(libm::exp(SIGMA * SIGMA) - 1.0))
    };
    for s in 0..data.panel.len() {
        let ticket = 100.0 * libm::exp(rng.range(libm::log(5.0), libm::log(2000.0)));
        let (days, counts) = (data.panel.days(s), data.panel.counts(s));
        let mut cents = Vec::with_capacity(counts.len());
        for (&day, &n) in days.iter().zip(counts) {
            let jump = !labelled.contains(&(s, day)) && rng.uniform() < rate;
            let scale = if jump { rng.range(2.5, 4.0) } else { 1.0 };
            // Small days sum their tickets one by one; large ones by the
            // central limit theorem (the same mean and spread).
            let sum = if n <= 30 {
                (0..n).map(|_| libm::exp(SIGMA * rng.normal())).sum::<f64>()
            } else {
                (n as f64 * mean + libm::sqrt(n as f64) * sd * rng.normal()).max(0.0)
            };
            cents.push((ticket * scale * sum).round() as u64);
            if jump {
                labels.push(Label { service: s, day, kind: Kind::AmountJump });
            }
        }
        builder.push(data.panel.key(s), days, &cents).expect("the same days as a valid panel");
    }
    Labelled { panel: builder.build(), labels, lifetimes: data.lifetimes.clone() }
}
