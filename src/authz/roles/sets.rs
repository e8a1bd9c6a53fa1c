//! Action lists shared by several built-in roles (`shared/authz/builtin_roles.json`).
//! Named after what they are for, so a role table reads like the JSON it came from.

use crate::authz::actions::*;
use crate::authz::model::ActionSet;

/// read's actions on its database (and system.js).
pub const READ: ActionSet = ActionSet::of(&[
    CHANGE_STREAM,
    COLL_STATS,
    DB_HASH,
    DB_STATS,
    FIND,
    KILL_CURSORS,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
    PLAN_CACHE_READ,
]);

/// readWrite's actions: read plus document writes and collection/index DDL.
pub const READ_WRITE: ActionSet = ActionSet::of(&[
    CHANGE_STREAM,
    CLEANUP_STRUCTURED_ENCRYPTION_DATA,
    COLL_STATS,
    COMPACT_STRUCTURED_ENCRYPTION_DATA,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DB_HASH,
    DB_STATS,
    DROP_COLLECTION,
    DROP_INDEX,
    DROP_SEARCH_INDEX,
    FIND,
    INSERT,
    KILL_CURSORS,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
    PLAN_CACHE_READ,
    REMOVE,
    RENAME_COLLECTION_SAME_DB,
    UPDATE,
    UPDATE_SEARCH_INDEX,
]);

/// userAdmin's actions on its database.
pub const USER_ADMIN: ActionSet = ActionSet::of(&[
    CHANGE_CUSTOM_DATA,
    CHANGE_PASSWORD,
    CREATE_ROLE,
    CREATE_USER,
    DROP_ROLE,
    DROP_USER,
    GRANT_ROLE,
    REVOKE_ROLE,
    SET_AUTHENTICATION_RESTRICTION,
    VIEW_ROLE,
    VIEW_USER,
]);

/// userAdminAnyDatabase on any-normal: userAdmin plus listCachedAndActiveUsers.
pub const USER_ADMIN_ANY: ActionSet = ActionSet::of(&[
    CHANGE_CUSTOM_DATA,
    CHANGE_PASSWORD,
    CREATE_ROLE,
    CREATE_USER,
    DROP_ROLE,
    DROP_USER,
    GRANT_ROLE,
    LIST_CACHED_AND_ACTIVE_USERS,
    REVOKE_ROLE,
    SET_AUTHENTICATION_RESTRICTION,
    VIEW_ROLE,
    VIEW_USER,
]);

pub const USER_ADMIN_CLUSTER: ActionSet = ActionSet::of(&[
    AUTH_SCHEMA_UPGRADE,
    INVALIDATE_USER_CACHE,
    LIST_DATABASES,
    VIEW_USER,
]);

/// read plus index management (userAdminAnyDatabase on admin.system.users/roles).
pub const READ_AND_INDEXES: ActionSet = ActionSet::of(&[
    CHANGE_STREAM,
    COLL_STATS,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DB_HASH,
    DB_STATS,
    DROP_INDEX,
    DROP_SEARCH_INDEX,
    FIND,
    KILL_CURSORS,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
    PLAN_CACHE_READ,
]);

/// dbAdmin's actions on its database: no find, but bypassDocumentValidation.
pub const DB_ADMIN: ActionSet = ActionSet::of(&[
    ANALYZE,
    BYPASS_DOCUMENT_VALIDATION,
    COLL_MOD,
    COLL_STATS,
    COMPACT,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DB_STATS,
    DROP_COLLECTION,
    DROP_DATABASE,
    DROP_INDEX,
    DROP_SEARCH_INDEX,
    ENABLE_PROFILER,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
    PLAN_CACHE_INDEX_FILTER,
    PLAN_CACHE_READ,
    PLAN_CACHE_WRITE,
    RE_INDEX,
    RENAME_COLLECTION_SAME_DB,
    STORAGE_DETAILS,
    UPDATE_SEARCH_INDEX,
    VALIDATE,
]);

/// dbAdmin on system.profile, the one system collection it may read.
pub const PROFILE_READ: ActionSet = ActionSet::of(&[
    CHANGE_STREAM,
    COLL_STATS,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    DB_HASH,
    DB_STATS,
    DROP_COLLECTION,
    FIND,
    KILL_CURSORS,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
    PLAN_CACHE_READ,
]);

pub const DB_ADMIN_ANY_CLUSTER: ActionSet = ActionSet::of(&[APPLY_OPS, LIST_DATABASES]);

pub const ENABLE_SHARDING_ACTIONS: ActionSet = ActionSet::of(&[
    ANALYZE_SHARD_KEY,
    ENABLE_SHARDING,
    MOVE_COLLECTION,
    REFINE_COLLECTION_SHARD_KEY,
    RESHARD_COLLECTION,
]);

pub const CLUSTER_MONITOR_CLUSTER: ActionSet = ActionSet::of(&[
    ALL_COLLECTION_STATS,
    CONN_POOL_STATS,
    GET_CMD_LINE_OPTS,
    GET_DEFAULT_RW_CONCERN,
    GET_LOG,
    GET_PARAMETER,
    GET_SHARD_MAP,
    HOST_INFO,
    INPROG,
    LIST_DATABASES,
    LIST_SAMPLED_QUERIES,
    LIST_SESSIONS,
    LIST_SHARDS,
    NETSTAT,
    OPERATION_METRICS,
    REPL_SET_GET_CONFIG,
    REPL_SET_GET_STATUS,
    SERVER_STATUS,
    SHARDED_DATA_DISTRIBUTION,
    SHARDING_STATE,
    TOP,
    USE_UUID,
]);

/// clusterMonitor's per-database statistics.
pub const MONITOR_STATS: ActionSet = ActionSet::of(&[
    COLL_STATS,
    DB_STATS,
    GET_DATABASE_VERSION,
    GET_SHARD_VERSION,
    INDEX_STATS,
]);

pub const QUERY_STATS: ActionSet = ActionSet::of(&[QUERY_STATS_READ, QUERY_STATS_READ_TRANSFORMED]);

pub const HOST_MANAGER_CLUSTER: ActionSet = ActionSet::of(&[
    APPLICATION_MESSAGE,
    AUDIT_CONFIGURE,
    CONN_POOL_SYNC,
    DROP_CONNECTIONS,
    FLUSH_ROUTER_CONFIG,
    FSYNC,
    INVALIDATE_USER_CACHE,
    KILL_ANY_CURSOR,
    KILL_ANY_SESSION,
    KILLOP,
    LOG_ROTATE,
    OID_RESET,
    OIDC_LIST_KEYS,
    OIDC_REFRESH_KEYS,
    REPL_SET_RESIZE_OPLOG,
    RESYNC,
    ROTATE_CERTIFICATES,
    SET_PARAMETER,
    SHUTDOWN,
    TOUCH,
    TRAFFIC_RECORD,
    UNLOCK,
]);

pub const CLUSTER_MANAGER_CLUSTER: ActionSet = ActionSet::of(&[
    ADD_SHARD,
    APPEND_OPLOG_NOTE,
    APPLICATION_MESSAGE,
    CHECK_METADATA_CONSISTENCY,
    CLEANUP_ORPHANED,
    FLUSH_ROUTER_CONFIG,
    GET_CHANGE_STREAM_STATE,
    GET_CLUSTER_PARAMETER,
    GET_DEFAULT_RW_CONCERN,
    LIST_SESSIONS,
    LIST_SHARDS,
    QUERY_SETTINGS,
    REMOVE_SHARD,
    REPL_SET_CONFIGURE,
    REPL_SET_GET_CONFIG,
    REPL_SET_GET_STATUS,
    REPL_SET_STATE_CHANGE,
    RESYNC,
    RUN_TENANT_MIGRATION,
    SET_CHANGE_STREAM_STATE,
    SET_CLUSTER_PARAMETER,
    SET_DEFAULT_RW_CONCERN,
    SET_FEATURE_COMPATIBILITY_VERSION,
    TRANSITION_FROM_DEDICATED_CONFIG_SERVER,
    TRANSITION_TO_DEDICATED_CONFIG_SERVER,
]);

/// clusterManager's sharding administration on collections.
pub const SHARDING_ADMIN: ActionSet = ActionSet::of(&[
    ANALYZE_SHARD_KEY,
    CLEAR_JUMBO_FLAG,
    CONFIGURE_QUERY_ANALYZER,
    ENABLE_SHARDING,
    MOVE_CHUNK,
    MOVE_COLLECTION,
    REFINE_COLLECTION_SHARD_KEY,
    RESHARD_COLLECTION,
    SPLIT_CHUNK,
    SPLIT_VECTOR,
]);

pub const WRITE_DOCS: ActionSet = ActionSet::of(&[INSERT, REMOVE, UPDATE]);
pub const INSERT_UPDATE: ActionSet = ActionSet::of(&[INSERT, UPDATE]);
pub const FIND_REMOVE: ActionSet = ActionSet::of(&[FIND, REMOVE]);
pub const CRUD: ActionSet = ActionSet::of(&[FIND, INSERT, REMOVE, UPDATE]);
pub const EXPORT_IMPORT: ActionSet = ActionSet::of(&[EXPORT_COLLECTION, IMPORT_COLLECTION]);

/// __queryableBackup on anyResource.
pub const LIST_AND_STATS: ActionSet = ActionSet::of(&[
    COLL_STATS,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    LIST_SEARCH_INDEXES,
]);

pub const QUERYABLE_BACKUP_CLUSTER: ActionSet =
    ActionSet::of(&[GET_PARAMETER, LIST_DATABASES, USE_UUID]);

pub const BACKUP_CLUSTER: ActionSet =
    ActionSet::of(&[APPEND_OPLOG_NOTE, SERVER_STATUS, SET_USER_WRITE_BLOCK_MODE]);

pub const RESTORE_CLUSTER: ActionSet = ActionSet::of(&[
    APPLY_OPS,
    BYPASS_WRITE_BLOCKING_MODE,
    FORCE_UUID,
    GET_PARAMETER,
    SET_USER_WRITE_BLOCK_MODE,
    USE_UUID,
]);

/// What mongorestore needs to recreate a collection: no find, no update/remove.
pub const RESTORE_WRITE: ActionSet = ActionSet::of(&[
    BYPASS_DOCUMENT_VALIDATION,
    COLL_MOD,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DROP_COLLECTION,
    INSERT,
    UPDATE_SEARCH_INDEX,
]);

/// restore on any-normal: RESTORE_WRITE plus user/role management.
pub const RESTORE_ANY_NORMAL: ActionSet = ActionSet::of(&[
    BYPASS_DOCUMENT_VALIDATION,
    CHANGE_CUSTOM_DATA,
    CHANGE_PASSWORD,
    COLL_MOD,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_ROLE,
    CREATE_SEARCH_INDEXES,
    CREATE_USER,
    DROP_COLLECTION,
    DROP_ROLE,
    DROP_USER,
    GRANT_ROLE,
    INSERT,
    REVOKE_ROLE,
    SET_AUTHENTICATION_RESTRICTION,
    UPDATE_SEARCH_INDEX,
    VIEW_ROLE,
    VIEW_USER,
]);

pub const RESTORE_WRITE_FIND: ActionSet = ActionSet::of(&[
    BYPASS_DOCUMENT_VALIDATION,
    COLL_MOD,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DROP_COLLECTION,
    FIND,
    INSERT,
    UPDATE_SEARCH_INDEX,
]);

/// restore on system.users in every database.
pub const RESTORE_USERS: ActionSet = ActionSet::of(&[
    BYPASS_DOCUMENT_VALIDATION,
    COLL_MOD,
    CONVERT_TO_CAPPED,
    CREATE_COLLECTION,
    CREATE_INDEX,
    CREATE_SEARCH_INDEXES,
    DROP_COLLECTION,
    FIND,
    INSERT,
    REMOVE,
    UPDATE,
    UPDATE_SEARCH_INDEX,
]);

pub const FIND_ONLY: ActionSet = ActionSet::of(&[FIND]);
pub const LIST_DATABASES_ONLY: ActionSet = ActionSet::of(&[LIST_DATABASES]);
pub const LIST_COLLECTIONS_ONLY: ActionSet = ActionSet::of(&[LIST_COLLECTIONS]);
pub const KILL_CURSORS_ONLY: ActionSet = ActionSet::of(&[KILL_CURSORS]);
pub const COMPACT_ONLY: ActionSet = ActionSet::of(&[COMPACT]);
pub const CREATE_INDEX_ONLY: ActionSet = ActionSet::of(&[CREATE_INDEX]);
pub const DROP_DATABASE_ONLY: ActionSet = ActionSet::of(&[DROP_DATABASE]);
pub const DB_CHECK_ONLY: ActionSet = ActionSet::of(&[DB_CHECK]);
pub const VALIDATE_ONLY: ActionSet = ActionSet::of(&[VALIDATE]);
pub const USE_TENANT_ONLY: ActionSet = ActionSet::of(&[USE_TENANT]);
pub const BYPASS_MAX_TIME_ONLY: ActionSet = ActionSet::of(&[BYPASS_DEFAULT_MAX_TIME_MS]);
pub const DIRECT_SHARD_ONLY: ActionSet = ActionSet::of(&[ISSUE_DIRECT_SHARD_OPERATIONS]);
pub const UNSHARD_COLLECTION_ONLY: ActionSet = ActionSet::of(&[UNSHARD_COLLECTION]);
pub const CONFIGURE_QUERY_ANALYZER_ONLY: ActionSet = ActionSet::of(&[CONFIGURE_QUERY_ANALYZER]);
pub const LIST_CLUSTER_CATALOG_ONLY: ActionSet = ActionSet::of(&[LIST_CLUSTER_CATALOG]);
