//! The control plane: an Atlas-shaped admin API over a store of organizations, projects and
//! the data-plane policy of each project.

pub mod accounts;
pub mod api;
pub mod authz;
pub mod bootstrap;
pub mod config;
pub mod model;
pub mod store;

pub use store::{Change, ChangeKind, Expect, Item, Op, Revision, Store, StoreError};
