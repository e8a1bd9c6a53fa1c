//! Expected formulas of the plain rows of commands.json, as data: (command, first field,
//! $db, resource shape, actions).

use bson::RawDocumentBuf;

use super::tests::{all, nsr, req};
use crate::authz::actions::*;
use crate::authz::model::{Action, Formula, Resource};

/// The first field of a row's command.
#[derive(Clone, Copy, Debug)]
pub(super) enum Arg {
    One,
    Str(&'static str),
}

/// The resource a row's actions are required on.
#[derive(Clone, Copy, Debug)]
pub(super) enum On {
    /// d.c
    Ns,
    /// database d
    Db,
    Cluster,
    /// x.y named in the first field
    Full,
    /// database x named in the first field
    NamedDb,
    AnyNormal,
    /// config.settings
    Settings,
    /// authentication only
    Auth,
    /// getDiagnosticData / rotateFTDC: cluster + local.oplog.rs
    Ftdc,
}

pub(super) type Row = (&'static str, Arg, &'static str, On, &'static [Action]);

use Arg::*;
use On::*;

pub(super) const ROWS: &[Row] = &[
    ("serverStatus", One, "d", Cluster, &[SERVER_STATUS]),
    ("hostInfo", One, "d", Cluster, &[HOST_INFO]),
    ("connPoolStats", One, "d", Cluster, &[CONN_POOL_STATS]),
    ("connPoolSync", One, "d", Cluster, &[CONN_POOL_SYNC]),
    ("getLog", Str("global"), "admin", Cluster, &[GET_LOG]),
    (
        "getCmdLineOpts",
        One,
        "admin",
        Cluster,
        &[GET_CMD_LINE_OPTS],
    ),
    ("getParameter", One, "admin", Cluster, &[GET_PARAMETER]),
    ("setParameter", One, "admin", Cluster, &[SET_PARAMETER]),
    (
        "getClusterParameter",
        Str("x"),
        "admin",
        Cluster,
        &[GET_CLUSTER_PARAMETER],
    ),
    (
        "setClusterParameter",
        One,
        "admin",
        Cluster,
        &[SET_CLUSTER_PARAMETER],
    ),
    (
        "getDefaultRWConcern",
        One,
        "admin",
        Cluster,
        &[GET_DEFAULT_RW_CONCERN],
    ),
    (
        "setDefaultRWConcern",
        One,
        "admin",
        Cluster,
        &[SET_DEFAULT_RW_CONCERN],
    ),
    (
        "setFeatureCompatibilityVersion",
        Str("8.0"),
        "admin",
        Cluster,
        &[SET_FEATURE_COMPATIBILITY_VERSION],
    ),
    (
        "setUserWriteBlockMode",
        One,
        "admin",
        Cluster,
        &[SET_USER_WRITE_BLOCK_MODE],
    ),
    ("logRotate", One, "admin", Cluster, &[LOG_ROTATE]),
    (
        "rotateCertificates",
        One,
        "admin",
        Cluster,
        &[ROTATE_CERTIFICATES],
    ),
    ("fsync", One, "admin", Cluster, &[FSYNC]),
    ("fsyncUnlock", One, "admin", Cluster, &[UNLOCK]),
    ("shutdown", One, "admin", Cluster, &[SHUTDOWN]),
    ("top", One, "admin", Cluster, &[TOP]),
    ("lockInfo", One, "admin", Cluster, &[SERVER_STATUS]),
    (
        "dropConnections",
        One,
        "admin",
        Cluster,
        &[DROP_CONNECTIONS],
    ),
    (
        "startRecordingTraffic",
        One,
        "admin",
        Cluster,
        &[TRAFFIC_RECORD],
    ),
    (
        "stopRecordingTraffic",
        One,
        "admin",
        Cluster,
        &[TRAFFIC_RECORD],
    ),
    (
        "appendOplogNote",
        One,
        "admin",
        Cluster,
        &[APPEND_OPLOG_NOTE],
    ),
    ("getShardMap", One, "admin", Cluster, &[GET_SHARD_MAP]),
    (
        "getDatabaseVersion",
        Str("x"),
        "admin",
        NamedDb,
        &[GET_DATABASE_VERSION],
    ),
    ("shardingState", One, "admin", Cluster, &[SHARDING_STATE]),
    ("netstat", One, "admin", Cluster, &[NETSTAT]),
    ("splitVector", Str("x.y"), "d", Full, &[SPLIT_VECTOR]),
    (
        "replSetGetStatus",
        One,
        "admin",
        Cluster,
        &[REPL_SET_GET_STATUS],
    ),
    (
        "replSetGetConfig",
        One,
        "admin",
        Cluster,
        &[REPL_SET_GET_CONFIG],
    ),
    (
        "replSetInitiate",
        One,
        "admin",
        Cluster,
        &[REPL_SET_CONFIGURE],
    ),
    (
        "replSetReconfig",
        One,
        "admin",
        Cluster,
        &[REPL_SET_CONFIGURE],
    ),
    (
        "replSetFreeze",
        One,
        "admin",
        Cluster,
        &[REPL_SET_STATE_CHANGE],
    ),
    (
        "replSetMaintenance",
        One,
        "admin",
        Cluster,
        &[REPL_SET_STATE_CHANGE],
    ),
    (
        "replSetStepDown",
        One,
        "admin",
        Cluster,
        &[REPL_SET_STATE_CHANGE],
    ),
    (
        "replSetStepUp",
        One,
        "admin",
        Cluster,
        &[REPL_SET_STATE_CHANGE],
    ),
    (
        "replSetSyncFrom",
        Str("h:1"),
        "admin",
        Cluster,
        &[REPL_SET_STATE_CHANGE],
    ),
    (
        "replSetResizeOplog",
        One,
        "admin",
        Cluster,
        &[REPL_SET_RESIZE_OPLOG],
    ),
    ("replSetHeartbeat", One, "admin", Cluster, &[INTERNAL]),
    ("replSetGetRBID", One, "admin", Cluster, &[INTERNAL]),
    (
        "enableSharding",
        Str("x"),
        "admin",
        NamedDb,
        &[ENABLE_SHARDING],
    ),
    (
        "shardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[ENABLE_SHARDING],
    ),
    (
        "refineCollectionShardKey",
        Str("x.y"),
        "admin",
        Full,
        &[REFINE_COLLECTION_SHARD_KEY],
    ),
    (
        "reshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[RESHARD_COLLECTION],
    ),
    (
        "abortReshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[RESHARD_COLLECTION],
    ),
    (
        "commitReshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[RESHARD_COLLECTION],
    ),
    (
        "cleanupReshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[RESHARD_COLLECTION],
    ),
    (
        "moveCollection",
        Str("x.y"),
        "admin",
        Full,
        &[MOVE_COLLECTION],
    ),
    (
        "abortMoveCollection",
        Str("x.y"),
        "admin",
        Full,
        &[MOVE_COLLECTION],
    ),
    (
        "unshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[UNSHARD_COLLECTION],
    ),
    (
        "abortUnshardCollection",
        Str("x.y"),
        "admin",
        Full,
        &[UNSHARD_COLLECTION],
    ),
    ("moveChunk", Str("x.y"), "admin", Full, &[MOVE_CHUNK]),
    ("moveRange", Str("x.y"), "admin", Full, &[MOVE_CHUNK]),
    ("movePrimary", Str("x"), "admin", NamedDb, &[MOVE_CHUNK]),
    ("split", Str("x.y"), "admin", Full, &[SPLIT_CHUNK]),
    (
        "clearJumboFlag",
        Str("x.y"),
        "admin",
        Full,
        &[CLEAR_JUMBO_FLAG],
    ),
    ("addShard", Str("h:1"), "admin", Cluster, &[ADD_SHARD]),
    ("removeShard", Str("s"), "admin", Cluster, &[REMOVE_SHARD]),
    ("listShards", One, "admin", Cluster, &[LIST_SHARDS]),
    (
        "flushRouterConfig",
        One,
        "admin",
        Cluster,
        &[FLUSH_ROUTER_CONFIG],
    ),
    (
        "cleanupOrphaned",
        Str("x.y"),
        "admin",
        Cluster,
        &[CLEANUP_ORPHANED],
    ),
    ("balancerStart", One, "admin", Settings, &[UPDATE]),
    ("balancerStop", One, "admin", Settings, &[UPDATE]),
    ("balancerStatus", One, "admin", Settings, &[FIND]),
    (
        "transitionFromDedicatedConfigServer",
        One,
        "admin",
        Cluster,
        &[TRANSITION_FROM_DEDICATED_CONFIG_SERVER],
    ),
    (
        "transitionToDedicatedConfigServer",
        One,
        "admin",
        Cluster,
        &[TRANSITION_TO_DEDICATED_CONFIG_SERVER],
    ),
    ("setQuerySettings", One, "admin", Cluster, &[QUERY_SETTINGS]),
    (
        "removeQuerySettings",
        One,
        "admin",
        Cluster,
        &[QUERY_SETTINGS],
    ),
    ("count", Str("c"), "d", Ns, &[FIND]),
    ("distinct", Str("c"), "d", Ns, &[FIND]),
    ("createIndexes", Str("c"), "d", Ns, &[CREATE_INDEX]),
    ("dropIndexes", Str("c"), "d", Ns, &[DROP_INDEX]),
    ("listIndexes", Str("c"), "d", Ns, &[LIST_INDEXES]),
    ("drop", Str("c"), "d", Ns, &[DROP_COLLECTION]),
    ("dropDatabase", One, "d", Db, &[DROP_DATABASE]),
    ("validate", Str("c"), "d", Ns, &[VALIDATE]),
    ("compact", Str("c"), "d", Ns, &[COMPACT]),
    ("dbStats", One, "d", Db, &[DB_STATS]),
    ("collStats", Str("c"), "d", Ns, &[COLL_STATS]),
    ("dataSize", Str("x.y"), "d", Full, &[FIND]),
    ("convertToCapped", Str("c"), "d", Ns, &[CONVERT_TO_CAPPED]),
    ("filemd5", One, "d", Db, &[FIND]),
    ("dbHash", One, "d", Db, &[DB_HASH]),
    ("planCacheClear", Str("c"), "d", Ns, &[PLAN_CACHE_WRITE]),
    (
        "planCacheClearFilters",
        Str("c"),
        "d",
        Ns,
        &[PLAN_CACHE_INDEX_FILTER],
    ),
    (
        "planCacheListFilters",
        Str("c"),
        "d",
        Ns,
        &[PLAN_CACHE_INDEX_FILTER],
    ),
    (
        "planCacheSetFilter",
        Str("c"),
        "d",
        Ns,
        &[PLAN_CACHE_INDEX_FILTER],
    ),
    ("analyze", Str("c"), "d", Ns, &[ANALYZE]),
    (
        "createSearchIndexes",
        Str("c"),
        "d",
        Ns,
        &[CREATE_SEARCH_INDEXES],
    ),
    ("dropSearchIndex", Str("c"), "d", Ns, &[DROP_SEARCH_INDEX]),
    (
        "updateSearchIndex",
        Str("c"),
        "d",
        Ns,
        &[UPDATE_SEARCH_INDEX],
    ),
    (
        "listSearchIndexes",
        Str("c"),
        "d",
        Ns,
        &[LIST_SEARCH_INDEXES],
    ),
    (
        "compactStructuredEncryptionData",
        Str("c"),
        "d",
        Ns,
        &[COMPACT_STRUCTURED_ENCRYPTION_DATA],
    ),
    (
        "cleanupStructuredEncryptionData",
        Str("c"),
        "d",
        Ns,
        &[CLEANUP_STRUCTURED_ENCRYPTION_DATA],
    ),
    ("checkShardingIndex", Str("x.y"), "d", Full, &[FIND]),
    (
        "invalidateUserCache",
        One,
        "d",
        Cluster,
        &[INVALIDATE_USER_CACHE],
    ),
    ("startSession", One, "d", Auth, &[]),
    ("refreshSessions", One, "d", Auth, &[]),
    ("refreshLogicalSessionCacheNow", One, "d", Auth, &[]),
    ("abortTransaction", One, "admin", Auth, &[]),
    ("getDiagnosticData", One, "admin", Ftdc, &[]),
    ("rotateFTDC", One, "admin", Ftdc, &[]),
    ("autoCompact", One, "admin", Cluster, &[COMPACT]),
    (
        "setProfilingFilterGlobally",
        One,
        "d",
        AnyNormal,
        &[ENABLE_PROFILER],
    ),
];

pub(super) fn body(name: &str, arg: Arg, db: &str) -> RawDocumentBuf {
    let mut b = RawDocumentBuf::new();
    match arg {
        One => b.append(name, 1),
        Str(s) => b.append(name, s),
    }
    b.append("$db", db);
    b
}

pub(super) fn expected(on: On, a: &[Action]) -> Formula<'static> {
    match on {
        Ns => all(vec![req(nsr("d", "c"), a)]),
        Db => all(vec![req(Resource::Database("d"), a)]),
        Cluster => all(vec![req(Resource::Cluster, a)]),
        Full => all(vec![req(nsr("x", "y"), a)]),
        NamedDb => all(vec![req(Resource::Database("x"), a)]),
        AnyNormal => all(vec![req(Resource::AnyNormal, a)]),
        Settings => all(vec![req(nsr("config", "settings"), a)]),
        Auth => Formula::Authenticated,
        Ftdc => all(vec![
            req(
                Resource::Cluster,
                &[SERVER_STATUS, REPL_SET_GET_STATUS, CONN_POOL_STATS],
            ),
            req(nsr("local", "oplog.rs"), &[COLL_STATS]),
        ]),
    }
}
