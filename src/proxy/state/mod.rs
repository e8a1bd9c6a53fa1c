//! State shared by connections and read on the message path without locks: the policy
//! cell, the cursor registry, the counters, and each connection's handle and stop signal.

pub mod counters;
pub mod cursors;
pub mod handle;
pub mod policy;
pub mod services;
pub mod signal;
pub mod stats;

pub use services::{Identity, Services};
