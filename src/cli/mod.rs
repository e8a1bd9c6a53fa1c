//! Operator tools behind the `mongoward` subcommands (the proxy itself is `proxy`).

pub mod users;
