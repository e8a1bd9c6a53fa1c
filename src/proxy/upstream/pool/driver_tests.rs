//! The driver over real TCP: a local echo listener that counts the connections it sees.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    closed: AtomicUsize,
}

/// An echo server on 127.0.0.1 that records how many connections it accepted, how many
/// were open at once, and how many the pool closed.
async fn echo_listener() -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.accepted.fetch_add(1, Ordering::SeqCst);
            let now_open = s.open.fetch_add(1, Ordering::SeqCst) + 1;
            s.max_open.fetch_max(now_open, Ordering::SeqCst);
            tokio::spawn(echo(stream, s.clone()));
        }
    });
    (addr, seen)
}

async fn echo(mut stream: TcpStream, seen: Arc<Seen>) {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    seen.open.fetch_sub(1, Ordering::SeqCst);
    seen.closed.fetch_add(1, Ordering::SeqCst);
}

struct Tcp(SocketAddr);

impl Connector for Tcp {
    type Conn = TcpStream;
    type Error = std::io::Error;
    fn connect(&self) -> impl Future<Output = Result<TcpStream, std::io::Error>> + Send {
        TcpStream::connect(self.0)
    }
}

fn limits(max_size: usize, wait_timeout_ms: u64, max_waiters: usize) -> Limits {
    Limits {
        max_size,
        min_idle: 0,
        idle_timeout_ms: None,
        wait_timeout_ms,
        max_waiters,
    }
}

/// Waits (bounded) until the listener has seen `n` connections closed.
async fn closed_by_server(seen: &Seen, n: usize) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while seen.closed.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the server never saw {n} connections close");
}

async fn round_trip(lease: &mut Lease<Tcp>, byte: u8) {
    lease.write_all(&[byte]).await.unwrap();
    let mut back = [0u8; 1];
    lease.read_exact(&mut back).await.unwrap();
    assert_eq!(back[0], byte);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_never_exceeds_max_size_under_200_tasks() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(8, 60_000, 256));
    // Fill the pool first so that every task has to queue and be served by a handoff.
    let mut first = Vec::new();
    for _ in 0..8 {
        first.push(pool.get().await.unwrap());
    }
    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut lease = pool.get().await.expect("a connection");
                round_trip(&mut lease, i as u8).await;
                tokio::task::yield_now().await;
                lease.clean();
            })
        })
        .collect();
    let queued = tokio::time::timeout(Duration::from_secs(30), async {
        while pool.stats().waiting < 200 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(queued.is_ok(), "the 200 requests never all queued");
    for lease in first {
        lease.clean();
    }
    for t in tasks {
        t.await.expect("task");
    }
    let s = pool.stats();
    assert_eq!(
        seen.accepted.load(Ordering::SeqCst),
        8,
        "accepted other than max_size"
    );
    assert!(seen.max_open.load(Ordering::SeqCst) <= 8);
    assert_eq!((s.opened_total, s.waits_total), (8, 200));
    assert_eq!((s.in_use, s.waiting, s.idle, s.size), (0, 0, 8, 8));
    assert_eq!(s.discards, [0; 8]);
}

#[tokio::test]
async fn wait_beyond_timeout_is_a_typed_error() {
    let (addr, _seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(1, 50, 4));
    let held = pool.get().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), pool.get())
        .await
        .expect("a pool wait never hangs");
    match result {
        Err(PoolError::WaitTimeout { max_size, .. }) => assert_eq!(max_size, 1),
        Err(e) => panic!("expected WaitTimeout, got {e}"),
        Ok(_) => panic!("expected WaitTimeout, got a connection"),
    }
    assert_eq!(pool.stats().waiting, 0);
    held.clean();
    // The connection is usable again afterwards.
    let lease = pool.get().await.unwrap();
    assert_eq!(pool.stats().opened_total, 1);
    lease.clean();
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once() {
    let (addr, _seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(1, 60_000, 0));
    let _held = pool.get().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), pool.get())
        .await
        .expect("never hangs");
    assert!(matches!(
        result,
        Err(PoolError::QueueFull {
            max_size: 1,
            max_waiters: 0
        })
    ));
}

#[tokio::test]
async fn a_waiter_is_served_when_a_lease_comes_back() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(1, 60_000, 4));
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|l| l.id()) });
    while pool.stats().waiting == 0 {
        tokio::task::yield_now().await;
    }
    let id = held.id();
    held.clean();
    assert_eq!(waiter.await.unwrap().unwrap(), id);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_dropped_lease_discards_its_connection() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(2, 1_000, 4));
    let mut lease = pool.get().await.unwrap();
    // A request went out and its reply was never read: the connection is poisoned.
    lease.write_all(b"x").await.unwrap();
    drop(lease);
    let s = pool.stats();
    assert_eq!(s.discards_for(DiscardReason::ClientGoneMidReply), 1);
    assert_eq!((s.size, s.idle), (0, 0));
    closed_by_server(&seen, 1).await;
    let mut fresh = pool.get().await.unwrap();
    round_trip(&mut fresh, 7).await;
    fresh.clean();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bump_generation_closes_idle_and_discards_returning() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(3, 1_000, 4));
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let c = pool.get().await.unwrap();
    a.clean();
    b.clean();
    assert_eq!(pool.stats().idle, 2);
    assert_eq!(pool.bump_generation(), 2);
    closed_by_server(&seen, 2).await;
    c.clean();
    closed_by_server(&seen, 3).await;
    let s = pool.stats();
    assert_eq!(s.discards_for(DiscardReason::StaleGeneration), 3);
    assert_eq!((s.size, s.generation), (0, 1));
    let mut fresh = pool.get().await.unwrap();
    round_trip(&mut fresh, 1).await;
    fresh.clean();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn maintain_opens_spares_for_min_idle() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(
        Tcp(addr),
        Limits {
            min_idle: 2,
            ..limits(4, 1_000, 4)
        },
    );
    pool.maintain().await;
    assert_eq!(pool.stats().idle, 2);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
    let mut lease = pool.get().await.unwrap();
    round_trip(&mut lease, 3).await;
    lease.clean();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn drain_refuses_and_closes() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(2, 1_000, 4));
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    a.clean();
    pool.drain();
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    b.clean();
    closed_by_server(&seen, 2).await;
    assert_eq!(pool.stats().discards_for(DiscardReason::Drain), 2);
}

#[tokio::test]
async fn a_failed_connect_frees_its_slot() {
    // A port nobody listens on: bind, note it, close.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let pool = Pool::new(Tcp(addr), limits(1, 1_000, 4));
    assert!(matches!(pool.get().await, Err(PoolError::Connect(_))));
    assert_eq!(pool.stats().size, 0);
    assert!(matches!(pool.get().await, Err(PoolError::Connect(_))));
}

#[tokio::test]
async fn a_cancelled_request_leaves_the_queue() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(Tcp(addr), limits(1, 60_000, 4));
    let held = pool.get().await.unwrap();
    // The request is dropped (its client left) long before the pool's own wait ends.
    let cut = tokio::time::timeout(Duration::from_millis(20), pool.get()).await;
    assert!(cut.is_err());
    assert_eq!(pool.stats().waiting, 0);
    held.clean();
    // The connection idles rather than going to a request that no longer exists.
    let s = pool.stats();
    assert_eq!((s.idle, s.in_use), (1, 0));
    let lease = pool.get().await.unwrap();
    lease.clean();
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn maintain_closes_connections_idle_past_the_timeout() {
    let (addr, seen) = echo_listener().await;
    let pool = Pool::new(
        Tcp(addr),
        Limits {
            idle_timeout_ms: Some(0),
            ..limits(2, 1_000, 4)
        },
    );
    let lease = pool.get().await.unwrap();
    lease.clean();
    assert_eq!(pool.stats().idle, 1);
    pool.maintain().await;
    let s = pool.stats();
    assert_eq!((s.idle, s.size), (0, 0));
    assert_eq!(s.discards_for(DiscardReason::Idle), 1);
    closed_by_server(&seen, 1).await;
}
