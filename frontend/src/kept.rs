//! The last two full scorings, each with the panel and parameters it came
//! from. An analyst comparing methods switches the method or the weekly
//! pattern and back: the way back shows the kept scoring at once, where
//! scoring a million service-days again takes about 100 ms in wasm on two
//! threads (`crate::worker`), 180-200 ms for the page's first. Two at
//! most, because the page held two anyway while a new scoring replaced the
//! old one; a new panel (another range or view) forgets the others, and
//! the page clears them while one loads.

use std::sync::Arc;

use servicewatch_shared::{BaselineParams, Panel, Scores};

/// Scorings kept, the one shown among them.
const KEPT: usize = 2;

#[derive(Default)]
pub struct Kept {
    /// Least recently shown first.
    entries: Vec<(Arc<Panel>, BaselineParams, Arc<Scores>)>,
}

impl Kept {
    /// Forgets every scoring.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The kept scoring of `panel` with `params`, now the most recently
    /// shown.
    pub fn get(&mut self, panel: &Arc<Panel>, params: &BaselineParams) -> Option<Arc<Scores>> {
        let same = |(p, b, _): &(Arc<Panel>, BaselineParams, Arc<Scores>)| Arc::ptr_eq(p, panel) && b == params;
        let at = self.entries.iter().position(same)?;
        let entry = self.entries.remove(at);
        let scores = entry.2.clone();
        self.entries.push(entry);
        Some(scores)
    }

    /// Room for a new scoring of `panel`, made before it is scored: the
    /// scoring shown stays (the page holds it until the new one replaces
    /// it), the others go first, so at most two are kept (a scoring still
    /// running when a newer one is asked for finishes and is dropped).
    pub fn make_room(&mut self, panel: &Arc<Panel>) {
        self.entries.retain(|(p, _, _)| Arc::ptr_eq(p, panel));
        let over = (self.entries.len() + 1).saturating_sub(KEPT);
        self.entries.drain(..over);
    }

    /// Keeps a new scoring of `panel` with `params`, as the most recently
    /// shown.
    pub fn insert(&mut self, panel: &Arc<Panel>, params: &BaselineParams, scores: Scores) -> Arc<Scores> {
        self.make_room(panel);
        let scores = Arc::new(scores);
        self.entries.push((panel.clone(), params.clone(), scores.clone()));
        scores
    }

    /// The kept scoring of `panel` with `params`, or `score()`'s, kept from
    /// then on (the order the page goes through, on one thread).
    #[cfg(test)]
    fn get_or_score(
        &mut self,
        panel: &Arc<Panel>,
        params: &BaselineParams,
        score: impl FnOnce() -> Scores,
    ) -> Arc<Scores> {
        if let Some(kept) = self.get(panel, params) {
            return kept;
        }
        self.make_room(panel);
        let scores = score();
        self.insert(panel, params, scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicewatch_shared::{Day, Method};

    fn panel() -> Arc<Panel> {
        let mut b = Panel::builder();
        let days: Vec<Day> = (0..30).map(Day).collect();
        let counts: Vec<u64> = (0..30).map(|d| 10 + d % 3).collect();
        b.push("a", &days, &counts).unwrap();
        Arc::new(b.build())
    }

    #[test]
    fn switching_back_shows_the_kept_scoring_without_scoring_again() {
        let (p, mut kept, mut scored) = (panel(), Kept::default(), 0);
        let robust = BaselineParams::default();
        let classic = BaselineParams { method: Method::Classic, ..Default::default() };
        let mut get = |kept: &mut Kept, b: &BaselineParams| {
            kept.get_or_score(&p, b, || {
                scored += 1;
                Scores::compute(&p, b)
            })
        };
        let first = get(&mut kept, &robust);
        let other = get(&mut kept, &classic);
        let back = get(&mut kept, &robust);
        let again = get(&mut kept, &classic);
        assert!(Arc::ptr_eq(&first, &back) && Arc::ptr_eq(&other, &again), "the kept scorings themselves");
        assert_eq!(*back, Scores::compute(&p, &robust));
        assert_eq!(other.method, Method::Classic);
        assert_eq!(scored, 2);
    }

    #[test]
    fn at_most_two_are_kept_and_a_new_panel_forgets_the_old() {
        let (p, mut kept) = (panel(), Kept::default());
        let params: Vec<BaselineParams> = [(Method::Robust, true), (Method::Robust, false), (Method::Classic, false)]
            .into_iter()
            .map(|(method, weekly)| BaselineParams { method, weekly, ..Default::default() })
            .collect();
        for b in &params {
            kept.get_or_score(&p, b, || Scores::compute(&p, b));
        }
        // The least recently shown went when the third was made.
        assert_eq!(kept.entries.len(), 2);
        assert!(kept.entries.iter().all(|(_, b, _)| *b != params[0]));
        // Showing the second again makes the third the one to go next.
        kept.get_or_score(&p, &params[1], || unreachable!("kept"));
        kept.get_or_score(&p, &params[0], || Scores::compute(&p, &params[0]));
        assert_eq!(kept.entries.iter().map(|(_, b, _)| b.weekly).collect::<Vec<_>>(), [false, true]);
        // Another panel (a new range): only its own scoring stays.
        let q = panel();
        kept.get_or_score(&q, &params[0], || Scores::compute(&q, &params[0]));
        assert_eq!(kept.entries.len(), 1);
        assert!(Arc::ptr_eq(&kept.entries[0].0, &q));
    }
}
