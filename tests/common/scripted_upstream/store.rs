//! The double's data: append-only collections (so a tailable cursor is just a position)
//! and process-wide cursors (as in mongod, a cursor belongs to no connection), with
//! mongod's batchSize rules: a first batch of `batchSize` documents (101 when unset, 0
//! allowed), each getMore its own `batchSize` (the rest when unset), and the cursor id
//! 0 with the last batch (a tailable cursor stays open at the end of its collection).

use std::collections::HashMap;

use bson::{Bson, Document, RawBsonRef, RawDocument};

/// mongod's default first batch.
pub const DEFAULT_FIRST_BATCH: usize = 101;

/// A server error as a reply carries it.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub name: &'static str,
    pub msg: String,
}

impl Failure {
    pub fn new(code: i32, name: &'static str, msg: impl Into<String>) -> Failure {
        Failure {
            code,
            name,
            msg: msg.into(),
        }
    }
}

struct Cursor {
    ns: String,
    filter: Document,
    pos: usize,
    tailable: bool,
    await_data: bool,
}

/// One batch of a cursor: its id after the batch (0 when closed) and the documents.
pub struct Batch {
    pub id: i64,
    pub ns: String,
    pub docs: Vec<Document>,
    /// The cursor may wait for new documents (tailable + awaitData).
    pub await_data: bool,
}

/// What a find asks for, as mongod reads the command.
pub struct FindSpec {
    pub filter: Document,
    pub batch: usize,
    pub tailable: bool,
    pub await_data: bool,
    pub single_batch: bool,
}

#[derive(Default)]
pub struct Store {
    colls: HashMap<String, Vec<Document>>,
    cursors: HashMap<i64, Cursor>,
    next_id: i64,
}

/// A numeric field as mongod reads counts and sizes (any numeric type).
pub fn number(v: Option<RawBsonRef<'_>>) -> Option<i64> {
    match v? {
        RawBsonRef::Int32(n) => Some(i64::from(n)),
        RawBsonRef::Int64(n) => Some(n),
        RawBsonRef::Double(f) if f.is_finite() => Some(f as i64),
        _ => None,
    }
}

/// `batchSize` of a command (or its `cursor` sub-document), `default` when unset.
pub fn batch_size(doc: Option<&RawDocument>, default: usize) -> Result<usize, Failure> {
    let Some(n) = doc.and_then(|d| number(d.get("batchSize").ok().flatten())) else {
        return Ok(default);
    };
    usize::try_from(n)
        .map_err(|_| Failure::new(51024, "BadValue", "BatchSize value must be non-negative"))
}

fn as_f64(b: &Bson) -> Option<f64> {
    match b {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(f) => Some(*f),
        _ => None,
    }
}

/// Top-level equality, numbers compared by value (an Int32 1 matches an Int64 1).
fn matches(doc: &Document, filter: &Document) -> bool {
    filter.iter().all(|(k, want)| match (doc.get(k), want) {
        (Some(have), want) => match (as_f64(have), as_f64(want)) {
            (Some(a), Some(b)) => a == b,
            _ => have == want,
        },
        (None, Bson::Null) => true,
        (None, _) => false,
    })
}

/// The double only evaluates equality; an operator is refused, not silently ignored.
pub fn check_filter(filter: &Document) -> Result<(), Failure> {
    let op = filter.iter().any(|(k, v)| {
        k.starts_with('$') || matches!(v, Bson::Document(d) if d.keys().any(|k| k.starts_with('$')))
    });
    if op {
        return Err(Failure::new(
            2,
            "BadValue",
            "the scripted upstream only matches equality",
        ));
    }
    Ok(())
}

impl Store {
    pub fn insert(&mut self, ns: &str, docs: Vec<Document>) -> usize {
        let n = docs.len();
        self.colls.entry(ns.to_string()).or_default().extend(docs);
        n
    }

    pub fn create(&mut self, ns: &str) {
        self.colls.entry(ns.to_string()).or_default();
    }

    pub fn drop_ns(&mut self, ns: &str) -> bool {
        self.cursors.retain(|_, c| c.ns != ns);
        self.colls.remove(ns).is_some()
    }

    pub fn find(&mut self, ns: &str, spec: FindSpec) -> Batch {
        self.next_id += 1;
        let id = 5_000 + self.next_id;
        let mut cursor = Cursor {
            ns: ns.to_string(),
            filter: spec.filter,
            pos: 0,
            tailable: spec.tailable,
            await_data: spec.await_data,
        };
        let docs = self.take(&mut cursor, spec.batch);
        let open = !spec.single_batch && (cursor.tailable || self.remaining(&cursor));
        let await_data = cursor.await_data;
        if open {
            self.cursors.insert(id, cursor);
        }
        Batch {
            id: if open { id } else { 0 },
            ns: ns.to_string(),
            docs,
            await_data,
        }
    }

    /// The next batch of cursor `id` (`batch` None: the rest).
    pub fn get_more(&mut self, id: i64, ns: &str, batch: Option<usize>) -> Result<Batch, Failure> {
        let Some(mut cursor) = self.cursors.remove(&id) else {
            return Err(Failure::new(
                43,
                "CursorNotFound",
                format!("cursor id {id} not found"),
            ));
        };
        if cursor.ns != ns {
            let msg = format!("Requested getMore on namespace '{ns}', but cursor belongs to a different namespace {}", cursor.ns);
            self.cursors.insert(id, cursor);
            return Err(Failure::new(13, "Unauthorized", msg));
        }
        let n = batch.filter(|n| *n > 0).unwrap_or(usize::MAX);
        let docs = self.take(&mut cursor, n);
        let open = cursor.tailable || self.remaining(&cursor);
        let await_data = cursor.await_data;
        if open {
            self.cursors.insert(id, cursor);
        }
        Ok(Batch {
            id: if open { id } else { 0 },
            ns: ns.to_string(),
            docs,
            await_data,
        })
    }

    /// Kills `ids`; returns (killed, not found).
    pub fn kill(&mut self, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        ids.iter()
            .copied()
            .partition(|id| self.cursors.remove(id).is_some())
    }

    pub fn open_cursors(&self) -> usize {
        self.cursors.len()
    }

    fn take(&self, cursor: &mut Cursor, n: usize) -> Vec<Document> {
        let Some(coll) = self.colls.get(&cursor.ns) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while out.len() < n && cursor.pos < coll.len() {
            let d = &coll[cursor.pos];
            cursor.pos += 1;
            if matches(d, &cursor.filter) {
                out.push(d.clone());
            }
        }
        out
    }

    fn remaining(&self, cursor: &Cursor) -> bool {
        self.colls.get(&cursor.ns).is_some_and(|c| {
            c.get(cursor.pos..)
                .is_some_and(|rest| rest.iter().any(|d| matches(d, &cursor.filter)))
        })
    }
}
