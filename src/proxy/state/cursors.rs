//! Cursor ownership, as mongod decides it: a cursor belongs to the user who opened it.
//!
//! The upstream sees one shared service identity, so mongod cannot tell clients apart;
//! the proxy keeps the owner of every cursor id it relays and lets a getMore/killCursors
//! through only for the same user and namespace. The registry is process-wide, not per
//! connection, because drivers send a getMore on whichever pooled connection is free
//! (mongos-style topologies do not pin cursors to connections).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

/// Who owns a cursor: "authdb.user" (shared per session, so recording is cheap).
pub type Owner = Arc<str>;

struct Entry {
    owner: Owner,
    ns: Box<str>,
    /// Unix seconds of last use, for forgetting cursors mongod has timed out.
    touched: AtomicI64,
    /// Every batch is narrowed for its owner (listCollections with
    /// authorizedCollections), getMore batches included.
    filtered: AtomicBool,
}

/// Open cursors of every connection: id -> (owner, namespace).
#[derive(Default)]
pub struct CursorRegistry {
    open: DashMap<i64, Entry>,
}

/// A bound on the table: a client that opens cursors and never finishes them cannot grow
/// the proxy without limit (mongod itself times idle cursors out after 10 minutes).
const MAX_OPEN: usize = 1_000_000;

/// mongod's default cursorTimeoutMillis (10 min), plus a minute of slack.
pub const IDLE_SECS: i64 = 11 * 60;

impl CursorRegistry {
    /// Records what a reply said: a live id is remembered for `owner`; id 0 closes
    /// `closing` (the cursor a getMore was for).
    pub fn observe(&self, owner: &Owner, id: i64, ns: &str, closing: Option<i64>, now: i64) {
        if id == 0 {
            if let Some(c) = closing {
                self.open.remove(&c);
            }
            return;
        }
        if let Some(e) = self.open.get(&id) {
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
            self.open.insert(id, entry);
        }
    }

    /// The namespace of a cursor `owner` opened; None for unknown ids and for other
    /// users' cursors alike (so ids cannot be probed).
    pub fn namespace(&self, owner: &Owner, id: i64) -> Option<String> {
        let e = self.open.get(&id)?;
        (e.owner == *owner).then(|| e.ns.to_string())
    }

    /// Whether any user's cursor with this id passed through this proxy (killCursors
    /// tells an id no one opened from another user's).
    pub fn is_known(&self, id: i64) -> bool {
        self.open.contains_key(&id)
    }

    /// Marks a cursor whose batches must all be filtered.
    pub fn mark_filtered(&self, id: i64) {
        if let Some(e) = self.open.get(&id) {
            e.filtered.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a cursor's batches are filtered. Unknown ids answer true: a getMore on
    /// them is refused anyway, and a filter never widens what is seen.
    pub fn is_filtered(&self, id: i64) -> bool {
        self.open
            .get(&id)
            .is_none_or(|e| e.filtered.load(Ordering::Relaxed))
    }

    pub fn forget(&self, id: i64) {
        self.open.remove(&id);
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
        let alice: Owner = Arc::from("admin.alice");
        let bob: Owner = Arc::from("admin.bob");
        reg.observe(&alice, 5, "a.b", None, 100);
        assert_eq!(reg.namespace(&alice, 5).as_deref(), Some("a.b"));
        assert_eq!(
            reg.namespace(&bob, 5),
            None,
            "another user's cursor looks unknown"
        );
        assert_eq!(reg.namespace(&alice, 6), None);
        assert!(!reg.is_filtered(5));
        reg.mark_filtered(5);
        assert!(reg.is_filtered(5), "listCollections cursors stay filtered");
        reg.observe(&alice, 0, "a.b", Some(5), 101);
        assert!(reg.is_empty(), "exhausted cursor forgotten");
        reg.observe(&alice, 9, "a.b", None, 100);
        reg.expire(100 + IDLE_SECS - 1);
        assert_eq!(reg.len(), 1);
        reg.expire(100 + IDLE_SECS);
        assert!(reg.is_empty(), "idle cursor forgotten");
    }
}
