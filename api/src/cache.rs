//! A small cache for warehouse results: entries expire after a TTL, the
//! total size is bounded (oldest out first), and concurrent requests for the
//! same key share one fetch (single flight). Warehouses bill per query: a
//! slider session must not query twice.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

struct Slot<V> {
    cell: Arc<OnceCell<Arc<V>>>,
    created: Instant,
    weight: usize,
}

pub struct Cache<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    ttl: Duration,
    max_weight: usize,
}

/// Whether a value came from the cache or from a fetch made for this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Hit,
    Fetched,
}

impl<K: Eq + Hash + Clone, V> Cache<K, V> {
    pub fn new(ttl: Duration, max_weight: usize) -> Self {
        Cache { slots: Mutex::new(HashMap::new()), ttl, max_weight }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        // A panic while holding the lock leaves a consistent map: recover it.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value for `key`, or the result of `fetch` (shared with
    /// every concurrent caller for the same key). Errors are not cached.
    pub async fn get_or_fetch<E, Fut>(
        &self,
        key: K,
        weigh: impl Fn(&V) -> usize,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<(Arc<V>, Source), E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut slots = self.lock();
            match slots.get(&key) {
                Some(slot) if slot.created.elapsed() < self.ttl => slot.cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    slots.insert(key.clone(), Slot { cell: cell.clone(), created: Instant::now(), weight: 0 });
                    cell
                }
            }
        };
        if let Some(v) = cell.get() {
            return Ok((v.clone(), Source::Hit));
        }
        let mut fetched = false;
        let value = cell
            .get_or_try_init(|| {
                fetched = true;
                async { fetch().await.map(Arc::new) }
            })
            .await?
            .clone();
        if fetched {
            self.admit(&key, &cell, weigh(&value));
        }
        Ok((value, if fetched { Source::Fetched } else { Source::Hit }))
    }

    /// Records the new entry's weight, then drops expired and oldest entries
    /// until the total fits.
    fn admit(&self, key: &K, cell: &Arc<OnceCell<Arc<V>>>, weight: usize) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(key).filter(|s| Arc::ptr_eq(&s.cell, cell)) {
            slot.weight = weight;
        }
        let ttl = self.ttl;
        slots.retain(|_, s| s.created.elapsed() < ttl);
        while slots.values().map(|s| s.weight).sum::<usize>() > self.max_weight {
            let oldest =
                slots.iter().filter(|(_, s)| s.weight > 0).min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => slots.remove(&k),
                None => break,
            };
        }
    }

    /// Forgets everything (the refresh endpoint).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_requests_share_one_fetch() {
        let cache: Arc<Cache<u32, u64>> = Arc::new(Cache::new(Duration::from_secs(60), 100));
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(
                            7,
                            |_| 1,
                            || async {
                                fetches.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                Ok::<_, ()>(42)
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
        let cache: Cache<u32, u64> = Cache::new(Duration::from_millis(80), 10);
        let r = cache.get_or_fetch(1, |_| 1, || async { Err::<u64, _>("down") }).await;
        assert!(r.is_err());
        let (_, src) = cache.get_or_fetch(1, |_| 1, || async { Ok::<_, ()>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched);
        let (_, src) = cache.get_or_fetch(1, |_| 1, || async { Ok::<_, ()>(5) }).await.unwrap();
        assert_eq!(src, Source::Hit);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, src) = cache.get_or_fetch(1, |_| 1, || async { Ok::<_, ()>(5) }).await.unwrap();
        assert_eq!(src, Source::Fetched, "expired after the TTL");
        // Weight 6 + 6 > 10: the older entry goes.
        cache.get_or_fetch(2, |_| 6, || async { Ok::<_, ()>(1) }).await.unwrap();
        cache.get_or_fetch(3, |_| 6, || async { Ok::<_, ()>(1) }).await.unwrap();
        let (_, src) = cache.get_or_fetch(3, |_| 6, || async { Ok::<_, ()>(1) }).await.unwrap();
        assert_eq!(src, Source::Hit);
        let (_, src) = cache.get_or_fetch(2, |_| 6, || async { Ok::<_, ()>(1) }).await.unwrap();
        assert_eq!(src, Source::Fetched, "evicted to fit the size bound");
    }
}
