//! Cursor ownership: the ids this connection has seen in its own replies.
//!
//! The upstream sees one shared service identity, so mongod's own rule (a cursor
//! belongs to the user who opened it) cannot protect one client from another. The proxy
//! enforces it instead: a getMore/killCursors may only name a cursor that came back on
//! this very connection, for the namespace it came back with.

use std::collections::HashMap;

use bson::RawDocument;

/// Reads `cursor.id` and `cursor.ns` out of a reply body, if it carries a cursor.
pub fn cursor_of(body: &RawDocument) -> Option<(i64, &str)> {
    let cursor = body.get_document("cursor").ok()?;
    let id = match cursor.get("id").ok()?? {
        bson::RawBsonRef::Int64(v) => v,
        bson::RawBsonRef::Int32(v) => i64::from(v),
        _ => return None,
    };
    let ns = cursor.get_str("ns").unwrap_or("");
    Some((id, ns))
}

/// The open cursors of one connection: id -> namespace.
#[derive(Default, Debug)]
pub struct CursorTable {
    open: HashMap<i64, String>,
}

/// Most cursors a connection may hold open through the proxy (mongod has no per-connection
/// limit, but an unbounded table is a memory leak waiting for a buggy client).
const MAX_OPEN: usize = 100_000;

impl CursorTable {
    /// Records what a reply said: a live id is remembered, id 0 closes `closing` (the
    /// cursor a getMore was for).
    pub fn observe(&mut self, id: i64, ns: &str, closing: Option<i64>) {
        if id != 0 {
            if self.open.len() < MAX_OPEN || self.open.contains_key(&id) {
                self.open.insert(id, ns.to_string());
            }
        } else if let Some(c) = closing {
            self.open.remove(&c);
        }
    }

    /// The namespace of a cursor this connection opened.
    pub fn namespace(&self, id: i64) -> Option<&str> {
        self.open.get(&id).map(String::as_str)
    }

    pub fn forget(&mut self, id: i64) {
        self.open.remove(&id);
    }

    pub fn clear(&mut self) {
        self.open.clear();
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
    use bson::rawdoc;

    #[test]
    fn reads_int64_and_int32_ids() {
        let d = rawdoc! {"cursor": {"id": 42_i64, "ns": "a.b", "firstBatch": []}, "ok": 1.0};
        assert_eq!(cursor_of(&d), Some((42, "a.b")));
        let d = rawdoc! {"cursor": {"id": 7_i32, "ns": "a.b"}, "ok": 1.0};
        assert_eq!(cursor_of(&d), Some((7, "a.b")));
        assert_eq!(cursor_of(&rawdoc! {"ok": 1.0}), None);
    }

    #[test]
    fn table_tracks_open_and_closed() {
        let mut t = CursorTable::default();
        t.observe(5, "a.b", None);
        assert_eq!(t.namespace(5), Some("a.b"));
        t.observe(0, "a.b", Some(5));
        assert_eq!(t.namespace(5), None);
        assert!(t.is_empty());
    }
}
