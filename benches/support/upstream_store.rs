//! The fast upstream's data: collections of documents keyed by a normalised `_id`, and the
//! server-side cursors of `find`/`aggregate`. Shared by all connections behind one mutex: the
//! upstream runs on one thread, so the lock is never contended and costs a few nanoseconds.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bson::{RawBsonRef, RawDocument};

/// Stops unbounded growth when an insert workload runs for long.
pub const MAX_DOCS_PER_COLLECTION: usize = 2_000_000;

#[derive(Default)]
pub struct Collection {
    /// Normalised `_id` -> the document as inserted.
    pub docs: HashMap<Vec<u8>, Vec<u8>>,
}

/// What is left of a cursor's result set.
pub struct Cursor {
    pub docs: VecDeque<Vec<u8>>,
}

pub struct Store {
    colls: Mutex<HashMap<String, Collection>>,
    cursors: Mutex<HashMap<i64, Cursor>>,
    next_cursor: AtomicI64,
}

impl Store {
    /// A store whose `collection` holds `n` documents with `_id` 0..n (Int32).
    pub fn preloaded(collection: &str, n: usize) -> Store {
        let mut coll = Collection::default();
        let pad = "x".repeat(64);
        for i in 0..n {
            let id = i32::try_from(i).unwrap_or(i32::MAX);
            let doc = bson::rawdoc! {
                "_id": id,
                "name": format!("user{i:06}"),
                "n": i as i64,
                "tags": ["alpha", "beta"],
                "pad": pad.as_str(),
            };
            let mut key = Vec::new();
            if id_key(RawBsonRef::Int32(id), &mut key) {
                coll.docs.insert(key, doc.into_bytes());
            }
        }
        let mut colls = HashMap::new();
        colls.insert(collection.to_string(), coll);
        Store {
            colls: Mutex::new(colls),
            cursors: Mutex::new(HashMap::new()),
            next_cursor: AtomicI64::new(1_000_000_007),
        }
    }

    /// The collections (a poisoned lock is recovered: the data stays consistent per operation).
    pub fn colls(&self) -> MutexGuard<'_, HashMap<String, Collection>> {
        self.colls.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn cursors(&self) -> MutexGuard<'_, HashMap<i64, Cursor>> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the rest of a result set; returns its cursor id (never 0).
    pub fn open_cursor(&self, docs: VecDeque<Vec<u8>>) -> i64 {
        let id = self.next_cursor.fetch_add(7919, Ordering::Relaxed);
        self.cursors().insert(id, Cursor { docs });
        id
    }
}

/// Writes the lookup key of an `_id` value into `key` (cleared first). Numbers that are equal
/// in MongoDB (1, 1L, 1.0) get the same key. Returns false for types this server does not key.
pub fn id_key(v: RawBsonRef<'_>, key: &mut Vec<u8>) -> bool {
    key.clear();
    let int = match v {
        RawBsonRef::Int32(i) => Some(i64::from(i)),
        RawBsonRef::Int64(i) => Some(i),
        RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(d as i64),
        _ => None,
    };
    if let Some(i) = int {
        key.push(0x12);
        key.extend_from_slice(&i.to_le_bytes());
        return true;
    }
    match v {
        RawBsonRef::Double(d) => {
            key.push(0x01);
            key.extend_from_slice(&d.to_le_bytes());
        }
        RawBsonRef::String(s) => {
            key.push(0x02);
            key.extend_from_slice(s.as_bytes());
        }
        RawBsonRef::ObjectId(o) => {
            key.push(0x07);
            key.extend_from_slice(&o.bytes());
        }
        RawBsonRef::Binary(b) => {
            key.push(0x05);
            key.push(u8::from(b.subtype));
            key.extend_from_slice(b.bytes);
        }
        _ => return false,
    }
    true
}

/// An integer option that drivers may send as Int32, Int64 or Double.
pub fn num(doc: &RawDocument, name: &str) -> Option<i64> {
    match doc.get(name).ok().flatten()? {
        RawBsonRef::Int32(i) => Some(i64::from(i)),
        RawBsonRef::Int64(i) => Some(i),
        RawBsonRef::Double(d) => Some(d as i64),
        _ => None,
    }
}

/// A document with a fresh ObjectId `_id` prepended (what mongod does when one is missing).
pub fn with_object_id(doc: &RawDocument) -> Vec<u8> {
    let bytes = doc.as_bytes();
    let elements = bytes
        .get(4..bytes.len().saturating_sub(1))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(bytes.len() + 17);
    out.extend_from_slice(&[0; 4]);
    out.push(0x07);
    out.extend_from_slice(b"_id\0");
    out.extend_from_slice(&bson::oid::ObjectId::new().bytes());
    out.extend_from_slice(elements);
    out.push(0);
    let len = i32::try_from(out.len()).unwrap_or(i32::MAX);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}
