//! Records -> the data plane's per-project policy.
//!
//! Compiling is isolated per record: a record the data plane cannot use (an unknown
//! action, a scope naming no cluster, a bad CIDR) is left out with a warning, and what
//! it would have granted is simply not granted. One bad record never blocks the rest of
//! its project, so revocations always apply.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::authz::privileges::{RoleCatalog, RoleError};
use crate::authz::role_config::{
    PrivilegeConfig, ResourceConfig, RoleConfig, RoleRef, RoleRefTable,
};
use crate::config::pool::PoolConfig;
use crate::config::{clusters, ClusterConfig, ConfigError, UpstreamUri};
use crate::gates::access_list::{
    AccessEntryConfig, AccessList, AccessListError, BuildOptions, Strictness,
};
use crate::gates::users::{Directory, UserConfig};
use crate::proxy::server::live::Desired;
use crate::proxy::state::policy::ProjectPolicy;

use super::model::{
    mongod_action, parse_key, AccessEntry, Cluster, CustomRole, DatabaseUser, KeyRef, Project,
};
use super::store::Item;

/// Everything the store holds about one project's data plane.
#[derive(Debug, Clone, Default)]
pub struct ProjectRecords {
    pub project: Option<Project>,
    pub id: String,
    pub clusters: Vec<Cluster>,
    pub users: Vec<DatabaseUser>,
    pub roles: Vec<CustomRole>,
    pub entries: Vec<AccessEntry>,
}

/// How records become data-plane configuration.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Relative paths in cluster records (password files, CA files) resolve against this.
    pub base: std::path::PathBuf,
    /// Longest lifetime of a temporary access-list entry or user (Atlas: 7 days).
    pub max_temporary_days: i64,
    /// The `pool` table every store cluster runs with (`[control_plane] cluster_pool`):
    /// a cluster record carries none, so pooling is the operator's process-wide choice.
    pub cluster_pool: PoolConfig,
}

/// The result of compiling, with what was left out and why.
pub struct Compiled {
    pub desired: Desired,
    pub warnings: Vec<String>,
}

/// Sorts the items under `groups/` into projects (pure). Values that do not parse are
/// warnings; keys of other kinds (cp-api's records) are ignored.
pub fn group_items(items: &[Item]) -> (Vec<ProjectRecords>, Vec<String>) {
    let mut by_id: BTreeMap<String, ProjectRecords> = BTreeMap::new();
    let mut warnings = Vec::new();
    for item in items {
        let key = parse_key(&item.key);
        let Some(group) = key.project() else { continue };
        let rec = by_id
            .entry(group.to_string())
            .or_insert_with(|| ProjectRecords {
                id: group.to_string(),
                ..ProjectRecords::default()
            });
        let v = item.value.clone();
        let parsed = match key {
            KeyRef::Project(_) => serde_json::from_value(v).map(|p| rec.project = Some(p)),
            KeyRef::Cluster { .. } => serde_json::from_value(v).map(|c| rec.clusters.push(c)),
            KeyRef::DatabaseUser { .. } => serde_json::from_value(v).map(|u| rec.users.push(u)),
            KeyRef::CustomRole { .. } => serde_json::from_value(v).map(|r| rec.roles.push(r)),
            KeyRef::AccessEntry { .. } => serde_json::from_value(v).map(|e| rec.entries.push(e)),
            _ => Ok(()),
        };
        if let Err(e) = parsed {
            warnings.push(format!("{}: unreadable record: {e}", item.key));
        }
    }
    // Records of a project whose own record is gone (deleted) serve nothing.
    let projects = by_id
        .into_values()
        .filter(|p| p.project.is_some())
        .collect();
    (projects, warnings)
}

/// Compiles every project. Cluster names are unique across projects (a connection's
/// cluster decides its project); a later duplicate is left out.
pub fn compile(projects: &[ProjectRecords], opts: &CompileOptions, now: i64) -> Compiled {
    let mut warnings = Vec::new();
    let mut desired = Desired {
        projects: Vec::new(),
        clusters: Vec::new(),
    };
    let mut taken = HashSet::new();
    for p in projects {
        let mut names = Vec::new();
        for c in &p.clusters {
            if !taken.insert(c.name.clone()) {
                warnings.push(format!(
                    "cluster {:?} of project {}: the name is already used by another project",
                    c.name, p.id
                ));
                continue;
            }
            match cluster_config(c, &opts.base) {
                Ok((mut config, uri)) => {
                    config.pool = opts.cluster_pool.clone();
                    names.push(c.name.clone());
                    desired.clusters.push((config, uri));
                }
                Err(e) => warnings.push(format!("cluster {:?} of project {}: {e}", c.name, p.id)),
            }
        }
        let policy = project_policy(p, &names, opts, now, &mut warnings);
        desired.projects.push((policy, names));
    }
    Compiled { desired, warnings }
}

fn project_policy(
    p: &ProjectRecords,
    clusters: &[String],
    opts: &CompileOptions,
    now: i64,
    warnings: &mut Vec<String>,
) -> ProjectPolicy {
    let mut warn = |what: String| warnings.push(format!("project {}: {what}", p.id));
    let catalog = catalog(&p.roles, &mut warn);
    let users = directory(&p.users, &catalog, clusters, &mut warn);
    let access = access_list(&p.entries, opts, now, &mut warn);
    ProjectPolicy {
        id: p.id.clone(),
        access,
        users: std::sync::Arc::new(users),
        catalog: std::sync::Arc::new(catalog),
    }
}

/// A cluster record as `[[clusters]]` would have it, validated the same way.
pub fn cluster_config(c: &Cluster, base: &Path) -> Result<(ClusterConfig, UpstreamUri), String> {
    if c.listen.len() > 1 {
        return Err("listen: at most one address per cluster".into());
    }
    // Defaults for the fields a cluster record does not carry (timeouts, and `pool`, which
    // `compile` sets from `[control_plane] cluster_pool`), as the TOML has.
    let defaults: ClusterConfig =
        toml::from_str("name = \"\"\nuri = \"\"").map_err(|e| format!("cluster defaults: {e}"))?;
    let mut list = [ClusterConfig {
        name: c.name.clone(),
        uri: c.upstream.uri.clone(),
        password_env: c.upstream.password_env.clone(),
        password_file: c.upstream.password_file.as_ref().map(Into::into),
        tls_ca_file: c.upstream.tls_ca_file.as_ref().map(Into::into),
        listen: c.listen.first().cloned(),
        sni: c.sni.clone(),
        ..defaults
    }];
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        file: "store".into(),
        key: key.into(),
        reason,
    };
    let mut out = clusters::validate(&mut list, base, &invalid).map_err(|e| match e {
        ConfigError::Invalid { key, reason, .. } => {
            format!("{}: {reason}", key.trim_start_matches("clusters[0]."))
        }
        other => other.to_string(),
    })?;
    if let Some(addr) = &list[0].listen {
        addr.parse::<std::net::SocketAddr>()
            .map_err(|e| format!("listen: '{addr}' is not an ip:port address ({e})"))?;
    }
    out.pop().ok_or_else(|| "no cluster".to_string())
}

/// An Atlas custom role in the data plane's role shape (pure).
pub fn role_config(r: &CustomRole) -> Result<RoleConfig, String> {
    let mut privileges: Vec<PrivilegeConfig> = Vec::new();
    for (i, a) in r.actions.iter().enumerate() {
        let action = mongod_action(&a.action)
            .ok_or_else(|| format!("actions[{i}]: unknown action {:?}", a.action))?;
        if a.resources.is_empty() {
            return Err(format!("actions[{i}] ({}): no resources", a.action));
        }
        for res in &a.resources {
            let resource = if res.cluster == Some(true) {
                ResourceConfig {
                    cluster: Some(true),
                    ..ResourceConfig::default()
                }
            } else {
                ResourceConfig {
                    db: Some(res.db.clone().unwrap_or_default()),
                    collection: Some(res.collection.clone().unwrap_or_default()),
                    ..ResourceConfig::default()
                }
            };
            match privileges.iter_mut().find(|p| p.resource == resource) {
                Some(p) if !p.actions.iter().any(|x| x == action) => p.actions.push(action.into()),
                Some(_) => {}
                None => privileges.push(PrivilegeConfig {
                    resource,
                    actions: vec![action.into()],
                }),
            }
        }
    }
    let roles = r
        .inherited_roles
        .iter()
        .map(|i| {
            RoleRef::Table(RoleRefTable {
                role: i.role.clone(),
                db: Some(i.db.clone()),
                collection: None,
            })
        })
        .collect();
    Ok(RoleConfig {
        role: r.role_name.clone(),
        privileges,
        roles,
    })
}

/// The project's custom roles; a role that does not compile (or inherits from one that
/// does not) is left out, and so are the roles caught in an inheritance cycle.
fn catalog(roles: &[CustomRole], warn: &mut impl FnMut(String)) -> RoleCatalog {
    let mut configs: Vec<RoleConfig> = Vec::new();
    for r in roles {
        match role_config(r) {
            Ok(c) => configs.push(c),
            Err(e) => warn(format!("custom role {:?} left out: {e}", r.role_name)),
        }
    }
    // Each round removes at least one role, so this ends.
    loop {
        match RoleCatalog::build(&configs) {
            Ok(c) => return c,
            Err(e) => {
                let drop: Vec<String> = match &e {
                    RoleError::InRole { role, .. } => vec![role.clone()],
                    RoleError::Cycle { path } => path.clone(),
                    RoleError::InUser { .. } => configs.iter().map(|c| c.role.clone()).collect(),
                };
                warn(format!("custom role(s) {drop:?} left out: {e}"));
                let before = configs.len();
                configs.retain(|c| !drop.contains(&c.role));
                if configs.len() == before {
                    return RoleCatalog::default();
                }
            }
        }
    }
}

/// An Atlas database user in the data plane's user shape (pure). Scopes name clusters of
/// the project; one that names no (longer existing) cluster scopes to nothing there.
pub fn user_config(u: &DatabaseUser, clusters: &[String]) -> UserConfig {
    let scopes = (!u.scopes.is_empty()).then(|| {
        u.scopes
            .iter()
            .filter(|s| s.kind == "CLUSTER" && clusters.contains(&s.name))
            .map(|s| s.name.clone())
            .collect()
    });
    UserConfig {
        user: u.username.clone(),
        db: u.database_name.clone(),
        roles: u
            .roles
            .iter()
            .map(|r| {
                RoleRef::Table(RoleRefTable {
                    role: r.role_name.clone(),
                    db: Some(r.database_name.clone()),
                    collection: r.collection_name.clone().filter(|c| !c.is_empty()),
                })
            })
            .collect(),
        scopes,
        delete_after: u.delete_after_date.clone(),
        client_source: Vec::new(),
        credentials: u.credentials.clone(),
    }
}

fn directory(
    users: &[DatabaseUser],
    catalog: &RoleCatalog,
    clusters: &[String],
    warn: &mut impl FnMut(String),
) -> Directory {
    let mut good = Vec::with_capacity(users.len());
    for u in users {
        let c = user_config(u, clusters);
        match Directory::build(std::slice::from_ref(&c), catalog, clusters) {
            Ok(_) => good.push(c),
            Err(e) => warn(format!(
                "database user {}@{} left out: {e}",
                u.username, u.database_name
            )),
        }
    }
    Directory::build(&good, catalog, clusters).unwrap_or_else(|e| {
        warn(format!("database users left out: {e}"));
        Directory::default()
    })
}

fn access_list(
    entries: &[AccessEntry],
    opts: &CompileOptions,
    now: i64,
    warn: &mut impl FnMut(String),
) -> AccessList {
    let build = BuildOptions {
        // Entries that ran out since they were written simply stop matching.
        strictness: Strictness::Reload,
        ..BuildOptions::with_max_temporary_days(opts.max_temporary_days)
    };
    let mut good = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(value) = e.value() else {
            warn("access-list entry without cidrBlock or ipAddress left out".into());
            continue;
        };
        let c = AccessEntryConfig {
            cidr: value.to_string(),
            comment: e.comment.clone(),
            delete_after: e.delete_after_date.clone(),
        };
        match AccessList::build(std::slice::from_ref(&c), &build, now) {
            Ok(_) => good.push(c),
            Err(err) => warn(format!("access-list entry {value} left out: {err}")),
        }
    }
    // Each round removes one entry, so this ends.
    loop {
        match AccessList::build(&good, &build, now) {
            Ok((list, _)) => return list,
            Err(AccessListError::DuplicateCidr { index, .. }) if index < good.len() => {
                // Two spellings of one block (10.0.0.1 and 10.0.0.1/32): keep the first.
                good.remove(index);
            }
            Err(err) => {
                // Fail closed: too many entries refuses everyone rather than guessing.
                warn(format!("access list left empty: {err}"));
                return AccessList::build(&[], &build, now)
                    .map(|(l, _)| l)
                    .unwrap_or_else(|e| unreachable!("empty access list: {e}"));
            }
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
