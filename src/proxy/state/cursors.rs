//! Cursor ownership, as mongod decides it: a cursor belongs to the user who opened it.
//!
//! The upstream sees one shared service identity, so mongod cannot tell clients apart;
//! the proxy keeps the owner of every cursor id it relays and lets a getMore/killCursors
//! through only for the same user and namespace. The registry is process-wide, not per
//! connection, because drivers send a getMore on whichever pooled connection is free
//! (mongos-style topologies do not pin cursors to connections). Ids are per cluster:
//! two upstreams can hand out the same id, so entries are keyed by (cluster, id).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

/// Who owns a cursor: "authdb.user" (shared per session, so recording is cheap).
pub type Owner = Arc<str>;

/// The cluster a cursor lives on (its name, shared per session so a key costs no
/// allocation).
pub type ClusterId = Arc<str>;

type Key = (ClusterId, i64);

fn key(cluster: &ClusterId, id: i64) -> Key {
    (cluster.clone(), id)
}

struct Entry {
    owner: Owner,
    ns: Box<str>,
    /// Unix seconds of last use, for forgetting cursors mongod has timed out.
    touched: AtomicI64,
    /// Every batch is narrowed for its owner (listCollections with
    /// authorizedCollections), getMore batches included.
    filtered: AtomicBool,
}

/// Open cursors of every connection: (cluster, id) -> (owner, namespace).
#[derive(Default)]
pub struct CursorRegistry {
    open: DashMap<Key, Entry>,
}

/// A bound on the table: a client that opens cursors and never finishes them cannot grow
/// the proxy without limit (mongod itself times idle cursors out after 10 minutes).
const MAX_OPEN: usize = 1_000_000;

/// mongod's default cursorTimeoutMillis (10 min), plus a minute of slack.
pub const IDLE_SECS: i64 = 11 * 60;

impl CursorRegistry {
    /// Records what a reply said: a live id is remembered for `owner`; id 0 closes
    /// `closing` (the cursor a getMore was for).
    pub fn observe(
        &self,
        at: &ClusterId,
        owner: &Owner,
        id: i64,
        ns: &str,
        closing: Option<i64>,
        now: i64,
    ) {
        if id == 0 {
            if let Some(c) = closing {
                self.open.remove(&key(at, c));
            }
            return;
        }
        if let Some(e) = self.open.get(&key(at, id)) {
            e.touched.store(now, Ordering::Relaxed);
            return;
        }
        if self.open.len() < MAX_OPEN {
            let entry = Entry {
                owner: owner.clone(),
                ns: ns.into(),
                touched: AtomicI64::new(now),
                filtered: AtomicBool::new(false),
            };
            self.open.insert(key(at, id), entry);
        }
    }

    /// The namespace of a cursor `owner` opened; None for unknown ids and for other
    /// users' cursors alike (so ids cannot be probed).
    pub fn namespace(&self, at: &ClusterId, owner: &Owner, id: i64) -> Option<String> {
        let e = self.open.get(&key(at, id))?;
        (e.owner == *owner).then(|| e.ns.to_string())
    }

    /// Whether any user's cursor with this id passed through this proxy (killCursors
    /// tells an id no one opened from another user's).
    pub fn is_known(&self, at: &ClusterId, id: i64) -> bool {
        self.open.contains_key(&key(at, id))
    }

    /// Marks a cursor whose batches must all be filtered.
    pub fn mark_filtered(&self, at: &ClusterId, id: i64) {
        if let Some(e) = self.open.get(&key(at, id)) {
            e.filtered.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a cursor's batches are filtered. Unknown ids answer true: a getMore on
    /// them is refused anyway, and a filter never widens what is seen.
    pub fn is_filtered(&self, at: &ClusterId, id: i64) -> bool {
        self.open
            .get(&key(at, id))
            .is_none_or(|e| e.filtered.load(Ordering::Relaxed))
    }

    pub fn forget(&self, at: &ClusterId, id: i64) {
        self.open.remove(&key(at, id));
    }

    /// Drops entries idle for longer than mongod keeps cursors.
    pub fn expire(&self, now: i64) {
        self.open
            .retain(|_, e| now - e.touched.load(Ordering::Relaxed) < IDLE_SECS);
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_user_and_expire() {
        let reg = CursorRegistry::default();
        let c: ClusterId = Arc::from("c0");
        let alice: Owner = Arc::from("admin.alice");
        let bob: Owner = Arc::from("admin.bob");
        reg.observe(&c, &alice, 5, "a.b", None, 100);
        assert_eq!(reg.namespace(&c, &alice, 5).as_deref(), Some("a.b"));
        assert_eq!(
            reg.namespace(&c, &bob, 5),
            None,
            "another user's cursor looks unknown"
        );
        assert_eq!(reg.namespace(&c, &alice, 6), None);
        assert!(!reg.is_filtered(&c, 5));
        reg.mark_filtered(&c, 5);
        assert!(
            reg.is_filtered(&c, 5),
            "listCollections cursors stay filtered"
        );
        reg.observe(&c, &alice, 0, "a.b", Some(5), 101);
        assert!(reg.is_empty(), "exhausted cursor forgotten");
        reg.observe(&c, &alice, 9, "a.b", None, 100);
        reg.expire(100 + IDLE_SECS - 1);
        assert_eq!(reg.len(), 1);
        reg.expire(100 + IDLE_SECS);
        assert!(reg.is_empty(), "idle cursor forgotten");
    }

    #[test]
    fn equal_ids_on_two_clusters_do_not_collide() {
        let reg = CursorRegistry::default();
        let (east, west): (ClusterId, ClusterId) = (Arc::from("east"), Arc::from("west"));
        let alice: Owner = Arc::from("admin.alice");
        let bob: Owner = Arc::from("admin.bob");
        reg.observe(&east, &alice, 7, "a.b", None, 100);
        reg.observe(&west, &bob, 7, "x.y", None, 100);
        assert_eq!(reg.len(), 2, "one entry per cluster");
        assert_eq!(reg.namespace(&east, &alice, 7).as_deref(), Some("a.b"));
        assert_eq!(reg.namespace(&west, &bob, 7).as_deref(), Some("x.y"));
        assert_eq!(reg.namespace(&west, &alice, 7), None, "not alice's on west");
        reg.mark_filtered(&east, 7);
        assert!(!reg.is_filtered(&west, 7), "marking east leaves west alone");
        reg.forget(&east, 7);
        assert!(!reg.is_known(&east, 7));
        assert!(reg.is_known(&west, 7), "forgetting east keeps west");
        reg.observe(&west, &bob, 0, "x.y", Some(7), 101);
        assert!(reg.is_empty());
    }
}
