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
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::methods::robust::noise_floor;
use crate::methods::sink::Sink;
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

/// Whether a scoring with `params` scales baselines by each day's common
/// factor ([`common`]): the robust method with the weekly pattern on.
/// Only on top of the weekly pattern: without it, weekday rhythms dominate
/// the day ratios, and services with different rhythms (some closed on
/// Sundays) would drag the factor of whole weekdays.
fn common_factor(params: &BaselineParams) -> bool {
    params.method == Method::Robust && params.weekly
}

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
        let Some(plan) = self.begin(panel, params) else { return };
        let (out, infos) = (&mut self.points, &mut self.services);
        // Each core's ratios for the common factor, when they gather them.
        let ratios = match split(&plan.sizes, cores()) {
            ranges if ranges.len() < 2 => {
                score_services(panel, params, &plan, 0..panel.len(), out, infos);
                Vec::new()
            }
            #[cfg(not(target_arch = "wasm32"))]
            ranges => {
                // Services are independent until the common factor: each
                // core scores a contiguous part straight into its share of
                // our columns (the same points, in the same order, as one
                // core), and their services are listed in order.
                let sizes: Vec<usize> = ranges.iter().map(|r| plan.sizes[r.clone()].iter().sum()).collect();
                let filled = out.fill_shares(&sizes, |shares| {
                    std::thread::scope(|scope| {
                        let plan = &plan;
                        let mut jobs = shares.iter_mut().zip(&ranges);
                        let (own, first) = jobs.next().expect("at least two parts");
                        let handles: Vec<_> = jobs
                            .map(|(share, r)| {
                                scope.spawn(move || {
                                    let mut infos = Vec::with_capacity(r.len());
                                    score_services(panel, params, plan, r.clone(), share, &mut infos);
                                    infos
                                })
                            })
                            .collect();
                        score_services(panel, params, plan, first.clone(), own, infos);
                        for h in handles {
                            infos.extend(h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                        }
                    })
                });
                if filled.is_none() {
                    // A part that did not write its planned points (a
                    // mismatch between plan and methods): one core again.
                    debug_assert!(false, "every share filled");
                    out.clear();
                    infos.clear();
                    score_services(panel, params, &plan, 0..panel.len(), out, infos);
                    Vec::new()
                } else if common_factor(params) {
                    // Each core gathers its own points' ratios too (after
                    // they are all written: the columns are ours by then).
                    let (out, infos, plan) = (&*out, &*infos, &plan);
                    let shares: Vec<Range<usize>> = sizes
                        .iter()
                        .scan(0, |at, &k| {
                            *at += k;
                            Some(*at - k..*at)
                        })
                        .collect();
                    std::thread::scope(|scope| {
                        let handles: Vec<_> = shares[1..]
                            .iter()
                            .map(|r| scope.spawn(|| plan.ratios(out, r.clone(), (infos, 0))))
                            .collect();
                        let mut all = vec![plan.ratios(out, shares[0].clone(), (infos, 0))];
                        all.extend(
                            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                        );
                        all
                    })
                } else {
                    Vec::new()
                }
            }
            #[cfg(target_arch = "wasm32")]
            _ => unreachable!("one part on one thread"),
        };
        self.finish(params, &plan, ratios);
    }

    /// Scores services `services` of `panel` on their own: one [`Part`] of
    /// a full scoring that [`Scores::assemble`] puts together with the
    /// others. The browser scores one part in a Web Worker while its own
    /// thread scores the other ([`split`] says where to cut).
    pub fn score_part(panel: &Panel, params: &BaselineParams, services: Range<usize>) -> Part {
        match Plan::new(panel, params) {
            Some(plan) => plan.part(panel, params, services),
            None => Part { services, ..Part::default() },
        }
    }

    /// Starts a full scoring whose first services (`own`, from 0) are
    /// scored here, now, while the others are scored elsewhere by
    /// [`Scores::score_part`] on the same panel and parameters; then
    /// [`Assembly::finish`] adds their parts: the same points and bits as
    /// [`Scores::compute`].
    ///
    /// ```
    /// use servicewatch_shared::{BaselineParams, Day, Panel, Scores};
    /// let mut p = Panel::builder();
    /// let days: Vec<Day> = (0..60).map(Day).collect();
    /// for s in 0..4u64 {
    ///     let counts: Vec<u64> = (0..60).map(|d| 20 + s + d % 5).collect();
    ///     p.push(&format!("s{s}"), &days, &counts).unwrap();
    /// }
    /// let panel = p.build();
    /// let params = BaselineParams::default();
    /// // Services 0 and 1 scored here, 2 and 3 elsewhere (a worker).
    /// let started = Scores::assemble(&panel, &params, 0..2);
    /// let theirs = Scores::score_part(&panel, &params, 2..4);
    /// assert_eq!(started.finish(vec![theirs]), Ok(Scores::compute(&panel, &params)));
    /// ```
    pub fn assemble<'a>(panel: &'a Panel, params: &'a BaselineParams, own: Range<usize>) -> Assembly<'a> {
        let mut scores = Scores::default();
        let plan = scores.begin(panel, params);
        let fits = own.start == 0 && own.end <= panel.len();
        let mut ratios = Vec::new();
        if let (Some(plan), true) = (&plan, fits) {
            score_services(panel, params, plan, own.clone(), &mut scores.points, &mut scores.services);
            // Gathered here too, while the other parts are still scored.
            if common_factor(params) {
                ratios.push(plan.ratios(&scores.points, 0..scores.points.len(), (&scores.services, 0)));
            }
        }
        Assembly { panel, params, plan, scores, ratios, next: if fits { own.end } else { usize::MAX } }
    }

    /// Resets `self` for a full scoring of `panel` with `params`, with
    /// room for all of its points: its plan, or `None` when the panel has
    /// no days in range.
    fn begin(&mut self, panel: &Panel, params: &BaselineParams) -> Option<Plan> {
        self.method = params.method;
        self.weekly = params.weekly;
        self.metric = params.metric;
        self.services.clear();
        self.points.clear();
        self.day_factor.clear();
        self.holidays.clear();
        self.range = None;
        let plan = Plan::new(panel, params)?;
        self.range = Some((plan.from, plan.to));
        if params.method == Method::Robust {
            let (from, to) = (plan.from, plan.to);
            self.holidays.extend(params.holidays.iter().copied().filter(|d| (from..=to).contains(d)));
        }
        // Reserve exactly once for every part.
        self.points.reserve(plan.needed());
        self.services.reserve(panel.len());
        Some(plan)
    }

    /// Appends a part scored elsewhere (checked by [`Part::fits`]) after
    /// the points and services so far; a thin part's day, service and
    /// count columns are written from the panel.
    fn append(&mut self, panel: &Panel, params: &BaselineParams, plan: &Plan, part: &Part) {
        let mut start = self.points.len();
        if part.points.svc.is_empty() && !part.points.z.is_empty() {
            frame(panel, params.method, plan, part.services.clone(), &part.units, &mut self.points);
            self.points.center.extend_from_slice(&part.points.center);
            self.points.spread.extend_from_slice(&part.points.spread);
            self.points.z.extend_from_slice(&part.points.z);
        } else {
            self.points.append(&part.points);
        }
        for (j, s) in part.services.clone().enumerate() {
            let end = start + part.lens[j] as usize;
            self.services.push(ServiceInfo {
                key: panel.key(s).to_string(),
                verdict: part.verdicts[j],
                unit: part.units[j],
                total: part.totals[j],
                max_z: 0.0,
                min_z: 0.0,
                start,
                end,
            });
            start = end;
        }
    }

    /// What comes after every service is scored: the common factor, the
    /// holiday calendar, and each service's largest |z|.
    /// `ratios`: the parts' ratios for the common factor, if they were
    /// gathered as the parts were scored (else they are gathered here).
    fn finish(&mut self, params: &BaselineParams, plan: &Plan, mut ratios: Vec<common::Ratios>) {
        let from = plan.from;
        let out = &mut self.points;
        let spans: Vec<_> = self.services.iter().map(|s| s.start..s.end).collect();
        // The days a common factor measured (none without one).
        let mut measured = Vec::new();
        if common_factor(params) {
            // Days the whole business shares are scored against the day's
            // common level (holidays, business-wide outages).
            if ratios.is_empty() {
                ratios.push(plan.ratios(out, 0..out.len(), (&self.services, 0)));
            }
            (self.day_factor, measured) = common::factors(&ratios, plan.days());
            let units: Vec<f64> = self.services.iter().map(|s| s.unit).collect();
            let calibration: Vec<_> = self.services.iter().map(|s| s.verdict.calibration()).collect();
            common::apply(out, &spans, from, &self.day_factor, &calibration, &units);
        }
        // Without a common factor (the weekly pattern off) the calendar
        // alone says which days are quiet.
        common::calendar(out, &spans, &self.holidays, from, &measured);
        for info in &mut self.services {
            // One pass for both (NaN, an unscored day, is passed over).
            let z = &out.z[info.start..info.end];
            (info.max_z, info.min_z) = z.iter().fold((0.0, 0.0), |(hi, lo): (f64, f64), &v| (hi.max(v), lo.min(v)));
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

/// One contiguous part of a full scoring's services, scored on its own (on
/// another core natively, in a Web Worker in the browser) by
/// [`Scores::score_part`] and put together in order by
/// [`Scores::assemble`]. Per service of `services`, in order: its verdict,
/// its unit, its transactions in range, and how many of `points` are its
/// (whose service, day and count columns may be left out: [`Part::thin`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    /// The services scored, as panel indices.
    pub services: Range<usize>,
    pub points: Columns,
    pub verdicts: Vec<Verdict>,
    pub units: Vec<f64>,
    pub totals: Vec<u64>,
    pub lens: Vec<u32>,
    /// Its points' ratios for the common factor, gathered where it was
    /// scored (when the scoring has a common factor).
    pub ratios: Option<common::Ratios>,
}

impl Part {
    /// The part without its service, day and count columns, which
    /// [`Scores::assemble`] writes again from the panel: what the browser's
    /// worker posts back (16 of every 40 bytes fewer to copy).
    pub fn thin(mut self) -> Part {
        self.points.svc = Vec::new();
        self.points.day = Vec::new();
        self.points.count = Vec::new();
        self
    }

    /// Whether this part can follow services `..next` of the full scoring
    /// planned in `plan`: it starts at `next` and ends inside, has one
    /// verdict, unit, total and count of points per service, each count the
    /// plan's (so a part of another panel or range is refused), and columns
    /// as long as its points (service, day and count may be empty: thin).
    fn fits(&self, next: usize, plan: &Plan) -> bool {
        let n = self.services.len();
        let Some(sizes) = plan.sizes.get(self.services.clone()) else { return false };
        let points: usize = sizes.iter().sum();
        let p = &self.points;
        let frame = [p.svc.len(), p.day.len(), p.count.len()];
        self.services.start == next
            && self.lens.iter().zip(sizes).all(|(&k, &size)| k as usize == size)
            && [self.verdicts.len(), self.units.len(), self.totals.len(), self.lens.len()].iter().all(|&k| k == n)
            && [p.center.len(), p.spread.len(), p.z.len()].iter().all(|&k| k == points)
            && (frame.iter().all(|&k| k == points) || frame.iter().all(|&k| k == 0))
            && self.ratios.as_ref().is_none_or(|r| r.fits(plan.days(), points))
    }
}

/// Writes the service, day and count columns of `services` as the methods
/// write them: classic a point per day with a row in range, robust every
/// calendar day from a service's first to its last (0 where it has no row),
/// its count through the service's unit as `robust::score` writes it
/// (`units`, one per service).
fn frame(panel: &Panel, method: Method, plan: &Plan, services: Range<usize>, units: &[f64], out: &mut Columns) {
    for (j, s) in services.enumerate() {
        let (days, counts) = panel.window(s, plan.from, plan.to);
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else { continue };
        let at = out.count.len();
        match method {
            Method::Classic => {
                out.day.extend_from_slice(days);
                out.count.extend_from_slice(counts);
            }
            Method::Robust => {
                out.day.extend((first.0..=last.0).map(Day));
                out.count.resize(at + (last.0 - first.0) as usize + 1, 0);
                let unit = units.get(j).copied().unwrap_or(1.0);
                for (d, &c) in days.iter().zip(counts) {
                    out.count[at + (d.0 - first.0) as usize] = robust::whole(c as f64 / unit, unit);
                }
            }
        }
        out.svc.resize(out.count.len(), s as u32);
    }
}

/// A full scoring under way: the services scored here ([`Scores::assemble`]),
/// waiting for the parts scored elsewhere.
pub struct Assembly<'a> {
    panel: &'a Panel,
    params: &'a BaselineParams,
    plan: Option<Plan>,
    scores: Scores,
    /// The common factor's ratios of the points scored here (when the
    /// scoring has one).
    ratios: Vec<common::Ratios>,
    /// The first service not yet scored (`usize::MAX`: the services asked
    /// to be scored here were not the first ones).
    next: usize,
}

impl Assembly<'_> {
    /// The whole scoring, with `others` (scored by [`Scores::score_part`])
    /// after the services scored here; an error when they do not cover
    /// the rest of the services once, in order.
    pub fn finish(mut self, others: Vec<Part>) -> Result<Scores, PartsError> {
        let Some(plan) = self.plan else { return Ok(self.scores) };
        let mut next = self.next;
        for part in &others {
            if !part.fits(next, &plan) {
                return Err(PartsError);
            }
            next = part.services.end;
        }
        if next != self.panel.len() {
            return Err(PartsError);
        }
        let mut ratios = self.ratios;
        for part in others {
            let at = self.scores.points.len();
            self.scores.append(self.panel, self.params, &plan, &part);
            if common_factor(self.params) {
                let points = at..self.scores.points.len();
                let infos = (&self.scores.services[..], 0);
                ratios.push(part.ratios.unwrap_or_else(|| plan.ratios(&self.scores.points, points, infos)));
            }
        }
        self.scores.finish(self.params, &plan, ratios);
        Ok(self.scores)
    }
}

/// Parts that do not make one scoring: not every service once and in
/// order, or a part whose columns disagree with its services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the scored parts do not cover the panel's services once, in order")]
pub struct PartsError;

/// What a full scoring covers: the range, that range within the data's own
/// days (a service's own edges are judged against it), and each service's
/// points in it.
struct Plan {
    from: Day,
    to: Day,
    data: (Day, Day),
    sizes: Vec<usize>,
}

impl Plan {
    fn new(panel: &Panel, params: &BaselineParams) -> Option<Plan> {
        let bounds = panel.bounds();
        let from = params.from.or(bounds.map(|b| b.0))?;
        let to = params.to.or(bounds.map(|b| b.1))?;
        let data = bounds.map_or((from, to), |(first, last)| (from.max(first), to.min(last)));
        // Classic scores days with rows, robust every calendar day between
        // a service's first and last.
        let sizes = (0..panel.len())
            .map(|s| match (params.method, panel.window(s, from, to).0) {
                (Method::Classic, days) => days.len(),
                (Method::Robust, [first, .., last]) => (last.0 - first.0) as usize + 1,
                (Method::Robust, days) => days.len(),
            })
            .collect();
        Some(Plan { from, to, data, sizes })
    }

    fn needed(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// Days in range.
    fn days(&self) -> usize {
        (self.to.0 - self.from.0).max(-1) as usize + 1
    }

    /// The common factor's ratios of `points[range]`, whose services are
    /// listed in `infos` from panel index `first` on (their units).
    fn ratios(&self, points: &Columns, range: Range<usize>, (infos, first): (&[ServiceInfo], usize)) -> common::Ratios {
        let unit = |svc: u32| infos.get((svc as usize).wrapping_sub(first)).map_or(1.0, |i| i.unit);
        common::Ratios::gather(points, range, self.from, self.days(), unit)
    }

    /// Scores services `services` into a part of their own
    /// ([`Scores::score_part`]).
    fn part(&self, panel: &Panel, params: &BaselineParams, services: Range<usize>) -> Part {
        let mut part = Part { services: services.clone(), ..Part::default() };
        let end = services.end.min(panel.len());
        let services = services.start.min(end)..end;
        part.points.reserve(self.sizes[services.clone()].iter().sum());
        let mut infos = Vec::with_capacity(services.len());
        score_services(panel, params, self, services.clone(), &mut part.points, &mut infos);
        if common_factor(params) {
            part.ratios = Some(self.ratios(&part.points, 0..part.points.len(), (&infos, services.start)));
        }
        for info in infos {
            part.verdicts.push(info.verdict);
            part.units.push(info.unit);
            part.totals.push(info.total);
            part.lens.push((info.end - info.start) as u32);
        }
        part
    }
}

/// Below this many points one core scores faster than two can start (and
/// the browser does not post to its worker).
pub const PARALLEL_FROM: usize = 100_000;

/// The cores a native scoring uses (one in the browser's own thread).
fn cores() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// Up to `n` contiguous ranges of services of about equal points, given
/// each service's points (`sizes`): one range (all services) below
/// [`PARALLEL_FROM`] points in all, where splitting does not pay.
///
/// ```
/// use servicewatch_shared::score::split;
/// // The first service alone is half the points.
/// assert_eq!(split(&[60_000, 10_000, 50_000, 0], 2), [0..1, 1..4]);
/// assert_eq!(split(&[60_000, 10_000], 2), [0..2]); // too few points
/// ```
pub fn split(sizes: &[usize], n: usize) -> Vec<Range<usize>> {
    split_weighted(sizes, &vec![1.0; n])
}

/// [`split`] into one range per weight, each with about its weight's share
/// of the points: the browser gives its worker less than half when the
/// worker takes longer for the same points (`frontend/src/worker.rs`).
///
/// ```
/// use servicewatch_shared::score::split_weighted;
/// let sizes = [50_000; 10];
/// assert_eq!(split_weighted(&sizes, &[1.0, 1.0]), [0..5, 5..10]);
/// assert_eq!(split_weighted(&sizes, &[0.6, 0.4]), [0..6, 6..10]);
/// ```
pub fn split_weighted(sizes: &[usize], weights: &[f64]) -> Vec<Range<usize>> {
    let needed: usize = sizes.iter().sum();
    let n = weights.len();
    let total: f64 = weights.iter().sum();
    if n < 2 || needed < PARALLEL_FROM || sizes.len() < 2 || !(total > 0.0 && total.is_finite()) {
        return std::iter::once(0..sizes.len()).collect();
    }
    let mut ranges = Vec::with_capacity(n);
    let (mut start, mut acc, mut share) = (0, 0, weights[0]);
    for (s, &k) in sizes.iter().enumerate() {
        acc += k;
        // Cut after the service that passes the next range's share (exact
        // below 2^53 points, so equal weights cut where halves would).
        if acc as f64 * total >= needed as f64 * share && ranges.len() + 1 < n {
            ranges.push(start..s + 1);
            start = s + 1;
            share += weights[ranges.len()];
        }
    }
    ranges.push(start..sizes.len());
    ranges.retain(|r| !r.is_empty());
    ranges
}

impl Scores {
    /// Each service's points in a full scoring of `panel` with `params`
    /// (what [`split`] cuts by).
    pub fn sizes(panel: &Panel, params: &BaselineParams) -> Vec<usize> {
        Plan::new(panel, params).map(|p| p.sizes).unwrap_or_default()
    }
}

/// Scores services `range` of `panel` into `out` and `infos` (positions
/// relative to `out`), over `from..=to`; `data` is that range within the
/// data's own days.
fn score_services(
    panel: &Panel,
    params: &BaselineParams,
    &Plan { from, to, data, .. }: &Plan,
    range: Range<usize>,
    out: &mut impl Sink,
    infos: &mut Vec<ServiceInfo>,
) {
    let mut excluded = Vec::new();
    for s in range {
        let (days, counts) = panel.window(s, from, to);
        let start = out.position();
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
        let verdict = match (params.method, days) {
            (Method::Classic, _) => classic::score(svc, days, counts, &excluded, out),
            (Method::Robust, [first, .., last] | [first @ last]) => {
                // A series that starts or stops inside the range most
                // likely does so mid-day: its first and last days are
                // partial too, whatever the extract's bounds say. Inside
                // the data, that is: a range reaching past the data's days
                // (a link typed by hand) must not make every service stop
                // early, and the server clamps its range to the data anyway.
                let edge = |yes: bool, day: Day| if yes { day } else { Day(i32::MIN) };
                let edges = [edge(*first > data.0, *first), edge(*last < data.1, *last)];
                // The partial days to look for, if any falls in the series.
                let unscored =
                    if params.partial.iter().any(|d| (first..=last).contains(&d)) { &params.partial[..] } else { &[] };
                let mut partial = Partial { out: &mut *out, days: unscored, edges };
                robust::score(svc, days, counts, (params.weekly, unit), &excluded, &mut partial)
            }
            (Method::Robust, []) => robust::score(svc, days, counts, (params.weekly, unit), &excluded, out),
        };
        let end = out.position();
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

/// What the robust method writes, with the days no threshold should
/// flag left unscored (z = NaN) on the way: the extract's partial days
/// (they keep their baseline, which the chart draws), and a low reading on
/// a service's own first or last day when it starts or stops inside the
/// data (a partial day can only read low: a spike there is still one).
struct Partial<'a, S> {
    out: &'a mut S,
    days: &'a [Day],
    /// The service's first and last day where it starts or stops inside
    /// the data (else a day before any).
    edges: [Day; 2],
}

impl<S: Sink> Sink for Partial<'_, S> {
    fn position(&self) -> usize {
        self.out.position()
    }

    // Inlined into each of the kernel's copies (`crate::cpu`).
    #[inline(always)]
    fn push(&mut self, svc: u32, day: Day, count: u64, center: f64, spread: f64, z: f64) {
        let edge = day == self.edges[0] || day == self.edges[1];
        let partial = (edge && z < 0.0) || (!self.days.is_empty() && self.days.contains(&day));
        self.out.push(svc, day, count, center, spread, if partial { f64::NAN } else { z });
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
        let mut lcg = crate::lcg(12345);
        let mut next = || lcg(u64::MAX);
        for s in 0..260 {
            let level = 5 + s % 90;
            let days: Vec<Day> = (0..500).filter(|d| (d * 7 + s) % 11 != 0).map(|d| Day(d as i32)).collect();
            let counts: Vec<u64> =
                days.iter().map(|d| level + next() % (level / 2 + 3) + (d.0 % 7 == 5) as u64 * level).collect();
            b.push(&format!("svc-{s:03}"), &days, &counts).unwrap();
        }
        let panel = b.build();
        for (method, weekly) in [(Method::Classic, false), (Method::Robust, false), (Method::Robust, true)] {
            // Partial days inside the series, on both cores' shares.
            let partial = vec![Day(60), Day(450)];
            let params = BaselineParams { method, weekly, partial, ..Default::default() };
            let (from, to) = panel.bounds().unwrap();
            let sizes: Vec<usize> = (0..panel.len()).map(|s| panel.window(s, from, to).0.len()).collect();
            assert!(split(&sizes, cores()).len() > 1 || cores() < 2);
            let many = Scores::compute(&panel, &params);
            // One core: the same services scored on this thread alone.
            let (mut out, mut infos) = (Columns::default(), Vec::new());
            let plan = Plan::new(&panel, &params).unwrap();
            score_services(&panel, &params, &plan, 0..panel.len(), &mut out, &mut infos);
            if method == Method::Robust && weekly {
                let days = (to.0 - from.0) as usize + 1;
                let (factor, _) =
                    common::factors(&[common::Ratios::gather(&out, 0..out.len(), from, days, |_| 1.0)], days);
                let calibration: Vec<_> = infos.iter().map(|s| s.verdict.calibration()).collect();
                let spans: Vec<_> = infos.iter().map(|s| s.start..s.end).collect();
                common::apply(&mut out, &spans, from, &factor, &calibration, &[]);
                assert_eq!(factor, many.day_factor);
            }
            let bits =
                |c: &Columns| c.z.iter().chain(&c.center).chain(&c.spread).map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!((&out.svc, &out.day, &out.count), (&many.points.svc, &many.points.day, &many.points.count));
            assert_eq!(bits(&out), bits(&many.points), "{method} weekly={weekly}");
            if method == Method::Robust {
                let on = |d: Day| many.points.day.iter().zip(&many.points.z).filter(move |(&day, _)| day == d);
                assert!(on(Day(450)).count() > 200 && on(Day(450)).all(|(_, z)| z.is_nan()));
                assert!(on(Day(451)).all(|(_, z)| z.is_finite()));
            }
            let spans: Vec<_> = infos.iter().map(|i| (i.start, i.end, i.verdict)).collect();
            assert_eq!(spans, many.services.iter().map(|i| (i.start, i.end, i.verdict)).collect::<Vec<_>>());
        }
    }

    /// Parts scored apart (the browser's worker) and assembled give what
    /// one scoring gives, bit for bit, thin or whole; parts that do not
    /// cover the services once and in order are refused, not assembled.
    #[test]
    fn parts_scored_apart_assemble_as_one() {
        let mut b = Panel::builder();
        for s in 0..300u64 {
            let days: Vec<Day> = (0..400).filter(|d| (d * 3 + s) % 13 != 0).map(|d| Day(d as i32)).collect();
            let counts: Vec<u64> = days.iter().map(|d| 8 + s % 40 + (d.0 as u64 * 7 + s) % 9).collect();
            b.push(&format!("svc-{s:03}"), &days, &counts).unwrap();
        }
        let panel = b.build();
        let bits = |c: &Columns| c.z.iter().chain(&c.center).chain(&c.spread).map(|v| v.to_bits()).collect::<Vec<_>>();
        for (method, weekly) in [(Method::Classic, false), (Method::Robust, false), (Method::Robust, true)] {
            let params = BaselineParams { method, weekly, from: Some(Day(20)), ..Default::default() };
            let ranges = split(&Scores::sizes(&panel, &params), 3);
            assert_eq!(ranges.len(), 3);
            let parts: Vec<Part> = ranges[1..].iter().map(|r| Scores::score_part(&panel, &params, r.clone())).collect();
            let one = Scores::compute(&panel, &params);
            // Whole, thin, and without the ratios for the common factor
            // (gathered when the parts are put together).
            let unratioed = parts.iter().cloned().map(|p| Part { ratios: None, ..p.thin() }).collect();
            assert_eq!(parts[0].ratios.is_some(), weekly);
            for others in [parts.clone(), parts.iter().cloned().map(Part::thin).collect(), unratioed] {
                let assembled = Scores::assemble(&panel, &params, ranges[0].clone()).finish(others).unwrap();
                let (a, o) = (&assembled.points, &one.points);
                assert_eq!((&a.svc, &a.day, &a.count), (&o.svc, &o.day, &o.count), "{method} weekly={weekly}");
                assert_eq!(bits(a), bits(o), "{method} weekly={weekly}");
                assert_eq!(assembled.services, one.services);
                assert_eq!((&assembled.day_factor, assembled.range), (&one.day_factor, one.range));
            }
            // A part left out, twice, or whose columns were cut short.
            let with = |others: Vec<Part>| Scores::assemble(&panel, &params, ranges[0].clone()).finish(others);
            assert_eq!(with(parts[..1].to_vec()), Err(PartsError));
            assert_eq!(with(vec![parts[0].clone(), parts[0].clone(), parts[1].clone()]), Err(PartsError));
            let mut short = parts.clone();
            short[1].lens.pop();
            assert_eq!(with(short), Err(PartsError));
            let mut short = parts.clone();
            short[0].points.z.pop();
            assert_eq!(with(short), Err(PartsError));
            if weekly {
                // Ratios that are not a grouping of the range's days.
                let mut bad = parts.clone();
                bad[0].ratios.as_mut().expect("gathered").start.pop();
                assert_eq!(with(bad), Err(PartsError));
                let mut bad = parts.clone();
                bad[1].ratios.as_mut().expect("gathered").values.push(1.0);
                assert_eq!(with(bad), Err(PartsError));
                // Values no count over a baseline gives: they would move
                // every service's baseline, the page's own too.
                for v in [f64::NAN, f64::INFINITY, -0.5] {
                    let mut bad = parts.clone();
                    bad[0].ratios.as_mut().expect("gathered").values[0] = v;
                    assert_eq!(with(bad), Err(PartsError), "{v}");
                }
                // More ratios than points, on a day the part has none of.
                let mut bad = parts.clone();
                let r = bad[0].ratios.as_mut().expect("gathered");
                let extra = r.values.len() + 1;
                r.values.resize(*r.start.last().expect("days") + extra, 1.0);
                *r.start.last_mut().expect("days") = r.values.len();
                assert_eq!(with(bad), Err(PartsError));
            }
            // The right total split wrongly between services (another
            // panel's part would be), or services backwards.
            let mut moved = parts.clone();
            moved[0].lens[0] += 1;
            moved[0].lens[1] -= 1;
            assert_eq!(with(moved), Err(PartsError));
            let mut backwards = parts.clone();
            backwards[0].services = backwards[0].services.end..backwards[0].services.start;
            assert_eq!(with(backwards), Err(PartsError));
            // The services scored here must be the first ones.
            let late = Scores::assemble(&panel, &params, ranges[1].clone());
            assert_eq!(late.finish(vec![parts[1].clone()]), Err(PartsError));
        }
    }
}
