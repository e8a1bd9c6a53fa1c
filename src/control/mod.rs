//! The control plane: an Atlas-shaped model of organizations, projects and their
//! data-plane resources, kept in a [`store::Store`] and compiled into the data plane's
//! per-project policy, and the HTTPS admin API that changes them. It reaches the data plane
//! only through the policy snapshot and the store's change feed.

pub mod accounts;
pub mod api;
pub mod authz;
pub mod bootstrap;
pub mod config;
pub mod follower;
pub mod import;
pub mod model;
pub mod policy;
pub mod run;
pub mod store;

pub use follower::{start_follower, sync_once};
pub use store::{Change, ChangeKind, Connect, Expect, Item, Op, Revision, Store, StoreError};
