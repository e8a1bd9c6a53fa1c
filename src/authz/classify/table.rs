//! The command table data: commands.json `commands` translated row by row (aliases
//! included). Lookup is exact, like mongod's.

use super::commands::{Rule, Spec, Special};
use super::{users, Kind};
use crate::authz::actions::*;
use crate::authz::model::{Action, ActionSet, Requirement, Resource};

const fn s(rule: Rule) -> Spec {
    Spec {
        admin_only: false,
        requires_auth: true,
        rule,
    }
}

const fn admin(rule: Rule) -> Spec {
    Spec {
        admin_only: true,
        requires_auth: true,
        rule,
    }
}

const fn noauth(kind: Kind<'static>) -> Spec {
    Spec {
        admin_only: false,
        requires_auth: false,
        rule: Rule::Session(kind),
    }
}

const fn req(resource: Resource<'static>, actions: &[Action]) -> Requirement<'static> {
    Requirement {
        resource,
        actions: ActionSet::of(actions),
    }
}

const CONFIG_SETTINGS: Resource<'static> = Resource::Namespace {
    db: "config",
    coll: "settings",
};
const CONFIG_SHARDS: Resource<'static> = Resource::Namespace {
    db: "config",
    coll: "shards",
};
const CONFIG_TAGS: Resource<'static> = Resource::Namespace {
    db: "config",
    coll: "tags",
};
const OPLOG: Resource<'static> = Resource::Namespace {
    db: "local",
    coll: "oplog.rs",
};

/// commands.json getDiagnosticData / rotateFTDC.
const FTDC: &[Requirement<'static>] = &[
    req(
        Resource::Cluster,
        &[SERVER_STATUS, REPL_SET_GET_STATUS, CONN_POOL_STATS],
    ),
    req(OPLOG, &[COLL_STATS]),
];
const ENABLE_SHARDING_CLUSTER: &[Requirement<'static>] =
    &[req(Resource::Cluster, &[ENABLE_SHARDING])];

const BALANCER_WRITE: &[Requirement<'static>] = &[req(CONFIG_SETTINGS, &[UPDATE])];
const BALANCER_READ: &[Requirement<'static>] = &[req(CONFIG_SETTINGS, &[FIND])];
const SHARDS_UPDATE: &[Requirement<'static>] = &[req(CONFIG_SHARDS, &[UPDATE])];
const SHARDS_UPDATE_TAGS_FIND: &[Requirement<'static>] =
    &[req(CONFIG_SHARDS, &[UPDATE]), req(CONFIG_TAGS, &[FIND])];
const SHARDS_FIND_TAGS_WRITE: &[Requirement<'static>] = &[
    req(CONFIG_SHARDS, &[FIND]),
    req(CONFIG_TAGS, &[FIND, UPDATE, REMOVE]),
];
/// commands.json addShardToZone / removeShardFromZone / updateZoneKeyRange alternatives.
const ADD_SHARD_TO_ZONE: &[&[Requirement<'static>]] = &[ENABLE_SHARDING_CLUSTER, SHARDS_UPDATE];
const REMOVE_SHARD_FROM_ZONE: &[&[Requirement<'static>]] =
    &[ENABLE_SHARDING_CLUSTER, SHARDS_UPDATE_TAGS_FIND];
const UPDATE_ZONE_KEY_RANGE: &[&[Requirement<'static>]] =
    &[ENABLE_SHARDING_CLUSTER, SHARDS_FIND_TAGS_WRITE];

/// Looks a command up by its exact name (mongod's lookup is case-sensitive; aliases
/// are listed explicitly).
pub(crate) fn lookup(name: &str) -> Option<Spec> {
    use Rule::*;
    use Special as X;
    Some(match name {
        "find" => s(Custom(X::Find)),
        "insert" => s(Custom(X::Insert)),
        "update" => s(Custom(X::Update)),
        "delete" => s(Ns(&[REMOVE])),
        "findAndModify" | "findandmodify" => s(Custom(X::FindAndModify)),
        "count" => s(NsUuid(&[FIND])),
        "distinct" => s(Ns(&[FIND])),
        "getMore" => s(Custom(X::GetMore)),
        "killCursors" => s(Custom(X::KillCursors)),
        "bulkWrite" => admin(Custom(X::BulkWrite)),
        "explain" => s(Custom(X::Explain)),
        "aggregate" => s(Custom(X::Aggregate)),
        "mapReduce" | "mapreduce" => s(Custom(X::MapReduce)),
        "listCollections" => s(Custom(X::ListCollections)),
        "listDatabases" => admin(Custom(X::ListDatabases)),
        "create" => s(Custom(X::Create)),
        "renameCollection" => admin(Custom(X::RenameCollection)),
        "collMod" => s(Custom(X::CollMod)),
        "cloneCollectionAsCapped" => s(Custom(X::CloneCollectionAsCapped)),
        "profile" => s(Custom(X::Profile)),
        "validateDBMetadata" => s(Custom(X::ValidateDbMetadata)),
        "features" => s(Custom(X::Features)),
        "dbCheck" => s(Custom(X::DbCheck)),
        "getShardVersion" => admin(Custom(X::GetShardVersion)),
        "mergeChunks" => admin(Custom(X::MergeChunks)),
        "checkMetadataConsistency" => s(Custom(X::CheckMetadataConsistency)),
        "applyOps" => s(Custom(X::ApplyOps)),
        _ => return lookup_session(name),
    })
}

/// Session, handshake and fixed-resource rows.
fn lookup_session(name: &str) -> Option<Spec> {
    use Rule::*;
    Some(match name {
        // Handshake and authentication: general_rules no_auth_commands.
        "hello" | "isMaster" | "ismaster" => noauth(Kind::Handshake),
        "ping" => noauth(Kind::Ping),
        "buildInfo" | "buildinfo" => noauth(Kind::BuildInfo),
        "connectionStatus" => noauth(Kind::ConnectionStatus),
        "saslStart" => noauth(Kind::SaslStart),
        "saslContinue" => noauth(Kind::SaslContinue),
        "authenticate" => noauth(Kind::Authenticate),
        "logout" => s(Session(Kind::Logout)),
        "whatsmyuri" => s(Session(Kind::WhatsMyUri)),
        "listCommands" | "startSession" | "refreshSessions" | "refreshLogicalSessionCacheNow" => {
            s(Session(Kind::Forward))
        }
        "endSessions" => s(Session(Kind::EndSessions)),
        "commitTransaction" | "abortTransaction" => admin(Session(Kind::Transaction)),
        // Every client shares the proxy's upstream identity, so "own sessions" cannot be
        // told apart upstream: killAnySession is required in all forms (brief; JSON
        // killAllSessions notes).
        "killSessions" | "killAllSessions" | "killAllSessionsByPattern" => {
            s(ClusterKind(&[KILL_ANY_SESSION], Kind::KillSessions))
        }
        // Same reasoning as killSessions: $ownOps would see every proxied client's
        // operations, so inprog is required as mongos does (JSON currentOp notes).
        "currentOp" => admin(Cluster(&[INPROG])),
        // killOp's "own operation" branch cannot be decided through a shared identity.
        "killOp" => admin(Cluster(&[KILLOP])),
        "getDiagnosticData" | "rotateFTDC" => admin(Fixed(FTDC)),
        "balancerStart" | "balancerStop" => admin(Fixed(BALANCER_WRITE)),
        "balancerStatus" => admin(Fixed(BALANCER_READ)),
        "addShardToZone" => admin(Alt(ADD_SHARD_TO_ZONE)),
        "removeShardFromZone" => admin(Alt(REMOVE_SHARD_FROM_ZONE)),
        "updateZoneKeyRange" => admin(Alt(UPDATE_ZONE_KEY_RANGE)),
        _ => {
            return lookup_data(name)
                .or_else(|| users::lookup(name))
                .or_else(|| internal(name))
        }
    })
}

/// commands.json internal_commands: `_`-prefixed commands (`_configsvr*`, `_shardsvr*`,
/// `_flushRoutingTableCache*`, ...), `cluster*` router-to-shard commands and the mongod
/// forms of the chunk commands.
fn internal(name: &str) -> Option<Spec> {
    let cluster_cmd = name
        .strip_prefix("cluster")
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase());
    let named = matches!(
        name,
        "setShardVersion" | "splitChunk" | "getQueryableEncryptionCountInfo"
    );
    (name.starts_with('_') || cluster_cmd || named).then_some(s(Rule::Internal))
}

/// The plain table rows: one rule, no field inspection beyond the first field.
fn lookup_data(name: &str) -> Option<Spec> {
    use Rule::*;
    Some(match name {
        "createIndexes" => s(Ns(&[CREATE_INDEX])),
        "dropIndexes" | "deleteIndexes" => s(Ns(&[DROP_INDEX])),
        "listIndexes" => s(NsUuid(&[LIST_INDEXES])),
        "drop" => s(Ns(&[DROP_COLLECTION])),
        "dropDatabase" => s(Db(&[DROP_DATABASE])),
        "validate" => s(Ns(&[VALIDATE])),
        "compact" => s(Ns(&[COMPACT])),
        // Not in commands.json; mongod 8 still has it (standalone servers only), with the
        // reIndex action on the namespace (dbAdmin, dbOwner, root).
        "reIndex" => s(Ns(&[RE_INDEX])),
        "dbStats" | "dbstats" => s(Db(&[DB_STATS])),
        "collStats" | "collstats" => s(Ns(&[COLL_STATS])),
        "dataSize" | "datasize" | "checkShardingIndex" => s(FullNs(&[FIND])),
        "convertToCapped" => s(Ns(&[CONVERT_TO_CAPPED])),
        "filemd5" => s(Db(&[FIND])),
        "dbHash" | "dbhash" => s(Db(&[DB_HASH])),
        "planCacheClear" => s(Ns(&[PLAN_CACHE_WRITE])),
        // JSON planCacheClearFilters notes: list/set filters use the same action.
        "planCacheClearFilters" | "planCacheListFilters" | "planCacheSetFilter" => {
            s(Ns(&[PLAN_CACHE_INDEX_FILTER]))
        }
        "analyze" => s(Ns(&[ANALYZE])),
        "createSearchIndexes" => s(Ns(&[CREATE_SEARCH_INDEXES])),
        "dropSearchIndex" => s(Ns(&[DROP_SEARCH_INDEX])),
        "updateSearchIndex" => s(Ns(&[UPDATE_SEARCH_INDEX])),
        "listSearchIndexes" => s(Ns(&[LIST_SEARCH_INDEXES])),
        "compactStructuredEncryptionData" => s(Ns(&[COMPACT_STRUCTURED_ENCRYPTION_DATA])),
        "cleanupStructuredEncryptionData" => s(Ns(&[CLEANUP_STRUCTURED_ENCRYPTION_DATA])),
        "invalidateUserCache" => s(Cluster(&[INVALIDATE_USER_CACHE])),
        "serverStatus" => s(Cluster(&[SERVER_STATUS])),
        "hostInfo" => s(Cluster(&[HOST_INFO])),
        "connPoolStats" => s(Cluster(&[CONN_POOL_STATS])),
        "connPoolSync" => s(Cluster(&[CONN_POOL_SYNC])),
        "setProfilingFilterGlobally" => s(AnyNormal(&[ENABLE_PROFILER])),
        "splitVector" => s(FullNs(&[SPLIT_VECTOR])),
        _ => return lookup_admin_data(name),
    })
}

/// Admin-only rows of the plain table.
fn lookup_admin_data(name: &str) -> Option<Spec> {
    use Rule::*;
    Some(match name {
        "getLog" => admin(Cluster(&[GET_LOG])),
        "getCmdLineOpts" => admin(Cluster(&[GET_CMD_LINE_OPTS])),
        "getParameter" => admin(Cluster(&[GET_PARAMETER])),
        "setParameter" => admin(Cluster(&[SET_PARAMETER])),
        "getClusterParameter" => admin(Cluster(&[GET_CLUSTER_PARAMETER])),
        "setClusterParameter" => admin(Cluster(&[SET_CLUSTER_PARAMETER])),
        "getDefaultRWConcern" => admin(Cluster(&[GET_DEFAULT_RW_CONCERN])),
        "setDefaultRWConcern" => admin(Cluster(&[SET_DEFAULT_RW_CONCERN])),
        "setFeatureCompatibilityVersion" => admin(Cluster(&[SET_FEATURE_COMPATIBILITY_VERSION])),
        "setUserWriteBlockMode" => admin(Cluster(&[SET_USER_WRITE_BLOCK_MODE])),
        "logRotate" => admin(Cluster(&[LOG_ROTATE])),
        "rotateCertificates" => admin(Cluster(&[ROTATE_CERTIFICATES])),
        "fsync" => admin(Cluster(&[FSYNC])),
        "fsyncUnlock" => admin(Cluster(&[UNLOCK])),
        "shutdown" => admin(Cluster(&[SHUTDOWN])),
        "top" => admin(Cluster(&[TOP])),
        "lockInfo" => admin(Cluster(&[SERVER_STATUS])),
        "dropConnections" => admin(Cluster(&[DROP_CONNECTIONS])),
        "startRecordingTraffic" | "stopRecordingTraffic" => admin(Cluster(&[TRAFFIC_RECORD])),
        // JSON autoCompact notes: 7.3+ checks `compact` on the cluster.
        "autoCompact" => admin(Cluster(&[COMPACT])),
        "appendOplogNote" => admin(Cluster(&[APPEND_OPLOG_NOTE])),
        "getShardMap" => admin(Cluster(&[GET_SHARD_MAP])),
        "getDatabaseVersion" => admin(NamedDb(&[GET_DATABASE_VERSION])),
        "shardingState" => admin(Cluster(&[SHARDING_STATE])),
        "netstat" => admin(Cluster(&[NETSTAT])),
        _ => return lookup_repl_shard(name),
    })
}

/// Replication and sharding rows (all admin-only).
fn lookup_repl_shard(name: &str) -> Option<Spec> {
    use Rule::*;
    Some(match name {
        "replSetGetStatus" => admin(Cluster(&[REPL_SET_GET_STATUS])),
        "replSetGetConfig" => admin(Cluster(&[REPL_SET_GET_CONFIG])),
        "replSetInitiate" | "replSetReconfig" => admin(Cluster(&[REPL_SET_CONFIGURE])),
        "replSetFreeze" | "replSetMaintenance" | "replSetStepDown" | "replSetStepUp"
        | "replSetSyncFrom" => admin(Cluster(&[REPL_SET_STATE_CHANGE])),
        "replSetResizeOplog" => admin(Cluster(&[REPL_SET_RESIZE_OPLOG])),
        "replSetHeartbeat" | "replSetGetRBID" => admin(Internal),
        "enableSharding" => admin(NamedDb(&[ENABLE_SHARDING])),
        "shardCollection" => admin(FullNs(&[ENABLE_SHARDING])),
        "refineCollectionShardKey" => admin(FullNs(&[REFINE_COLLECTION_SHARD_KEY])),
        "reshardCollection"
        | "abortReshardCollection"
        | "commitReshardCollection"
        | "cleanupReshardCollection" => admin(FullNs(&[RESHARD_COLLECTION])),
        "moveCollection" | "abortMoveCollection" => admin(FullNs(&[MOVE_COLLECTION])),
        "unshardCollection" | "abortUnshardCollection" => admin(FullNs(&[UNSHARD_COLLECTION])),
        "moveChunk" | "moveRange" => admin(FullNs(&[MOVE_CHUNK])),
        "movePrimary" => admin(NamedDb(&[MOVE_CHUNK])),
        "split" => admin(FullNs(&[SPLIT_CHUNK])),
        "clearJumboFlag" => admin(FullNs(&[CLEAR_JUMBO_FLAG])),
        "addShard" => admin(Cluster(&[ADD_SHARD])),
        "removeShard" => admin(Cluster(&[REMOVE_SHARD])),
        "listShards" => admin(Cluster(&[LIST_SHARDS])),
        "flushRouterConfig" => admin(Cluster(&[FLUSH_ROUTER_CONFIG])),
        "cleanupOrphaned" => admin(Cluster(&[CLEANUP_ORPHANED])),
        "transitionFromDedicatedConfigServer" => {
            admin(Cluster(&[TRANSITION_FROM_DEDICATED_CONFIG_SERVER]))
        }
        "transitionToDedicatedConfigServer" => {
            admin(Cluster(&[TRANSITION_TO_DEDICATED_CONFIG_SERVER]))
        }
        "setQuerySettings" | "removeQuerySettings" => admin(Cluster(&[QUERY_SETTINGS])),
        _ => return None,
    })
}
