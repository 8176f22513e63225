//! A small scoring while the page waits for its data. The browser first
//! runs the app's wasm in a quick baseline compilation and optimises a
//! function only once it has run for a while, in the background, and by
//! all the figures say the page's first full scoring of a million
//! service-days ran partly in the slow code (250-270 ms where later ones
//! take 155). Scoring 21,900
//! made-up service-days while `/api/daily` is on the wire gets the engine
//! optimised before the real data lands: the first scoring then took
//! 178-186 ms, and the warm first view 696-736 ms instead of 800
//! (`docs/benchmarks.md`).

use servicewatch_shared::{BaselineParams, Day, Panel, Scores};

/// Services and days of the made-up panel: enough to run every part of
/// the default method (the weekly pattern needs six weeks of each weekday,
/// the common factor five services), a few milliseconds of work.
const SERVICES: usize = 60;
const DAYS: i32 = 365;

/// Scores a made-up panel with the default method and drops it.
pub fn warm_up() {
    std::hint::black_box(Scores::compute(&panel(), &BaselineParams::default()));
}

fn panel() -> Panel {
    let mut b = Panel::builder();
    let days: Vec<Day> = (0..DAYS).map(Day).collect();
    for s in 0..SERVICES {
        // A weekly rhythm, a level per service, and a wobble.
        let counts: Vec<u64> = (0..DAYS)
            .map(|d| (20 + 3 * s as i32 + [0, 2, 4, 3, 5, -6, -9][d as usize % 7] + (d * 7 + s as i32) % 11) as u64)
            .collect();
        // Names are unique and the days ascending: this cannot fail.
        let _ = b.push(&format!("s{s}"), &days, &counts);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The made-up panel runs what a real scoring runs: every service
    /// scored, with its weekly pattern divided out, and the common factor's
    /// pass over its days.
    #[test]
    fn the_warm_up_runs_every_part_of_the_default_method() {
        let scores = Scores::compute(&panel(), &BaselineParams::default());
        assert_eq!(scores.services().len(), SERVICES);
        assert!(scores.services().iter().all(|s| s.verdict.status == servicewatch_shared::Status::Scored));
        assert!(scores.services().iter().all(|s| s.verdict.weeks > 0), "the weekly pattern is used");
        assert_eq!(scores.day_factor.len(), DAYS as usize);
        assert_eq!(scores.points().len(), SERVICES * DAYS as usize);
    }
}
