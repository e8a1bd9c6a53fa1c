//! The live policy: everything a reload (or the control plane's change feed) can change,
//! compiled once and swapped atomically. Sessions read it with one atomic load per
//! decision, never a lock.
//!
//! The policy is per project: every cluster belongs to one project, and a connection
//! routed to a cluster is held to that project's access list, users and roles. File mode
//! is one implicit project holding every cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::ArcSwap;

use crate::authz::privileges::RoleCatalog;
use crate::config::{Config, OnRevoke};
use crate::gates::access_list::{AccessList, BuildOptions};
use crate::gates::users::Directory;

/// What one project's connections are held to.
pub struct ProjectPolicy {
    /// The project id (file mode: empty).
    pub id: String,
    pub access: AccessList,
    pub users: Arc<Directory>,
    pub catalog: Arc<RoleCatalog>,
}

impl ProjectPolicy {
    /// Refuses everyone: what a cluster no project claims gets.
    fn closed() -> Arc<ProjectPolicy> {
        static CLOSED: OnceLock<Arc<ProjectPolicy>> = OnceLock::new();
        CLOSED
            .get_or_init(|| {
                // An empty list has nothing to reject.
                let access = AccessList::build(&[], &BuildOptions::default(), 0)
                    .map(|(list, _)| list)
                    .unwrap_or_else(|e| unreachable!("empty access list: {e}"));
                Arc::new(ProjectPolicy {
                    id: String::new(),
                    access,
                    users: Arc::default(),
                    catalog: Arc::default(),
                })
            })
            .clone()
    }
}

/// One generation of policy.
pub struct Policy {
    pub generation: u64,
    pub on_revoke: OnRevoke,
    projects: Vec<Arc<ProjectPolicy>>,
    /// Cluster name -> index into `projects`.
    clusters: HashMap<String, usize>,
    /// File mode: clusters not listed (yet) still belong to the one project.
    fallback: Option<usize>,
    closed: Arc<ProjectPolicy>,
}

impl Policy {
    pub fn from_config(config: &Config, generation: u64) -> Policy {
        let project = Arc::new(ProjectPolicy {
            id: String::new(),
            access: config.access_list.clone(),
            users: config.users.clone(),
            catalog: config.catalog.clone(),
        });
        Policy {
            generation,
            on_revoke: config.file.server.on_revoke,
            projects: vec![project],
            clusters: config
                .clusters
                .iter()
                .map(|(c, _)| (c.name.clone(), 0))
                .collect(),
            fallback: Some(0),
            closed: ProjectPolicy::closed(),
        }
    }

    /// Store mode: each project with the names of its clusters. A cluster no project
    /// names belongs to none, and everything about it is refused.
    pub fn from_projects(
        projects: Vec<(ProjectPolicy, Vec<String>)>,
        on_revoke: OnRevoke,
        generation: u64,
    ) -> Policy {
        let mut clusters = HashMap::new();
        let mut list = Vec::with_capacity(projects.len());
        for (i, (project, names)) in projects.into_iter().enumerate() {
            for n in names {
                clusters.insert(n, i);
            }
            list.push(Arc::new(project));
        }
        Policy {
            generation,
            on_revoke,
            projects: list,
            clusters,
            fallback: None,
            closed: ProjectPolicy::closed(),
        }
    }

    /// The project a cluster belongs to; `None` when no project claims it.
    pub fn project(&self, cluster: &str) -> Option<&Arc<ProjectPolicy>> {
        let i = self.clusters.get(cluster).copied().or(self.fallback)?;
        self.projects.get(i)
    }

    /// Whether the cluster is still part of the policy (a deleted cluster's connections
    /// are closed).
    pub fn has_cluster(&self, cluster: &str) -> bool {
        self.project(cluster).is_some()
    }

    fn project_or_closed(&self, cluster: &str) -> &ProjectPolicy {
        self.project(cluster).unwrap_or(&self.closed)
    }

    /// The access list that applies on `cluster` (refuses all for an unknown cluster).
    pub fn access(&self, cluster: &str) -> &AccessList {
        &self.project_or_closed(cluster).access
    }

    /// The database users of `cluster`'s project.
    pub fn users(&self, cluster: &str) -> &Directory {
        &self.project_or_closed(cluster).users
    }

    /// The custom roles of `cluster`'s project.
    pub fn catalog(&self, cluster: &str) -> &RoleCatalog {
        &self.project_or_closed(cluster).catalog
    }

    /// The one project every listed cluster belongs to, if they share one (a listener
    /// serving them can check the access list before reading the ClientHello).
    pub fn common_project<'a>(
        &self,
        mut clusters: impl Iterator<Item = &'a str>,
    ) -> Option<&Arc<ProjectPolicy>> {
        let first = self.project(clusters.next()?)?;
        clusters
            .all(|c| self.project(c).is_some_and(|p| Arc::ptr_eq(p, first)))
            .then_some(first)
    }

    pub fn projects(&self) -> &[Arc<ProjectPolicy>] {
        &self.projects
    }

    /// Totals over every project (for logs and the reload audit event).
    pub fn totals(&self) -> (usize, usize, usize) {
        self.projects.iter().fold((0, 0, 0), |(u, r, a), p| {
            (
                u + p.users.len(),
                r + p.catalog.custom_role_names().count(),
                a + p.access.len(),
            )
        })
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
        self.install(|generation| Policy::from_config(config, generation))
    }

    /// Installs the policy `build` makes for the next generation (the control plane's
    /// follower is the only caller besides `replace`, and both run one at a time).
    pub fn install(&self, build: impl FnOnce(u64) -> Policy) -> Arc<Policy> {
        // Nothing inside can panic with the lock held; a poisoned lock is still sound.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let policy = Arc::new(build(generation));
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
