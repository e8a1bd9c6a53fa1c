//! A long-lived pymongo process (`tests/clients/pymongo_agent.py`) driven line by line, so a
//! test can time what pymongo sees from an event of its own (an admin API answer) without
//! paying Python's start-up inside the measurement.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{repo, tool};

pub struct Agent {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one request answered, with the time from sending it to the answer.
pub struct Answer {
    pub body: Value,
    pub took: Duration,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.body["ok"] == true
    }

    /// The server's error code (13 Unauthorized, 18 AuthenticationFailed), if any.
    pub fn code(&self) -> Option<i64> {
        self.body["code"].as_i64()
    }

    pub fn kind(&self) -> &str {
        self.body["kind"].as_str().unwrap_or("")
    }
}

impl Agent {
    /// Starts the agent; with `source`, its sockets connect from that loopback address.
    pub fn start(source: Option<&str>) -> Agent {
        let mut cmd = Command::new(tool(".venv/bin/python"));
        cmd.arg(repo().join("tests/clients/pymongo_agent.py"));
        if let Some(ip) = source {
            cmd.args(["--source", ip]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the pymongo agent");
        let stdin = child.stdin.take().expect("agent stdin");
        let stdout = child.stdout.take().expect("agent stdout");
        let (tx, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut agent = Agent {
            child,
            stdin,
            answers,
        };
        let ready = agent.read(Duration::from_secs(60));
        assert_eq!(ready["ready"], true, "the agent did not start: {ready}");
        agent
    }

    fn read(&mut self, within: Duration) -> Value {
        let line = self
            .answers
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no answer from the pymongo agent within {within:?}: {e}"));
        serde_json::from_str(&line).expect("the agent answers JSON")
    }

    /// Sends one request and waits (a generous bound) for its answer.
    pub fn ask(&mut self, request: Value) -> Answer {
        let start = Instant::now();
        writeln!(self.stdin, "{request}").expect("write to the agent");
        self.stdin.flush().expect("flush the agent's stdin");
        let body = self.read(Duration::from_secs(120));
        Answer {
            body,
            took: start.elapsed(),
        }
    }

    pub fn open(&mut self, name: &str, uri: &str) {
        let a = self.ask(json!({"op": "open", "name": name, "uri": uri}));
        assert!(a.ok(), "{}", a.body);
    }

    pub fn run(&mut self, name: &str, db: &str, cmd: Value) -> Answer {
        self.ask(json!({"op": "run", "name": name, "db": db, "cmd": cmd}))
    }

    pub fn insert(&mut self, name: &str, db: &str, coll: &str, doc: Value) -> Answer {
        self.ask(json!({"op": "insert", "name": name, "db": db, "coll": coll, "doc": doc}))
    }

    pub fn find(&mut self, name: &str, db: &str, coll: &str) -> Answer {
        self.ask(json!({"op": "find", "name": name, "db": db, "coll": coll}))
    }

    /// A fresh client per try until `ping` succeeds or `within` passes.
    pub fn until_ok(&mut self, uri: &str, within: Duration) -> Answer {
        self.ask(
            json!({"op": "until_ok", "uri": uri, "db": "admin", "cmd": {"ping": 1},
                        "within": within.as_secs_f64()}),
        )
    }

    /// `ping` on the kept client until it fails or `within` passes.
    pub fn until_fails(&mut self, name: &str, within: Duration) -> Answer {
        self.ask(
            json!({"op": "until_fails", "name": name, "db": "admin", "cmd": {"ping": 1},
                        "within": within.as_secs_f64()}),
        )
    }
}

/// Reads five documents of a cursor in batches of 3, then closes it (killCursors); prints
/// `{"got": [...], "alive_before": bool}`.
pub const PYMONGO_CURSOR: &str = r#"
import json, sys, pymongo
client = pymongo.MongoClient(sys.argv[1])
coll = client.shop.events
coll.insert_many([{"n": i} for i in range(10)])
cursor = coll.find({}).batch_size(3)
got = [next(cursor)["n"] for _ in range(5)]
alive_before = cursor.alive
cursor.close()
print(json.dumps({"got": got, "alive_before": alive_before}))
client.close()
"#;

/// Reads ten documents with an exhaust cursor in batches of 3; prints `{"got": [...]}`.
pub const PYMONGO_EXHAUST: &str = r#"
import json, sys, pymongo
from pymongo import CursorType
client = pymongo.MongoClient(sys.argv[1])
coll = client.shop.feed
coll.insert_many([{"n": i} for i in range(10)])
got = [d["n"] for d in coll.find({}, cursor_type=CursorType.EXHAUST).batch_size(3)]
print(json.dumps({"got": got}))
client.close()
"#;
