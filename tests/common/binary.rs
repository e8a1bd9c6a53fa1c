//! The real `mongoward` binary as a child process: spawned, its stderr read line by line,
//! waited for (a log line or a listening port), and killed however the test ends.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// `mongoward` with no arguments yet.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mongoward"))
}

/// A child process, killed and reaped however the test ends.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mongoward [global...] run --config FILE` at `RUST_LOG=info`, stdout discarded, stderr
/// read line by line (see [`wait_line`]).
pub fn run_logged(global: &[&str], config: &Path) -> (Reaper, Receiver<String>) {
    let mut child = command()
        .args(global)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mongoward");
    let rx = lines(&mut child);
    (Reaper(child), rx)
}

/// Every stderr line of `child`, as they come (takes its stderr pipe).
pub fn lines(child: &mut Child) -> Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Collects lines into `seen` until one contains `needle` (true) or `within` passes or the
/// process closes its stderr (false).
pub fn until(
    rx: &Receiver<String>,
    needle: &str,
    within: Duration,
    seen: &mut Vec<String>,
) -> bool {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// Waits for a line containing `needle`: Ok(every line up to it), or Err(every line seen).
pub fn wait_line(
    rx: &Receiver<String>,
    needle: &str,
    within: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let mut seen = Vec::new();
    if until(rx, needle, within, &mut seen) {
        Ok(seen)
    } else {
        Err(seen)
    }
}

/// Polls until `addr` accepts a TCP connection; panics naming `what` after `within`.
pub async fn wait_listening(addr: SocketAddr, within: Duration, what: &str) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(start.elapsed() < within, "{what} never listened on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
