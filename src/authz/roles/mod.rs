//! Built-in roles as static data.
//!
//! Source: `shared/authz/builtin_roles.json` -- `roles` (mongod 8.x `builtin_roles.yml`,
//! `__system` excluded) and `atlas` (Atlas built-in roles, specific privileges and UI
//! aliases). A privilege on `<ROLE_DB>` is stored as [`Target::RoleDb`] /
//! [`Target::RoleDbColl`] and instantiated when the role is granted on a database.
//! Which roles are admin-only is the JSON's `admin_only` (Atlas: `granted_on`).

mod atlas;
mod mongod;
pub mod sets;
#[cfg(test)]
mod tests;

use super::model::{ActionSet, ResourcePattern};

/// Where a built-in grant applies (the JSON's resource documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `{anyResource: true}`
    AnyResource,
    /// `{cluster: true}`
    Cluster,
    /// `{db: "", collection: ""}`
    AnyNormal,
    /// `{db: "<ROLE_DB>", collection: ""}`
    RoleDb,
    /// `{db: "<ROLE_DB>", collection: C}`
    RoleDbColl(&'static str),
    /// `{db: D, collection: ""}`
    Db(&'static str),
    /// `{db: "", collection: C}`
    CollInAnyDb(&'static str),
    /// `{db: D, collection: C}`
    Ns(&'static str, &'static str),
    /// `{db: "", system_buckets: ""}`
    AnyBuckets,
}

impl Target {
    /// The concrete pattern when the role is granted on `role_db`.
    pub fn instantiate(self, role_db: &str) -> ResourcePattern {
        match self {
            Target::AnyResource => ResourcePattern::AnyResource,
            Target::Cluster => ResourcePattern::Cluster,
            Target::AnyNormal => ResourcePattern::AnyNormal,
            Target::RoleDb => ResourcePattern::Database(role_db.to_string()),
            Target::RoleDbColl(c) => ResourcePattern::Namespace {
                db: role_db.to_string(),
                coll: c.to_string(),
            },
            Target::Db(d) => ResourcePattern::Database(d.to_string()),
            Target::CollInAnyDb(c) => ResourcePattern::CollectionInAnyDb(c.to_string()),
            Target::Ns(d, c) => ResourcePattern::Namespace {
                db: d.to_string(),
                coll: c.to_string(),
            },
            Target::AnyBuckets => ResourcePattern::SystemBuckets {
                db: None,
                coll: None,
            },
        }
    }
}

/// One privilege of a built-in role.
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    pub on: Target,
    pub actions: ActionSet,
}

impl Grant {
    pub const fn new(on: Target, actions: ActionSet) -> Grant {
        Grant { on, actions }
    }
}

/// Databases a built-in role may be granted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantable {
    /// Database roles: any database (`admin_only: false`).
    AnyDatabase,
    /// `admin_only: true` -- mongod only defines these roles in admin.
    AdminOnly,
}

/// The database of an inherited built-in role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InheritDb {
    /// Same database as the inheriting role (`<ROLE_DB>`).
    RoleDb,
    Admin,
    Config,
    Local,
}

impl InheritDb {
    fn resolve(self, role_db: &str) -> &str {
        match self {
            InheritDb::RoleDb => role_db,
            InheritDb::Admin => "admin",
            InheritDb::Config => "config",
            InheritDb::Local => "local",
        }
    }
}

/// A built-in role: its own grants plus inherited built-in roles.
#[derive(Debug)]
pub struct BuiltinRole {
    pub name: &'static str,
    pub grantable: Grantable,
    pub inherits: &'static [(&'static str, InheritDb)],
    pub grants: &'static [Grant],
}

impl BuiltinRole {
    /// Whether the role exists on `db`.
    pub fn grantable_on(&self, db: &str) -> bool {
        match self.grantable {
            Grantable::AnyDatabase => true,
            Grantable::AdminOnly => db == "admin",
        }
    }

    /// Only read and readWrite may be narrowed to one collection, as Atlas allows.
    pub fn narrowable(&self) -> bool {
        matches!(self.name, "read" | "readWrite")
    }

    /// Calls `sink` for every privilege of this role granted on `db`, inherited roles
    /// included (the JSON's inheritance is transitive).
    pub fn expand(&self, db: &str, sink: &mut dyn FnMut(ResourcePattern, ActionSet)) {
        self.expand_depth(db, sink, 0);
    }

    fn expand_depth(&self, db: &str, sink: &mut dyn FnMut(ResourcePattern, ActionSet), depth: u8) {
        // The static tables are acyclic (tested); the bound only keeps a future table
        // edit from recursing forever.
        if depth > MAX_BUILTIN_DEPTH {
            return;
        }
        for g in self.grants {
            sink(g.on.instantiate(db), g.actions);
        }
        for (name, idb) in self.inherits {
            if let Some(parent) = lookup(name) {
                parent.expand_depth(idb.resolve(db), sink, depth + 1);
            }
        }
    }
}

/// Deeper than any real chain (root -> backup -> __queryableBackup is 3).
const MAX_BUILTIN_DEPTH: u8 = 8;

/// Every built-in role: mongod's, then Atlas's.
pub static ALL: [&BuiltinRole; 24] = [
    &mongod::READ,
    &mongod::READ_WRITE,
    &mongod::USER_ADMIN,
    &mongod::DB_ADMIN,
    &mongod::DB_OWNER,
    &mongod::ENABLE_SHARDING,
    &mongod::READ_ANY_DATABASE,
    &mongod::READ_WRITE_ANY_DATABASE,
    &mongod::USER_ADMIN_ANY_DATABASE,
    &mongod::DB_ADMIN_ANY_DATABASE,
    &mongod::CLUSTER_MONITOR,
    &mongod::HOST_MANAGER,
    &mongod::CLUSTER_MANAGER,
    &mongod::CLUSTER_ADMIN,
    &mongod::QUERYABLE_BACKUP,
    &mongod::BACKUP,
    &mongod::RESTORE,
    &mongod::ROOT,
    &mongod::DIRECT_SHARD_OPERATIONS,
    &mongod::SEARCH_COORDINATOR,
    &atlas::ATLAS_ADMIN,
    &atlas::KILL_OP_SESSION,
    &atlas::AUTO_COMPACT_ROLE,
    &atlas::MANAGE_SHARD_BALANCER,
];

/// The built-in role called `name`, exactly (case-sensitive, as mongod).
pub fn lookup(name: &str) -> Option<&'static BuiltinRole> {
    ALL.iter().copied().find(|r| r.name == name)
}

/// The built-in role called `name` or known by an Atlas alias of it.
pub fn lookup_or_alias(name: &str) -> Option<&'static BuiltinRole> {
    lookup(name).or_else(|| {
        atlas::ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .and_then(|(_, canonical)| lookup(canonical))
    })
}
