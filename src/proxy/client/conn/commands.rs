//! Commands the proxy answers itself because the upstream sees one shared service
//! identity: connectionStatus, usersInfo/rolesInfo, whatsmyuri and logout. The
//! ownership checks (getMore, killCursors, endSessions) are decided in `conn`.

use std::sync::Arc;

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};

use super::{Conn, Effect, Env};
use crate::gates::users::{Context, User};

fn user_doc(u: &User) -> RawDocumentBuf {
    rawdoc! { "user": u.user.as_str(), "db": u.db.as_str() }
}

fn roles_array(u: &User) -> RawArrayBuf {
    let mut roles = RawArrayBuf::new();
    for (role, db) in u.privileges.role_names() {
        roles.push(rawdoc! { "role": role, "db": db });
    }
    roles
}

impl Conn {
    /// The authenticated user under the current policy generation: a reload that changes
    /// the user's roles applies from the next command; a removed user is gone.
    pub fn current_user_in(&mut self, env: &Env) -> Option<Arc<User>> {
        let generation = env.policy.generation();
        if generation == self.user_generation {
            return self.user.clone(); // the message path: one comparison
        }
        let (cluster, peer) = (self.cluster_id.clone(), self.peer.ip());
        self.current_user(generation, |db, user| {
            let policy = env.policy.load();
            let ctx = Context {
                cluster: &cluster,
                peer,
                now: env.now,
            };
            let found = policy.users(ctx.cluster).lookup(db, user, &ctx).ok();
            (policy.generation, found.cloned())
        })
    }

    pub(super) fn logout(&mut self) -> RawDocumentBuf {
        self.log_out();
        self.conversation = None;
        self.effect(Effect::LoggedOut);
        rawdoc! { "ok": 1.0 }
    }

    pub(super) fn whats_my_uri(&self) -> RawDocumentBuf {
        rawdoc! { "you": self.peer.to_string(), "ok": 1.0 }
    }

    /// Answered with the proxy's user and roles, never the upstream service user.
    pub(super) fn connection_status(&mut self, body: &RawDocument, env: &Env) -> RawDocumentBuf {
        let mut users = RawArrayBuf::new();
        let mut roles = RawArrayBuf::new();
        let user = self.current_user_in(env);
        if let Some(u) = &user {
            users.push(user_doc(u));
            roles = roles_array(u);
        }
        let mut info = rawdoc! { "authenticatedUsers": users, "authenticatedUserRoles": roles };
        if body.get_bool("showPrivileges").unwrap_or(false) {
            let mut privs = RawArrayBuf::new();
            if let Some(u) = &user {
                for p in u.privileges.privileges() {
                    privs.push(privilege_doc(&p));
                }
            }
            info.append("authenticatedUserPrivileges", privs);
        }
        rawdoc! { "authInfo": info, "ok": 1.0 }
    }

    /// usersInfo from the configuration (authorization already checked by `decide`).
    pub(super) fn users_info(&self, body: &RawDocument, db: &str, env: &Env) -> RawDocumentBuf {
        let policy = env.policy.load();
        let ctx = Context {
            cluster: &self.cluster,
            peer: self.peer.ip(),
            now: env.now,
        };
        let wanted = |u: &User| match body.get("usersInfo") {
            Ok(Some(RawBsonRef::String(name))) => u.user == name && u.db == db,
            Ok(Some(RawBsonRef::Document(d))) => {
                d.get_str("user").ok() == Some(u.user.as_str())
                    && d.get_str("db").ok() == Some(u.db.as_str())
            }
            Ok(Some(RawBsonRef::Array(a))) => a.into_iter().flatten().any(|v| match v {
                RawBsonRef::String(name) => u.user == name && u.db == db,
                RawBsonRef::Document(d) => {
                    d.get_str("user").ok() == Some(u.user.as_str())
                        && d.get_str("db").ok() == Some(u.db.as_str())
                }
                _ => false,
            }),
            _ => u.db == db,
        };
        let mut out = RawArrayBuf::new();
        for u in policy.users(ctx.cluster).iter().filter(|u| wanted(u)) {
            let on_cluster = u
                .scopes
                .as_ref()
                .is_none_or(|s| s.iter().any(|c| c == ctx.cluster));
            if !on_cluster || !u.alive(ctx.now) {
                continue; // does not exist on this cluster (any more)
            }
            let mut mechs = RawArrayBuf::new();
            for m in u.mechanisms() {
                mechs.push(m);
            }
            let mut d = rawdoc! { "_id": format!("{}.{}", u.db, u.user), "user": u.user.as_str(), "db": u.db.as_str() };
            d.append("roles", roles_array(u));
            d.append("mechanisms", mechs);
            out.push(d);
        }
        rawdoc! { "users": out, "ok": 1.0 }
    }

    /// rolesInfo: the custom roles of this proxy (they live on admin, as Atlas's do).
    pub(super) fn roles_info(&self, body: &RawDocument, db: &str, env: &Env) -> RawDocumentBuf {
        let policy = env.policy.load();
        let catalog = policy.catalog(&self.cluster);
        let named = body.get_str("rolesInfo").ok();
        let mut out = RawArrayBuf::new();
        if db == "admin" {
            for name in catalog.custom_role_names() {
                if named.is_some_and(|n| n != name) {
                    continue;
                }
                let mut d = rawdoc! { "_id": format!("admin.{name}"), "role": name, "db": "admin", "isBuiltin": false };
                if body.get_bool("showPrivileges").unwrap_or(false) {
                    let mut privs = RawArrayBuf::new();
                    for p in catalog.custom_privileges(name).unwrap_or(&[]) {
                        privs.push(privilege_doc(p));
                    }
                    d.append("privileges", privs);
                }
                out.push(d);
            }
        }
        rawdoc! { "roles": out, "ok": 1.0 }
    }
}

pub(crate) fn privilege_doc(p: &crate::authz::model::Privilege) -> RawDocumentBuf {
    use crate::authz::model::ResourcePattern as R;
    let resource = match &p.resource {
        R::AnyResource => rawdoc! { "anyResource": true },
        R::Cluster => rawdoc! { "cluster": true },
        R::AnyNormal => rawdoc! { "db": "", "collection": "" },
        R::Database(db) => rawdoc! { "db": db.as_str(), "collection": "" },
        R::CollectionInAnyDb(c) => rawdoc! { "db": "", "collection": c.as_str() },
        R::Namespace { db, coll } => rawdoc! { "db": db.as_str(), "collection": coll.as_str() },
        R::SystemBuckets { db, coll } => {
            rawdoc! { "db": db.clone().unwrap_or_default(), "system_buckets": coll.clone().unwrap_or_default() }
        }
    };
    let mut acts = RawArrayBuf::new();
    for a in p.actions.iter() {
        acts.push(a.name());
    }
    rawdoc! { "resource": resource, "actions": acts }
}
