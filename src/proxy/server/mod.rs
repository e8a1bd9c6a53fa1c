//! The process side: listeners and accept (access list, PROXY protocol, caps, TLS with
//! SNI routing), revocation sweeps and reload, and store-mode installs of clusters.

pub mod accept;
pub mod control;
pub mod limits;
pub mod live;
pub mod running;
pub mod sni;
