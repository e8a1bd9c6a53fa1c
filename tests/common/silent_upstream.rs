//! An upstream that goes quiet: the bad day issue 13 describes. `Never` accepts and never
//! says a word; `AfterHello` answers hello and buildInfo (so the proxy's login completes),
//! opens one cursor (`find` on `stream`) and starts an exhaust stream on its getMore with
//! one batch, then goes silent; every other command is read and never answered.
// Each test binary uses part of the double.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bson::{rawdoc, RawDocumentBuf};
use bytes::Bytes;
use mongoward::wire::{self, Limits, Request, FLAG_EXHAUST_ALLOWED, FLAG_MORE_TO_COME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    Never,
    AfterHello,
}

pub struct SilentUpstream {
    pub addr: SocketAddr,
    /// Commands read and left unanswered so far.
    pub unanswered: Arc<AtomicUsize>,
}

/// The cursor id the double's `find` on `stream` opens.
pub const STREAM_CURSOR: i64 = 4242;

impl SilentUpstream {
    pub async fn start(mode: Silence) -> SilentUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let unanswered = Arc::new(AtomicUsize::new(0));
        let counter = unanswered.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, mode, counter.clone()));
            }
        });
        SilentUpstream { addr, unanswered }
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}", self.addr)
    }
}

async fn read_frame(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tcp.read_exact(&mut len).await.ok()?;
    let n = i32::from_le_bytes(len) as usize;
    let mut frame = vec![0u8; n.max(4)];
    frame[..4].copy_from_slice(&len);
    tcp.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

async fn serve(mut tcp: TcpStream, mode: Silence, unanswered: Arc<AtomicUsize>) {
    while let Some(frame) = read_frame(&mut tcp).await {
        let Ok(Request::Msg(msg)) = wire::decode_request(Bytes::from(frame), &Limits::default())
        else {
            return;
        };
        let db = msg.body().get_str("$db").unwrap_or("test").to_string();
        let coll = msg.body().get_str(msg.command_name()).unwrap_or("");
        let (reply, flags) = match (mode, msg.command_name()) {
            (Silence::AfterHello, "hello" | "isMaster" | "ismaster") => (hello(), 0),
            (Silence::AfterHello, "buildInfo") => (
                rawdoc! {"version": "7.0.0", "versionArray": [7, 0, 0, 0], "ok": 1.0},
                0,
            ),
            (Silence::AfterHello, "find") if coll == "stream" => {
                let ns = format!("{db}.stream");
                let reply = rawdoc! {"cursor": {"id": STREAM_CURSOR, "ns": ns, "firstBatch": []}, "ok": 1.0};
                (reply, 0)
            }
            (Silence::AfterHello, "getMore") if msg.flags() & FLAG_EXHAUST_ALLOWED != 0 => {
                let ns = format!("{db}.stream");
                let reply = rawdoc! {"cursor": {"id": STREAM_CURSOR, "ns": ns, "nextBatch": [{"n": 1}]}, "ok": 1.0};
                (reply, FLAG_MORE_TO_COME)
            }
            _ => {
                unanswered.fetch_add(1, Ordering::SeqCst);
                continue;
            }
        };
        let out = wire::encode_op_msg(7, msg.header().request_id, flags, &reply);
        if tcp.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn hello() -> RawDocumentBuf {
    rawdoc! {
        "isWritablePrimary": true, "maxBsonObjectSize": 16_777_216,
        "maxMessageSizeBytes": 48_000_000, "maxWriteBatchSize": 100_000,
        "logicalSessionTimeoutMinutes": 30,
        "minWireVersion": 0, "maxWireVersion": 21, "ok": 1.0,
    }
}
