//! One client connection: the connection core (`conn`: state and every decision, no
//! sockets), the session driver that carries its steps out (`session*`), the handshake,
//! reply filters, legacy OP_QUERY and the error replies.

pub mod conn;
pub mod filter;
pub mod handshake;
pub mod legacy;
pub mod replies;
pub mod session;
pub mod session_conn;
pub mod session_limits;
pub mod session_upstream;
