//! What one session may hold on to: the login deadline of an unauthenticated connection
//! and audit events waiting for queue space (`[audit] on_full = "block"`).

use std::pin::Pin;

use tokio::time::Sleep;

use crate::proxy::client::conn::{self, LoginDeadline};
use crate::proxy::client::session::Session;

impl Session {
    /// Carries out `conn::login_deadline` on the connection's timer.
    pub(crate) fn update_login_deadline(&mut self, login: &mut Option<Pin<Box<Sleep>>>) {
        let Some(d) = self.services.login_timeout else {
            return;
        };
        let hello = std::mem::take(&mut self.conn.hello_seen);
        let authenticated = self.conn.user.is_some();
        match conn::login_deadline(login.is_some(), authenticated, hello) {
            LoginDeadline::Disarm => *login = None,
            LoginDeadline::Restart => {
                if let Some(timer) = login.as_mut() {
                    timer.as_mut().reset(tokio::time::Instant::now() + d);
                }
            }
            LoginDeadline::Arm => *login = Some(Box::pin(tokio::time::sleep(d))),
            LoginDeadline::Keep => {}
        }
    }

    /// Records an audit event from the message path. With `on_full = "block"` and a full
    /// queue the event waits here and the loop sends it before reading the next message.
    pub(crate) fn audit(&mut self, event: crate::ops::audit::AuditEvent) {
        if let Err(event) = self.services.auditor.try_emit(event) {
            self.audit_backlog.push(*event);
        }
    }

    /// Sends the events `audit` had to keep, waiting for queue space.
    pub(crate) async fn flush_audit_backlog(&mut self) {
        for event in std::mem::take(&mut self.audit_backlog) {
            self.services.auditor.emit_blocking(event).await;
        }
    }
}
