//! One upstream connection: read a frame, answer it, and the parts that take time or
//! stream: awaitData getMores, exhaust streams and the fault hooks.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use bson::{Document, RawDocumentBuf};
use bytes::Bytes;
use mongoward::wire::{self, Limits, OpMsg, Request, FLAG_CHECKSUM_PRESENT, FLAG_MORE_TO_COME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::commands::{answer, cursor_doc, failure_doc, namespace};
use super::store::{batch_size, number, Batch, Failure};
use super::State;

/// mongod's wait for an awaitData getMore without maxTimeMS.
const DEFAULT_AWAIT: Duration = Duration::from_secs(1);

struct Open(Arc<State>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, SeqCst);
    }
}

/// `id`: this connection's number (in mongos mode, which "mongos" it reached).
pub async fn serve(tcp: TcpStream, state: Arc<State>, id: usize) {
    let _open = Open(state.clone());
    let mut kills = state.kills.subscribe();
    tokio::select! {
        () = session(tcp, &state, id) => {}
        _ = kills.changed() => {}
    }
}

async fn read_frame(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tcp.read_exact(&mut len).await.ok()?;
    let n = usize::try_from(i32::from_le_bytes(len)).ok()?;
    if !(16..=48_000_000).contains(&n) {
        return None;
    }
    let mut frame = vec![0u8; n];
    frame[..4].copy_from_slice(&len);
    tcp.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

async fn session(mut tcp: TcpStream, state: &State, id: usize) {
    let mut next_id = 900_000;
    while let Some(frame) = read_frame(&mut tcp).await {
        // mongod closes a connection that sends an invalid message (bad checksum included).
        let Ok(Request::Msg(msg)) = wire::decode_request(Bytes::from(frame), &Limits::default())
        else {
            return;
        };
        if !handle(&mut tcp, state, &msg, &mut next_id, id).await {
            return;
        }
    }
}

/// Answers one request; false when the connection is done.
async fn handle(
    tcp: &mut TcpStream,
    state: &State,
    msg: &OpMsg,
    next_id: &mut i32,
    conn: usize,
) -> bool {
    let name = msg.command_name();
    state.saw(name);
    state.received(msg.header().request_id);
    if msg.compressor().is_some() {
        state.compressed.fetch_add(1, SeqCst);
    }
    if msg.checksum_present() {
        state.checksummed.fetch_add(1, SeqCst);
    }
    if let Some(d) = state.delay_for(name) {
        // A peer that hung up ends the connection now (mongod's would end when the reply
        // failed to write); tests see the close without waiting out the delay.
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = closed_by_peer(tcp) => return false,
        }
    }
    let foreign = state.foreign(msg, conn);
    if name == "getMore" && foreign.is_none() {
        return get_more(tcp, state, msg, next_id).await;
    }
    let reply = match (foreign, state.failure_for(name)) {
        (Some(refusal), _) => refusal,
        (None, Some((code, code_name))) => {
            failure_doc(&Failure::new(code, code_name, "scripted failure"))
        }
        (None, None) => answer(state, msg),
    };
    state.opened_on(&reply, conn);
    if msg.more_to_come() {
        // Fire-and-forget: applied, never answered.
        return true;
    }
    send(tcp, state, msg, next_id, msg.header().request_id, 0, &reply)
        .await
        .is_some()
}

/// Resolves when the peer closed its side (EOF or a socket error); pending while it is
/// open, even with its next request already waiting to be read.
async fn closed_by_peer(tcp: &TcpStream) {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Writes one reply; returns its requestID (the next exhaust reply answers it).
async fn send(
    tcp: &mut TcpStream,
    state: &State,
    msg: &OpMsg,
    next_id: &mut i32,
    response_to: i32,
    flags: u32,
    reply: &Document,
) -> Option<i32> {
    *next_id += 1;
    let id = *next_id;
    let body = RawDocumentBuf::from_document(reply).ok()?;
    // A checksummed request gets a checksummed reply (the spec lets a server choose).
    let flags = flags | (msg.flags() & FLAG_CHECKSUM_PRESENT);
    let mut out = wire::encode_op_msg(id, response_to, flags, &body);
    if let Some(c) = msg.compressor() {
        out = wire::compress(&out, c).ok()?;
    }
    if state.stalls(msg.command_name()) {
        tcp.write_all(&out[..out.len() / 2]).await.ok()?;
        tcp.flush().await.ok()?;
        // Held until the connection is killed or closed by the peer.
        std::future::pending::<()>().await;
    }
    tcp.write_all(&out).await.ok()?;
    Some(id)
}

/// A getMore; with `exhaustAllowed` every batch follows unasked, flagged `moreToCome`
/// until the one that closes the cursor, each reply answering the one before it.
async fn get_more(tcp: &mut TcpStream, state: &State, msg: &OpMsg, next_id: &mut i32) -> bool {
    let mut response_to = msg.header().request_id;
    loop {
        let (reply, open) = match next_batch(state, msg).await {
            Ok(b) => {
                let open = b.id != 0;
                (cursor_doc(b, false), open)
            }
            Err(f) => (failure_doc(&f), false),
        };
        let more = msg.exhaust_allowed() && open;
        let flags = if more { FLAG_MORE_TO_COME } else { 0 };
        match send(tcp, state, msg, next_id, response_to, flags, &reply).await {
            Some(id) if more => response_to = id,
            Some(_) => return true,
            None => return false,
        }
    }
}

/// The next batch; an empty one on a tailable awaitData cursor waits up to maxTimeMS for
/// an insert.
async fn next_batch(state: &State, msg: &OpMsg) -> Result<Batch, Failure> {
    let body = msg.body();
    let id = body
        .get_i64("getMore")
        .map_err(|_| Failure::new(14, "TypeMismatch", "getMore must be a long"))?;
    let ns = namespace(body, "collection")?;
    let batch = match batch_size(Some(body), 0)? {
        0 => None,
        n => Some(n),
    };
    let wait = number(body.get("maxTimeMS").ok().flatten())
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or(DEFAULT_AWAIT, Duration::from_millis);
    let deadline = Instant::now() + wait;
    let mut inserts = state.inserts.subscribe();
    loop {
        let b = state.store().get_more(id, &ns, batch)?;
        if !b.docs.is_empty() || !b.await_data || b.id == 0 || Instant::now() >= deadline {
            return Ok(b);
        }
        state.awaiting.fetch_add(1, SeqCst);
        let woke = tokio::time::timeout_at(deadline, inserts.changed()).await;
        state.awaiting.fetch_sub(1, SeqCst);
        if matches!(woke, Ok(Ok(()))) {
            state.woken.fetch_add(1, SeqCst);
        }
    }
}
