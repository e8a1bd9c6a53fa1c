//! MongoDB Atlas built-in roles and "specific privileges" (`shared/authz/builtin_roles.json`
//! `atlas`). Atlas's other menu entries (readWriteAnyDatabase, readAnyDatabase, backup,
//! clusterMonitor, dbAdmin, dbAdminAnyDatabase, enableSharding, read, readWrite) are mongod
//! roles and resolve to the tables in `mongod.rs`; their UI names are in [`ALIASES`].

use super::sets as s;
use super::{BuiltinRole, Grant, Grantable, InheritDb, Target::*};
use crate::authz::actions::*;
use crate::authz::model::ActionSet;

/// atlasAdmin's extra cluster-scoped actions. The JSON marks the resources as inferred
/// ("natural reading"): cluster for these, any-normal for the sharding ones, databases
/// (any-normal) for viewRole.
const ATLAS_ADMIN_CLUSTER: ActionSet = ActionSet::of(&[
    AUTO_COMPACT,
    CHECK_METADATA_CONSISTENCY,
    CLEANUP_ORPHANED,
    COMPACT,
    FLUSH_ROUTER_CONFIG,
    KILL_ANY_CURSOR,
    QUERY_SETTINGS,
    SHARDED_DATA_DISTRIBUTION,
]);

const ATLAS_ADMIN_SHARDING: ActionSet = ActionSet::of(&[
    ANALYZE_SHARD_KEY,
    CLEAR_JUMBO_FLAG,
    ENABLE_SHARDING,
    MOVE_CHUNK,
    REFINE_COLLECTION_SHARD_KEY,
    RESHARD_COLLECTION,
    SPLIT_CHUNK,
    VIEW_ROLE,
]);

pub static ATLAS_ADMIN: BuiltinRole = BuiltinRole {
    name: "atlasAdmin",
    grantable: Grantable::AdminOnly,
    inherits: &[
        ("readWriteAnyDatabase", InheritDb::Admin),
        ("dbAdminAnyDatabase", InheritDb::Admin),
        ("clusterMonitor", InheritDb::Admin),
        ("backup", InheritDb::Admin),
    ],
    grants: &[
        Grant::new(Cluster, ATLAS_ADMIN_CLUSTER),
        Grant::new(AnyNormal, ATLAS_ADMIN_SHARDING),
        // "to manage the balancer"
        Grant::new(Ns("config", "settings"), ActionSet::of(&[UPDATE])),
    ],
};

/// Specific privilege `killOpSession`, "applies to a user-configured database": the
/// cluster-only actions go on the cluster, killCursors on the chosen database.
pub static KILL_OP_SESSION: BuiltinRole = BuiltinRole {
    name: "killOpSession",
    grantable: Grantable::AnyDatabase,
    inherits: &[],
    grants: &[
        Grant::new(
            Cluster,
            ActionSet::of(&[INPROG, KILLOP, KILL_ANY_SESSION, LIST_SESSIONS]),
        ),
        Grant::new(RoleDb, s::KILL_CURSORS_ONLY),
    ],
};

/// Specific privilege `autoCompact` (Atlas-only action, cluster-wide).
pub static AUTO_COMPACT_ROLE: BuiltinRole = BuiltinRole {
    name: "autoCompact",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[Grant::new(Cluster, ActionSet::of(&[AUTO_COMPACT]))],
};

/// Specific privilege `manageShardBalancer`.
pub static MANAGE_SHARD_BALANCER: BuiltinRole = BuiltinRole {
    name: "manageShardBalancer",
    grantable: Grantable::AdminOnly,
    inherits: &[],
    grants: &[Grant::new(
        Ns("config", "settings"),
        ActionSet::of(&[FIND, INSERT, UPDATE]),
    )],
};

/// Atlas UI names (`ui_name`) accepted as spellings of a built-in role.
pub const ALIASES: &[(&str, &str)] = &[
    ("Atlas admin", "atlasAdmin"),
    ("Read and write to any database", "readWriteAnyDatabase"),
    ("Only read any database", "readAnyDatabase"),
];
