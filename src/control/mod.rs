//! The control plane: an Atlas-shaped admin API over a store of organizations, projects and
//! the data-plane policy of each project.

pub mod accounts;
pub mod api;
pub mod authz;
