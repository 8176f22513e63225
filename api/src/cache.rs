//! A small cache for warehouse results and the work derived from them:
//! entries expire after a TTL, the total size is bounded (oldest out
//! first), and concurrent requests for the same key share one fetch
//! (single flight). Warehouses bill per query: a slider session must not
//! query twice.
//!
//! A fetch runs as a task of its own, not inside the request that started
//! it. A cold Databricks warehouse takes minutes to answer: the first
//! request may time out or its client may leave, and the next one must
//! join the same load instead of starting again from zero. So callers only
//! subscribe to a load; it is cancelled (its [`CancellationToken`] fired)
//! only after nobody has waited for it for `abandon_after`. A failure is
//! shared by everyone who waited, then forgotten, so the next request tries
//! afresh.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio_util::sync::CancellationToken;

type Load<V, E> = Shared<BoxFuture<'static, Result<Arc<V>, Arc<E>>>>;

struct Slot<V, E> {
    /// Tells this load apart from a later one under the same key.
    id: u64,
    load: Load<V, E>,
    /// When the value arrived: the TTL counts from here, and a load still
    /// running is never stale.
    ready_at: Option<Instant>,
    weight: usize,
    waiters: Arc<Waiters>,
}

/// How many callers wait for a load, and since when nobody has.
struct Waiters {
    count: AtomicUsize,
    idle_since: Mutex<Instant>,
}

/// One caller waiting; dropping it (the request finished or went away)
/// stops counting it.
struct Waiting(Arc<Waiters>);

impl Waiting {
    fn new(w: &Arc<Waiters>) -> Waiting {
        w.count.fetch_add(1, Ordering::SeqCst);
        Waiting(w.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Forgets load `id`'s slot when dropped armed (its task panicked).
struct Unsettled<'a, K: Eq + Hash + Clone + Send + 'static, V, E> {
    inner: &'a Inner<K, V, E>,
    key: &'a K,
    id: u64,
    armed: bool,
}

impl<K: Eq + Hash + Clone + Send + 'static, V, E> Drop for Unsettled<'_, K, V, E> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.settle(self.key, self.id, None);
        }
    }
}

struct Inner<K, V, E> {
    slots: Mutex<HashMap<K, Slot<V, E>>>,
    ttl: Duration,
    max_weight: usize,
    abandon_after: Duration,
    next_id: AtomicU64,
}

pub struct Cache<K, V, E> {
    inner: Arc<Inner<K, V, E>>,
}

/// Whether a value came from the cache (or a load already running) or
/// from a load this call started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Hit,
    Fetched,
}

impl<K, V, E> Inner<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
{
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V, E>>> {
        // A panic while holding the lock leaves a consistent map: recover it.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether nobody has waited for load `id` for `after`; if so it is
    /// taken out of the map here, under the lock new waiters join under, so
    /// no request can join a load that is being cancelled.
    fn abandon(&self, key: &K, id: u64, waiters: &Waiters, after: Duration) -> bool {
        let mut slots = self.lock();
        let idle = waiters.idle_since.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
        if waiters.count.load(Ordering::SeqCst) > 0 || idle < after {
            return false;
        }
        if slots.get(key).is_some_and(|s| s.id == id) {
            slots.remove(key);
        }
        true
    }

    /// A load ended: keep its value (and make room for it), or forget its
    /// failure so the next caller tries again.
    fn settle(&self, key: &K, id: u64, weight: Option<usize>) {
        let mut slots = self.lock();
        let ours = slots.get(key).is_some_and(|s| s.id == id);
        match weight {
            None if ours => {
                slots.remove(key);
            }
            None => {}
            Some(w) => {
                if let Some(slot) = slots.get_mut(key).filter(|_| ours) {
                    slot.ready_at = Some(Instant::now());
                    slot.weight = w;
                }
                let ttl = self.ttl;
                slots.retain(|_, s| s.ready_at.is_none_or(|t| t.elapsed() < ttl));
                while slots.values().map(|s| s.weight).sum::<usize>() > self.max_weight {
                    let oldest = slots
                        .iter()
                        .filter(|(_, s)| s.weight > 0)
                        .min_by_key(|(_, s)| s.ready_at)
                        .map(|(k, _)| k.clone());
                    match oldest {
                        Some(k) => slots.remove(&k),
                        None => break,
                    };
                }
            }
        }
    }
}

impl<K, V, E> Cache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    E: From<tokio::task::JoinError> + Send + Sync + 'static,
{
    /// `abandon_after`: how long a load runs on with nobody waiting for it
    /// before it is cancelled.
    pub fn new(ttl: Duration, max_weight: usize, abandon_after: Duration) -> Self {
        let inner = Inner { slots: Mutex::default(), ttl, max_weight, abandon_after, next_id: AtomicU64::new(0) };
        Cache { inner: Arc::new(inner) }
    }

    /// The cached value for `key`, or the result of `fetch`, run as a task
    /// of its own and shared with every caller for the same key until it
    /// ends. `fetch` gets the token that fires when the load is abandoned.
    /// Errors are shared by the callers that waited, not cached.
    pub async fn get_or_fetch<Fut>(
        &self,
        key: K,
        weigh: impl FnOnce(&V) -> usize + Send + 'static,
        fetch: impl FnOnce(CancellationToken) -> Fut,
    ) -> Result<(Arc<V>, Source), Arc<E>>
    where
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        let (load, waiting, source) = {
            let mut slots = self.inner.lock();
            let ttl = self.inner.ttl;
            match slots.get(&key) {
                Some(slot) if slot.ready_at.is_none_or(|t| t.elapsed() < ttl) => {
                    (slot.load.clone(), Waiting::new(&slot.waiters), Source::Hit)
                }
                _ => {
                    let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                    let waiters =
                        Arc::new(Waiters { count: AtomicUsize::new(0), idle_since: Mutex::new(Instant::now()) });
                    let load = self.spawn(key.clone(), id, waiters.clone(), weigh, fetch);
                    let waiting = Waiting::new(&waiters);
                    slots.insert(key, Slot { id, load: load.clone(), ready_at: None, weight: 0, waiters });
                    (load, waiting, Source::Fetched)
                }
            }
        };
        let value = load.await;
        drop(waiting);
        value.map(|v| (v, source))
    }

    fn spawn<Fut>(
        &self,
        key: K,
        id: u64,
        waiters: Arc<Waiters>,
        weigh: impl FnOnce(&V) -> usize + Send + 'static,
        fetch: impl FnOnce(CancellationToken) -> Fut,
    ) -> Load<V, E>
    where
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        let token = CancellationToken::new();
        let work = fetch(token.clone());
        let inner = self.inner.clone();
        let abandon_after = inner.abandon_after;
        let task = tokio::spawn(async move {
            // If the work (or `weigh`) panics, the slot must not stay behind
            // holding the panic for every later caller.
            let mut unsettled = Unsettled { inner: &inner, key: &key, id, armed: true };
            let watch = async {
                let tick = (abandon_after / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
                loop {
                    tokio::time::sleep(tick).await;
                    if inner.abandon(&key, id, &waiters, abandon_after) {
                        tracing::info!("nobody waits for a load any more: cancelling it");
                        token.cancel();
                        // The work sees the token and ends with its error.
                        std::future::pending::<()>().await;
                    }
                }
            };
            let result = tokio::select! {
                r = work => r.map(Arc::new),
                _ = watch => unreachable!("the watch never ends"),
            };
            let weight = result.as_ref().ok().map(|v| weigh(v));
            inner.settle(&key, id, weight);
            unsettled.armed = false;
            result
        });
        async move {
            match task.await {
                Ok(r) => r.map_err(Arc::new),
                Err(e) => Err(Arc::new(E::from(e))),
            }
        }
        .boxed()
        .shared()
    }

    /// Forgets everything (the refresh endpoint). Loads still running
    /// finish for those who wait, then are not kept.
    pub fn clear(&self) {
        self.inner.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Debug, PartialEq)]
    enum Err {
        Down,
        Cancelled,
        Panicked,
    }

    impl From<tokio::task::JoinError> for Err {
        fn from(_: tokio::task::JoinError) -> Err {
            Err::Panicked
        }
    }

    fn cache(ttl_ms: u64, max: usize) -> Arc<Cache<u32, u64, Err>> {
        Arc::new(Cache::new(Duration::from_millis(ttl_ms), max, Duration::from_millis(200)))
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_fetch() {
        let cache = cache(60_000, 100);
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(
                            7,
                            |_| 1,
                            |_| async move {
                                fetches.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                Ok::<_, Err>(42)
                            },
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut fetched = 0;
        for t in tasks {
            let (v, src) = t.await.unwrap();
            assert_eq!(*v, 42);
            fetched += (src == Source::Fetched) as usize;
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(fetched, 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_entries_expire_and_fit() {
        let cache = cache(80, 10);
        let r = cache.get_or_fetch(1, |_| 1, |_| async { Err::<u64, _>(Err::Down) }).await;
        assert_eq!(*r.unwrap_err(), Err::Down);
        let (_, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched);
        let (_, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Hit);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched, "expired after the TTL");
        // Weight 6 + 6 > 10: the older entry goes.
        cache.get_or_fetch(2, |_| 6, |_| async { Ok::<_, Err>(1) }).await.unwrap();
        cache.get_or_fetch(3, |_| 6, |_| async { Ok::<_, Err>(1) }).await.unwrap();
        let (_, src) = cache.get_or_fetch(3, |_| 6, |_| async { Ok::<_, Err>(1) }).await.unwrap();
        assert_eq!(src, Source::Hit);
        let (_, src) = cache.get_or_fetch(2, |_| 6, |_| async { Ok::<_, Err>(1) }).await.unwrap();
        assert_eq!(src, Source::Fetched, "evicted to fit the size bound");
    }

    #[tokio::test]
    async fn a_ttl_of_zero_still_shares_a_running_load() {
        let cache = cache(0, 100);
        let fetches = Arc::new(AtomicUsize::new(0));
        let slow = |fetches: Arc<AtomicUsize>| {
            move |_| async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, Err>(1)
            }
        };
        let (a, b) = tokio::join!(
            cache.get_or_fetch(1, |_| 1, slow(fetches.clone())),
            cache.get_or_fetch(1, |_| 1, slow(fetches.clone()))
        );
        assert_eq!((*a.unwrap().0, *b.unwrap().0), (1, 1));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_caller_that_leaves_does_not_restart_the_load() {
        let cache = cache(60_000, 100);
        let fetches = Arc::new(AtomicUsize::new(0));
        let load = |fetches: Arc<AtomicUsize>| {
            move |_| async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                Ok::<_, Err>(9)
            }
        };
        // The first caller gives up after 20 ms; the load goes on.
        let first =
            tokio::time::timeout(Duration::from_millis(20), cache.get_or_fetch(1, |_| 1, load(fetches.clone())));
        assert!(first.await.is_err());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (v, src) = cache.get_or_fetch(1, |_| 1, load(fetches.clone())).await.unwrap();
        assert_eq!((*v, src), (9, Source::Hit), "joined the running load");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_abandoned_load_is_cancelled_and_forgotten() {
        let cache = cache(60_000, 100);
        let cancelled = Arc::new(AtomicUsize::new(0));
        let c = cancelled.clone();
        let never = move |token: CancellationToken| async move {
            token.cancelled().await;
            c.fetch_add(1, Ordering::SeqCst);
            Err::<u64, _>(Err::Cancelled)
        };
        let gone = tokio::time::timeout(Duration::from_millis(20), cache.get_or_fetch(1, |_| 1, never));
        assert!(gone.await.is_err());
        // Nobody waits: after 200 ms (abandon_after) the load is cancelled.
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cancelled.load(Ordering::SeqCst), 0, "not before abandon_after");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
        let (v, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(3) }).await.unwrap();
        assert_eq!((*v, src), (3, Source::Fetched), "the cancelled load is not served");
    }

    #[tokio::test]
    async fn a_load_that_panics_is_forgotten() {
        let cache = cache(60_000, 100);
        let r = cache.get_or_fetch(1, |_| 1, |_| async { panic!("a bug") }).await;
        assert_eq!(*r.unwrap_err(), Err::Panicked);
        let (v, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(4) }).await.unwrap();
        assert_eq!((*v, src), (4, Source::Fetched), "the next caller loads afresh");
    }

    #[tokio::test]
    async fn one_failure_is_shared_by_every_waiter() {
        let cache = cache(60_000, 100);
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = |fetches: Arc<AtomicUsize>| {
            move |_| async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err::<u64, _>(Err::Down)
            }
        };
        let all = futures::future::join_all((0..8).map(|_| cache.get_or_fetch(1, |_| 1, failing(fetches.clone()))));
        for r in all.await {
            assert_eq!(*r.unwrap_err(), Err::Down);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one failing query, not eight in turn");
    }
}
