//! Server-side SCRAM cost per login. The client's PBKDF2 is done once in
//! setup: the server path is parsing plus a handful of HMACs, so this shows
//! how cheap a login is for the proxy (and how cheap a failed guess is).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mongoward::gates::credentials::{Mechanism, ScramCredential};
use mongoward::gates::scram::{ScramClient, ScramServer};

const SECRET: &[u8] = b"bench fake-credential secret, 32 bytes!";

fn server_start_finish(c: &mut Criterion) {
    let m = Mechanism::ScramSha256;
    let salt = [0x42u8; 28];
    let Ok(cred) = ScramCredential::derive(m, "app", "s3cret", &salt, 15_000) else {
        return;
    };
    let server_nonce = [7u8; 24];
    // The client's messages depend only on the server-first message, which
    // is fixed for fixed nonces, so they are computed once.
    let Ok((mut client, client_first)) = ScramClient::new(m, "app", "s3cret", &[9u8; 24]) else {
        return;
    };
    let start = ScramServer::start(
        m,
        &client_first,
        |_| Some(cred.clone()),
        &server_nonce,
        SECRET,
    );
    let Ok((_, server_first)) = start else {
        return;
    };
    let Ok(client_final) = client.client_final(&server_first) else {
        return;
    };

    c.bench_function("scram_sha256_server_start_finish_15000", |b| {
        b.iter(|| {
            let started = ScramServer::start(
                m,
                black_box(&client_first),
                |_| Some(cred.clone()),
                &server_nonce,
                SECRET,
            );
            if let Ok((mut server, _)) = started {
                let reply = server.finish(black_box(&client_final));
                assert!(reply.is_ok());
            }
        })
    });

    c.bench_function("scram_sha256_server_unknown_user", |b| {
        b.iter(|| {
            let started =
                ScramServer::start(m, black_box(&client_first), |_| None, &server_nonce, SECRET);
            if let Ok((mut server, _)) = started {
                assert!(server.finish(black_box(&client_final)).is_err());
            }
        })
    });
}

criterion_group!(benches, server_start_finish);
criterion_main!(benches);
