//! `mongoward admin import --config FILE --project NAME`: moves a file-mode deployment's
//! clusters, users, custom roles and access list into one project of the store.
//!
//! FILE is the configuration with its new `[control_plane]` table *and* the policy tables
//! still in it. The policy tables are validated exactly as file mode would, converted to
//! records and written in one transaction (every key must be new: nothing is overwritten).
//! Each imported item gets its activity-feed event (Atlas's event type, actor
//! "admin import") in the same transaction.
//! Afterwards the policy tables are deleted from FILE by the operator.

use std::path::Path;

use thiserror::Error;
use time::format_description::well_known::Rfc3339;

use super::api::events::Event;
use super::config::ControlPlaneConfig;
use super::model::{
    self, atlas_action, AccessEntry, Cluster, CustomRole, DatabaseUser, InheritedRole, Org,
    Project, RoleAction, RoleAssignment, RoleResource, Scope, Upstream,
};
use super::store::{Expect, Op, Store, StoreError};
use crate::authz::role_config::{RoleConfig, RoleRef};
use crate::config::{now_unix, ClusterConfig, Config, ConfigError};
use crate::gates::access_list::{AccessEntryConfig, Strictness};
use crate::gates::users::UserConfig;

/// The actor of the events an import writes.
pub const ACTOR: &str = "admin import";

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {reason}")]
    Unsupported { what: String, reason: String },
}

/// What was imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub org_id: String,
    pub group_id: String,
    pub created_project: bool,
    pub clusters: usize,
    pub database_users: usize,
    pub custom_roles: usize,
    pub access_list_entries: usize,
    pub revision: i64,
}

/// Runs the import (see the module documentation).
pub async fn import(path: &Path, project_name: &str) -> Result<ImportReport, ImportError> {
    let file = path.display().to_string();
    let bad = |reason: String| ImportError::File {
        file: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let cp_value = table
        .remove("control_plane")
        .ok_or_else(|| bad("no [control_plane] table: add one that names the store".into()))?;
    let mut cp: ControlPlaneConfig = cp_value
        .try_into()
        .map_err(|e: toml::de::Error| bad(format!("control_plane: {e}")))?;
    let base = path.parent().unwrap_or(Path::new("."));
    cp.resolve_paths(base);
    cp.validate()
        .map_err(|e| bad(format!("control_plane: {e}")))?;
    // The rest is a file-mode configuration: validate it as file mode does.
    let rest = toml::to_string(&table).map_err(|e| bad(e.to_string()))?;
    let config = Config::parse(&rest, path, Strictness::Startup, now_unix())?;
    cp.password()
        .map_err(|e| bad(format!("control_plane: {e}")))?;
    let store = cp.open_store().await?;
    let org = only_org(&store).await?;
    let (project, created) = find_or_new_project(&store, &org, project_name).await?;
    let (org_id, gid) = (org.id.clone(), project.id.clone());
    // One event per imported item, as the API would have written them.
    let event = |kind: &str, target: Option<String>| {
        let mut e = Event::system(kind, ACTOR, &org_id, target);
        e.group_id = Some(gid.clone());
        e
    };
    let mut items = Vec::new();
    if created {
        let ev = event("GROUP_CREATED", Some(project.name.clone()));
        items.push((put_new(model::project_key(&gid), &project)?, ev));
    }
    for (c, _) in &config.clusters {
        let rec = cluster_record(c, &gid);
        let ev = event("CLUSTER_CREATED", Some(c.name.clone()));
        items.push((put_new(model::cluster_key(&gid, &c.name), &rec)?, ev));
    }
    for r in &config.file.roles {
        let rec = role_record(r, &gid)?;
        let ev = event("MONGODB_ROLE_ADDED", Some(r.role.clone()));
        items.push((put_new(model::custom_role_key(&gid, &r.role), &rec)?, ev));
    }
    for u in &config.file.users {
        let rec = user_record(u, &gid)?;
        let ev = event("MONGODB_USER_ADDED", None).with_username(&u.user);
        items.push((put_new(model::db_user_key(&gid, &u.db, &u.user), &rec)?, ev));
    }
    for e in &config.file.access_list {
        let rec = entry_record(e, &gid);
        let ev = event("NETWORK_PERMISSION_ENTRY_ADDED", Some(e.cidr.clone()));
        items.push((put_new(model::access_entry_key(&gid, &e.cidr), &rec)?, ev));
    }
    let mut ops = Vec::with_capacity(items.len() * 2 + 1);
    if !created {
        // The project must outlive the import (a concurrent delete makes it fail).
        ops.push(model::project_guard(&gid));
    }
    for (op, ev) in items {
        ops.push(op);
        ops.push(put_new(ev.key(), &ev)?);
    }
    let revision = store.apply(ops).await.map_err(|e| match e {
        StoreError::Conflict { key } => ImportError::Setup(format!(
            "{key} already exists in the store: nothing was imported (import into a new project, or delete the existing records first)"
        )),
        other => other.into(),
    })?;
    Ok(ImportReport {
        org_id,
        group_id: gid,
        created_project: created,
        clusters: config.clusters.len(),
        database_users: config.file.users.len(),
        custom_roles: config.file.roles.len(),
        access_list_entries: config.file.access_list.len(),
        revision,
    })
}

fn put_new(key: String, value: &impl serde::Serialize) -> Result<Op, ImportError> {
    let value = serde_json::to_value(value)
        .map_err(|e| ImportError::Setup(format!("{key}: cannot encode: {e}")))?;
    Ok(Op::Put {
        key,
        value,
        expect: Expect::Absent,
    })
}

async fn only_org(store: &Store) -> Result<Org, ImportError> {
    let orgs = store.list("orgs/").await?;
    let orgs: Vec<Org> = orgs
        .iter()
        .filter(|i| matches!(model::parse_key(&i.key), model::KeyRef::Org(_)))
        .filter_map(|i| serde_json::from_value(i.value.clone()).ok())
        .collect();
    match <[Org; 1]>::try_from(orgs) {
        Ok([org]) => Ok(org),
        Err(v) if v.is_empty() => Err(ImportError::Setup(
            "the store has no organization yet: run `mongoward admin init --config FILE` first"
                .into(),
        )),
        Err(v) => Err(ImportError::Setup(format!(
            "the store has {} organizations; import needs exactly one",
            v.len()
        ))),
    }
}

async fn find_or_new_project(
    store: &Store,
    org: &Org,
    name: &str,
) -> Result<(Project, bool), ImportError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ImportError::Setup("--project: 1 to 64 characters".into()));
    }
    let existing = store
        .list("groups/")
        .await?
        .into_iter()
        .filter(|i| matches!(model::parse_key(&i.key), model::KeyRef::Project(_)))
        .filter_map(|i| serde_json::from_value::<Project>(i.value).ok())
        .find(|p| p.org_id == org.id && p.name == name);
    if let Some(p) = existing {
        return Ok((p, false));
    }
    let created = time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| ImportError::Setup(e.to_string()))?;
    let project = Project {
        id: model::new_id(),
        name: name.to_string(),
        org_id: org.id.clone(),
        created,
    };
    Ok((project, true))
}

/// A `[[clusters]]` table as a record (paths as written, resolved against the file).
pub fn cluster_record(c: &ClusterConfig, group_id: &str) -> Cluster {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    Cluster {
        name: c.name.clone(),
        group_id: group_id.to_string(),
        upstream: Upstream {
            uri: c.uri.clone(),
            password_env: c.password_env.clone(),
            password_file: path(&c.password_file),
            tls_ca_file: path(&c.tls_ca_file),
        },
        listen: c.listen.iter().cloned().collect(),
        sni: c.sni.clone(),
    }
}

/// A `[[roles]]` table as an Atlas custom role; shapes Atlas cannot express are refused.
pub fn role_record(r: &RoleConfig, group_id: &str) -> Result<CustomRole, ImportError> {
    let unsupported = |reason: &str| ImportError::Unsupported {
        what: format!("roles {:?}", r.role),
        reason: reason.to_string(),
    };
    let mut actions: Vec<RoleAction> = Vec::new();
    for p in &r.privileges {
        let res = &p.resource;
        if res.any_resource.is_some() || res.system_buckets.is_some() {
            return Err(unsupported(
                "anyResource and system_buckets have no Atlas equivalent",
            ));
        }
        let resource = if res.cluster == Some(true) {
            RoleResource {
                cluster: Some(true),
                ..RoleResource::default()
            }
        } else {
            RoleResource {
                db: res.db.clone(),
                collection: res.collection.clone(),
                cluster: None,
            }
        };
        for a in &p.actions {
            let name = atlas_action(a);
            match actions.iter_mut().find(|x| x.action == name) {
                Some(x) => x.resources.push(resource.clone()),
                None => actions.push(RoleAction {
                    action: name,
                    resources: vec![resource.clone()],
                }),
            }
        }
    }
    let mut inherited = Vec::new();
    for rr in &r.roles {
        let parsed = rr.parse().map_err(|e| unsupported(&e.to_string()))?;
        if parsed.collection.is_some() {
            return Err(unsupported("an inherited role narrowed to a collection"));
        }
        inherited.push(InheritedRole {
            role: parsed.role.to_string(),
            db: parsed.db.unwrap_or("admin").to_string(),
        });
    }
    Ok(CustomRole {
        role_name: r.role.clone(),
        group_id: group_id.to_string(),
        actions,
        inherited_roles: inherited,
    })
}

/// A `[[users]]` table as an Atlas database user (credentials carried over as they are).
pub fn user_record(u: &UserConfig, group_id: &str) -> Result<DatabaseUser, ImportError> {
    if !u.client_source.is_empty() {
        return Err(ImportError::Unsupported {
            what: format!("users {:?}", u.user),
            reason: "client_source has no Atlas equivalent: remove it (or use the project access list) before importing".into(),
        });
    }
    if u.scopes.as_ref().is_some_and(|s| s.is_empty()) {
        // In Atlas no scopes means every cluster: importing would widen the user.
        return Err(ImportError::Unsupported {
            what: format!("users {:?}", u.user),
            reason: "scopes = [] (no cluster) has no Atlas equivalent: delete the user instead"
                .into(),
        });
    }
    let roles = u
        .roles
        .iter()
        .map(|r: &RoleRef| {
            let p = r.parse().map_err(|e| ImportError::Unsupported {
                what: format!("users {:?}", u.user),
                reason: e.to_string(),
            })?;
            Ok(RoleAssignment {
                role_name: p.role.to_string(),
                database_name: p.db.unwrap_or("admin").to_string(),
                collection_name: p.collection.map(str::to_string),
            })
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    let scopes = u
        .scopes
        .iter()
        .flatten()
        .map(|name| Scope {
            name: name.clone(),
            kind: "CLUSTER".into(),
        })
        .collect();
    Ok(DatabaseUser {
        username: u.user.clone(),
        database_name: u.db.clone(),
        group_id: group_id.to_string(),
        roles,
        scopes,
        delete_after_date: u.delete_after.clone(),
        description: None,
        labels: Vec::new(),
        credentials: u.credentials.clone(),
    })
}

pub fn entry_record(e: &AccessEntryConfig, group_id: &str) -> AccessEntry {
    let is_block = e.cidr.contains('/');
    AccessEntry {
        group_id: group_id.to_string(),
        cidr_block: is_block.then(|| e.cidr.clone()),
        ip_address: (!is_block).then(|| e.cidr.clone()),
        comment: e.comment.clone(),
        delete_after_date: e.delete_after.clone(),
    }
}
