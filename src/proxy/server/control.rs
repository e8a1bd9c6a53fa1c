//! Live control of established connections: the revocation sweep
//! (expired or removed access-list entries and users close their connections within a
//! second) and configuration reload (SIGHUP and file changes).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use crate::config::{now_unix, Config, ConfigError};
use crate::gates::access_list::Strictness;
use crate::ops::audit::{AuditEvent, ReloadSummary};
use crate::proxy::server::running::Shared;

/// How often live connections are re-checked against the policy. Expiry is promised
/// "within a second"; a quarter second leaves room for a busy machine.
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

/// Closes every connection the current policy no longer admits: users removed, expired
/// or out of scope always; access-list revocations unless `on_revoke = "keep"`.
/// Returns the audit events to send (not sent while the registry is being iterated).
pub fn sweep(shared: &Shared) -> Vec<AuditEvent> {
    let policy = shared.policy.load();
    let now = now_unix();
    let mut events = Vec::new();
    for item in shared.sessions.iter() {
        let handle = item.value();
        let Some(reason) = handle.revoked_by(&policy, now) else {
            continue;
        };
        // A session busy with a slow command is still registered at the next sweep:
        // report it once, not four times a second.
        if handle.revoke() {
            info!(conn.id = *item.key(), client.addr = %handle.ip, cluster.name = %handle.cluster, reason = ?reason, "access revoked; closing connection");
            let event = AuditEvent::connection_revoked(&handle.ctx, &handle.principal(), reason);
            events.push(event);
        }
    }
    events
}

/// Background task: periodic sweeps, plus one right after every reload.
pub async fn sweeper(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.sweep_now.notified() => {}
            _ = shutdown.changed() => return,
        }
        for event in sweep(&shared) {
            shared.auditor.emit_blocking(event).await;
        }
        shared.cursors.expire(now_unix());
    }
}

/// Re-reads the configuration file. A bad file keeps the running policy.
pub fn reload(shared: &Shared) -> Result<u64, ConfigError> {
    if shared.live.store_mode() {
        return crate::proxy::server::live::reload_certs_only(shared);
    }
    // One reload at a time: a file read earlier must not be installed after a newer one.
    let _one = shared
        .reload_lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let loaded = Config::load_with(&shared.config_path, Strictness::Reload, now_unix())
        .and_then(|c| reload_certs(shared, &c).map(|()| c));
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "configuration reload failed; keeping the running policy");
            let running = shared.policy.load();
            shared.stats.record_reload(running.generation, false);
            let summary = reload_summary(&running, Vec::new());
            let event = AuditEvent::config_reload(&summary, Err(&e.to_string()));
            shared.auditor.emit_detached(event);
            return Err(e);
        }
    };
    for w in &config.warnings {
        warn!("{w}");
    }
    let restart = restart_required(shared, &config);
    for what in &restart {
        warn!(change = %what, "configuration change needs a restart to apply");
    }
    let policy = shared.policy.replace(&config);
    let (users, _, entries) = policy.totals();
    info!(
        config.generation = policy.generation,
        access_list.entries = entries,
        users = users,
        "configuration reloaded"
    );
    shared.stats.record_reload(policy.generation, true);
    shared
        .stats
        .record_access_list(&config.access_list, now_unix());
    let summary = reload_summary(&policy, restart);
    shared
        .auditor
        .emit_detached(AuditEvent::config_reload(&summary, Ok(())));
    shared.sweep_now.notify_one();
    Ok(policy.generation)
}

/// Swaps in the configured certificate for new handshakes. A bad certificate or key
/// fails the whole reload, so the policy and the certificate never change half-way.
pub(crate) fn reload_certs(shared: &Shared, config: &Config) -> Result<(), ConfigError> {
    let tls = &config.file.tls;
    shared
        .certs
        .reload(&tls.cert_file, &tls.key_file)
        .map_err(|e| ConfigError::Invalid {
            file: config.path.display().to_string(),
            key: "tls".to_string(),
            reason: e.to_string(),
        })
}

/// Counts for the `configReload` audit event. Users and roles join when the policy
/// carries them.
fn reload_summary(
    policy: &crate::proxy::state::policy::Policy,
    restart_required: Vec<String>,
) -> ReloadSummary {
    let (users, roles, access_list_entries) = policy.totals();
    ReloadSummary {
        generation: policy.generation,
        users,
        roles,
        access_list_entries,
        restart_required,
    }
}

/// Listener and cluster changes are not applied live (sockets and upstream connections
/// are bound at startup); say so instead of pretending.
fn restart_required(shared: &Shared, config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let same = shared.clusters.len() == config.clusters.len()
        && shared
            .clusters
            .iter()
            .zip(&config.clusters)
            .all(|(running, (wanted, _))| running.same_config(wanted));
    if !same {
        out.push("clusters".to_string());
    }
    if shared.listen != config.listen || shared.plaintext_listen != config.plaintext_listen {
        out.push("server.listen".to_string());
    }
    if shared.proxy_protocol != config.file.server.proxy_protocol
        || shared.proxy_trusted != config.proxy_trusted
    {
        out.push("server.proxy_protocol".to_string());
    }
    out
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The configuration file's stamp plus the TLS files': certificate rotation tools
/// (cert-manager, certbot) replace the PEM files in place without touching the config.
type Stamps = [Option<(SystemTime, u64)>; 3];

fn stamps(shared: &Shared) -> Stamps {
    let tls = shared.certs.files();
    [stamp(&shared.config_path), stamp(&tls.0), stamp(&tls.1)]
}

/// Background task: reloads when the configuration file or the TLS files change (polled
/// once a second: portable, and cheap next to the sweeps).
pub async fn watch_file(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut last = stamps(&shared);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = stamps(&shared);
        if now[0].is_some() && now != last {
            let _ = reload(&shared);
            // After the reload: it may have switched to other TLS files.
            last = stamps(&shared);
        }
    }
}
