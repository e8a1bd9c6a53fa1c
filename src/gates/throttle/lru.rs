//! A small capacity-bounded map that evicts the least recently touched entry,
//! so attacker-chosen keys (user names, source addresses) cannot grow memory
//! without bound.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct LruMap<K, V> {
    entries: HashMap<K, (V, u64)>,
    /// Touch stamp -> key; the first entry is the least recently touched.
    order: BTreeMap<u64, K>,
    next_stamp: u64,
    capacity: usize,
}

impl<K: Clone + Eq + Hash, V> LruMap<K, V> {
    /// `capacity` is clamped to at least 1 so the map can always hold the
    /// entry being updated.
    pub(crate) fn new(capacity: usize) -> Self {
        LruMap {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_stamp: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// Changes an entry in place without marking it used.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (value, stamp) = self.entries.remove(key)?;
        self.order.remove(&stamp);
        Some(value)
    }

    /// Returns the entry for `key`, inserting `make()` (after evicting the
    /// oldest entry if full), and marks it most recently used.
    pub(crate) fn touch_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let stamp = self.next_stamp;
        // u64 stamps cannot realistically run out; wrapping would only
        // misorder eviction, never break memory bounds.
        self.next_stamp = self.next_stamp.wrapping_add(1);
        if let Some((_, old)) = self.entries.get(&key) {
            let old = *old;
            self.order.remove(&old);
        } else {
            while self.entries.len() >= self.capacity {
                if !self.evict_oldest() {
                    break;
                }
            }
        }
        self.order.insert(stamp, key.clone());
        let slot = self.entries.entry(key).or_insert_with(|| (make(), stamp));
        slot.1 = stamp;
        &mut slot.0
    }

    fn evict_oldest(&mut self) -> bool {
        match self.order.pop_first() {
            Some((_, key)) => {
                self.entries.remove(&key);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_touched() {
        let mut map = LruMap::new(2);
        *map.touch_or_insert_with("a", || 0) += 1;
        *map.touch_or_insert_with("b", || 0) += 1;
        // Touch "a" again so "b" becomes the oldest.
        *map.touch_or_insert_with("a", || 0) += 1;
        *map.touch_or_insert_with("c", || 0) += 1;
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&"a"), Some(&2));
        assert_eq!(map.get(&"b"), None);
        assert_eq!(map.get(&"c"), Some(&1));
    }

    #[test]
    fn remove_keeps_order_consistent() {
        let mut map = LruMap::new(2);
        map.touch_or_insert_with(1, || "x");
        map.touch_or_insert_with(2, || "y");
        assert_eq!(map.remove(&1), Some("x"));
        map.touch_or_insert_with(3, || "z");
        map.touch_or_insert_with(4, || "w");
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&2), None);
        assert_eq!(map.order.len(), map.entries.len());
    }

    #[test]
    fn zero_capacity_still_holds_one() {
        let mut map = LruMap::new(0);
        map.touch_or_insert_with(1, || 1);
        map.touch_or_insert_with(2, || 2);
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(&2), Some(&2));
    }
}
