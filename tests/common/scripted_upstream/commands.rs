//! Answers to every command except getMore (which may wait, see `conn`): what mongod
//! (a standalone 8.0) answers, for the commands the proxy and the test clients send.
//! An unknown command gets mongod's CommandNotFound, not a made-up success.

use bson::{doc, Bson, Document, RawDocument};
use mongoward::wire::OpMsg;

use super::store::{batch_size, check_filter, Batch, Failure, FindSpec, DEFAULT_FIRST_BATCH};
use super::State;

pub fn failure_doc(f: &Failure) -> Document {
    doc! {"ok": 0.0, "errmsg": f.msg.as_str(), "code": f.code, "codeName": f.name}
}

pub fn cursor_doc(b: Batch, first: bool) -> Document {
    let key = if first { "firstBatch" } else { "nextBatch" };
    let docs: Vec<Bson> = b.docs.into_iter().map(Bson::Document).collect();
    doc! {"cursor": {"id": b.id, "ns": b.ns, key: docs}, "ok": 1.0}
}

fn hello(state: &State) -> Document {
    let mut hello = doc! {
        "helloOk": true, "isWritablePrimary": true, "ismaster": true,
        "maxBsonObjectSize": 16_777_216, "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000, "localTime": bson::DateTime::now(),
        "logicalSessionTimeoutMinutes": 30, "connectionId": 1,
        "minWireVersion": 0, "maxWireVersion": 25, "readOnly": false, "ok": 1.0,
    };
    if state.mongos.load(std::sync::atomic::Ordering::SeqCst) {
        hello.insert("msg", "isdbgrid");
    }
    hello
}

fn build_info() -> Document {
    doc! {
        "version": "8.0.0", "versionArray": [8, 0, 0, 0], "gitVersion": "scripted",
        "bits": 64, "maxBsonObjectSize": 16_777_216, "ok": 1.0,
    }
}

/// `body[key]` as the collection name and `$db`: the namespace the command names.
pub fn namespace(body: &RawDocument, key: &str) -> Result<String, Failure> {
    let db = body.get_str("$db").unwrap_or("test");
    match body.get_str(key) {
        Ok(coll) if !coll.is_empty() => Ok(format!("{db}.{coll}")),
        _ => Err(Failure::new(
            73,
            "InvalidNamespace",
            format!("'{key}' must name a collection"),
        )),
    }
}

fn owned(raw: &RawDocument) -> Result<Document, Failure> {
    Document::try_from(raw).map_err(|e| Failure::new(2, "BadValue", e.to_string()))
}

/// The documents of an insert: the `documents` array or the kind-1 sequence.
fn documents(msg: &OpMsg) -> Result<Vec<Document>, Failure> {
    if let Some(seq) = msg.sequence("documents") {
        return seq.documents().map(owned).collect();
    }
    let arr = msg
        .body()
        .get_array("documents")
        .map_err(|_| Failure::new(9, "FailedToParse", "insert needs 'documents'"))?;
    arr.into_iter()
        .map(|v| match v {
            Ok(bson::RawBsonRef::Document(d)) => owned(d),
            _ => Err(Failure::new(
                14,
                "TypeMismatch",
                "documents must be objects",
            )),
        })
        .collect()
}

fn flag(body: &RawDocument, key: &str) -> bool {
    body.get_bool(key).unwrap_or(false)
}

fn find(state: &State, body: &RawDocument) -> Result<Document, Failure> {
    let ns = namespace(body, "find")?;
    let filter = match body.get_document("filter") {
        Ok(f) => owned(f)?,
        Err(_) => Document::new(),
    };
    check_filter(&filter)?;
    let spec = FindSpec {
        filter,
        batch: batch_size(Some(body), DEFAULT_FIRST_BATCH)?,
        tailable: flag(body, "tailable"),
        await_data: flag(body, "awaitData"),
        single_batch: flag(body, "singleBatch"),
    };
    if spec.await_data && !spec.tailable {
        return Err(Failure::new(
            2,
            "BadValue",
            "Cannot set 'awaitData' without also setting 'tailable'",
        ));
    }
    Ok(cursor_doc(state.store().find(&ns, spec), true))
}

fn insert(state: &State, msg: &OpMsg) -> Result<Document, Failure> {
    let ns = namespace(msg.body(), "insert")?;
    let docs = documents(msg)?;
    let n = state.store().insert(&ns, docs);
    state.inserted();
    Ok(doc! {"n": n as i32, "ok": 1.0})
}

fn kill_cursors(state: &State, body: &RawDocument) -> Result<Document, Failure> {
    namespace(body, "killCursors")?;
    let ids: Vec<i64> = body
        .get_array("cursors")
        .map_err(|_| Failure::new(9, "FailedToParse", "killCursors needs 'cursors'"))?
        .into_iter()
        .filter_map(|v| v.ok().and_then(|v| v.as_i64()))
        .collect();
    let (killed, missing) = state.store().kill(&ids);
    Ok(doc! {
        "cursorsKilled": killed, "cursorsNotFound": missing,
        "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0,
    })
}

/// The reply to `msg` (never getMore).
pub fn answer(state: &State, msg: &OpMsg) -> Document {
    let body = msg.body();
    let result = match msg.command_name() {
        "hello" | "isMaster" | "ismaster" => Ok(hello(state)),
        "buildInfo" | "buildinfo" => Ok(build_info()),
        "ping" | "endSessions" => Ok(doc! {"ok": 1.0}),
        // The double keeps no transaction state beyond where it lives (see `mongos`).
        "commitTransaction" | "abortTransaction" => Ok(doc! {"ok": 1.0}),
        "find" => find(state, body),
        "insert" => insert(state, msg),
        "killCursors" => kill_cursors(state, body),
        "create" => namespace(body, "create").map(|ns| {
            state.store().create(&ns);
            doc! {"ok": 1.0}
        }),
        "drop" => namespace(body, "drop").and_then(|ns| match state.store().drop_ns(&ns) {
            true => Ok(doc! {"ns": ns, "ok": 1.0}),
            false => Err(Failure::new(26, "NamespaceNotFound", "ns not found")),
        }),
        other => Err(Failure::new(
            59,
            "CommandNotFound",
            format!("no such command: '{other}'"),
        )),
    };
    result.unwrap_or_else(|f| failure_doc(&f))
}
