//! When a leased connection must stay with its client after a reply: the transactions and
//! cursors a client opened through a **mongos** (hello `msg: "isdbgrid"`). Behind an L4
//! balancer (or with several mongos hosts) the connection is what names the mongos, and
//! another mongos knows neither the transaction nor the cursor (docs/pooling.md, the
//! load-balancer spec's "Connection Pinning"). A replica set or standalone needs none of
//! this: there the lsid and user route them, so nothing is tracked.
//!
//! Pure: the session feeds each request body and each reply body in, and asks `hold`.

use std::collections::BTreeSet;

use bson::spec::BinarySubtype;
use bson::{RawBsonRef, RawDocument};

/// At most this many cursors and transactions are told apart per lease; past it the lease
/// stays pinned until the client leaves (a client cannot grow the proxy's memory at will,
/// and over-pinning is the safe side).
pub const MAX_TRACKED: usize = 1_000;

/// What one leased connection carries that lives on its mongos.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pins {
    /// lsid `id` bytes of the transactions in progress.
    txns: BTreeSet<Vec<u8>>,
    /// Open cursor ids opened (or continued) on this connection.
    cursors: BTreeSet<i64>,
    /// More than `MAX_TRACKED`: pinned for the rest of the lease.
    overflow: bool,
}

/// The parts of a request that start, continue or end something pinned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request {
    /// `lsid.id`, when the command carries one.
    pub lsid: Option<Vec<u8>>,
    /// `autocommit: false`: a statement of a multi-statement transaction.
    pub in_txn: bool,
    /// `commitTransaction` or `abortTransaction`.
    pub ends_txn: bool,
    /// The cursor a `getMore` continues.
    pub get_more: Option<i64>,
    /// The cursors a `killCursors` closes.
    pub kills: Vec<i64>,
}

/// The parts of a reply that matter here.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// `cursor.id`, when the reply carries a cursor.
    pub cursor: Option<i64>,
    /// The `TransientTransactionError` label: the server already aborted the transaction.
    pub transient_txn_error: bool,
}

impl Request {
    /// Reads a command body the way mongos reads these fields.
    pub fn of(body: &RawDocument) -> Request {
        let name = body
            .into_iter()
            .next()
            .and_then(Result::ok)
            .map(|(k, _)| k)
            .unwrap_or("");
        let lsid = body
            .get_document("lsid")
            .ok()
            .and_then(|l| l.get_binary("id").ok())
            .filter(|b| b.subtype == BinarySubtype::Uuid || b.bytes.len() == 16)
            .map(|b| b.bytes.to_vec());
        let kills = match name {
            "killCursors" => body
                .get_array("cursors")
                .map(|a| a.into_iter().filter_map(|v| v.ok()?.as_i64()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Request {
            lsid,
            in_txn: body.get_bool("autocommit") == Ok(false),
            ends_txn: matches!(name, "commitTransaction" | "abortTransaction"),
            get_more: (name == "getMore")
                .then(|| body.get_i64("getMore").ok())
                .flatten(),
            kills,
        }
    }
}

impl Reply {
    /// Reads a reply body.
    pub fn of(body: &RawDocument) -> Reply {
        let cursor =
            body.get_document("cursor")
                .ok()
                .and_then(|c| match c.get("id").ok().flatten()? {
                    RawBsonRef::Int64(id) => Some(id),
                    RawBsonRef::Int32(id) => Some(i64::from(id)),
                    _ => None,
                });
        let transient_txn_error = body.get_array("errorLabels").is_ok_and(|labels| {
            labels
                .into_iter()
                .any(|l| l.ok().and_then(|l| l.as_str()) == Some("TransientTransactionError"))
        });
        Reply {
            cursor,
            transient_txn_error,
        }
    }
}

impl Pins {
    /// Whether the connection must stay with this client after the exchange.
    pub fn hold(&self) -> bool {
        self.overflow || !self.txns.is_empty() || !self.cursors.is_empty()
    }

    /// Updates what this connection carries after one reply to `req`.
    pub fn observe(&mut self, req: &Request, reply: &Reply) {
        if let Some(id) = req.get_more {
            // A getMore that answers without its cursor open closed it (or it was gone).
            if reply.cursor == Some(id) {
                self.track_cursor(id);
            } else {
                self.cursors.remove(&id);
            }
        } else if let Some(id) = reply.cursor.filter(|id| *id != 0) {
            self.track_cursor(id);
        }
        for id in &req.kills {
            self.cursors.remove(id);
        }
        if let Some(lsid) = &req.lsid {
            if req.ends_txn || reply.transient_txn_error {
                // Committed, aborted, or aborted by the server: the statements that follow
                // (a commit retry carries a recoveryToken) may take any connection.
                self.txns.remove(lsid);
            } else if req.in_txn {
                self.track_txn(lsid);
            }
        }
    }

    /// A reply that could not be read: whatever it opened may live on this mongos, so the
    /// lease stays with the client until it leaves.
    pub fn pin_for_good(&mut self) {
        self.overflow = true;
    }

    fn full(&self) -> bool {
        self.txns.len() + self.cursors.len() >= MAX_TRACKED
    }

    fn track_cursor(&mut self, id: i64) {
        if self.cursors.contains(&id) {
            return;
        }
        if self.full() {
            self.overflow = true;
        } else {
            self.cursors.insert(id);
        }
    }

    fn track_txn(&mut self, lsid: &[u8]) {
        if self.txns.contains(lsid) {
            return;
        }
        if self.full() {
            self.overflow = true;
        } else {
            self.txns.insert(lsid.to_vec());
        }
    }
}

#[cfg(test)]
#[path = "pin_tests.rs"]
mod tests;
