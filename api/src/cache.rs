//! A small cache for warehouse results and the work derived from them:
//! entries expire after a TTL, and concurrent requests for the same key
//! share one fetch (single flight, also with a TTL of zero). Warehouses
//! bill per query: a slider session must not query twice.
//!
//! Memory: every cache of the server charges one [`Budget`] (the
//! `cache_max_bytes` setting) with what each entry holds: its value, the
//! heap bytes of its key (a list of 1,000 services weighs 1,000 indices)
//! and the entry's own bookkeeping. When an entry arrives and the total is
//! over the limit, the least recently used entries go, across all caches:
//! first every [`Keep::Derived`] entry (rendered bodies, baselines: cheap to
//! make again from the snapshot), then [`Keep::Source`] ones (warehouse
//! results), but never a source cache's most recently used entry. So a
//! snapshot larger than the whole limit is kept and served (with one
//! warning), not read again on every request; everything else is then
//! evicted as soon as it is made. Evicting takes one cache's lock at a
//! time, after the arriving entry's lock is released, so the total can
//! exceed the limit only by entries arriving at the same moment.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio_util::sync::CancellationToken;

type Load<V, E> = Shared<BoxFuture<'static, Result<Arc<V>, Arc<E>>>>;

/// The bytes all caches sharing it may hold together.
pub struct Budget {
    max: usize,
    used: AtomicUsize,
    caches: Mutex<Vec<Weak<dyn Evict>>>,
    warned: AtomicBool,
}

/// Which entries a cache gives up first when the [`Budget`] is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Keep {
    /// Made from other entries, cheap to make again: evicted first.
    Derived,
    /// Read from the warehouse: evicted after every derived entry, and
    /// never the most recently used one (every request reads it).
    Source,
}

/// What the budget needs of a cache, whatever its key and value types.
trait Evict: Send + Sync {
    fn keep(&self) -> Keep;
    /// When its least recently used evictable entry was last used.
    fn oldest(&self) -> Option<Instant>;
    /// Evicts that entry.
    fn evict_oldest(&self);
}

impl Budget {
    pub fn new(max_bytes: usize) -> Arc<Budget> {
        Arc::new(Budget {
            max: max_bytes,
            used: AtomicUsize::new(0),
            caches: Mutex::default(),
            warned: AtomicBool::new(false),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// The bytes the caches hold now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }

    fn warn_once(&self, what: std::fmt::Arguments) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            tracing::warn!("{what}; raise cache_max_bytes (warned once)");
        }
    }

    fn caches(&self) -> Vec<Arc<dyn Evict>> {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        caches.retain(|c| c.strong_count() > 0);
        caches.iter().filter_map(Weak::upgrade).collect()
    }

    /// Evicts the least recently used entries, across caches, until the
    /// total fits (or nothing more may go).
    fn enforce(&self) {
        while self.used() > self.max {
            let caches = self.caches();
            let victim = caches.iter().filter_map(|c| Some(((c.keep(), c.oldest()?), c))).min_by_key(|(k, _)| *k);
            let Some((_, cache)) = victim else {
                let (used, max) = (self.used(), self.max);
                self.warn_once(format_args!(
                    "the caches hold {used} bytes, over the limit of {max}, in entries in use"
                ));
                return;
            };
            cache.evict_oldest();
        }
    }
}

struct Slot<V, E> {
    /// Tells this load apart from a later one under the same key.
    id: u64,
    load: Load<V, E>,
    /// When the value arrived: the TTL counts from here, and a load still
    /// running is never stale.
    ready_at: Option<Instant>,
    /// Last asked for (least recently used entries go first).
    used_at: Instant,
    /// Bytes charged to the budget (0 while loading).
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
    budget: Arc<Budget>,
    keep: Keep,
    abandon_after: Duration,
    next_id: AtomicU64,
}

/// What an entry costs beyond its value and key's heap bytes: the slot and
/// key in the map, the shared load's state, the waiters' counter.
fn entry_bytes<K, V, E>() -> usize {
    std::mem::size_of::<(K, Slot<V, E>)>() + 192
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
            self.remove(&mut slots, key);
        }
        true
    }

    /// Takes `key` out of the map and its bytes off the budget.
    fn remove(&self, slots: &mut HashMap<K, Slot<V, E>>, key: &K) {
        if let Some(slot) = slots.remove(key) {
            self.budget.release(slot.weight);
        }
    }

    /// A load ended: keep its value (and make room for it), or forget its
    /// failure so the next caller tries again.
    fn settle(&self, key: &K, id: u64, weight: Option<usize>) {
        let mut slots = self.lock();
        let ours = slots.get(key).is_some_and(|s| s.id == id);
        match weight {
            None if ours => self.remove(&mut slots, key),
            None => {}
            Some(w) => {
                if let Some(slot) = slots.get_mut(key).filter(|_| ours) {
                    let now = Instant::now();
                    (slot.ready_at, slot.used_at, slot.weight) = (Some(now), now, w);
                    self.budget.used.fetch_add(w, Ordering::SeqCst);
                    if w > self.budget.max {
                        let max = self.budget.max;
                        self.budget.warn_once(format_args!(
                            "a cache entry of {w} bytes is larger than the limit of {max}: kept and served, but \
                             little else fits"
                        ));
                    }
                }
                let ttl = self.ttl;
                let expired: Vec<K> = slots
                    .iter()
                    .filter(|(_, s)| s.ready_at.is_some_and(|t| t.elapsed() >= ttl))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &expired {
                    self.remove(&mut slots, k);
                }
                drop(slots);
                // Other caches' locks are taken one at a time, never under ours.
                self.budget.enforce();
            }
        }
    }

    /// The least recently used ready entry that may go (for a source cache,
    /// not its most recently used one).
    fn evictable(&self, slots: &HashMap<K, Slot<V, E>>) -> Option<(K, Instant)> {
        let mut ready = slots.iter().filter(|(_, s)| s.ready_at.is_some());
        let newest = match self.keep {
            Keep::Source => ready.clone().max_by_key(|(_, s)| s.used_at).map(|(k, _)| k),
            Keep::Derived => None,
        };
        ready
            .by_ref()
            .filter(|(k, _)| Some(*k) != newest)
            .min_by_key(|(_, s)| s.used_at)
            .map(|(k, s)| (k.clone(), s.used_at))
    }
}

impl<K, V, E> Evict for Inner<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    fn keep(&self) -> Keep {
        self.keep
    }

    fn oldest(&self) -> Option<Instant> {
        self.evictable(&self.lock()).map(|(_, t)| t)
    }

    fn evict_oldest(&self) {
        let mut slots = self.lock();
        if let Some((k, _)) = self.evictable(&slots) {
            self.remove(&mut slots, &k);
        }
    }
}

impl<K, V, E> Cache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    E: From<tokio::task::JoinError> + Send + Sync + 'static,
{
    /// A cache with a budget of its own of `max_bytes`, whose most recently
    /// used entry is always kept. `abandon_after`: how long a load runs on
    /// with nobody waiting for it before it is cancelled.
    pub fn new(ttl: Duration, max_bytes: usize, abandon_after: Duration) -> Self {
        Cache::with_budget(ttl, &Budget::new(max_bytes), Keep::Source, abandon_after)
    }

    /// A cache charging `budget`, shared with other caches.
    pub fn with_budget(ttl: Duration, budget: &Arc<Budget>, keep: Keep, abandon_after: Duration) -> Self {
        let inner = Arc::new(Inner {
            slots: Mutex::default(),
            ttl,
            budget: budget.clone(),
            keep,
            abandon_after,
            next_id: AtomicU64::new(0),
        });
        let weak: Weak<dyn Evict> = Arc::downgrade(&inner) as Weak<Inner<K, V, E>>;
        budget.caches.lock().unwrap_or_else(|p| p.into_inner()).push(weak);
        Cache { inner }
    }

    /// The cached value for `key`, or the result of `fetch`, run as a task
    /// of its own and shared with every caller for the same key until it
    /// ends. `fetch` gets the token that fires when the load is abandoned.
    /// Errors are shared by the callers that waited, not cached. `weigh`
    /// gives the heap bytes the value and the key hold (the cache adds the
    /// entry's own).
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
            match slots.get_mut(&key) {
                Some(slot) if slot.ready_at.is_none_or(|t| t.elapsed() < ttl) => {
                    slot.used_at = Instant::now();
                    (slot.load.clone(), Waiting::new(&slot.waiters), Source::Hit)
                }
                _ => {
                    let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                    let waiters =
                        Arc::new(Waiters { count: AtomicUsize::new(0), idle_since: Mutex::new(Instant::now()) });
                    let load = self.spawn(key.clone(), id, waiters.clone(), weigh, fetch);
                    let waiting = Waiting::new(&waiters);
                    let slot =
                        Slot { id, load: load.clone(), ready_at: None, used_at: Instant::now(), weight: 0, waiters };
                    if let Some(stale) = slots.insert(key, slot) {
                        self.inner.budget.release(stale.weight);
                    }
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
            let weight = result.as_ref().ok().map(|v| weigh(v) + entry_bytes::<K, V, E>());
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
        let gone: usize = self.inner.lock().drain().map(|(_, s)| s.weight).sum();
        self.inner.budget.release(gone);
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
        // A TTL far above a busy CI machine's stalls between two calls.
        let cache = cache(600, 10);
        let r = cache.get_or_fetch(1, |_| 1, |_| async { Err::<u64, _>(Err::Down) }).await;
        assert_eq!(*r.unwrap_err(), Err::Down);
        let (_, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched);
        let (_, src) = cache.get_or_fetch(1, |_| 1, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Hit);
        tokio::time::sleep(Duration::from_millis(650)).await;
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
    async fn an_entry_larger_than_the_limit_is_kept_not_fetched_again() {
        let cache = cache(60_000, 10);
        let (_, src) = cache.get_or_fetch(1, |_| 20, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched);
        let (_, src) = cache.get_or_fetch(1, |_| 20, |_| async { Ok::<_, Err>(5) }).await.unwrap();
        assert_eq!(src, Source::Hit, "served from the cache, not read again");
    }

    #[tokio::test]
    async fn one_budget_bounds_every_cache_derived_entries_first() {
        let entry = entry_bytes::<u32, u64, Err>();
        let budget = Budget::new(10 * entry);
        let ttl = Duration::from_secs(60);
        let source: Cache<u32, u64, Err> = Cache::with_budget(ttl, &budget, Keep::Source, Duration::from_secs(1));
        let derived: Cache<u32, u64, Err> = Cache::with_budget(ttl, &budget, Keep::Derived, Duration::from_secs(1));
        let ok = |_| async { Ok::<_, Err>(1) };
        // Two warehouse results of 3 entries' weight each, then derived
        // entries of one entry's weight (zero heap bytes) in turn.
        source.get_or_fetch(1, move |_| 2 * entry, ok).await.unwrap();
        source.get_or_fetch(2, move |_| 2 * entry, ok).await.unwrap();
        for k in 0..20 {
            derived.get_or_fetch(k, |_| 0, ok).await.unwrap();
            assert!(budget.used() <= budget.max(), "{} > {}", budget.used(), budget.max());
        }
        // Both sources stayed; the derived entries that fit are the newest.
        assert_eq!(source.get_or_fetch(1, |_| 0, ok).await.unwrap().1, Source::Hit);
        assert_eq!(source.get_or_fetch(2, |_| 0, ok).await.unwrap().1, Source::Hit);
        assert_eq!(budget.used(), 10 * entry);
        assert_eq!(derived.get_or_fetch(19, |_| 0, ok).await.unwrap().1, Source::Hit);
        assert_eq!(derived.get_or_fetch(0, |_| 0, ok).await.unwrap().1, Source::Fetched);
        // A source result larger than everything: the derived entries and
        // the older source go, the newest source stays and is served.
        source.get_or_fetch(3, move |_| 20 * entry, ok).await.unwrap();
        assert_eq!(budget.used(), 21 * entry);
        assert_eq!(source.get_or_fetch(3, |_| 0, ok).await.unwrap().1, Source::Hit);
        assert_eq!(source.get_or_fetch(1, |_| 0, ok).await.unwrap().1, Source::Fetched);
        // Clearing gives the bytes back.
        source.clear();
        derived.clear();
        assert_eq!(budget.used(), 0);
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
        // Nobody waits: after 200 ms (abandon_after) the load is cancelled;
        // not at 40 ms (a margin of 160 ms for a busy machine's stalls).
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(cancelled.load(Ordering::SeqCst), 0, "not before abandon_after");
        tokio::time::sleep(Duration::from_millis(350)).await;
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
