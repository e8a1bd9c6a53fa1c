//! Subcommands of the `mongoward` binary that are more than a few lines (kept in the
//! library so integration tests drive exactly the code the binary runs).

pub mod admin;
pub mod authz_check;
pub mod probe;
pub mod reload;
pub mod users;
