//! The session driver's side of the connection core: what it hands the core ([`Env`],
//! built from the shared state at the moment of asking) and how it carries out what
//! comes back (effects, and the throttle's waits).

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;

use crate::gates::scram::MIN_NONCE_BYTES;
use crate::gates::users::User;
use crate::proxy::client::conn::{Effect, Env, Outcome, Step};
use crate::proxy::client::session::Session;
use crate::proxy::state::services::Services;
use crate::proxy::upstream::UpstreamInfo;

impl Session {
    /// Performs an outcome's effects and waits out the throttle's delays (asking the core
    /// again after each); returns the step left to carry out.
    pub(crate) async fn settle(&mut self, mut out: Outcome) -> Step {
        loop {
            for effect in std::mem::take(&mut out.effects) {
                self.perform(effect);
            }
            let Step::Wait(ms) = out.step else {
                return out.step;
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            out = self.conn.resume(&env_of(&self.services, &self.facts, None));
        }
    }

    fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::Audit(event) => self.audit(event),
            Effect::AuditOrDrop(event) => self.services.auditor.emit(event),
            Effect::LoggedIn(user) => self.handle.set_user(&user.db, &user.user),
            Effect::LoggedOut => {
                self.handle.clear_user();
                // Cursors and sessions opened as that user must not outlive it.
                self.drop_upstream();
            }
        }
    }

    /// The authenticated user under the policy in force (see `Conn::current_user_in`).
    pub(crate) fn current_user(&mut self) -> Option<Arc<User>> {
        let env = env_of(&self.services, &self.facts, None);
        self.conn.current_user_in(&env)
    }

    /// The core's view of the moment (no nonce: for decisions that start no conversation).
    pub(crate) fn env(&self) -> Env<'_> {
        env_of(&self.services, &self.facts, None)
    }
}

/// What the connection core reads besides its own state, at this moment.
pub(crate) fn env_of<'a>(
    services: &'a Services,
    facts: &'a UpstreamInfo,
    nonce: Option<[u8; MIN_NONCE_BYTES]>,
) -> Env<'a> {
    let now_ms = crate::config::now_unix_ms();
    Env {
        cursors: &services.cursors,
        now: now_ms.div_euclid(1000),
        now_ms,
        policy: &services.policy,
        throttle: &services.throttle,
        stats: &services.stats,
        auditor: &services.auditor,
        identity: &services.identity,
        fake_secret: &services.fake_secret,
        upstream: facts,
        max_message_size: services.max_message_size,
        nonce,
    }
}

/// A SCRAM server nonce from the operating system's generator.
pub(crate) fn draw_nonce() -> [u8; MIN_NONCE_BYTES] {
    let mut nonce = [0u8; MIN_NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}
