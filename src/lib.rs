//! mongoward: a MongoDB wire-protocol authorization proxy.
//!
//! Data flow (one module per step): accept -> access list ([`gates`]) -> TLS ([`tls`])
//! -> frame codec ([`wire`]) -> handshake/SCRAM ([`gates`]) -> classify and authorize
//! ([`authz`]) -> upstream -> reply inspection -> client ([`proxy`]).
#![forbid(unsafe_code)]

pub mod authz;
pub mod cli;
pub mod config;
pub mod control;
pub mod error_code;
pub mod gates;
pub mod ops;
pub mod proxy;
pub mod tls;
pub mod wire;
