//! When to try a throttled (429) or unavailable (503) call again: after
//! the server's `Retry-After` if it gave one, else after an exponentially
//! growing delay with full jitter (so many clients do not retry in step),
//! and never past a total budget, after which the caller gets a clear error
//! instead of waiting forever.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first delay's upper bound.
    pub base: Duration,
    /// No single delay longer than this (unless Retry-After asks for more).
    pub cap: Duration,
    /// Total time spent waiting across retries of one call.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base: Duration::from_millis(250), cap: Duration::from_secs(10), budget: Duration::from_secs(120) }
    }
}

/// The retries of one call.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    attempt: u32,
    waited: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(policy: RetryPolicy) -> Backoff {
        // Jitter needs no cryptography, only different clients drawing
        // differently: the clock's nanoseconds do.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Backoff { policy, attempt: 0, waited: Duration::ZERO, seed: seed | 1 }
    }

    /// xorshift64*: a uniform draw in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// How long to wait before the next try, or `None` when the budget is
    /// spent. `retry_after` is the server's own request, honoured as a
    /// minimum.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let exp = self.policy.base.saturating_mul(1u32 << self.attempt.min(20)).min(self.policy.cap);
        self.attempt += 1;
        let u = self.uniform();
        // The server's delay plus up to a tenth more, so clients spread out.
        let wait = retry_after.map_or(exp.mul_f64(u), |r| r + r.mul_f64(u / 10.0));
        if self.waited + wait > self.policy.budget {
            return None;
        }
        self.waited += wait;
        Some(wait)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent: the
/// exponential delay then applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_honour_retry_after_and_end() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            budget: Duration::from_secs(5),
        };
        let mut b = Backoff::new(policy);
        let mut total = Duration::ZERO;
        let mut n = 0;
        while let Some(d) = b.next(None) {
            assert!(d <= Duration::from_secs(1), "{d:?} over the cap");
            total += d;
            n += 1;
            assert!(n < 1000);
        }
        assert!(total <= Duration::from_secs(5) && n >= 5, "{n} tries, {total:?}");
        let mut b = Backoff::new(policy);
        for _ in 0..3 {
            assert!(b.next(Some(Duration::from_secs(1))).unwrap() >= Duration::from_secs(1));
        }
        assert_eq!(Backoff::new(policy).next(Some(Duration::from_secs(9))), None, "over the budget");
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
