//! The live policy: everything a reload can change, compiled once and swapped
//! atomically. Sessions read it with one atomic load per decision, never a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
    /// Held by `replace` only (never by readers): SIGHUP, the file watcher and the API
    /// can reload at once, and each must get a generation of its own.
    writer: Mutex<()>,
}

impl PolicyCell {
    pub fn new(config: &Config) -> PolicyCell {
        PolicyCell {
            current: ArcSwap::from_pointee(Policy::from_config(config, 1)),
            generation: AtomicU64::new(1),
            writer: Mutex::new(()),
        }
    }

    /// The generation in force (one atomic read: sessions compare it per command).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn load(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Installs a new generation and returns it. Concurrent calls get distinct,
    /// increasing generations, and the highest is the one left in force.
    pub fn replace(&self, config: &Config) -> Arc<Policy> {
        // Nothing inside can panic with the lock held; a poisoned lock is still sound.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let policy = Arc::new(Policy::from_config(config, generation));
        self.current.store(policy.clone());
        // Published after the policy, so a session that sees the new number finds it.
        self.generation.store(generation, Ordering::Release);
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:27018"]
[tls]
cert_file = "server.pem"
key_file = "server-key.pem"
[[clusters]]
name = "default"
uri = "mongodb://127.0.0.1:27017"
[[access_list]]
cidr = "127.0.0.1"
"#;

    #[test]
    fn concurrent_reloads_get_distinct_generations_and_the_last_stays() {
        let config = Config::from_str(CONFIG, Path::new("/tmp/mongoward.toml")).unwrap();
        let cell = Arc::new(PolicyCell::new(&config));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cell, config) = (cell.clone(), config.clone());
                std::thread::spawn(move || {
                    (0..50)
                        .map(|_| cell.replace(&config).generation)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            let gens = t.join().unwrap();
            assert!(
                gens.windows(2).all(|w| w[0] < w[1]),
                "increasing per caller"
            );
            for g in gens {
                assert!(seen.insert(g), "generation {g} handed out twice");
            }
        }
        assert_eq!(seen.len(), 400);
        assert_eq!(cell.generation(), 401);
        assert_eq!(cell.load().generation, 401, "the newest policy is in force");
    }
}
