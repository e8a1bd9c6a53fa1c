//! Nothing committed may depend on the calendar (issue 16: the example's temporary entry
//! expired on 2026-11-29 and turned the suite red). Tests that need a future or past date
//! make it from the clock; shipped configurations hold no date that can pass.

use std::path::{Path, PathBuf};

use mongoward::config::{now_unix, Config};
use mongoward::gates::access_list::Strictness;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// About a century: far beyond any date a file could hold for a temporary entry.
const CENTURY_SECS: i64 = 100 * 366 * 86_400;

/// The shipped configurations the README and the tests load must mean the same thing
/// today and in a hundred years: no temporary entry or user that can run out.
#[test]
fn shipped_configurations_stay_valid_forever() {
    for rel in ["config.example.toml", "docs/scale-out/mongoward.toml"] {
        let path = repo().join(rel);
        let text = std::fs::read_to_string(&path).expect("read shipped configuration");
        let now = now_unix();
        for at in [now, now + CENTURY_SECS] {
            let config = Config::parse(&text, &path, Strictness::Startup, at)
                .unwrap_or_else(|e| panic!("{rel} is refused at unix {at}: {e}"));
            let dated: Vec<&String> = config
                .warnings
                .iter()
                .filter(|w| w.contains("delete_after"))
                .collect();
            assert!(dated.is_empty(), "{rel} at unix {at}: {dated:?}");
            let temporary: Vec<_> = config
                .access_list
                .entries()
                .iter()
                .filter(|e| e.delete_after.is_some())
                .map(|e| e.cidr.clone())
                .collect();
            assert!(
                temporary.is_empty(),
                "{rel}: temporary entries {temporary:?}"
            );
            assert!(
                config.users.iter().all(|u| u.delete_after.is_none()),
                "{rel}: a user with delete_after"
            );
        }
    }
}

/// Every RFC 3339 instant written in the example, the docs, the scripts, the benches and
/// the integration tests is already in the past. Integration tests run on the real clock,
/// so a literal future date there is one that the suite relies on staying in the future.
#[test]
fn no_committed_file_holds_a_future_date() {
    let root = repo();
    let mut files = vec![root.join("config.example.toml"), root.join("README.md")];
    for dir in ["docs", "scripts", "benches", "tests"] {
        collect(&root.join(dir), &mut files);
    }
    let now = OffsetDateTime::now_utc();
    let mut future = Vec::new();
    let mut seen = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (line_no, line) in text.lines().enumerate() {
            for literal in rfc3339_literals(line) {
                seen += 1;
                if let Ok(at) = OffsetDateTime::parse(literal, &Rfc3339) {
                    if at > now {
                        let shown = file.strip_prefix(&root).unwrap_or(file);
                        future.push(format!("{}:{}: {literal}", shown.display(), line_no + 1));
                    }
                }
            }
        }
    }
    assert!(seen > 0, "the scan found no dates at all: is it looking?");
    assert!(future.is_empty(), "dates in the future: {future:#?}");
}

/// The scanner itself: finds literals in quotes and in prose, with or without fractions.
#[test]
fn rfc3339_scanner_finds_literals() {
    // Built at run time so that this file holds no literal for the scan above to find.
    let (a, b) = (
        format!("{}-02-03T04:05:06Z", 2031),
        format!("{}-05-01T12:00:00.123+02:00", 2024),
    );
    let line = format!("delete_after = \"{a}\" and ts {b}.");
    assert_eq!(rfc3339_literals(&line), [a.as_str(), b.as_str()]);
    assert!(rfc3339_literals("no 2024-05-01 date-only, 12:00:00").is_empty());
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "node_modules" || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Substrings shaped `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn rfc3339_literals(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let is = |i: usize, c: u8| b.get(i) == Some(&c);
    let mut out = Vec::new();
    let mut i = 0;
    while i + 19 <= b.len() {
        let shape = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&d| digit(i + d))
            && is(i + 4, b'-')
            && is(i + 7, b'-')
            && is(i + 10, b'T')
            && is(i + 13, b':')
            && is(i + 16, b':');
        if !shape {
            i += 1;
            continue;
        }
        let mut end = i + 19;
        if is(end, b'.') {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
        if is(end, b'Z') {
            end += 1;
        } else if (is(end, b'+') || is(end, b'-'))
            && digit(end + 1)
            && digit(end + 2)
            && is(end + 3, b':')
        {
            end += 6;
        }
        if let Some(s) = line.get(i..end) {
            out.push(s);
        }
        i = end;
    }
    out
}
