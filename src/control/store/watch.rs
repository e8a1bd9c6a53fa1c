//! Publishes the store's latest revision on a `watch` channel. The task ends when every
//! receiver (every `Store` clone) is gone.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

use super::sql::{self, CHANNEL};
use super::{Backend, Revision};

/// SQLite has no notifications: the revision row is read this often.
const POLL: Duration = Duration::from_millis(100);
/// PostgreSQL: the revision is also read this often, which catches up on anything a
/// dropped LISTEN connection missed.
const RECHECK: Duration = Duration::from_secs(1);

pub fn start(backend: &Backend, url: &str, first: Revision) -> watch::Receiver<Revision> {
    let (tx, rx) = watch::channel(first);
    let backend = backend.clone();
    let url = super::redact_url(url);
    tokio::spawn(async move {
        match &backend {
            Backend::Sqlite(_) => poll(&backend, &tx).await,
            Backend::Postgres(pool) => listen(pool, &backend, &tx, &url).await,
        }
    });
    rx
}

fn publish(tx: &watch::Sender<Revision>, rev: Revision) {
    tx.send_if_modified(|cur| {
        let newer = rev > *cur;
        if newer {
            *cur = rev;
        }
        newer
    });
}

async fn refresh(backend: &Backend, tx: &watch::Sender<Revision>) {
    match sql::revision(backend).await {
        Ok(rev) => publish(tx, rev),
        Err(e) => tracing::debug!(error = %e, "store.watch.revision_failed"),
    }
}

async fn poll(backend: &Backend, tx: &watch::Sender<Revision>) {
    while !tx.is_closed() {
        refresh(backend, tx).await;
        tokio::time::sleep(POLL).await;
    }
}

async fn listen(pool: &PgPool, backend: &Backend, tx: &watch::Sender<Revision>, url: &str) {
    while !tx.is_closed() {
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(store = %url, error = %e, "store.watch.listen_failed");
                tokio::time::sleep(RECHECK).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(store = %url, error = %e, "store.watch.listen_failed");
            tokio::time::sleep(RECHECK).await;
            continue;
        }
        // Catch up on whatever happened while not listening.
        refresh(backend, tx).await;
        while !tx.is_closed() {
            tokio::select! {
                n = listener.try_recv() => match n {
                    Ok(Some(n)) => match n.payload().parse::<Revision>() {
                        Ok(rev) => publish(tx, rev),
                        Err(_) => refresh(backend, tx).await,
                    },
                    // The connection dropped; the next try_recv reconnects. Anything sent
                    // meanwhile is lost, so read the revision.
                    Ok(None) => refresh(backend, tx).await,
                    Err(e) => {
                        tracing::warn!(store = %url, error = %e, "store.watch.listen_lost");
                        break;
                    }
                },
                _ = tokio::time::sleep(RECHECK) => refresh(backend, tx).await,
            }
        }
    }
}
