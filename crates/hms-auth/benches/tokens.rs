//! Micro-benchmarks of minting and verifying tokens: the work the room-code exchange does
//! per request (mint an app token) and every management call does (verify its token).
//! Run with `cargo bench -p hms-auth` (bench/run.sh runs and summarizes it).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hms_auth::{AppSecret, Claims, VerifyPolicy, mint, verify};

const ACCESS_KEY: &str = "6b0438b6f3cfc907060ca75c";
const NOW: i64 = 1_700_000_000;

fn secret() -> AppSecret {
    AppSecret::new("s3cr3t-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdef")
}

fn tokens(c: &mut Criterion) {
    let secret = secret();
    // The server hands out its cached secrets as an `Arc`, as here.
    let secrets = Arc::new(vec![secret.clone()]);
    let policy = VerifyPolicy::management();

    c.bench_function("mint app token", |b| {
        b.iter(|| {
            let claims = Claims::app(
                ACCESS_KEY,
                "65000000be0c000000000001",
                "guest",
                "user-42",
                black_box(NOW),
                86_400,
            );
            black_box(mint(&claims, &secret))
        })
    });

    c.bench_function("mint management token", |b| {
        b.iter(|| black_box(mint(&Claims::management(ACCESS_KEY, black_box(NOW), 86_400), &secret)))
    });

    let management = mint(&Claims::management(ACCESS_KEY, NOW, 86_400), &secret);
    c.bench_function("verify management token", |b| {
        b.iter(|| {
            verify(
                black_box(&management),
                |key| (key == ACCESS_KEY).then(|| secrets.clone()),
                &policy,
                NOW,
            )
            .expect("valid token")
        })
    });

    // Two live secrets, the token signed with the second: the cost during a rotation.
    let rotating = Arc::new(vec![AppSecret::new("the-secret-being-rotated-in"), secret.clone()]);
    c.bench_function("verify management token, 2 live secrets", |b| {
        b.iter(|| {
            verify(
                black_box(&management),
                |key| (key == ACCESS_KEY).then(|| rotating.clone()),
                &policy,
                NOW,
            )
            .expect("valid token")
        })
    });

    let forged = mint(&Claims::management(ACCESS_KEY, NOW, 86_400), &AppSecret::new("wrong"));
    c.bench_function("verify refuses a bad signature", |b| {
        b.iter(|| {
            verify(
                black_box(&forged),
                |key| (key == ACCESS_KEY).then(|| secrets.clone()),
                &policy,
                NOW,
            )
            .expect_err("forged token")
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
