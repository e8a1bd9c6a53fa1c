//! The lookup structure behind [`super::UserPrivileges`]: one action set per pattern kind,
//! maps keyed by name for the named kinds. Lookups take `&str` and never build a String.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::authz::actions::ANY_ACTION;
use crate::authz::model::{ActionSet, Resource, ResourcePattern};

/// Prefix of time-series bucket collections.
const BUCKETS_PREFIX: &str = "system.buckets.";

/// Multiply-rotate hash (FxHash style). The keys come from the proxy's own configuration,
/// and lookups never insert, so attacker-chosen names cannot cause collision flooding;
/// SipHash's DoS resistance would only cost time on every command.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Every copy below is between slices of equal length by construction.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let mut w = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

/// Everything granted inside one named database, so a namespace check hashes the
/// database name once.
#[derive(Clone, Debug, Default)]
struct DbEntry {
    /// `{db: D, collection: ""}`
    db: ActionSet,
    /// `{db: D, collection: C}` by C.
    colls: Keyed,
    /// `{db: D, system_buckets: ""}`
    buckets_db: ActionSet,
    /// `{db: D, system_buckets: B}` by B.
    buckets: Keyed,
}

/// Actions granted per pattern, with `anyAction` already expanded to every action.
#[derive(Clone, Debug, Default)]
pub struct PatternIndex {
    any_resource: ActionSet,
    cluster: ActionSet,
    any_normal: ActionSet,
    dbs: Map<DbEntry>,
    /// `{db: "", collection: C}` by C.
    by_coll: Keyed,
    buckets_any: ActionSet,
    /// `{db: "", system_buckets: B}` by B.
    buckets_by_coll: Keyed,
}

fn merge(slot: &mut ActionSet, actions: ActionSet) {
    *slot = slot.union(&actions);
}

/// Name-keyed action sets plus a mask of key lengths (mod 64). Most lookups are for
/// names nobody was granted anything on by name (a user's collections vs. the
/// `system.*` names built-in roles mention), and the mask rejects those without hashing.
#[derive(Clone, Debug, Default)]
struct Keyed {
    map: Map<ActionSet>,
    lens: u64,
}

impl Keyed {
    fn merge(&mut self, key: &str, actions: ActionSet) {
        self.lens |= 1u64 << (key.len() % 64);
        merge(self.map.entry(key.to_string()).or_default(), actions);
    }

    fn get(&self, key: &str) -> ActionSet {
        if self.lens & (1u64 << (key.len() % 64)) == 0 {
            return ActionSet::EMPTY;
        }
        self.map.get(key).copied().unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// local and config are never matched by any-normal (matching_rules).
pub fn is_local_or_config(db: &str) -> bool {
    db == "local" || db == "config"
}

/// "Normal collection" = not `system.*` and not `local.replset.*` (matching_rules).
pub fn is_normal_collection(db: &str, coll: &str) -> bool {
    !(coll.starts_with("system.") || (db == "local" && coll.starts_with("replset.")))
}

impl PatternIndex {
    /// Records `actions` on `p`; `anyAction` grants every action.
    pub fn add(&mut self, p: &ResourcePattern, actions: ActionSet) {
        let actions = if actions.contains(ANY_ACTION) {
            ActionSet::all()
        } else {
            actions
        };
        if actions.is_empty() {
            return; // keeps has_any_in_db from counting empty grants
        }
        match p {
            ResourcePattern::AnyResource => merge(&mut self.any_resource, actions),
            ResourcePattern::Cluster => merge(&mut self.cluster, actions),
            ResourcePattern::AnyNormal => merge(&mut self.any_normal, actions),
            ResourcePattern::Database(db) => merge(&mut self.db_entry(db).db, actions),
            ResourcePattern::CollectionInAnyDb(c) => self.by_coll.merge(c, actions),
            ResourcePattern::Namespace { db, coll } => self.db_entry(db).colls.merge(coll, actions),
            ResourcePattern::SystemBuckets { db, coll } => match (db, coll) {
                (None, None) => merge(&mut self.buckets_any, actions),
                (None, Some(c)) => self.buckets_by_coll.merge(c, actions),
                (Some(db), None) => merge(&mut self.db_entry(db).buckets_db, actions),
                (Some(db), Some(c)) => self.db_entry(db).buckets.merge(c, actions),
            },
        }
    }

    fn db_entry(&mut self, db: &str) -> &mut DbEntry {
        self.dbs.entry(db.to_string()).or_default()
    }

    fn db(&self, db: &str) -> Option<&DbEntry> {
        if self.dbs.is_empty() {
            return None;
        }
        self.dbs.get(db)
    }

    pub fn actions_on(&self, r: &Resource<'_>) -> ActionSet {
        match *r {
            Resource::AnyResource => self.any_resource,
            Resource::Cluster => self.any_resource.union(&self.cluster),
            Resource::AnyNormal => self.any_resource.union(&self.any_normal),
            Resource::Database(db) => {
                let s = self.any_resource;
                let s = s.union(&self.db(db).map(|e| e.db).unwrap_or_default());
                if is_local_or_config(db) {
                    s
                } else {
                    s.union(&self.any_normal)
                }
            }
            Resource::Namespace { db, coll } => self.on_namespace(db, coll),
        }
    }

    fn on_namespace(&self, db: &str, coll: &str) -> ActionSet {
        let entry = self.db(db);
        let s = self
            .any_resource
            .union(&self.by_coll.get(coll))
            .union(&entry.map(|e| e.colls.get(coll)).unwrap_or_default());
        if let Some(bucket) = coll.strip_prefix(BUCKETS_PREFIX) {
            let in_db = entry
                .map(|e| e.buckets_db.union(&e.buckets.get(bucket)))
                .unwrap_or_default();
            return s
                .union(&self.buckets_any)
                .union(&self.buckets_by_coll.get(bucket))
                .union(&in_db);
        }
        if !is_normal_collection(db, coll) {
            return s;
        }
        let s = s.union(&entry.map(|e| e.db).unwrap_or_default());
        if is_local_or_config(db) {
            s
        } else {
            s.union(&self.any_normal)
        }
    }

    /// commands.json listCollections notes: the database resource, anyResource, any
    /// system_buckets pattern that can reach this db, anyNormal unless local/config, any
    /// collection-name pattern (it names a collection in every db), an exact namespace
    /// in the db. The cluster pattern is deliberately absent.
    pub fn has_any_in_db(&self, db: &str) -> bool {
        let in_db = self.db(db).is_some_and(|e| {
            !e.db.is_empty()
                || !e.colls.is_empty()
                || !e.buckets_db.is_empty()
                || !e.buckets.is_empty()
        });
        in_db
            || !self.any_resource.is_empty()
            || (!self.any_normal.is_empty() && !is_local_or_config(db))
            || !self.by_coll.is_empty()
            || !self.buckets_any.is_empty()
            || !self.buckets_by_coll.is_empty()
    }
}
