//! An in-process upstream holding a fixed list of collection names that answers
//! `listCollections` and `getMore` with real cursors and honours `batchSize` the way
//! mongod does: the first batch holds `cursor.batchSize` entries (101 when unset, 0
//! allowed), each getMore its own `batchSize` (the rest when unset), and the cursor id
//! goes to 0 with the last batch. nx-27017 answers everything in the first batch, which
//! would hide a getMore that escapes the proxy's reply filter.
//!
//! `garbled` makes the listCollections reply a frame the proxy cannot decode (an OP_MSG
//! with an unknown section kind after a body that lists every name), for the test that
//! such a reply is never passed on unfiltered.
// Each test binary uses part of the double.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bson::{rawdoc, RawArrayBuf, RawDocument, RawDocumentBuf};
use bytes::Bytes;
use mongoward::wire::{self, Limits, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// mongod's default first batch for listCollections.
const DEFAULT_FIRST_BATCH: usize = 101;

pub struct CatalogUpstream {
    pub addr: SocketAddr,
    pub uri: String,
}

struct Catalog {
    db: String,
    names: Vec<String>,
    garbled: bool,
    /// Open cursors (process-wide, as in mongod): id -> names not yet returned.
    cursors: Mutex<HashMap<i64, Vec<String>>>,
    next_id: AtomicI64,
}

impl CatalogUpstream {
    pub async fn start(db: &str, names: &[String], garbled: bool) -> CatalogUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let catalog = Arc::new(Catalog {
            db: db.to_string(),
            names: names.to_vec(),
            garbled,
            cursors: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(7_000),
        });
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, catalog.clone()));
            }
        });
        CatalogUpstream {
            addr,
            uri: format!("mongodb://{addr}"),
        }
    }
}

async fn serve(mut tcp: TcpStream, catalog: Arc<Catalog>) {
    loop {
        let mut len = [0u8; 4];
        if tcp.read_exact(&mut len).await.is_err() {
            return;
        }
        let n = i32::from_le_bytes(len) as usize;
        let mut frame = vec![0u8; n];
        frame[..4].copy_from_slice(&len);
        if tcp.read_exact(&mut frame[4..]).await.is_err() {
            return;
        }
        let Ok(Request::Msg(msg)) = wire::decode_request(Bytes::from(frame), &Limits::default())
        else {
            return;
        };
        let reply = catalog.answer(msg.command_name(), msg.body());
        let mut out = wire::encode_op_msg(1, msg.header().request_id, 0, &reply).to_vec();
        if catalog.garbled && msg.command_name() == "listCollections" {
            // A section of kind 7 does not exist: the whole frame is undecodable.
            out.extend_from_slice(&[7, 0, 0, 0, 0]);
            let len = i32::try_from(out.len()).expect("small frame");
            out[..4].copy_from_slice(&len.to_le_bytes());
        }
        if tcp.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn batch_size(doc: Option<&RawDocument>, default: usize) -> usize {
    let Some(d) = doc else { return default };
    match d.get("batchSize") {
        Ok(Some(v)) => v
            .as_i32()
            .map(i64::from)
            .or_else(|| v.as_i64())
            .or_else(|| v.as_f64().map(|f| f as i64))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(default),
        _ => default,
    }
}

fn entries(names: &[String]) -> RawArrayBuf {
    let mut out = RawArrayBuf::new();
    for n in names {
        out.push(rawdoc! {"name": n.as_str(), "type": "collection"});
    }
    out
}

impl Catalog {
    fn answer(&self, name: &str, body: &RawDocument) -> RawDocumentBuf {
        let ns = format!("{}.$cmd.listCollections", self.db);
        match name {
            "hello" | "isMaster" | "ismaster" => rawdoc! {
                "isWritablePrimary": true, "maxBsonObjectSize": 16_777_216,
                "maxMessageSizeBytes": 48_000_000, "maxWriteBatchSize": 100_000,
                "minWireVersion": 0, "maxWireVersion": 21, "ok": 1.0,
            },
            "buildInfo" | "buildinfo" => rawdoc! {"version": "7.0.99", "ok": 1.0},
            "listCollections" => {
                let cursor = body.get_document("cursor").ok();
                let n = batch_size(cursor, DEFAULT_FIRST_BATCH).min(self.names.len());
                let (first, rest) = self.names.split_at(n);
                let id = self.open(rest);
                rawdoc! {"cursor": {"id": id, "ns": ns, "firstBatch": entries(first)}, "ok": 1.0}
            }
            "getMore" => {
                let id = body.get_i64("getMore").unwrap_or(0);
                let mut cursors = self.cursors.lock().expect("cursors");
                let Some(left) = cursors.remove(&id) else {
                    return rawdoc! {"ok": 0.0, "code": 43, "codeName": "CursorNotFound", "errmsg": format!("cursor id {id} not found")};
                };
                let n = batch_size(Some(body), left.len()).min(left.len());
                let n = if n == 0 { left.len() } else { n };
                let (batch, rest) = left.split_at(n);
                let next = if rest.is_empty() {
                    0
                } else {
                    cursors.insert(id, rest.to_vec());
                    id
                };
                rawdoc! {"cursor": {"id": next, "ns": ns, "nextBatch": entries(batch)}, "ok": 1.0}
            }
            "killCursors" => rawdoc! {"ok": 1.0},
            _ => rawdoc! {"ok": 1.0},
        }
    }

    fn open(&self, rest: &[String]) -> i64 {
        if rest.is_empty() {
            return 0;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.cursors
            .lock()
            .expect("cursors")
            .insert(id, rest.to_vec());
        id
    }
}
