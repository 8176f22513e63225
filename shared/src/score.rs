//! Scoring in two stages, so sliders stay cheap:
//!
//! 1. [`Scores::compute`] estimates every day's baseline and z-score for a
//!    date range and method (the expensive part, done once per range).
//! 2. [`Scores::flag`] applies threshold, minimum history, minimum count,
//!    direction and service filter to the stored z-scores: one pass over the
//!    points, skipping whole services that cannot reach the threshold.
//! 3. [`Scores::anomalies`] is the answer the API, `scan` and the app give:
//!    the flags' metrics and the most unusual flagged days, ranked.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::methods::robust::noise_floor;
use crate::methods::{classic, common, robust, Columns, Status, Verdict};
use crate::stats::normal_tail;
use crate::{wire, BaselineParams, Day, Direction, FlagParams, Method, Metric, Panel};

/// One service's place in [`Scores`] and what it needs to be scorable.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInfo {
    pub key: String,
    pub verdict: Verdict,
    /// What one transaction is worth in this series' values
    /// ([`BaselineParams::units`]; 1 for counts).
    pub unit: f64,
    /// Transactions in range.
    pub total: u64,
    /// The largest z above and below the baseline on any day (0 if none).
    pub max_z: f64,
    pub min_z: f64,
    start: usize,
    end: usize,
}

impl ServiceInfo {
    /// Whether the flags can reach this service at a minimum history of
    /// `min_days`: it has a baseline and enough days of history.
    pub fn flaggable(&self, min_days: u32) -> bool {
        self.verdict.status == Status::Scored && self.verdict.history >= min_days
    }
}

/// How many services a [`FlagParams`] selects, and how many of those the
/// flags can reach ([`ServiceInfo::flaggable`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    pub selected: usize,
    pub flaggable: usize,
}

/// Baselines and z-scores for every service-day in a range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// The range actually scored (the data's bounds where not given).
    pub range: Option<(Day, Day)>,
    pub method: Method,
    pub weekly: bool,
    pub metric: Metric,
    /// The business-wide factor of each day in range (robust only; 1 on
    /// ordinary days): see [`crate::methods::common`].
    pub day_factor: Vec<f64>,
    /// The holiday calendar's days in range (robust only;
    /// [`BaselineParams::holidays`]): a drop on one that no common factor
    /// measured has no score.
    pub holidays: Vec<Day>,
    services: Vec<ServiceInfo>,
    points: Columns,
}

/// The three metrics of the original app, plus the false flags to expect.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    /// Transactions in range for the selected services.
    pub total: u64,
    /// Flagged service-days.
    pub anomalous: u64,
    /// Share of `total` that falls on flagged days (0 when total is 0).
    pub share: f64,
    /// Flags to expect by chance alone at this threshold if the scores of
    /// the eligible days were standard normal: eligible days × tail area.
    pub expected_false: f64,
}

/// The result of [`Scores::flag`]: metrics and the flagged points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flags {
    pub metrics: Metrics,
    /// Indices of the flagged points, in storage order (see [`Scores::ranked`]).
    pub hits: Vec<u32>,
    /// Days that were eligible (scored service, enough history, selected).
    pub eligible: u64,
}

/// One flagged (or any) service-day, ready for a table or the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    pub key: String,
    pub date: Day,
    pub value: u64,
    pub center: f64,
    pub spread: f64,
    pub z: f64,
    /// The day's business-wide factor (`crate::methods::common`): 1 on an
    /// ordinary day, 0.3 when the median service sold 30 % of its usual.
    /// `center` already includes it.
    #[serde(default = "one")]
    pub day_factor: f64,
}

fn one() -> f64 {
    1.0
}

/// One service's scored days, as columns for a chart.
#[derive(Clone, Copy, Debug)]
pub struct SeriesView<'a> {
    pub day: &'a [Day],
    pub count: &'a [u64],
    pub center: &'a [f64],
    pub spread: &'a [f64],
    pub z: &'a [f64],
}

/// Below this threshold so many days pass that [`Scores::flag`] collects
/// hits without branching (twice as fast at z = 0.5-1 on a million days).
const BRANCH_FREE_BELOW: f64 = 1.5;

impl Scores {
    /// Scores every service of `panel` over the range in `params`.
    ///
    /// ```
    /// use servicewatch_shared::{BaselineParams, Day, FlagParams, Method, Panel, Scores};
    /// let mut p = Panel::builder();
    /// let days: Vec<Day> = (0..30).map(Day).collect();
    /// let mut counts = vec![50u64; 30];
    /// counts[20] = 120;
    /// p.push("brakes", &days, &counts).unwrap();
    /// let panel = p.build();
    ///
    /// let params = BaselineParams { method: Method::Classic, ..Default::default() };
    /// let scores = Scores::compute(&panel, &params);
    /// let flags = scores.flag(&FlagParams::default()); // |z| >= 3
    /// assert_eq!(flags.metrics.total, 29 * 50 + 120);
    /// assert_eq!(flags.metrics.anomalous, 1);
    /// let top = scores.ranked(&flags, 10);
    /// assert_eq!(top[0].date, Day(20));
    /// assert_eq!(top[0].value, 120);
    /// // The spike is in its own classic baseline: mean 52.33, sd 12.78, z = 5.29.
    /// assert!((top[0].z - 5.2947).abs() < 1e-4);
    /// ```
    pub fn compute(panel: &Panel, params: &BaselineParams) -> Scores {
        let mut scores = Scores::default();
        scores.recompute(panel, params);
        scores
    }

    /// [`Scores::compute`] into `self`, reusing its memory: a new date range
    /// in the browser re-scores without asking the allocator (and the
    /// kernel) for a million fresh days.
    pub fn recompute(&mut self, panel: &Panel, params: &BaselineParams) {
        let bounds = panel.bounds();
        let from = params.from.or(bounds.map(|b| b.0));
        let to = params.to.or(bounds.map(|b| b.1));
        self.method = params.method;
        self.weekly = params.weekly;
        self.metric = params.metric;
        self.services.clear();
        self.points.clear();
        self.day_factor.clear();
        self.holidays.clear();
        self.range = None;
        let (Some(from), Some(to)) = (from, to) else { return };
        self.range = Some((from, to));
        if params.method == Method::Robust {
            self.holidays.extend(params.holidays.iter().copied().filter(|d| (from..=to).contains(d)));
        }
        // Reserve exactly once: classic scores days with rows, robust every
        // calendar day between a service's first and last.
        let sizes: Vec<usize> = (0..panel.len())
            .map(|s| match (params.method, panel.window(s, from, to).0) {
                (Method::Classic, days) => days.len(),
                (Method::Robust, [first, .., last]) => (last.0 - first.0) as usize + 1,
                (Method::Robust, days) => days.len(),
            })
            .collect();
        let needed: usize = sizes.iter().sum();
        self.points.reserve(needed);
        self.services.reserve(panel.len());
        // The range within the data's own days (a service's own edges are
        // judged against it).
        let data = bounds.map_or((from, to), |(first, last)| (from.max(first), to.min(last)));
        let (from_to, out, infos, sizes) = ((from, to, data), &mut self.points, &mut self.services, &sizes[..]);
        match parts(sizes, needed) {
            None => score_services(panel, params, from_to, 0..panel.len(), out, infos),
            #[cfg(not(target_arch = "wasm32"))]
            Some(ranges) => {
                // Services are independent until the common factor: each
                // core scores a contiguous share into its own columns, and
                // the shares are appended in order (the same points, in the
                // same order, as one core gives).
                let (first, rest) = ranges.split_first().expect("at least two parts");
                let shares: Vec<(Columns, Vec<ServiceInfo>)> = std::thread::scope(|scope| {
                    let handles: Vec<_> = rest
                        .iter()
                        .map(|r| {
                            let r = r.clone();
                            scope.spawn(move || {
                                let n = sizes[r.clone()].iter().sum();
                                let (mut out, mut infos) = (Columns::default(), Vec::with_capacity(r.len()));
                                out.reserve(n);
                                score_services(panel, params, from_to, r, &mut out, &mut infos);
                                (out, infos)
                            })
                        })
                        .collect();
                    score_services(panel, params, from_to, first.clone(), out, infos);
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                        .collect()
                });
                for (share, share_infos) in shares {
                    let offset = out.len();
                    out.append(&share);
                    infos.extend(share_infos.into_iter().map(|i| ServiceInfo {
                        start: i.start + offset,
                        end: i.end + offset,
                        ..i
                    }));
                }
            }
            #[cfg(target_arch = "wasm32")]
            Some(_) => unreachable!("one part in the browser"),
        }
        let out = &mut self.points;
        let spans: Vec<_> = self.services.iter().map(|s| s.start..s.end).collect();
        // The days a common factor measured (none without one).
        let mut measured = Vec::new();
        if params.method == Method::Robust && params.weekly {
            // Days the whole business shares are scored against the day's
            // common level (holidays, business-wide outages). Only on top
            // of the weekly pattern: without it, weekday rhythms dominate
            // the day ratios, and services with different rhythms (some
            // closed on Sundays) would drag the factor of whole weekdays.
            let days = (to.0 - from.0).max(-1) as usize + 1;
            let units: Vec<f64> = self.services.iter().map(|s| s.unit).collect();
            (self.day_factor, measured) = common::factors(out, from, days, &units);
            let calibration: Vec<_> = self.services.iter().map(|s| s.verdict.calibration()).collect();
            common::apply(out, &spans, from, &self.day_factor, &calibration, &units);
        }
        // Without a common factor (the weekly pattern off) the calendar
        // alone says which days are quiet.
        common::calendar(out, &spans, &self.holidays, from, &measured);
        for info in &mut self.services {
            let z = &out.z[info.start..info.end];
            info.max_z = z.iter().copied().fold(0.0, f64::max);
            info.min_z = z.iter().copied().fold(0.0, f64::min);
        }
    }

    /// Applies the cheap controls to the stored scores.
    ///
    /// Never recomputes a baseline: cost is one pass over the days of the
    /// services that can reach the threshold at all.
    pub fn flag(&self, p: &FlagParams) -> Flags {
        let threshold = if p.z.is_nan() { f64::INFINITY } else { p.z };
        let selected = self.selection(p);
        let pts = &self.points;
        let mut flags = Flags::default();
        let mut flagged_sum = 0u64;
        for (info, _) in self.services.iter().zip(&selected).filter(|(_, sel)| **sel) {
            flags.metrics.total += info.total;
            if !info.flaggable(p.min_days) {
                continue;
            }
            flags.eligible += (info.end - info.start) as u64;
            let reachable = match p.direction {
                Direction::Both => info.max_z.max(-info.min_z) >= threshold,
                Direction::Spikes => info.max_z >= threshold,
                Direction::Drops => -info.min_z >= threshold,
            };
            if !reachable {
                continue;
            }
            let (zs, counts) = (&pts.z[info.start..info.end], &pts.count[info.start..info.end]);
            if threshold >= BRANCH_FREE_BELOW {
                // Few days pass: a well-predicted branch per day is cheapest.
                for (j, (&z, &count)) in zs.iter().zip(counts).enumerate() {
                    if p.direction.passes(z, threshold) && count >= p.min_count {
                        flags.hits.push((info.start + j) as u32);
                        flagged_sum += count;
                    }
                }
                continue;
            }
            // Many days pass: a branch would be mispredicted about every
            // other day, so write every index and advance only on a hit.
            let base = flags.hits.len();
            flags.hits.resize(base + zs.len(), 0);
            let out = &mut flags.hits[base..];
            let mut k = 0;
            for (j, (&z, &count)) in zs.iter().zip(counts).enumerate() {
                let hit = p.direction.passes(z, threshold) & (count >= p.min_count);
                out[k] = (info.start + j) as u32;
                k += hit as usize;
                flagged_sum += count * hit as u64;
            }
            flags.hits.truncate(base + k);
        }
        let m = &mut flags.metrics;
        m.anomalous = flags.hits.len() as u64;
        m.share = if m.total > 0 { flagged_sum as f64 / m.total as f64 } else { 0.0 };
        m.expected_false = flags.eligible as f64 * normal_tail(threshold, p.direction == Direction::Both);
        flags
    }

    /// Which services `p` selects, by panel index (out-of-range indices
    /// select nothing).
    fn selection(&self, p: &FlagParams) -> Vec<bool> {
        let mut selected = vec![p.services.is_none(); self.services.len()];
        for &s in p.services.iter().flatten() {
            if let Some(x) = selected.get_mut(s) {
                *x = true;
            }
        }
        selected
    }

    /// The answer to `p`: [`Scores::flag`]'s metrics and the `limit` most
    /// unusual flagged days ([`Scores::ranked`]). What `/api/anomalies`,
    /// `scan`, the app's table and chart and its CSV all show.
    ///
    /// ```
    /// use servicewatch_shared::{BaselineParams, Day, FlagParams, Method, Panel, Scores};
    /// let mut p = Panel::builder();
    /// let days: Vec<Day> = (0..30).map(Day).collect();
    /// let mut counts = vec![50u64; 30];
    /// counts[20] = 120;
    /// p.push("brakes", &days, &counts).unwrap();
    /// let params = BaselineParams { method: Method::Classic, ..Default::default() };
    /// let scores = Scores::compute(&p.build(), &params);
    /// let answer = scores.anomalies(&FlagParams::default(), 10);
    /// assert_eq!(answer.metrics.anomalous, 1);
    /// assert_eq!(answer.anomalies[0].date, Day(20));
    /// ```
    pub fn anomalies(&self, p: &FlagParams, limit: usize) -> wire::Anomalies {
        let flags = self.flag(p);
        wire::Anomalies { anomalies: self.ranked(&flags, limit), metrics: flags.metrics }
    }

    /// How many services `p` selects and how many of them it can flag
    /// (scored, with at least `p.min_days` of history): what an empty
    /// answer is explained by.
    pub fn service_counts(&self, p: &FlagParams) -> ServiceCounts {
        let selected = self.selection(p);
        let mut counts = ServiceCounts::default();
        for (info, _) in self.services.iter().zip(&selected).filter(|(_, sel)| **sel) {
            counts.selected += 1;
            counts.flaggable += info.flaggable(p.min_days) as usize;
        }
        counts
    }

    /// The `limit` most unusual flagged days, by |z| descending (ties by
    /// service name, then date). Sorts only what it returns.
    pub fn ranked(&self, flags: &Flags, limit: usize) -> Vec<Anomaly> {
        let cmp = |a: &u32, b: &u32| self.rank_order(*a as usize, *b as usize);
        let mut idx = if limit < flags.hits.len() {
            if limit == 0 {
                return Vec::new();
            }
            self.top_candidates(&flags.hits, limit)
        } else {
            flags.hits.clone()
        };
        idx.sort_unstable_by(cmp);
        idx.truncate(limit);
        idx.into_iter().map(|i| self.point(i as usize)).collect()
    }

    /// The hits whose |z| reaches the `limit`-th largest: every member of
    /// the top `limit`, plus any ties at the cut (the full order decides
    /// those). Selecting on plain integer keys read in storage order costs
    /// a fraction of selecting with the full comparator when a low
    /// threshold flags most days.
    fn top_candidates(&self, hits: &[u32], limit: usize) -> Vec<u32> {
        let z = &self.points.z;
        // |z| as bits orders like the number itself (hits are never NaN).
        let mut keys: Vec<u64> = hits.iter().map(|&i| z[i as usize].abs().to_bits()).collect();
        let (_, cut, _) = keys.select_nth_unstable_by(limit - 1, |a, b| b.cmp(a));
        let cut = *cut;
        hits.iter().copied().filter(|&i| z[i as usize].abs().to_bits() >= cut).collect()
    }

    fn rank_order(&self, a: usize, b: usize) -> Ordering {
        let p = &self.points;
        p.z[b]
            .abs()
            .total_cmp(&p.z[a].abs())
            .then_with(|| self.services[p.svc[a] as usize].key.cmp(&self.services[p.svc[b] as usize].key))
            .then_with(|| p.day[a].cmp(&p.day[b]))
    }

    /// Point `i` as a row.
    pub fn point(&self, i: usize) -> Anomaly {
        let p = &self.points;
        Anomaly {
            key: self.services[p.svc[i] as usize].key.clone(),
            date: p.day[i],
            value: p.count[i],
            center: p.center[i],
            spread: p.spread[i],
            z: p.z[i],
            day_factor: self.day_factor_on(p.day[i]),
        }
    }

    /// The business-wide factor of `day` (1 outside the range, for classic,
    /// and on ordinary days).
    pub fn day_factor_on(&self, day: Day) -> f64 {
        let Some((from, _)) = self.range else { return 1.0 };
        usize::try_from(day.0 - from.0).ok().and_then(|i| self.day_factor.get(i)).copied().unwrap_or(1.0)
    }

    /// Per-service summaries, in panel order.
    pub fn services(&self) -> &[ServiceInfo] {
        &self.services
    }

    /// All scored points, columnar.
    pub fn points(&self) -> &Columns {
        &self.points
    }

    /// The bytes held on the heap (what a cache of these scores costs).
    pub fn heap_bytes(&self) -> usize {
        let p = &self.points;
        let keys: usize = self.services.iter().map(|s| s.key.capacity()).sum();
        keys + self.services.capacity() * std::mem::size_of::<ServiceInfo>()
            + self.day_factor.capacity() * 8
            + self.holidays.capacity() * std::mem::size_of::<Day>()
            + p.svc.capacity() * 4
            + p.day.capacity() * std::mem::size_of::<Day>()
            + (p.count.capacity() + p.center.capacity() + p.spread.capacity() + p.z.capacity()) * 8
    }

    /// The band of service `s` (panel index) at `threshold`: for each of
    /// its days, the counts below and above which the day's |z| reaches the
    /// threshold, so the chart's band and its flags agree. Classic: centre ±
    /// threshold × spread; robust: the calibrated z inverted
    /// ([`crate::methods::tail::Calibration::count_at`]). Never below 0.
    pub fn band(&self, s: usize, threshold: f64) -> (Vec<f64>, Vec<f64>) {
        let v = self.series(s);
        let info = &self.services[s];
        // Classic does not calibrate: its verdict has no calibration.
        let Some(cal) = info.verdict.calibration() else {
            let lower = v.center.iter().zip(v.spread).map(|(c, sd)| (c - threshold * sd).max(0.0)).collect();
            let upper = v.center.iter().zip(v.spread).map(|(c, sd)| c + threshold * sd).collect();
            return (lower, upper);
        };
        // Inverted in transactions, as the method scored (`unit`).
        let u = info.unit;
        v.center
            .iter()
            .zip(v.spread)
            .map(|(&c, &sd)| {
                let floor = noise_floor(c / u);
                (cal.count_at(-threshold, c / u, sd / u, floor) * u, cal.count_at(threshold, c / u, sd / u, floor) * u)
            })
            .unzip()
    }

    /// One service's scored days (panel index `s`).
    pub fn series(&self, s: usize) -> SeriesView<'_> {
        let r = self.services[s].start..self.services[s].end;
        let p = &self.points;
        SeriesView {
            day: &p.day[r.clone()],
            count: &p.count[r.clone()],
            center: &p.center[r.clone()],
            spread: &p.spread[r.clone()],
            z: &p.z[r],
        }
    }
}

/// Below this many points one core scores faster than two can start.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_FROM: usize = 100_000;

/// Contiguous ranges of services of about equal points, one per core, when
/// splitting pays (native builds with several cores and many points); None
/// to score on this thread alone.
fn parts(sizes: &[usize], needed: usize) -> Option<Vec<std::ops::Range<usize>>> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        if cores < 2 || needed < PARALLEL_FROM || sizes.len() < 2 {
            return None;
        }
        let mut ranges = Vec::with_capacity(cores);
        let (mut start, mut acc) = (0, 0);
        for (s, &n) in sizes.iter().enumerate() {
            acc += n;
            // Cut after the service that passes the next k/cores share.
            if acc * cores >= needed * (ranges.len() + 1) && ranges.len() + 1 < cores {
                ranges.push(start..s + 1);
                start = s + 1;
            }
        }
        ranges.push(start..sizes.len());
        ranges.retain(|r| !r.is_empty());
        (ranges.len() > 1).then_some(ranges)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (sizes, needed);
        None
    }
}

/// Scores services `range` of `panel` into `out` and `infos` (positions
/// relative to `out`), over `from..=to`; `data` is that range within the
/// data's own days.
fn score_services(
    panel: &Panel,
    params: &BaselineParams,
    (from, to, data): (Day, Day, (Day, Day)),
    range: std::ops::Range<usize>,
    out: &mut Columns,
    infos: &mut Vec<ServiceInfo>,
) {
    let mut excluded = Vec::new();
    for s in range {
        let (days, counts) = panel.window(s, from, to);
        let start = out.len();
        let svc = s as u32;
        excluded.clear();
        if let Some(marked) = params.exclude.get(panel.key(s)) {
            excluded.extend(marked.iter().copied().filter(|d| (from..=to).contains(d)));
        }
        if params.method == Method::Robust {
            // A holiday is no ordinary day for any service's baseline.
            excluded.extend(params.holidays.iter().copied().filter(|d| (from..=to).contains(d)));
        }
        excluded.sort_unstable();
        excluded.dedup();
        let unit = params.units.get(panel.key(s)).copied().filter(|u| u.is_finite() && *u > 0.0).unwrap_or(1.0);
        let verdict = match params.method {
            Method::Classic => classic::score(svc, days, counts, &excluded, out),
            Method::Robust => robust::score(svc, days, counts, (params.weekly, unit), &excluded, out),
        };
        let end = out.len();
        if params.method == Method::Robust && !params.partial.is_empty() {
            // Partial days keep their baseline (the chart draws it) but
            // get no score, so no threshold flags them.
            for i in start..end {
                if params.partial.contains(&out.day[i]) {
                    out.z[i] = f64::NAN;
                }
            }
        }
        if params.method == Method::Robust && end > start {
            // A series that starts or stops inside the range most likely
            // does so mid-day: its first and last days are partial too,
            // whatever the extract's bounds say. A partial day can only
            // read low, so only a low reading there goes unscored; a spike
            // on a service's first or last day is still one.
            // Inside the data, that is: a range reaching past the data's
            // days (a link typed by hand) must not make every service stop
            // early, and the server clamps its range to the data anyway.
            let edge = |i: usize| (i == start && days[0] > data.0) || (i + 1 == end && days[days.len() - 1] < data.1);
            for i in [start, end - 1] {
                if edge(i) && out.z[i] < 0.0 {
                    out.z[i] = f64::NAN;
                }
            }
        }
        infos.push(ServiceInfo {
            key: panel.key(s).to_string(),
            verdict,
            unit,
            total: counts.iter().sum(),
            max_z: 0.0,
            min_z: 0.0,
            start,
            end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scoring on several cores gives what one core gives, point for point
    /// and bit for bit, common factor included.
    #[test]
    fn both_cores_score_as_one() {
        let mut b = Panel::builder();
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        for s in 0..260 {
            let level = 5 + s % 90;
            let days: Vec<Day> = (0..500).filter(|d| (d * 7 + s) % 11 != 0).map(|d| Day(d as i32)).collect();
            let counts: Vec<u64> =
                days.iter().map(|d| level + next() % (level / 2 + 3) + (d.0 % 7 == 5) as u64 * level).collect();
            b.push(&format!("svc-{s:03}"), &days, &counts).unwrap();
        }
        let panel = b.build();
        for (method, weekly) in [(Method::Classic, false), (Method::Robust, false), (Method::Robust, true)] {
            let params = BaselineParams { method, weekly, ..Default::default() };
            let (from, to) = panel.bounds().unwrap();
            let sizes: Vec<usize> = (0..panel.len()).map(|s| panel.window(s, from, to).0.len()).collect();
            assert!(parts(&sizes, sizes.iter().sum()).is_some_and(|p| p.len() > 1) || num_cores() < 2);
            let many = Scores::compute(&panel, &params);
            // One core: the same services scored on this thread alone.
            let (mut out, mut infos) = (Columns::default(), Vec::new());
            score_services(&panel, &params, (from, to, (from, to)), 0..panel.len(), &mut out, &mut infos);
            if method == Method::Robust && weekly {
                let days = (to.0 - from.0) as usize + 1;
                let (factor, _) = common::factors(&out, from, days, &[]);
                let calibration: Vec<_> = infos.iter().map(|s| s.verdict.calibration()).collect();
                let spans: Vec<_> = infos.iter().map(|s| s.start..s.end).collect();
                common::apply(&mut out, &spans, from, &factor, &calibration, &[]);
                assert_eq!(factor, many.day_factor);
            }
            let bits =
                |c: &Columns| c.z.iter().chain(&c.center).chain(&c.spread).map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!((&out.svc, &out.day, &out.count), (&many.points.svc, &many.points.day, &many.points.count));
            assert_eq!(bits(&out), bits(&many.points), "{method} weekly={weekly}");
            let spans: Vec<_> = infos.iter().map(|i| (i.start, i.end, i.verdict)).collect();
            assert_eq!(spans, many.services.iter().map(|i| (i.start, i.end, i.verdict)).collect::<Vec<_>>());
        }
    }

    fn num_cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
