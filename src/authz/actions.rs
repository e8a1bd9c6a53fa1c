//! Every privilege action mongod knows, as a dense index.
//!
//! Translated from `shared/authz/actions.json` (173 actions, mongod 8.x `action_type.idl`
//! plus Atlas-only names). The index of an action is its position in [`NAMES`]; the
//! constants below are generated from the same list so the two cannot drift.

use super::model::Action;

/// Number of known actions.
pub const COUNT: usize = 173;

/// Action names in index order (mongod spelling).
pub const NAMES: [&str; COUNT] = [
    "find",
    "insert",
    "remove",
    "update",
    "bypassDocumentValidation",
    "useUUID",
    "forceUUID",
    "bypassDefaultMaxTimeMS",
    "performRawDataOperations",
    "changeCustomData",
    "changeOwnCustomData",
    "changePassword",
    "changeOwnPassword",
    "createCollection",
    "createIndex",
    "createSearchIndexes",
    "dropSearchIndex",
    "updateSearchIndex",
    "listSearchIndexes",
    "createRole",
    "createUser",
    "dropCollection",
    "dropRole",
    "dropUser",
    "dropDatabase",
    "dropIndex",
    "enableProfiler",
    "grantRole",
    "revokeRole",
    "setAuthenticationRestriction",
    "viewRole",
    "viewUser",
    "collMod",
    "compact",
    "convertToCapped",
    "reIndex",
    "renameCollectionSameDB",
    "renameCollection",
    "analyze",
    "storageDetails",
    "validate",
    "dbHash",
    "dbStats",
    "collStats",
    "indexStats",
    "listCollections",
    "listIndexes",
    "planCacheRead",
    "planCacheWrite",
    "planCacheIndexFilter",
    "killCursors",
    "killAnyCursor",
    "changeStream",
    "emptycapped",
    "cleanupStructuredEncryptionData",
    "compactStructuredEncryptionData",
    "exportCollection",
    "importCollection",
    "createDatabase",
    "dropAllRolesFromDatabase",
    "dropAllUsersFromDatabase",
    "grantPrivilegesToRole",
    "grantRolesToRole",
    "grantRolesToUser",
    "revokePrivilegesFromRole",
    "revokeRolesFromRole",
    "revokeRolesFromUser",
    "updateRole",
    "updateUser",
    "applicationMessage",
    "auditConfigure",
    "auditLogRotate",
    "authCheck",
    "authenticate",
    "authSchemaUpgrade",
    "bypassWriteBlockingMode",
    "setUserWriteBlockMode",
    "closeAllDatabases",
    "connPoolSync",
    "dropConnections",
    "fsync",
    "fsyncUnlock",
    "unlock",
    "invalidateUserCache",
    "killAnySession",
    "killop",
    "logRotate",
    "oidReset",
    "rotateCertificates",
    "setParameter",
    "shutdown",
    "touch",
    "trafficRecord",
    "cpuProfiler",
    "repairDatabase",
    "resync",
    "replSetResizeOplog",
    "setFeatureCompatibilityVersion",
    "setDefaultRWConcern",
    "getDefaultRWConcern",
    "setClusterParameter",
    "getClusterParameter",
    "setChangeStreamState",
    "getChangeStreamState",
    "runTenantMigration",
    "querySettings",
    "configureQueryAnalyzer",
    "dbCheck",
    "issueDirectShardOperations",
    "useTenant",
    "impersonate",
    "internal",
    "advanceClusterTime",
    "anyAction",
    "applyOps",
    "appendOplogNote",
    "runAsLessPrivilegedUser",
    "oidcListKeys",
    "oidcRefreshKeys",
    "replSetConfigure",
    "replSetReconfig",
    "replSetGetConfig",
    "replSetGetStatus",
    "replSetHeartbeat",
    "replSetStateChange",
    "addShard",
    "removeShard",
    "listShards",
    "enableSharding",
    "shardCollection",
    "refineCollectionShardKey",
    "reshardCollection",
    "moveCollection",
    "unshardCollection",
    "analyzeShardKey",
    "moveChunk",
    "splitChunk",
    "splitVector",
    "clearJumboFlag",
    "cleanupOrphaned",
    "flushRouterConfig",
    "getShardMap",
    "getShardVersion",
    "getDatabaseVersion",
    "shardingState",
    "checkMetadataConsistency",
    "transitionFromDedicatedConfigServer",
    "transitionToDedicatedConfigServer",
    "shardedDataDistribution",
    "listSampledQueries",
    "listSessions",
    "connPoolStats",
    "getCmdLineOpts",
    "getLog",
    "getParameter",
    "hostInfo",
    "inprog",
    "listDatabases",
    "listCachedAndActiveUsers",
    "listCursors",
    "netstat",
    "serverStatus",
    "top",
    "operationMetrics",
    "allCollectionStats",
    "queryStatsRead",
    "queryStatsReadTransformed",
    "listClusterCatalog",
    "checkFreeMonitoringStatus",
    "setFreeMonitoring",
    "autoCompact",
    "telemetryRead",
    "transitionToCatalogShard",
];

/// Status of each action in `actions.json` (`checked`, `deprecated`, `removed`, `internal`, `id_only`, `atlas_only`).
pub const STATUS: [&str; COUNT] = [
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "id_only",
    "checked",
    "removed",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "deprecated",
    "checked",
    "checked",
    "removed",
    "checked",
    "checked",
    "checked",
    "checked",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "id_only",
    "checked",
    "checked",
    "id_only",
    "id_only",
    "id_only",
    "checked",
    "checked",
    "checked",
    "deprecated",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "removed",
    "checked",
    "removed",
    "removed",
    "removed",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "removed",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "internal",
    "internal",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "id_only",
    "checked",
    "checked",
    "internal",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "id_only",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "checked",
    "removed",
    "removed",
    "atlas_only",
    "removed",
    "removed",
];

pub const FIND: Action = Action(0);
pub const INSERT: Action = Action(1);
pub const REMOVE: Action = Action(2);
pub const UPDATE: Action = Action(3);
pub const BYPASS_DOCUMENT_VALIDATION: Action = Action(4);
pub const USE_UUID: Action = Action(5);
pub const FORCE_UUID: Action = Action(6);
pub const BYPASS_DEFAULT_MAX_TIME_MS: Action = Action(7);
pub const PERFORM_RAW_DATA_OPERATIONS: Action = Action(8);
pub const CHANGE_CUSTOM_DATA: Action = Action(9);
pub const CHANGE_OWN_CUSTOM_DATA: Action = Action(10);
pub const CHANGE_PASSWORD: Action = Action(11);
pub const CHANGE_OWN_PASSWORD: Action = Action(12);
pub const CREATE_COLLECTION: Action = Action(13);
pub const CREATE_INDEX: Action = Action(14);
pub const CREATE_SEARCH_INDEXES: Action = Action(15);
pub const DROP_SEARCH_INDEX: Action = Action(16);
pub const UPDATE_SEARCH_INDEX: Action = Action(17);
pub const LIST_SEARCH_INDEXES: Action = Action(18);
pub const CREATE_ROLE: Action = Action(19);
pub const CREATE_USER: Action = Action(20);
pub const DROP_COLLECTION: Action = Action(21);
pub const DROP_ROLE: Action = Action(22);
pub const DROP_USER: Action = Action(23);
pub const DROP_DATABASE: Action = Action(24);
pub const DROP_INDEX: Action = Action(25);
pub const ENABLE_PROFILER: Action = Action(26);
pub const GRANT_ROLE: Action = Action(27);
pub const REVOKE_ROLE: Action = Action(28);
pub const SET_AUTHENTICATION_RESTRICTION: Action = Action(29);
pub const VIEW_ROLE: Action = Action(30);
pub const VIEW_USER: Action = Action(31);
pub const COLL_MOD: Action = Action(32);
pub const COMPACT: Action = Action(33);
pub const CONVERT_TO_CAPPED: Action = Action(34);
pub const RE_INDEX: Action = Action(35);
pub const RENAME_COLLECTION_SAME_DB: Action = Action(36);
pub const RENAME_COLLECTION: Action = Action(37);
pub const ANALYZE: Action = Action(38);
pub const STORAGE_DETAILS: Action = Action(39);
pub const VALIDATE: Action = Action(40);
pub const DB_HASH: Action = Action(41);
pub const DB_STATS: Action = Action(42);
pub const COLL_STATS: Action = Action(43);
pub const INDEX_STATS: Action = Action(44);
pub const LIST_COLLECTIONS: Action = Action(45);
pub const LIST_INDEXES: Action = Action(46);
pub const PLAN_CACHE_READ: Action = Action(47);
pub const PLAN_CACHE_WRITE: Action = Action(48);
pub const PLAN_CACHE_INDEX_FILTER: Action = Action(49);
pub const KILL_CURSORS: Action = Action(50);
pub const KILL_ANY_CURSOR: Action = Action(51);
pub const CHANGE_STREAM: Action = Action(52);
pub const EMPTYCAPPED: Action = Action(53);
pub const CLEANUP_STRUCTURED_ENCRYPTION_DATA: Action = Action(54);
pub const COMPACT_STRUCTURED_ENCRYPTION_DATA: Action = Action(55);
pub const EXPORT_COLLECTION: Action = Action(56);
pub const IMPORT_COLLECTION: Action = Action(57);
pub const CREATE_DATABASE: Action = Action(58);
pub const DROP_ALL_ROLES_FROM_DATABASE: Action = Action(59);
pub const DROP_ALL_USERS_FROM_DATABASE: Action = Action(60);
pub const GRANT_PRIVILEGES_TO_ROLE: Action = Action(61);
pub const GRANT_ROLES_TO_ROLE: Action = Action(62);
pub const GRANT_ROLES_TO_USER: Action = Action(63);
pub const REVOKE_PRIVILEGES_FROM_ROLE: Action = Action(64);
pub const REVOKE_ROLES_FROM_ROLE: Action = Action(65);
pub const REVOKE_ROLES_FROM_USER: Action = Action(66);
pub const UPDATE_ROLE: Action = Action(67);
pub const UPDATE_USER: Action = Action(68);
pub const APPLICATION_MESSAGE: Action = Action(69);
pub const AUDIT_CONFIGURE: Action = Action(70);
pub const AUDIT_LOG_ROTATE: Action = Action(71);
pub const AUTH_CHECK: Action = Action(72);
pub const AUTHENTICATE: Action = Action(73);
pub const AUTH_SCHEMA_UPGRADE: Action = Action(74);
pub const BYPASS_WRITE_BLOCKING_MODE: Action = Action(75);
pub const SET_USER_WRITE_BLOCK_MODE: Action = Action(76);
pub const CLOSE_ALL_DATABASES: Action = Action(77);
pub const CONN_POOL_SYNC: Action = Action(78);
pub const DROP_CONNECTIONS: Action = Action(79);
pub const FSYNC: Action = Action(80);
pub const FSYNC_UNLOCK: Action = Action(81);
pub const UNLOCK: Action = Action(82);
pub const INVALIDATE_USER_CACHE: Action = Action(83);
pub const KILL_ANY_SESSION: Action = Action(84);
pub const KILLOP: Action = Action(85);
pub const LOG_ROTATE: Action = Action(86);
pub const OID_RESET: Action = Action(87);
pub const ROTATE_CERTIFICATES: Action = Action(88);
pub const SET_PARAMETER: Action = Action(89);
pub const SHUTDOWN: Action = Action(90);
pub const TOUCH: Action = Action(91);
pub const TRAFFIC_RECORD: Action = Action(92);
pub const CPU_PROFILER: Action = Action(93);
pub const REPAIR_DATABASE: Action = Action(94);
pub const RESYNC: Action = Action(95);
pub const REPL_SET_RESIZE_OPLOG: Action = Action(96);
pub const SET_FEATURE_COMPATIBILITY_VERSION: Action = Action(97);
pub const SET_DEFAULT_RW_CONCERN: Action = Action(98);
pub const GET_DEFAULT_RW_CONCERN: Action = Action(99);
pub const SET_CLUSTER_PARAMETER: Action = Action(100);
pub const GET_CLUSTER_PARAMETER: Action = Action(101);
pub const SET_CHANGE_STREAM_STATE: Action = Action(102);
pub const GET_CHANGE_STREAM_STATE: Action = Action(103);
pub const RUN_TENANT_MIGRATION: Action = Action(104);
pub const QUERY_SETTINGS: Action = Action(105);
pub const CONFIGURE_QUERY_ANALYZER: Action = Action(106);
pub const DB_CHECK: Action = Action(107);
pub const ISSUE_DIRECT_SHARD_OPERATIONS: Action = Action(108);
pub const USE_TENANT: Action = Action(109);
pub const IMPERSONATE: Action = Action(110);
pub const INTERNAL: Action = Action(111);
pub const ADVANCE_CLUSTER_TIME: Action = Action(112);
pub const ANY_ACTION: Action = Action(113);
pub const APPLY_OPS: Action = Action(114);
pub const APPEND_OPLOG_NOTE: Action = Action(115);
pub const RUN_AS_LESS_PRIVILEGED_USER: Action = Action(116);
pub const OIDC_LIST_KEYS: Action = Action(117);
pub const OIDC_REFRESH_KEYS: Action = Action(118);
pub const REPL_SET_CONFIGURE: Action = Action(119);
pub const REPL_SET_RECONFIG: Action = Action(120);
pub const REPL_SET_GET_CONFIG: Action = Action(121);
pub const REPL_SET_GET_STATUS: Action = Action(122);
pub const REPL_SET_HEARTBEAT: Action = Action(123);
pub const REPL_SET_STATE_CHANGE: Action = Action(124);
pub const ADD_SHARD: Action = Action(125);
pub const REMOVE_SHARD: Action = Action(126);
pub const LIST_SHARDS: Action = Action(127);
pub const ENABLE_SHARDING: Action = Action(128);
pub const SHARD_COLLECTION: Action = Action(129);
pub const REFINE_COLLECTION_SHARD_KEY: Action = Action(130);
pub const RESHARD_COLLECTION: Action = Action(131);
pub const MOVE_COLLECTION: Action = Action(132);
pub const UNSHARD_COLLECTION: Action = Action(133);
pub const ANALYZE_SHARD_KEY: Action = Action(134);
pub const MOVE_CHUNK: Action = Action(135);
pub const SPLIT_CHUNK: Action = Action(136);
pub const SPLIT_VECTOR: Action = Action(137);
pub const CLEAR_JUMBO_FLAG: Action = Action(138);
pub const CLEANUP_ORPHANED: Action = Action(139);
pub const FLUSH_ROUTER_CONFIG: Action = Action(140);
pub const GET_SHARD_MAP: Action = Action(141);
pub const GET_SHARD_VERSION: Action = Action(142);
pub const GET_DATABASE_VERSION: Action = Action(143);
pub const SHARDING_STATE: Action = Action(144);
pub const CHECK_METADATA_CONSISTENCY: Action = Action(145);
pub const TRANSITION_FROM_DEDICATED_CONFIG_SERVER: Action = Action(146);
pub const TRANSITION_TO_DEDICATED_CONFIG_SERVER: Action = Action(147);
pub const SHARDED_DATA_DISTRIBUTION: Action = Action(148);
pub const LIST_SAMPLED_QUERIES: Action = Action(149);
pub const LIST_SESSIONS: Action = Action(150);
pub const CONN_POOL_STATS: Action = Action(151);
pub const GET_CMD_LINE_OPTS: Action = Action(152);
pub const GET_LOG: Action = Action(153);
pub const GET_PARAMETER: Action = Action(154);
pub const HOST_INFO: Action = Action(155);
pub const INPROG: Action = Action(156);
pub const LIST_DATABASES: Action = Action(157);
pub const LIST_CACHED_AND_ACTIVE_USERS: Action = Action(158);
pub const LIST_CURSORS: Action = Action(159);
pub const NETSTAT: Action = Action(160);
pub const SERVER_STATUS: Action = Action(161);
pub const TOP: Action = Action(162);
pub const OPERATION_METRICS: Action = Action(163);
pub const ALL_COLLECTION_STATS: Action = Action(164);
pub const QUERY_STATS_READ: Action = Action(165);
pub const QUERY_STATS_READ_TRANSFORMED: Action = Action(166);
pub const LIST_CLUSTER_CATALOG: Action = Action(167);
pub const CHECK_FREE_MONITORING_STATUS: Action = Action(168);
pub const SET_FREE_MONITORING: Action = Action(169);
pub const AUTO_COMPACT: Action = Action(170);
pub const TELEMETRY_READ: Action = Action(171);
pub const TRANSITION_TO_CATALOG_SHARD: Action = Action(172);

/// Looks an action up by its mongod name (case-sensitive, as mongod is).
pub fn from_name(name: &str) -> Option<Action> {
    NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| Action(i as u8))
}
