//! Decides what happens to each client command: answered by the proxy, refused, or
//! forwarded. The gates plug in here; the session loop only carries out the decision.

use bson::RawDocumentBuf;

use super::handshake::{self, HelloRequest};
use super::replies::ErrorReply;
use super::session::Session;
use crate::wire::{OpMsg, OpQuery};

/// The decision for one command.
pub enum Route {
    /// The proxy answers with this document.
    Reply(RawDocumentBuf),
    /// Refused with a MongoDB error; the connection stays open.
    Refuse(ErrorReply),
    /// Send the checked bytes upstream.
    Forward,
    /// Close the connection without a reply.
    Close,
}

fn is_hello(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

/// OP_QUERY is accepted only for the legacy handshake on `admin.$cmd`, as mongod 6+.
pub fn legacy_query(session: &mut Session, q: &OpQuery) -> Result<RawDocumentBuf, ErrorReply> {
    let name = q.command_name();
    if q.full_collection_name() != "admin.$cmd" || !is_hello(name) {
        return Err(ErrorReply::new(
            5739101,
            "UnsupportedOpQueryCommand",
            format!(
                "Unsupported OP_QUERY command: {name}. The client driver may require an upgrade."
            ),
        ));
    }
    Ok(hello(session, q.command(), name))
}

fn hello(session: &mut Session, body: &bson::RawDocument, name: &str) -> RawDocumentBuf {
    let req = HelloRequest::parse(body, name);
    if !req.compression.is_empty() || session.compressors.is_empty() {
        session.compressors = handshake::negotiate(&req.compression);
    }
    let info = session.info.cluster.info();
    let now = bson::DateTime::now().timestamp_millis();
    let doc = handshake::hello_reply(
        &req,
        &info,
        &session.shared.identity,
        session.info.id,
        &session.compressors,
        now,
    );
    handshake::finish(doc)
}

/// Routes one OP_MSG command.
pub async fn route(session: &mut Session, msg: &OpMsg) -> Route {
    let name = msg.command_name();
    if is_hello(name) {
        return Route::Reply(hello(session, msg.body(), name));
    }
    match name {
        "ping" => Route::Reply(handshake::finish(RawDocumentBuf::new())),
        "buildInfo" | "buildinfo" => {
            Route::Reply(handshake::build_info(&session.info.cluster.info()))
        }
        _ => Route::Forward,
    }
}
