//! The double as a mongos behind an L4 balancer (`ScriptedUpstream::start_mongos`): it
//! answers hello with `msg: "isdbgrid"`, and every connection plays a different mongos.
//! A cursor lives on the connection that opened it, a transaction on the connection of
//! its first statement; a getMore, killCursors or transaction statement that arrives on
//! another connection is answered as another mongos would answer it (CursorNotFound,
//! cursorsNotFound, NoSuchTransaction with TransientTransactionError) and counted.

use std::sync::atomic::Ordering::SeqCst;

use bson::{doc, Document, RawDocument};
use mongoward::wire::OpMsg;

use super::store::Failure;
use super::{lock, State};

/// lsid `id` bytes of a command.
fn lsid(body: &RawDocument) -> Option<Vec<u8>> {
    let id = body.get_document("lsid").ok()?.get_binary("id").ok()?;
    Some(id.bytes.to_vec())
}

fn no_such_transaction() -> Document {
    doc! {
        "ok": 0.0, "errmsg": "Transaction with the given txnNumber was not found on this mongos",
        "code": 251, "codeName": "NoSuchTransaction",
        "errorLabels": ["TransientTransactionError"],
    }
}

fn cursor_not_found(id: i64) -> Document {
    let f = Failure::new(43, "CursorNotFound", format!("cursor id {id} not found"));
    super::commands::failure_doc(&f)
}

impl State {
    /// The answer another mongos gives to `msg` arriving on connection `conn`, when it
    /// belongs to state opened on a different connection; None: serve it normally.
    pub(super) fn foreign(&self, msg: &OpMsg, conn: usize) -> Option<Document> {
        if !self.mongos.load(SeqCst) {
            return None;
        }
        let body = msg.body();
        let refusal = self
            .foreign_txn(msg.command_name(), body, conn)
            .or_else(|| match msg.command_name() {
                "getMore" => {
                    let id = body.get_i64("getMore").ok()?;
                    self.foreign_cursor(id, conn).then(|| cursor_not_found(id))
                }
                "killCursors" => self.kill_own(body, conn),
                _ => None,
            });
        if refusal.is_some() {
            self.misrouted.fetch_add(1, SeqCst);
        }
        refusal
    }

    /// Transaction statements: the first one places the transaction on `conn`.
    fn foreign_txn(&self, name: &str, body: &RawDocument, conn: usize) -> Option<Document> {
        if body.get_bool("autocommit") != Ok(false) {
            return None;
        }
        let lsid = lsid(body)?;
        let mut txns = lock(&self.txns);
        if body.get_bool("startTransaction") == Ok(true) {
            txns.insert(lsid, conn);
            return None;
        }
        if txns.get(&lsid) != Some(&conn) {
            return Some(no_such_transaction());
        }
        if matches!(name, "commitTransaction" | "abortTransaction") {
            txns.remove(&lsid);
        }
        None
    }

    fn foreign_cursor(&self, id: i64, conn: usize) -> bool {
        lock(&self.cursor_conns)
            .get(&id)
            .is_some_and(|owner| *owner != conn)
    }

    /// killCursors kills only what this "mongos" has; other connections' cursors are
    /// reported not found (and stay open). None when every id is its own.
    fn kill_own(&self, body: &RawDocument, conn: usize) -> Option<Document> {
        let ids: Vec<i64> = body
            .get_array("cursors")
            .ok()?
            .into_iter()
            .filter_map(|v| v.ok().and_then(|v| v.as_i64()))
            .collect();
        let (theirs, own): (Vec<i64>, Vec<i64>) =
            ids.iter().partition(|id| self.foreign_cursor(**id, conn));
        if theirs.is_empty() {
            return None;
        }
        let (killed, mut missing) = self.store().kill(&own);
        missing.extend(theirs);
        Some(doc! {
            "cursorsKilled": killed, "cursorsNotFound": missing,
            "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0,
        })
    }

    /// A reply that opened a cursor: it lives on `conn`.
    pub(super) fn opened_on(&self, reply: &Document, conn: usize) {
        if !self.mongos.load(SeqCst) {
            return;
        }
        let id = reply
            .get_document("cursor")
            .ok()
            .and_then(|c| c.get_i64("id").ok());
        if let Some(id) = id.filter(|id| *id != 0) {
            lock(&self.cursor_conns).insert(id, conn);
        }
    }
}
