//! `[server] pid_file` and `mongoward reload --config FILE`: signal exactly the process
//! that serves this configuration (never every mongoward on the host, as
//! `kill -HUP $(pidof mongoward)` would).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::Config;

#[derive(Debug, Error)]
pub enum PidError {
    #[error(
        "{0}: server.pid_file is not set; add it so that `reload` knows which process to signal"
    )]
    NotConfigured(String),
    #[error(
        "{path}: cannot read the pid file ({source}); is mongoward running on this configuration?"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot write the pid file: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {text:?} is not a process id")]
    Malformed { path: String, text: String },
    #[error("{path}: process {pid} is not running (stale pid file)")]
    NotRunning { path: String, pid: u32 },
    #[error("{path}: process {pid} is not mongoward; not signalling it")]
    NotMongoward { path: String, pid: u32 },
    #[error("cannot signal process {pid}: {source}")]
    Signal { pid: u32, source: std::io::Error },
}

/// The configured pid file, if any.
pub fn pid_file(config: &Config) -> Option<&Path> {
    config.file.server.pid_file.as_deref()
}

/// Writes this process's id to `path` (replacing a stale file).
pub fn write_pid_file(path: &Path) -> Result<(), PidError> {
    std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| PidError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Removes `path` if it still names this process (a newer instance may have replaced it).
pub fn remove_pid_file(path: &Path) {
    let ours = std::fs::read_to_string(path)
        .ok()
        .is_some_and(|t| t.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// The process id in a pid file's text.
pub fn parse_pid(text: &str) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|p| *p > 0)
}

/// Sends SIGHUP to the process named by the configuration's pid file; returns its id.
pub fn signal_reload(config: &Config) -> Result<u32, PidError> {
    let path = pid_file(config)
        .ok_or_else(|| PidError::NotConfigured(config.path.display().to_string()))?;
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PidError::Read {
        path: shown.clone(),
        source,
    })?;
    let pid = parse_pid(&text).ok_or_else(|| PidError::Malformed {
        path: shown.clone(),
        text: text.trim().to_string(),
    })?;
    check_process(&shown, pid)?;
    hangup(pid)
}

/// Refuses to signal a process that is gone or is not mongoward (a reused pid). Where
/// `/proc` is missing the check is skipped.
fn check_process(path: &str, pid: u32) -> Result<(), PidError> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if !Path::new("/proc/self").exists() {
        return Ok(());
    }
    let cmdline = std::fs::read(proc.join("cmdline")).map_err(|_| PidError::NotRunning {
        path: path.to_string(),
        pid,
    })?;
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    if !String::from_utf8_lossy(program).contains("mongoward") {
        return Err(PidError::NotMongoward {
            path: path.to_string(),
            pid,
        });
    }
    Ok(())
}

#[cfg(unix)]
fn hangup(pid: u32) -> Result<u32, PidError> {
    use rustix::process::{kill_process, Pid, Signal};
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let Some(target) = raw else {
        return Err(PidError::Signal {
            pid,
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    };
    kill_process(target, Signal::HUP).map_err(|e| PidError::Signal {
        pid,
        source: e.into(),
    })?;
    Ok(pid)
}

#[cfg(not(unix))]
fn hangup(pid: u32) -> Result<u32, PidError> {
    Err(PidError::Signal {
        pid,
        source: std::io::Error::from(std::io::ErrorKind::Unsupported),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_pid;

    #[test]
    fn pid_file_text_parses_strictly() {
        assert_eq!(parse_pid("4242\n"), Some(4242));
        assert_eq!(parse_pid(" 17 "), Some(17));
        for bad in ["", "0", "-5", "42x", "4242\n4243"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }
}
