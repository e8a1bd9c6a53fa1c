//! The running proxy: listeners, the per-connection pipeline and graceful shutdown.
//!
//! accept -> access list -> TLS -> session loop (frame codec -> handshake/SCRAM ->
//! classify -> authorize -> upstream -> reply inspection -> client).

pub mod client;
pub mod io;
pub mod server;
pub mod state;
pub mod upstream;

// Paths tests, benches and fuzz targets name (the modules live in the folders above).
pub use client::filter;
pub use server::live;
pub use state::{policy, stats};

// The process side lives in `server/`; its entry points keep their short paths.
pub use server::running::{start, Running, Shared, StartError};
