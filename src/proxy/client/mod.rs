//! One client connection: the session driver, the handshake and authentication, the
//! routing of each command through the gates, the commands the proxy answers itself,
//! reply filters, legacy OP_QUERY and the error replies.

pub mod auth;
pub mod commands;
pub mod conn;
pub mod filter;
pub mod handshake;
pub mod legacy;
pub mod replies;
pub mod route;
pub mod session;
pub mod session_limits;
pub mod session_upstream;
