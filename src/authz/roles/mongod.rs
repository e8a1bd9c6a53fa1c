//! mongod's built-in roles, one table per role, in the order of
//! `shared/authz/builtin_roles.json` `roles`.
//!
//! Privileges marked `since`/`note` in the JSON are included (they are listed under
//! `privileges`); entries only mentioned under `later_changes` (readWrite's
//! performRawDataOperations, restore's dropCollection on system.views, hostManager's
//! closeAllDatabases) are not, because the JSON does not make them part of the role.

use super::sets as s;
use super::{BuiltinRole, Grant, Grantable, InheritDb, Target::*};

pub static READ: BuiltinRole = BuiltinRole {
    name: "read",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    grants: &[
        Grant::new(RoleDb, s::READ),
        Grant::new(RoleDbColl("system.js"), s::READ),
    ],
};

pub static READ_WRITE: BuiltinRole = BuiltinRole {
    name: "readWrite",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    grants: &[
        Grant::new(RoleDb, s::READ_WRITE),
        Grant::new(RoleDbColl("system.js"), s::READ_WRITE),
    ],
};

pub static USER_ADMIN: BuiltinRole = BuiltinRole {
    name: "userAdmin",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    grants: &[Grant::new(RoleDb, s::USER_ADMIN)],
};

pub static DB_ADMIN: BuiltinRole = BuiltinRole {
    name: "dbAdmin",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    grants: &[
        Grant::new(RoleDb, s::DB_ADMIN),
        // JSON: "granted only when the server is not in multitenancy mode"; the proxy
        // fronts single-tenant deployments.
        Grant::new(RoleDb, s::CONFIGURE_QUERY_ANALYZER_ONLY),
        Grant::new(RoleDbColl("system.profile"), s::PROFILE_READ),
    ],
};

pub static DB_OWNER: BuiltinRole = BuiltinRole {
    name: "dbOwner",
    grantable: Grantable::AnyDatabase,
    inherits: &[
        ("readWrite", InheritDb::RoleDb),
        ("dbAdmin", InheritDb::RoleDb),
        ("userAdmin", InheritDb::RoleDb),
    ],
    grants: &[],
};

pub static ENABLE_SHARDING: BuiltinRole = BuiltinRole {
    name: "enableSharding",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    // Deliberately on any-normal, not on the role's database (JSON summary).
    grants: &[
        Grant::new(AnyNormal, s::ENABLE_SHARDING_ACTIONS),
        // JSON: since 8.0 (manual + 2025 commands_lib).
        Grant::new(AnyNormal, s::UNSHARD_COLLECTION_ONLY),
    ],
};

pub static READ_ANY_DATABASE: BuiltinRole = BuiltinRole {
    name: "readAnyDatabase",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(AnyNormal, s::READ),
        Grant::new(Cluster, s::LIST_DATABASES_ONLY),
        Grant::new(CollInAnyDb("system.js"), s::READ),
        Grant::new(AnyBuckets, s::READ),
    ],
};

pub static READ_WRITE_ANY_DATABASE: BuiltinRole = BuiltinRole {
    name: "readWriteAnyDatabase",
    grantable: Grantable::AdminOnly,
    inherits: &[("readAnyDatabase", InheritDb::Admin)],
    grants: &[
        Grant::new(AnyNormal, s::READ_WRITE),
        Grant::new(CollInAnyDb("system.js"), s::READ_WRITE),
        Grant::new(AnyBuckets, s::READ_WRITE),
    ],
};

pub static USER_ADMIN_ANY_DATABASE: BuiltinRole = BuiltinRole {
    name: "userAdminAnyDatabase",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(AnyNormal, s::USER_ADMIN_ANY),
        // any-normal skips local and config, so they are granted by name.
        Grant::new(Db("local"), s::USER_ADMIN),
        Grant::new(Db("config"), s::USER_ADMIN),
        Grant::new(Cluster, s::USER_ADMIN_CLUSTER),
        Grant::new(Ns("admin", "system.users"), s::READ_AND_INDEXES),
        Grant::new(Ns("admin", "system.roles"), s::READ_AND_INDEXES),
        Grant::new(CollInAnyDb("system.users"), s::READ),
        Grant::new(Ns("admin", "system.version"), s::READ),
        Grant::new(Ns("admin", "system.backup_users"), s::READ),
    ],
};

pub static DB_ADMIN_ANY_DATABASE: BuiltinRole = BuiltinRole {
    name: "dbAdminAnyDatabase",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(Cluster, s::DB_ADMIN_ANY_CLUSTER),
        Grant::new(AnyNormal, s::DB_ADMIN),
        Grant::new(AnyNormal, s::CONFIGURE_QUERY_ANALYZER_ONLY),
        Grant::new(CollInAnyDb("system.profile"), s::PROFILE_READ),
        Grant::new(AnyBuckets, s::DB_ADMIN),
    ],
};

pub static CLUSTER_MONITOR: BuiltinRole = BuiltinRole {
    name: "clusterMonitor",
    grantable: Grantable::AdminOnly,
    inherits: &[("read", InheritDb::Config), ("read", InheritDb::Local)],
    grants: &[
        Grant::new(Cluster, s::CLUSTER_MONITOR_CLUSTER),
        Grant::new(AnyNormal, s::MONITOR_STATS),
        Grant::new(Db("config"), s::MONITOR_STATS),
        Grant::new(Ns("config", "system.sessions"), s::MONITOR_STATS),
        Grant::new(Db("local"), s::MONITOR_STATS),
        Grant::new(Ns("local", "system.replset"), s::FIND_ONLY),
        Grant::new(Ns("local", "replset.election"), s::FIND_ONLY),
        Grant::new(Ns("local", "replset.minvalid"), s::FIND_ONLY),
        Grant::new(CollInAnyDb("system.profile"), s::FIND_ONLY),
        // JSON: since post-8.0 master ($queryStats moved from clusterManager).
        Grant::new(Cluster, s::QUERY_STATS),
        // JSON: since 8.1 ($listClusterCatalog).
        Grant::new(Cluster, s::LIST_CLUSTER_CATALOG_ONLY),
    ],
};

pub static HOST_MANAGER: BuiltinRole = BuiltinRole {
    name: "hostManager",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(Cluster, s::HOST_MANAGER_CLUSTER),
        Grant::new(AnyNormal, s::KILL_CURSORS_ONLY),
        // JSON: since 7.3 (autoCompact).
        Grant::new(Cluster, s::COMPACT_ONLY),
    ],
};

pub static CLUSTER_MANAGER: BuiltinRole = BuiltinRole {
    name: "clusterManager",
    grantable: Grantable::AdminOnly,
    inherits: &[("read", InheritDb::Config)],
    grants: &[
        Grant::new(Cluster, s::CLUSTER_MANAGER_CLUSTER),
        Grant::new(AnyNormal, s::SHARDING_ADMIN),
        // JSON: since 8.0.
        Grant::new(AnyNormal, s::UNSHARD_COLLECTION_ONLY),
        Grant::new(AnyBuckets, s::SHARDING_ADMIN),
        Grant::new(Db("config"), s::SHARDING_ADMIN),
        Grant::new(Db("local"), s::SHARDING_ADMIN),
        Grant::new(Ns("local", "system.replset"), s::READ),
        Grant::new(AnyResource, s::DB_CHECK_ONLY),
        Grant::new(Ns("local", "system.healthlog"), s::READ),
        Grant::new(Db("config"), s::WRITE_DOCS),
        Grant::new(Db("local"), s::WRITE_DOCS),
        Grant::new(Ns("local", "replset.election"), s::WRITE_DOCS),
        Grant::new(Ns("local", "replset.minvalid"), s::WRITE_DOCS),
    ],
};

pub static CLUSTER_ADMIN: BuiltinRole = BuiltinRole {
    name: "clusterAdmin",
    grantable: Grantable::AdminOnly,
    inherits: &[
        ("clusterMonitor", InheritDb::Admin),
        ("hostManager", InheritDb::Admin),
        ("clusterManager", InheritDb::Admin),
    ],
    grants: &[
        Grant::new(AnyNormal, s::DROP_DATABASE_ONLY),
        Grant::new(AnyResource, s::EXPORT_IMPORT),
    ],
};

pub static QUERYABLE_BACKUP: BuiltinRole = BuiltinRole {
    name: "__queryableBackup",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(AnyResource, s::LIST_AND_STATS),
        Grant::new(AnyNormal, s::FIND_ONLY),
        Grant::new(AnyBuckets, s::FIND_ONLY),
        Grant::new(Cluster, s::QUERYABLE_BACKUP_CLUSTER),
        Grant::new(Db("config"), s::FIND_ONLY),
        Grant::new(Db("local"), s::FIND_ONLY),
        Grant::new(Ns("local", "replset.election"), s::FIND_ONLY),
        Grant::new(Ns("local", "replset.minvalid"), s::FIND_ONLY),
        Grant::new(CollInAnyDb("system.js"), s::FIND_ONLY),
        Grant::new(CollInAnyDb("system.users"), s::FIND_ONLY),
        Grant::new(CollInAnyDb("system.profile"), s::FIND_ONLY),
        Grant::new(Ns("admin", "system.backup_users"), s::FIND_ONLY),
        Grant::new(Ns("admin", "system.roles"), s::FIND_ONLY),
        Grant::new(Ns("admin", "system.version"), s::FIND_ONLY),
        Grant::new(Ns("config", "settings"), s::FIND_ONLY),
    ],
};

pub static BACKUP: BuiltinRole = BuiltinRole {
    name: "backup",
    grantable: Grantable::AdminOnly,
    inherits: &[("__queryableBackup", InheritDb::Admin)],
    grants: &[
        Grant::new(Cluster, s::BACKUP_CLUSTER),
        Grant::new(Ns("config", "settings"), s::INSERT_UPDATE),
    ],
};

pub static RESTORE: BuiltinRole = BuiltinRole {
    name: "restore",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(Cluster, s::RESTORE_CLUSTER),
        Grant::new(Db("local"), s::RESTORE_WRITE),
        Grant::new(Db("config"), s::RESTORE_WRITE),
        Grant::new(AnyBuckets, s::RESTORE_WRITE),
        Grant::new(Ns("local", "system.replset"), s::RESTORE_WRITE),
        Grant::new(Ns("local", "replset.election"), s::RESTORE_WRITE),
        Grant::new(Ns("local", "replset.minvalid"), s::RESTORE_WRITE),
        Grant::new(AnyResource, s::LIST_COLLECTIONS_ONLY),
        Grant::new(AnyNormal, s::RESTORE_ANY_NORMAL),
        Grant::new(CollInAnyDb("system.js"), s::RESTORE_WRITE),
        Grant::new(Ns("admin", "tempusers"), s::FIND_ONLY),
        Grant::new(Ns("admin", "temproles"), s::FIND_ONLY),
        Grant::new(Ns("admin", "system.backup_users"), s::RESTORE_WRITE),
        Grant::new(Ns("admin", "system.version"), s::RESTORE_WRITE_FIND),
        Grant::new(CollInAnyDb("system.users"), s::RESTORE_USERS),
        Grant::new(Ns("admin", "system.roles"), s::CREATE_INDEX_ONLY),
    ],
};

pub static ROOT: BuiltinRole = BuiltinRole {
    name: "root",
    grantable: Grantable::AdminOnly,
    inherits: &[
        ("clusterAdmin", InheritDb::Admin),
        ("userAdminAnyDatabase", InheritDb::Admin),
        ("dbAdminAnyDatabase", InheritDb::Admin),
        ("readWriteAnyDatabase", InheritDb::Admin),
        ("backup", InheritDb::Admin),
        ("restore", InheritDb::Admin),
        ("directShardOperations", InheritDb::Admin),
    ],
    // root is not __system: no anyAction (JSON notes).
    grants: &[
        Grant::new(AnyResource, s::VALIDATE_ONLY),
        Grant::new(Cluster, s::USE_TENANT_ONLY),
        // JSON: since 8.0, per the manual.
        Grant::new(Cluster, s::BYPASS_MAX_TIME_ONLY),
        Grant::new(Ns("config", "system.preimages"), s::FIND_REMOVE),
        Grant::new(Ns("config", "system.change_collection"), s::CRUD),
    ],
};

pub static DIRECT_SHARD_OPERATIONS: BuiltinRole = BuiltinRole {
    name: "directShardOperations",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[Grant::new(Cluster, s::DIRECT_SHARD_ONLY)],
};

/// JSON marks this role "inferred" (8.2, yml not available): a lower bound.
pub static SEARCH_COORDINATOR: BuiltinRole = BuiltinRole {
    name: "searchCoordinator",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[
        Grant::new(AnyNormal, s::READ),
        Grant::new(Cluster, s::LIST_DATABASES_ONLY),
        Grant::new(Db("__mdb_internal_search"), s::READ_WRITE),
        Grant::new(Cluster, s::BYPASS_MAX_TIME_ONLY),
    ],
};
