//! Property (issue 5): for random commands and random role sets, the decision the LIVE
//! proxy takes (refused with 13, or not) equals `mongoward authz-check --batch` on the
//! same configuration. 100 cases, one proxy, one simulator process, fixed seed.

use std::io::Write;
use std::process::{Command, Stdio};

use bson::Document;
use mongodb::Client;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::common::{user_toml, Proxy, Upstream};
use super::{client_as, code, PW};

const ROLE_POOL: &[&str] = &[
    "read@db1",
    "readWrite@db1",
    "read@db2.c1",
    "readWrite@db2",
    "readAnyDatabase@admin",
    "dbAdmin@db1",
    "readWrite@db3.c2",
    "read@db3",
];
const DBS: &[&str] = &["db1", "db2", "db3"];
const COLLS: &[&str] = &["c1", "c2", "c3"];
const USERS: usize = 6;
const CASES: usize = 100;

fn random_roles(rng: &mut StdRng) -> Vec<&'static str> {
    let n = rng.gen_range(1..=3);
    ROLE_POOL.choose_multiple(rng, n).copied().collect()
}

fn coll(rng: &mut StdRng) -> &'static str {
    COLLS.choose(rng).copied().unwrap_or("c1")
}

fn stage(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..4) {
        0 => json!({"$match": {"n": {"$gte": 0}}}),
        1 => {
            json!({"$lookup": {"from": coll(rng), "localField": "n", "foreignField": "n", "as": "x"}})
        }
        2 if depth < 2 => {
            json!({"$unionWith": {"coll": coll(rng), "pipeline": [stage(rng, depth + 1)]}})
        }
        _ => json!({"$project": {"n": 1}}),
    }
}

fn command(rng: &mut StdRng) -> Value {
    let c = coll(rng);
    match rng.gen_range(0..5) {
        0 => json!({"find": c, "filter": {"n": 1}}),
        1 => json!({"insert": c, "documents": [{"n": rng.gen_range(0..9)}]}),
        2 => {
            json!({"update": c, "updates": [{"q": {"n": 1}, "u": {"$set": {"m": 1}}, "upsert": rng.gen_bool(0.3)}]})
        }
        3 => json!({"delete": c, "deletes": [{"q": {"n": 99}, "limit": 0}]}),
        _ => {
            let mut pipeline: Vec<Value> =
                (0..rng.gen_range(0..3)).map(|_| stage(rng, 0)).collect();
            if rng.gen_bool(0.3) {
                pipeline.push(json!({"$out": coll(rng)}));
            }
            json!({"aggregate": c, "pipeline": pipeline, "cursor": {}})
        }
    }
}

fn simulate(proxy: &Proxy, questions: &[Value]) -> Vec<Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongoward"))
        .args(["authz-check", "--batch", "--config"])
        .arg(&proxy.config_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn authz-check");
    let mut stdin = child.stdin.take().expect("stdin");
    for q in questions {
        writeln!(stdin, "{q}").expect("write question");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("authz-check output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON decision per line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn live_proxy_and_simulator_agree_on_random_commands() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0005);
    let roles: Vec<Vec<&str>> = (0..USERS).map(|_| random_roles(&mut rng)).collect();
    let users: Vec<String> = roles
        .iter()
        .enumerate()
        .map(|(i, r)| user_toml(&format!("p{i}"), PW, r, ""))
        .collect();
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users.join("\n")).await;
    let mut clients: Vec<Client> = Vec::new();
    for i in 0..USERS {
        clients.push(client_as(&proxy, &format!("p{i}")).await);
    }
    let mut questions = Vec::new();
    let mut live = Vec::new();
    for _ in 0..CASES {
        let (u, db, cmd) = (
            rng.gen_range(0..USERS),
            *DBS.choose(&mut rng).unwrap_or(&"db1"),
            command(&mut rng),
        );
        let doc: Document = match bson::Bson::try_from(cmd.clone()) {
            Ok(bson::Bson::Document(d)) => d,
            other => panic!("generated command is not a document: {other:?}"),
        };
        let denied = match clients[u].database(db).run_command(doc).await {
            Ok(_) => false,
            Err(e) => code(&e) == Some(13),
        };
        live.push(denied);
        questions.push(json!({"user": format!("p{u}"), "db": db, "command": cmd}));
    }
    let answers = simulate(&proxy, &questions);
    assert_eq!(answers.len(), CASES);
    let mut wrong = Vec::new();
    for ((q, a), denied) in questions.iter().zip(&answers).zip(&live) {
        let sim_denied = a["decision"] == "deny";
        assert!(a["decision"] == "allow" || sim_denied, "{a}");
        if sim_denied != *denied {
            wrong.push(format!(
                "{q} roles={roles:?}: live denied={denied}, simulator {a}"
            ));
        }
    }
    let n_denied = live.iter().filter(|d| **d).count();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The generator exercises both outcomes.
    assert!(
        n_denied > 10 && n_denied < CASES - 10,
        "{n_denied} of {CASES} denied"
    );
}
