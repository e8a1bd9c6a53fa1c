//! The live policy: everything a reload can change, compiled once and swapped
//! atomically. Sessions read it with one atomic load per decision, never a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, OnRevoke};
use crate::gates::access_list::AccessList;

/// One generation of policy.
pub struct Policy {
    pub generation: u64,
    pub access: AccessList,
    pub on_revoke: OnRevoke,
}

impl Policy {
    pub fn from_config(config: &Config, generation: u64) -> Policy {
        Policy {
            generation,
            access: config.access_list.clone(),
            on_revoke: config.file.server.on_revoke,
        }
    }
}

/// The swap point.
pub struct PolicyCell {
    current: ArcSwap<Policy>,
    generation: AtomicU64,
}

impl PolicyCell {
    pub fn new(config: &Config) -> PolicyCell {
        PolicyCell {
            current: ArcSwap::from_pointee(Policy::from_config(config, 1)),
            generation: AtomicU64::new(1),
        }
    }

    pub fn load(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Installs a new generation and returns it.
    pub fn replace(&self, config: &Config) -> Arc<Policy> {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let policy = Arc::new(Policy::from_config(config, generation));
        self.current.store(policy.clone());
        policy
    }
}
