//! The bounded queue between sessions and the writer task. Serialisation happens in the
//! writer, so emitting costs a channel push; the queue bound caps memory when the
//! destination is slower than the event rate.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::warn;

use super::{AuditConfig, AuditEvent, Destination, OnFull, UserRef};

/// Seconds between two "audit events dropped" warnings.
const DROP_WARN_INTERVAL_SECS: i64 = 10;
/// Events written per batch before the writer flushes.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit.path {path}: cannot open for appending: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

enum Item {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

struct Inner {
    tx: mpsc::Sender<Item>,
    on_full: OnFull,
    log_allowed: bool,
    filter: super::AllowedFilter,
    dropped: Arc<AtomicU64>,
    last_warn: AtomicI64,
}

/// A cheap, cloneable handle. A disabled auditor accepts and discards everything.
#[derive(Clone, Default)]
pub struct Auditor {
    inner: Option<Arc<Inner>>,
}

impl Auditor {
    /// An auditor that records nothing.
    pub fn disabled() -> Auditor {
        Auditor { inner: None }
    }

    /// Opens the destination and starts the writer (needs a tokio runtime). The writer
    /// ends, after writing everything queued, when the last handle is dropped.
    pub fn start(cfg: &AuditConfig) -> Result<(Auditor, JoinHandle<()>), AuditError> {
        Auditor::start_counted(cfg, Arc::default())
    }

    /// As [`Auditor::start`], counting drops in `dropped` (the metrics registry's counter).
    pub fn start_counted(
        cfg: &AuditConfig,
        dropped: Arc<AtomicU64>,
    ) -> Result<(Auditor, JoinHandle<()>), AuditError> {
        if !cfg.enabled {
            return Ok((Auditor::disabled(), tokio::spawn(async {})));
        }
        let out: Box<dyn AsyncWrite + Send + Unpin> = match (cfg.destination, &cfg.path) {
            (Destination::File, Some(path)) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AuditError::Open {
                        path: path.display().to_string(),
                        source,
                    })?;
                Box::new(tokio::fs::File::from_std(file))
            }
            _ => Box::new(tokio::io::stdout()),
        };
        let (tx, rx) = mpsc::channel(cfg.queue_capacity.max(1));
        let inner = Inner {
            tx,
            on_full: cfg.on_full,
            log_allowed: cfg.log_allowed,
            filter: cfg.filter.clone(),
            dropped,
            last_warn: AtomicI64::new(i64::MIN),
        };
        let handle = tokio::spawn(writer(rx, out));
        Ok((
            Auditor {
                inner: Some(Arc::new(inner)),
            },
            handle,
        ))
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether an allowed command should be logged; ask before building the event.
    pub fn wants_allowed(&self, user: Option<&UserRef>, db: &str, command: &str) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.log_allowed && i.filter.matches(user, db, command))
    }

    /// Queues an event without ever waiting; a full queue drops it (counted, warned).
    pub fn emit(&self, event: AuditEvent) {
        let Some(inner) = &self.inner else { return };
        if inner.tx.try_send(Item::Event(Box::new(event))).is_err() {
            inner.dropped_one();
        }
    }

    /// Queues an event without waiting. With `on_full = "block"` a full queue hands the
    /// event back (`Err`): the caller keeps it and sends it with [`Auditor::emit_blocking`]
    /// at its next await point, so nothing is lost and the client waits, not the event.
    pub fn try_emit(&self, event: AuditEvent) -> Result<(), Box<AuditEvent>> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        match inner.tx.try_send(Item::Event(Box::new(event))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Item::Event(e)))
                if inner.on_full == OnFull::Block =>
            {
                Err(e)
            }
            Err(_) => {
                inner.dropped_one();
                Ok(())
            }
        }
    }

    /// For callers that cannot wait (configuration reload): with `on_full = "block"` a
    /// full queue is waited on by a task of its own, so the event is still not lost.
    pub fn emit_detached(&self, event: AuditEvent) {
        let Err(event) = self.try_emit(event) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let me = self.clone();
                rt.spawn(async move { me.emit_blocking(*event).await });
            }
            Err(_) => {
                if let Some(inner) = &self.inner {
                    inner.dropped_one();
                }
            }
        }
    }

    /// Queues an event; with `on_full = "block"` waits for space instead of dropping.
    pub async fn emit_blocking(&self, event: AuditEvent) {
        let Some(inner) = &self.inner else { return };
        if inner.on_full == OnFull::Drop {
            return self.emit(event);
        }
        if inner.tx.send(Item::Event(Box::new(event))).await.is_err() {
            inner.dropped_one();
        }
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.dropped.load(Ordering::Relaxed))
    }

    /// Waits until everything queued before this call is written and flushed.
    pub async fn flush(&self) {
        let Some(inner) = &self.inner else { return };
        let (tx, rx) = oneshot::channel();
        if inner.tx.send(Item::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl Inner {
    fn dropped_one(&self) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = crate::config::now_unix();
        let last = self.last_warn.load(Ordering::Relaxed);
        let due = last == i64::MIN || now.saturating_sub(last) >= DROP_WARN_INTERVAL_SECS;
        // Only the caller that wins the swap logs, so a flood yields one line per interval.
        if due
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            warn!(
                audit.dropped_total = total,
                "audit queue full: dropping audit events"
            );
        }
    }
}

async fn writer(mut rx: mpsc::Receiver<Item>, mut out: Box<dyn AsyncWrite + Send + Unpin>) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut waiters = Vec::new();
        let mut next = Some(first);
        let mut n = 0;
        // Take whatever is already queued so one write and one flush cover a burst.
        while let Some(item) = next.take() {
            match item {
                Item::Event(e) => {
                    buf.extend_from_slice(e.to_line().as_bytes());
                    buf.push(b'\n');
                }
                Item::Flush(w) => waiters.push(w),
            }
            n += 1;
            if n < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let written = async {
            out.write_all(&buf).await?;
            out.flush().await
        }
        .await;
        match written {
            Err(e) if !failing => {
                failing = true;
                warn!(error = %e, "cannot write audit events");
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
        buf.clear();
        for w in waiters {
            let _ = w.send(());
        }
    }
}
