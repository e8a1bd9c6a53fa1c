//! Measurement helpers for the load generator: a log-linear latency histogram, and CPU time /
//! resident memory of processes read from /proc.

use std::collections::BTreeMap;

/// Latency histogram in microseconds: exact below 1,024 µs, then 64 sub-buckets per power of
/// two (under 1.6% error), up to ~2^40 µs. Fixed size, so recording never allocates.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
}

const EXACT: u64 = 1024;
const SUB: u64 = 64;
const BUCKETS: usize = EXACT as usize + 31 * SUB as usize;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < EXACT {
            return v as usize;
        }
        let log = 63 - u64::from(v.leading_zeros()); // >= 10
        let sub = (v >> (log - 6)) & (SUB - 1);
        (EXACT + (log - 10) * SUB + sub).min(BUCKETS as u64 - 1) as usize
    }

    /// The lower bound of bucket `i` (what a percentile reports).
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < EXACT {
            return i;
        }
        let log = (i - EXACT) / SUB + 10;
        let sub = (i - EXACT) % SUB;
        (1 << log) | (sub << (log - 6))
    }

    pub fn record(&mut self, micros: u64) {
        self.counts[Self::index(micros)] += 1;
        self.total += 1;
        self.sum += u128::from(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.sum as f64 / self.total as f64
    }

    /// The value at quantile `q` (0..1); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }
}

/// Clock ticks per second for /proc/PID/stat times (`getconf CLK_TCK`, 100 almost always).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process, in ticks (all its threads). None if it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15 (1-based).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Named processes to watch: `--pids proxy=123,upstream=456` (a bare PID is named by itself).
/// The load generator itself is always added as `client`.
pub fn parse_pids(spec: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, pid) = match part.split_once('=') {
            Some((n, p)) => (n.to_string(), p),
            None => (part.to_string(), part),
        };
        let pid: u32 = pid
            .parse()
            .map_err(|_| format!("--pids: bad pid in {part:?}"))?;
        out.insert(name, pid);
    }
    Ok(out)
}

/// CPU ticks of every watched process at one instant.
pub fn snapshot(pids: &BTreeMap<String, u32>) -> BTreeMap<String, Option<u64>> {
    pids.iter()
        .map(|(n, p)| (n.clone(), cpu_ticks(*p)))
        .collect()
}

/// `{name: {pid, cpu_secs, cpu_us_per_op}}` between two snapshots.
pub fn cpu_report(
    pids: &BTreeMap<String, u32>,
    before: &BTreeMap<String, Option<u64>>,
    after: &BTreeMap<String, Option<u64>>,
    ops: u64,
) -> serde_json::Value {
    let tck = clock_ticks();
    let mut m = serde_json::Map::new();
    for (name, pid) in pids {
        let delta = match (
            before.get(name).copied().flatten(),
            after.get(name).copied().flatten(),
        ) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / tck),
            _ => None,
        };
        let per_op = delta.filter(|_| ops > 0).map(|s| s * 1e6 / ops as f64);
        m.insert(
            name.clone(),
            serde_json::json!({"pid": pid, "cpu_secs": delta, "cpu_us_per_op": per_op}),
        );
    }
    serde_json::Value::Object(m)
}
