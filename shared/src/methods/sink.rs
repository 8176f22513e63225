//! Where the methods write their points, one at a time and in order: at the
//! end of [`Columns`], or straight into one core's [`Share`] of the room the
//! final columns reserved. Scoring on several cores this way, the other
//! cores' points are neither written to memory of their own first nor
//! copied after (with fresh memory that copy faulted in the second half
//! of the output page by page, on one core).

use std::mem::MaybeUninit;

use super::Columns;
use crate::Day;

/// What a method writes its points to.
pub trait Sink {
    /// Where the next point lands in the whole scoring's columns.
    fn position(&self) -> usize;
    fn push(&mut self, svc: u32, day: Day, count: u64, center: f64, spread: f64, z: f64);
}

impl Sink for Columns {
    fn position(&self) -> usize {
        self.len()
    }

    #[inline(always)]
    fn push(&mut self, svc: u32, day: Day, count: u64, center: f64, spread: f64, z: f64) {
        Columns::push(self, svc, day, count, center, spread, z);
    }
}

/// Points `offset..offset + room` of columns being filled by several
/// cores at once, made by [`Columns::fill_shares`].
pub struct Share<'a> {
    svc: &'a mut [MaybeUninit<u32>],
    day: &'a mut [MaybeUninit<Day>],
    count: &'a mut [MaybeUninit<u64>],
    center: &'a mut [MaybeUninit<f64>],
    spread: &'a mut [MaybeUninit<f64>],
    z: &'a mut [MaybeUninit<f64>],
    offset: usize,
    /// Points pushed so far (past the room they are counted, not written).
    at: usize,
}

impl Share<'_> {
    /// Whether exactly its room was written.
    fn full(&self) -> bool {
        self.at == self.svc.len()
    }
}

impl Sink for Share<'_> {
    fn position(&self) -> usize {
        self.offset + self.at
    }

    // Inlined into each of the kernel's copies (`crate::cpu`).
    #[inline(always)]
    fn push(&mut self, svc: u32, day: Day, count: u64, center: f64, spread: f64, z: f64) {
        let i = self.at;
        if i < self.svc.len() && i < self.z.len() {
            self.svc[i].write(svc);
            self.day[i].write(day);
            self.count[i].write(count);
            self.center[i].write(center);
            self.spread[i].write(spread);
            self.z[i].write(z);
        }
        self.at += 1;
    }
}

/// Cuts `room` into consecutive slices of `sizes`.
fn cut<'a, T>(mut room: &'a mut [MaybeUninit<T>], sizes: &[usize]) -> Vec<&'a mut [MaybeUninit<T>]> {
    sizes
        .iter()
        .map(|&k| {
            let (head, tail) = std::mem::take(&mut room).split_at_mut(k);
            room = tail;
            head
        })
        .collect()
}

impl Columns {
    /// Room for `sizes.iter().sum()` more points, cut into consecutive
    /// shares of `sizes` that `write` fills (each share on a core of its
    /// own, say). The points become the columns' only when every share got
    /// exactly its size; otherwise (or for sizes past `usize`, or columns
    /// of different lengths) the columns stay as they were, and `None` says
    /// so.
    ///
    /// ```
    /// use servicewatch_shared::methods::{sink::Sink, Columns};
    /// use servicewatch_shared::Day;
    /// let mut c = Columns::default();
    /// let done = c.fill_shares(&[2, 1], |shares| {
    ///     let (a, b) = shares.split_at_mut(1);
    ///     std::thread::scope(|s| {
    ///         s.spawn(|| b[0].push(1, Day(0), 5, 5.0, 1.0, 0.0));
    ///         a[0].push(0, Day(0), 3, 3.0, 1.0, 0.0);
    ///         a[0].push(0, Day(1), 4, 3.0, 1.0, 1.0);
    ///     });
    /// });
    /// assert_eq!(done, Some(()));
    /// assert_eq!(c.svc, [0, 0, 1]);
    /// // A share left short keeps the columns as they were.
    /// assert_eq!(c.fill_shares(&[1], |_| ()), None);
    /// assert_eq!(c.len(), 3);
    /// ```
    pub fn fill_shares<R>(&mut self, sizes: &[usize], write: impl FnOnce(&mut [Share<'_>]) -> R) -> Option<R> {
        let start = self.len();
        let n = sizes.iter().try_fold(0usize, |n, &k| n.checked_add(k))?;
        // The columns are public: only columns of one length are filled.
        let lens = [self.svc.len(), self.count.len(), self.center.len(), self.spread.len(), self.z.len()];
        if lens.iter().any(|&k| k != start) {
            return None;
        }
        self.reserve(n);
        let svc = cut(&mut self.svc.spare_capacity_mut()[..n], sizes);
        let day = cut(&mut self.day.spare_capacity_mut()[..n], sizes);
        let count = cut(&mut self.count.spare_capacity_mut()[..n], sizes);
        let center = cut(&mut self.center.spare_capacity_mut()[..n], sizes);
        let spread = cut(&mut self.spread.spare_capacity_mut()[..n], sizes);
        let z = cut(&mut self.z.spare_capacity_mut()[..n], sizes);
        let mut offset = start;
        let mut shares: Vec<Share<'_>> = svc
            .into_iter()
            .zip(day)
            .zip(count)
            .zip(center)
            .zip(spread)
            .zip(z)
            .map(|(((((svc, day), count), center), spread), z)| {
                let share = Share { svc, day, count, center, spread, z, offset, at: 0 };
                offset += share.svc.len();
                share
            })
            .collect();
        let answer = write(&mut shares);
        let full = shares.iter().all(Share::full);
        drop(shares);
        if !full {
            return None;
        }
        // SAFETY: every column held `start` points; the shares cut the next
        // `n` slots of each, and every share wrote each of its slots
        // (`full`).
        unsafe {
            self.svc.set_len(start + n);
            self.day.set_len(start + n);
            self.count.set_len(start + n);
            self.center.set_len(start + n);
            self.spread.set_len(start + n);
            self.z.set_len(start + n);
        }
        Some(answer)
    }
}
