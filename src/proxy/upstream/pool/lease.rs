//! A borrowed upstream connection: returned clean only on purpose, discarded otherwise.

use std::ops::{Deref, DerefMut};

use super::core::{ConnId, DiscardReason, Outcome};
use super::driver::{Connector, Pool};

/// A borrowed upstream connection. Return it with `clean` after a complete exchange;
/// anything else (drop, `discard`) closes it.
pub struct Lease<C: Connector> {
    pool: Pool<C>,
    id: ConnId,
    conn: Option<C::Conn>,
}

impl<C: Connector> Lease<C> {
    pub(super) fn new(pool: Pool<C>, id: ConnId, conn: C::Conn) -> Lease<C> {
        Lease {
            pool,
            id,
            conn: Some(conn),
        }
    }

    /// The pool's name for this connection.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The exchange finished and nothing is left unread: back to the pool.
    pub fn clean(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.release(self.id, conn, Outcome::Clean);
        }
    }

    /// Closes the connection, counting why.
    pub fn discard(mut self, reason: DiscardReason) {
        if let Some(conn) = self.conn.take() {
            self.pool.release(self.id, conn, Outcome::Discard(reason));
        }
    }
}

impl<C: Connector> Deref for Lease<C> {
    type Target = C::Conn;
    fn deref(&self) -> &C::Conn {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until it is consumed")
    }
}

impl<C: Connector> DerefMut for Lease<C> {
    fn deref_mut(&mut self) -> &mut C::Conn {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until it is consumed")
    }
}

impl<C: Connector> Drop for Lease<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.release(
                self.id,
                conn,
                Outcome::Discard(DiscardReason::ClientGoneMidReply),
            );
        }
    }
}
