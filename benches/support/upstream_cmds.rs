//! Command handlers of the fast upstream. Each writes one reply body straight into the
//! connection's reused output buffer (see `rawbson`), so the hot path (`find` by `_id`)
//! allocates nothing once buffers have grown.

use std::collections::VecDeque;

use bson::{RawBsonRef, RawDocument};

use super::rawbson as w;
use super::upstream_store::{id_key, num, with_object_id, Store, MAX_DOCS_PER_COLLECTION};

const MAX_BSON: i32 = 16 * 1024 * 1024;
const DEFAULT_BATCH: usize = 101;

/// Per-connection state the handlers may use.
pub struct Conn {
    pub id: i32,
    /// Scratch for `_id` keys, reused.
    pub key: Vec<u8>,
}

/// One decoded command.
pub struct Cmd<'a> {
    pub name: &'a str,
    pub body: &'a RawDocument,
    pub db: &'a str,
    /// Documents of a kind-1 `documents` sequence (insert), if any.
    pub seq_docs: Vec<&'a RawDocument>,
}

/// Writes the reply body for `cmd` at the end of `out`.
pub fn handle(store: &Store, conn: &mut Conn, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    match cmd.name {
        "hello" | "isMaster" | "ismaster" => hello(conn, cmd.name != "hello", out),
        "ping" | "endSessions" => ok_only(out),
        "buildInfo" | "buildinfo" => build_info(out),
        "find" => find(store, conn, cmd, out),
        "getMore" => get_more(store, cmd, out),
        "insert" => insert(store, conn, cmd, out),
        "aggregate" => aggregate(store, conn, cmd, out),
        "killCursors" => kill_cursors(store, cmd, out),
        other => error(
            out,
            59,
            "CommandNotFound",
            &format!("no such command: '{other}'"),
        ),
    }
}

pub fn error(out: &mut Vec<u8>, code: i32, code_name: &str, msg: &str) {
    let d = w::begin(out);
    w::f64(out, "ok", 0.0);
    w::str(out, "errmsg", msg);
    w::i32(out, "code", code);
    w::str(out, "codeName", code_name);
    w::end(out, d);
}

fn ok_only(out: &mut Vec<u8>) {
    let d = w::begin(out);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

/// A standalone mongod 7.0's hello (maxWireVersion 21).
fn hello(conn: &Conn, legacy: bool, out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let d = w::begin(out);
    w::bool(
        out,
        if legacy {
            "ismaster"
        } else {
            "isWritablePrimary"
        },
        true,
    );
    w::bool(out, "helloOk", true);
    w::i32(out, "maxBsonObjectSize", MAX_BSON);
    w::i32(out, "maxMessageSizeBytes", 48_000_000);
    w::i32(out, "maxWriteBatchSize", 100_000);
    w::datetime(out, "localTime", now);
    w::i32(out, "logicalSessionTimeoutMinutes", 30);
    w::i32(out, "connectionId", conn.id);
    w::i32(out, "minWireVersion", 0);
    w::i32(out, "maxWireVersion", 21);
    w::bool(out, "readOnly", false);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

fn build_info(out: &mut Vec<u8>) {
    let d = w::begin(out);
    w::str(out, "version", "7.0.0");
    let a = w::begin_array(out, "versionArray");
    for (i, v) in [7, 0, 0, 0].into_iter().enumerate() {
        w::index_key(out, 0x10, i);
        out.extend_from_slice(&i32::to_le_bytes(v));
    }
    w::end(out, a);
    w::i32(out, "maxBsonObjectSize", MAX_BSON);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

/// Selected documents: one by `_id`, or the whole collection (then `limit` applies).
enum Filter<'a> {
    All,
    Id(RawBsonRef<'a>),
}

fn parse_filter<'a>(filter: Option<&'a RawDocument>) -> Result<Filter<'a>, &'static str> {
    let Some(f) = filter else {
        return Ok(Filter::All);
    };
    let mut fields = f.iter();
    match (fields.next(), fields.next()) {
        (None, _) => Ok(Filter::All),
        (Some(Ok(("_id", v))), None) if !matches!(v, RawBsonRef::Document(_)) => Ok(Filter::Id(v)),
        _ => Err("fast_upstream supports only {} and {_id: <value>} filters"),
    }
}

/// Runs a query and writes `{cursor: {firstBatch, id, ns}, ok: 1}`.
#[allow(clippy::too_many_arguments)]
fn query(
    store: &Store,
    conn: &mut Conn,
    db: &str,
    coll: &str,
    filter: Filter<'_>,
    limit: usize,
    batch: usize,
    single: bool,
    out: &mut Vec<u8>,
) {
    let colls = store.colls();
    let docs = colls.get(coll).map(|c| &c.docs);
    let d = w::begin(out);
    let c = w::begin_doc(out, "cursor");
    let a = w::begin_array(out, "firstBatch");
    let mut cursor_id = 0i64;
    match filter {
        Filter::Id(v) => {
            let hit = id_key(v, &mut conn.key)
                .then(|| docs.and_then(|m| m.get(conn.key.as_slice())))
                .flatten();
            if let Some(doc) = hit.filter(|_| limit > 0) {
                w::doc_element(out, 0, doc);
            }
        }
        Filter::All => {
            let mut all = docs.into_iter().flat_map(|m| m.values()).take(limit);
            for (i, doc) in all.by_ref().take(batch).enumerate() {
                w::doc_element(out, i, doc);
            }
            let rest: VecDeque<Vec<u8>> = all.cloned().collect();
            drop(colls);
            if !single && !rest.is_empty() {
                cursor_id = store.open_cursor(rest);
            }
        }
    }
    w::end(out, a);
    w::i64(out, "id", cursor_id);
    w::str2(out, "ns", db, ".", coll);
    w::end(out, c);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

fn find(store: &Store, conn: &mut Conn, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    let b = cmd.body;
    let Ok(coll) = b.get_str("find") else {
        return error(out, 2, "BadValue", "find needs a collection name");
    };
    let filter = match parse_filter(b.get_document("filter").ok()) {
        Ok(f) => f,
        Err(e) => return error(out, 2, "BadValue", e),
    };
    let limit = match num(b, "limit") {
        Some(l) if l > 0 => l as usize,
        _ => usize::MAX,
    };
    let batch = num(b, "batchSize").map_or(DEFAULT_BATCH, |n| n.max(0) as usize);
    let single = b.get_bool("singleBatch").unwrap_or(false);
    query(store, conn, cmd.db, coll, filter, limit, batch, single, out);
}

fn aggregate(store: &Store, conn: &mut Conn, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    let b = cmd.body;
    let (Ok(coll), Ok(pipeline)) = (b.get_str("aggregate"), b.get_array("pipeline")) else {
        return error(
            out,
            2,
            "BadValue",
            "aggregate needs a collection and a pipeline",
        );
    };
    let mut filter = Filter::All;
    let mut limit = usize::MAX;
    for stage in pipeline.into_iter().flatten() {
        let Some(stage) = stage.as_document() else {
            return error(out, 14, "TypeMismatch", "pipeline stage is not a document");
        };
        if let Ok(m) = stage.get_document("$match") {
            filter = match parse_filter(Some(m)) {
                Ok(f) => f,
                Err(e) => return error(out, 2, "BadValue", e),
            };
        } else if let Some(n) = num(stage, "$limit") {
            limit = n.max(0) as usize;
        } else {
            return error(
                out,
                40324,
                "Location40324",
                "fast_upstream: unsupported stage",
            );
        }
    }
    let batch = b
        .get_document("cursor")
        .ok()
        .and_then(|c| num(c, "batchSize"))
        .map_or(DEFAULT_BATCH, |n| n.max(0) as usize);
    query(store, conn, cmd.db, coll, filter, limit, batch, false, out);
}

fn get_more(store: &Store, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    let b = cmd.body;
    let (Ok(id), Ok(coll)) = (b.get_i64("getMore"), b.get_str("collection")) else {
        return error(
            out,
            2,
            "BadValue",
            "getMore needs an Int64 id and a collection",
        );
    };
    let batch = num(b, "batchSize").map_or(usize::MAX, |n| n.max(1) as usize);
    let mut cursors = store.cursors();
    let Some(cursor) = cursors.get_mut(&id) else {
        return error(
            out,
            43,
            "CursorNotFound",
            &format!("cursor id {id} not found"),
        );
    };
    let d = w::begin(out);
    let c = w::begin_doc(out, "cursor");
    let a = w::begin_array(out, "nextBatch");
    let n = batch.min(cursor.docs.len());
    for (i, doc) in cursor.docs.drain(..n).enumerate() {
        w::doc_element(out, i, &doc);
    }
    w::end(out, a);
    let next = if cursor.docs.is_empty() {
        cursors.remove(&id);
        0
    } else {
        id
    };
    w::i64(out, "id", next);
    w::str2(out, "ns", cmd.db, ".", coll);
    w::end(out, c);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

fn insert(store: &Store, conn: &mut Conn, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    let b = cmd.body;
    let Ok(coll) = b.get_str("insert") else {
        return error(out, 2, "BadValue", "insert needs a collection name");
    };
    let ordered = b.get_bool("ordered").unwrap_or(true);
    let from_body = b.get_array("documents").ok();
    let body_docs = from_body
        .into_iter()
        .flatten()
        .filter_map(|v| v.ok().and_then(|v| v.as_document()));
    let docs = cmd.seq_docs.iter().copied().chain(body_docs);
    let mut colls = store.colls();
    let target = colls.entry(coll.to_string()).or_default();
    let mut n = 0i32;
    let d = w::begin(out);
    let mut errors: Option<usize> = None;
    let mut n_errors = 0usize;
    for (i, doc) in docs.enumerate() {
        let owned;
        let doc_bytes = match doc.get("_id").ok().flatten() {
            Some(v) if id_key(v, &mut conn.key) => doc.as_bytes(),
            Some(_) => return error(out, 2, "BadValue", "fast_upstream: unsupported _id type"),
            None => {
                owned = with_object_id(doc);
                let fresh = RawDocument::from_bytes(&owned)
                    .ok()
                    .and_then(|d| d.get("_id").ok().flatten());
                if !fresh.is_some_and(|v| id_key(v, &mut conn.key)) {
                    continue;
                }
                owned.as_slice()
            }
        };
        let full = target.docs.len() >= MAX_DOCS_PER_COLLECTION;
        if full || target.docs.contains_key(conn.key.as_slice()) {
            errors.get_or_insert_with(|| w::begin_array(out, "writeErrors"));
            write_error(out, n_errors, i, full);
            n_errors += 1;
            if ordered {
                break;
            }
            continue;
        }
        target.docs.insert(conn.key.clone(), doc_bytes.to_vec());
        n += 1;
    }
    if let Some(a) = errors {
        w::end(out, a);
    }
    w::i32(out, "n", n);
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}

/// Element `slot` of `writeErrors`, about the document at `index` of the batch.
fn write_error(out: &mut Vec<u8>, slot: usize, index: usize, full: bool) {
    w::index_key(out, 0x03, slot);
    let e = w::begin(out);
    w::i32(out, "index", i32::try_from(index).unwrap_or(i32::MAX));
    if full {
        w::i32(out, "code", 14031);
        w::str(out, "errmsg", "fast_upstream: collection is full");
    } else {
        w::i32(out, "code", 11000);
        w::str(out, "errmsg", "E11000 duplicate key error index: _id_");
    }
    w::end(out, e);
}

fn kill_cursors(store: &Store, cmd: &Cmd<'_>, out: &mut Vec<u8>) {
    let ids = cmd.body.get_array("cursors").ok();
    let mut cursors = store.cursors();
    let d = w::begin(out);
    let a = w::begin_array(out, "cursorsKilled");
    let mut i = 0;
    for v in ids.into_iter().flatten().flatten() {
        if let RawBsonRef::Int64(id) = v {
            if cursors.remove(&id).is_some() {
                w::index_key(out, 0x12, i);
                out.extend_from_slice(&id.to_le_bytes());
                i += 1;
            }
        }
    }
    w::end(out, a);
    for empty in ["cursorsNotFound", "cursorsAlive", "cursorsUnknown"] {
        let a = w::begin_array(out, empty);
        w::end(out, a);
    }
    w::f64(out, "ok", 1.0);
    w::end(out, d);
}
