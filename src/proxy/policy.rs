//! The live policy: everything a reload can change, compiled once and swapped
//! atomically. Sessions read it with one atomic load per decision, never a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::authz::privileges::RoleCatalog;
use crate::config::{Config, OnRevoke};
use crate::gates::access_list::AccessList;
use crate::gates::users::Directory;

/// One generation of policy.
pub struct Policy {
    pub generation: u64,
    pub access: AccessList,
    pub on_revoke: OnRevoke,
    pub users: Arc<Directory>,
    pub catalog: Arc<RoleCatalog>,
}

impl Policy {
    pub fn from_config(config: &Config, generation: u64) -> Policy {
        Policy {
            generation,
            access: config.access_list.clone(),
            on_revoke: config.file.server.on_revoke,
            users: config.users.clone(),
            catalog: config.catalog.clone(),
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

    /// The generation in force (one atomic read: sessions compare it per command).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn load(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Installs a new generation and returns it.
    pub fn replace(&self, config: &Config) -> Arc<Policy> {
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let policy = Arc::new(Policy::from_config(config, generation));
        self.current.store(policy.clone());
        // Published after the policy, so a session that sees the new number finds it.
        self.generation.store(generation, Ordering::Release);
        policy
    }
}
