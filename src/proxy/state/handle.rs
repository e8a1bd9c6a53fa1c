//! The handle through which the rest of the proxy reaches one live connection: who it
//! is (address, cluster, user) for revocation sweeps, and its stop signal.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::config::OnRevoke;
use crate::gates::access_list::{Decision, DenyReason};
use crate::gates::users::{Absent, Context};
use crate::ops::audit::{ConnCtx, Principal, RevokeReason, UserRef};
use crate::proxy::state::signal::{Stop, StopSignal, Wait};

/// What the registry knows about one live connection.
pub struct SessionHandle {
    /// The address the access list admitted (after PROXY protocol, if any).
    pub ip: IpAddr,
    /// The cluster the connection belongs to.
    pub cluster: String,
    /// (authentication db, user) once authenticated.
    user: ArcSwapOption<(String, String)>,
    /// Where the connection is, for the audit event that reports its revocation.
    pub ctx: ConnCtx,
    stop: StopSignal,
}

impl SessionHandle {
    pub fn new(ip: IpAddr, cluster: &str, ctx: ConnCtx) -> SessionHandle {
        SessionHandle {
            ip,
            cluster: cluster.to_string(),
            user: ArcSwapOption::empty(),
            ctx,
            stop: StopSignal::default(),
        }
    }

    pub fn set_user(&self, db: &str, user: &str) {
        self.user
            .store(Some(Arc::new((db.to_string(), user.to_string()))));
    }

    pub fn clear_user(&self) {
        self.user.store(None);
    }

    /// Why the current policy no longer admits this connection, if it does not.
    pub(crate) fn revoked_by(
        &self,
        policy: &super::policy::Policy,
        now: i64,
    ) -> Option<RevokeReason> {
        // A deleted cluster (store mode) takes its connections with it.
        if !policy.has_cluster(&self.cluster) {
            return Some(RevokeReason::ClusterRemoved);
        }
        let access = policy.access(&self.cluster);
        let close_on_access = policy.on_revoke == OnRevoke::Close;
        if close_on_access && !access.still_admits(self.ip, now) {
            return Some(match access.check(self.ip, now) {
                Decision::Deny(DenyReason::OnlyExpiredEntry) => RevokeReason::AccessEntryExpired,
                _ => RevokeReason::AccessEntryRemoved,
            });
        }
        let user = self.user.load();
        let (db, name) = user.as_deref()?;
        let ctx = Context {
            cluster: &self.cluster,
            peer: self.ip,
            now,
        };
        policy
            .users(&self.cluster)
            .lookup(db, name, &ctx)
            .err()
            .map(|a| match a {
                Absent::Expired => RevokeReason::UserExpired,
                Absent::OutOfScope => RevokeReason::ScopeNarrowed,
                Absent::Unknown | Absent::SourceRestricted => RevokeReason::UserRemoved,
            })
    }

    pub(crate) fn principal(&self) -> Principal {
        let user = self.user.load();
        let users = user
            .as_deref()
            .map(|(db, name)| UserRef {
                user: name.clone(),
                db: db.clone(),
            })
            .into_iter()
            .collect();
        Principal {
            users,
            roles: Vec::new(),
        }
    }

    /// Asks the session to close; it notices even if it is not waiting right now.
    /// True the first time only: the revocation is reported once per connection.
    pub fn revoke(&self) -> bool {
        self.stop.raise(Stop::Revoked)
    }

    /// Asks the session to finish the message under way and close (shutdown).
    pub fn drain(&self) {
        self.stop.raise(Stop::Drain);
    }

    /// Closes the session now, whatever it waits for (a drain that ran out of time).
    pub fn close_now(&self) {
        self.stop.raise(Stop::Revoked);
    }

    /// Resolves when the session has been asked to stop, saying why.
    pub fn stopped(&self) -> Wait<'_> {
        self.stop.wait()
    }

    /// The stop asked for so far, if any (one atomic read).
    pub fn raised(&self) -> Option<Stop> {
        self.stop.raised()
    }

    /// Resolves when the session is revoked (a drain does not count).
    pub fn revoked(&self) -> Wait<'_> {
        self.stop.wait_revoked()
    }
}
