//! The smallest HTTP/1.1 server that Prometheus needs: one request per connection,
//! `GET /metrics` or 404. Its own listener and tasks, so a slow scraper never touches
//! the data plane; a semaphore and deadlines keep a misbehaving one cheap.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::{debug, warn};

use super::render::render;
use super::Metrics;

/// Largest request head read; a scrape request is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// Deadline for one whole request/response exchange.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent scrapes served; more wait in the kernel backlog.
const MAX_CONCURRENT: usize = 8;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves scrapes until `shutdown` becomes true.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(stream, &metrics))
                .await
                .is_err()
            {
                debug!(client.addr = %peer, "metrics request timed out");
            }
        });
    }
}

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    Metrics,
    Health,
    NotFound,
    BadRequest,
}

/// Parses the request line of a complete head. Query strings are ignored, as Prometheus
/// servers usually do.
pub(super) fn route(head: &[u8]) -> Target {
    let Some(line) = head.split(|&b| b == b'\n').next() else {
        return Target::BadRequest;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Target::BadRequest;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Target::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Target::BadRequest;
    }
    let path = target.split('?').next().unwrap_or(target);
    if method == "GET" && path == "/metrics" {
        Target::Metrics
    } else if method == "GET" && path == "/health" {
        Target::Health
    } else {
        Target::NotFound
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(buf)
}

async fn exchange(mut stream: TcpStream, metrics: &Metrics) {
    let target = match read_head(&mut stream).await {
        Some(head) => route(&head),
        None => Target::BadRequest,
    };
    let (status, body) = match target {
        Target::Metrics => ("200 OK", render(metrics)),
        Target::Health => super::render::health(metrics),
        Target::NotFound => ("404 Not Found", "not found; try /metrics\n".to_string()),
        Target::BadRequest => ("400 Bad Request", "bad request\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The scraper may have gone away; nothing to do about it but close.
    if stream.write_all(head.as_bytes()).await.is_ok()
        && stream.write_all(body.as_bytes()).await.is_ok()
    {
        let _ = stream.shutdown().await;
    }
}
