//! Independent deploys: uploads, hot swap, rollback, canary, restarts,
//! crashes, teams, watch mode and the CLI.

use crate::harness::{ALPHA, BETA, Process, Wharf, cli, eventually};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use wharf_test_artifacts as guests;

/// Which version answered, checking the body came wholly from one version.
fn version_of(body: &str) -> &'static str {
    if body == "v1\n".repeat(64) {
        "v1"
    } else if body == "v2\n".repeat(64) {
        "v2"
    } else {
        panic!("a response mixed or unknown: {body:?}")
    }
}

async fn digest(wharf: &Wharf, name: &str) -> String {
    let view = wharf.show(ALPHA, name).await;
    view["traffic"][0]["digest"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_swap_under_load_loses_nothing() {
    let wharf = Arc::new(Wharf::start().await);
    let (v1, v2) = wharf
        .two_versions(
            ALPHA,
            "svc",
            guests::SWAP_V1,
            guests::SWAP_V2,
            "activate=false",
        )
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let mut workers = Vec::new();
    for _ in 0..12 {
        let (wharf, stop, served) = (wharf.clone(), stop.clone(), served.clone());
        workers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = wharf.get("/svc").await;
                if status != 200 {
                    failures.push(format!("{status}: {body}"));
                    continue;
                }
                let i = if version_of(&body) == "v1" { 0 } else { 1 };
                served[i].fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }

    // A slow request that starts on v1 must finish on v1 after the swap.
    let slow = {
        let wharf = wharf.clone();
        tokio::spawn(async move { wharf.get("/svc/slow?ms=1500").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut swaps = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while swaps < 10 || served[0].load(Ordering::Relaxed) + served[1].load(Ordering::Relaxed) < 3000
    {
        let (target, path, body) = match swaps % 3 {
            0 => (&v2, "activate", json!({ "version": v2 })),
            1 => (&v1, "rollback", json!({})),
            _ => (&v2, "activate", json!({ "version": &v2[..12] })),
        };
        let (status, view) = wharf
            .admin(
                Method::POST,
                &format!("/v1/deployments/svc/{path}"),
                Some(ALPHA),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["traffic"][0]["digest"].as_str().unwrap(), target);
        swaps += 1;
        if swaps % 3 == 0 {
            // End each cycle back on v1.
            let (status, _) = wharf
                .admin(
                    Method::POST,
                    "/v1/deployments/svc/activate",
                    Some(ALPHA),
                    Some(json!({ "version": v1 })),
                )
                .await;
            assert_eq!(status, 200);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "too slow: {served:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let failures = worker.await.unwrap();
        assert!(
            failures.is_empty(),
            "requests failed during swaps: {failures:?}"
        );
    }
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        version_of(&body),
        "v1",
        "the in-flight request must finish on the version it started on"
    );
    let (a, b) = (
        served[0].load(Ordering::Relaxed),
        served[1].load(Ordering::Relaxed),
    );
    assert!(a > 0 && b > 0 && a + b >= 3000, "v1 {a}, v2 {b}");
    let view = wharf.show(ALPHA, "svc").await;
    assert!(view["swaps"].as_u64().unwrap() >= 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_serves_the_same_versions_without_recompiling() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "a", guests::SWAP_V1, None).await;
    wharf.deploy(ALPHA, "a", guests::SWAP_V2, None).await;
    wharf
        .deploy(
            ALPHA,
            "b",
            guests::HELLO,
            Some(json!({ "route": "/greet" })),
        )
        .await;
    let before = wharf.show(ALPHA, "a").await;
    let cache = wharf.data.join("cache");
    let mtimes = |dir: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| (e.file_name(), e.metadata().unwrap().modified().unwrap()))
            .collect();
        v.sort();
        v
    };
    let cached = mtimes(&cache);
    assert_eq!(cached.len(), 3);

    let wharf = wharf.restart().await;
    assert_eq!(version_of(&wharf.get("/a").await.1), "v2");
    assert_eq!(wharf.get("/greet").await.1, "Hello from Wharf!\n");
    let after = wharf.show(ALPHA, "a").await;
    assert_eq!(before["versions"].as_array().unwrap().len(), 2);
    assert_eq!(before["traffic"], after["traffic"]);
    assert_eq!(
        before["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["digest"])
            .collect::<Vec<_>>(),
        after["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["digest"])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        mtimes(&cache),
        cached,
        "restart recompiled instead of loading the cache"
    );

    // Tamper with a cached artifact: it must be detected and rebuilt from the
    // stored component, never loaded.
    let v2 = digest(&wharf, "a").await;
    let artifact = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&v2))
        .unwrap();
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    let wharf = wharf.restart().await;
    assert_eq!(version_of(&wharf.get("/a").await.1), "v2");
    assert_ne!(
        std::fs::read(&artifact).unwrap(),
        bytes,
        "the tampered artifact was kept"
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_deploys_leaves_a_consistent_registry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let token = format!("alpha:{ALPHA}");
    let args = ["--data-dir", data.as_str(), "--admin-token", token.as_str()];
    let http = reqwest::Client::new();
    let v1 = guests::bytes(guests::SWAP_V1);
    let v2 = guests::bytes(guests::SWAP_V2);
    {
        let p = Process::serve(&args).unwrap();
        let r = http
            .post(format!("{}/v1/deployments/svc/versions", p.admin))
            .bearer_auth(ALPHA)
            .body(v1.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    for (round, delay_ms) in [0u64, 5, 20, 60, 150, 400].into_iter().enumerate() {
        let mut p = Process::serve(&args).unwrap_or_else(|e| panic!("restart {round} failed: {e}"));
        // The body trickles in, so some kills land mid-upload, some during
        // the compile, some after the commit.
        let bytes = if round % 2 == 0 {
            v2.clone()
        } else {
            v1.clone()
        };
        let chunks: Vec<bytes::Bytes> = bytes
            .chunks(8 * 1024)
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        let stream = futures::stream::iter(chunks).then(|c| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<_, std::io::Error>(c)
        });
        let upload = http
            .post(format!("{}/v1/deployments/svc/versions", p.admin))
            .bearer_auth(ALPHA)
            .body(reqwest::Body::wrap_stream(stream))
            .send();
        let upload = tokio::spawn(upload);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        p.kill9();
        let _ = upload.await;
    }
    let p = Process::serve(&args).expect("the registry must open after the crashes");
    let r = http.get(format!("{}/svc", p.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    version_of(&r.text().await.unwrap());
    let view: Value = http
        .get(format!("{}/v1/deployments/svc", p.admin))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let serving = view["traffic"][0]["digest"].as_str().unwrap();
    assert!(
        view["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["digest"] == serving)
    );
    // No half-written file is left where a reader could take it.
    for sub in ["blobs/sha256", "cache"] {
        for entry in std::fs::read_dir(dir.path().join(sub)).unwrap().flatten() {
            assert!(
                !entry.file_name().to_string_lossy().starts_with(".tmp-"),
                "leftover {:?}",
                entry.path()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_get_their_error_and_change_nothing() {
    let wharf = Wharf::start_with(|c| c.platform.max_upload = 400_000).await;
    wharf.deploy(ALPHA, "svc", guests::SWAP_V1, None).await;
    let before = wharf.show(ALPHA, "svc").await;

    let mut huge = b"\0asm\x0d\0\x01\0".to_vec();
    huge.resize(500_000, 0);
    let cases: Vec<(Vec<u8>, &str, Option<Value>, u16, &str, &str)> = vec![
        (
            b"<html>not wasm</html>".to_vec(),
            "",
            None,
            400,
            "not_wasm",
            "not a WebAssembly file",
        ),
        (
            b"\0asm\x01\0\0\0".to_vec(),
            "",
            None,
            400,
            "core_module",
            "wasm32-wasip2",
        ),
        (huge, "", None, 413, "too_large", "at most 400000"),
        (
            b"\0asm\x0d\0\x01\0garbage".to_vec(),
            "",
            None,
            400,
            "invalid_component",
            "not valid",
        ),
        (
            guests::bytes(guests::ODD_IMPORT),
            "",
            None,
            422,
            "unsupported_import",
            "`shout`",
        ),
        (
            guests::bytes(guests::KV_COUNTER),
            "",
            None,
            422,
            "not_granted",
            "keyvalue = true",
        ),
        (
            guests::bytes(guests::FETCHER),
            "",
            None,
            422,
            "not_granted",
            "outbound",
        ),
        (
            guests::bytes(guests::INERT),
            "",
            None,
            422,
            "missing_export",
            "wasi:http/incoming-handler",
        ),
        (
            guests::bytes(guests::SWAP_V2),
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            None,
            400,
            "digest_mismatch",
            "upload it again",
        ),
        (
            guests::bytes(guests::SWAP_V2),
            "",
            Some(json!({ "limits": { "memroy": "1MiB" } })),
            400,
            "invalid_spec",
            "memroy",
        ),
        (
            guests::bytes(guests::SWAP_V2),
            "",
            Some(json!({ "route": "/rpc/x" })),
            400,
            "invalid_spec",
            "reserved",
        ),
        (
            guests::bytes(guests::SWAP_V2),
            "canary=100",
            None,
            400,
            "invalid_canary",
            "1 to 99",
        ),
    ];
    for (bytes, query, spec, status, code, text) in cases {
        let (got, body) = wharf.upload(ALPHA, "svc", bytes, query, spec).await;
        assert_eq!(got, status, "{code}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(text), "{code}: {message}");
        assert_eq!(
            version_of(&wharf.get("/svc").await.1),
            "v1",
            "{code} changed what serves"
        );
    }
    let (status, body) = wharf
        .upload(ALPHA, "Not_A_Name", guests::bytes(guests::HELLO), "", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_name"))
    );
    let after = wharf.show(ALPHA, "svc").await;
    let digests = |v: &Value| {
        v["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["digest"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(&before), digests(&after));
    assert_eq!(before["traffic"], after["traffic"]);
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_only_touch_their_own_deployments() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "svc", guests::SWAP_V1, None).await;
    let forbidden = [
        (Method::GET, "/v1/deployments/svc", None),
        (
            Method::POST,
            "/v1/deployments/svc/rollback",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/deployments/svc/activate",
            Some(json!({ "version": "abc" })),
        ),
        (Method::GET, "/v1/deployments/svc/logs", None),
        (Method::PUT, "/v1/deployments/svc", Some(json!({}))),
        (Method::DELETE, "/v1/deployments/svc", None),
    ];
    for (method, path, body) in forbidden {
        let (status, reply) = wharf.admin(method.clone(), path, Some(BETA), body).await;
        assert_eq!(status, 403, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["code"], "forbidden");
    }
    let (status, _) = wharf
        .upload(BETA, "svc", guests::bytes(guests::SWAP_V2), "", None)
        .await;
    assert_eq!(status, 403);
    let (status, list) = wharf
        .admin(Method::GET, "/v1/deployments", Some(BETA), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["deployments"], json!([]));
    let (status, reply) = wharf
        .admin(Method::GET, "/v1/deployments", None, None)
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = wharf
        .admin(Method::GET, "/v1/deployments", Some("not-a-token"), None)
        .await;
    assert_eq!(status, 401);
    // Still alpha's, still serving v1.
    assert_eq!(version_of(&wharf.get("/svc").await.1), "v1");
    let (status, list) = wharf
        .admin(Method::GET, "/v1/deployments", Some(ALPHA), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["deployments"][0]["name"], "svc");
    wharf.stop().await;
}

async fn share_of_v2(wharf: &Wharf, n: usize) -> f64 {
    let mut v2 = 0;
    for _ in 0..n {
        if version_of(&wharf.get("/svc").await.1) == "v2" {
            v2 += 1;
        }
    }
    v2 as f64 / n as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_splits_traffic_then_promotes_or_aborts() {
    let wharf = Wharf::start().await;
    let (v1, v2) = wharf
        .two_versions(ALPHA, "svc", guests::SWAP_V1, guests::SWAP_V2, "canary=20")
        .await;
    let share = share_of_v2(&wharf, 1000).await;
    assert!((0.14..=0.26).contains(&share), "canary share {share}");
    let view = wharf.show(ALPHA, "svc").await;
    let counts: Vec<u64> = view["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["metrics"]["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 1000, "{view}");
    assert!(counts[1] > 100 && counts[1] < 300, "{counts:?}");

    let (status, view) = wharf
        .admin(
            Method::POST,
            "/v1/deployments/svc/promote",
            Some(ALPHA),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["traffic"], json!([{ "digest": v2, "weight": 100 }]));
    assert_eq!(share_of_v2(&wharf, 50).await, 1.0);

    // A canary of the old version, aborted: everything goes back to v2.
    let (status, view) = wharf
        .admin(
            Method::POST,
            "/v1/deployments/svc/traffic",
            Some(ALPHA),
            Some(json!({ "split": [{ "version": v2, "weight": 50 }, { "version": v1, "weight": 50 }] })),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let share = share_of_v2(&wharf, 400).await;
    assert!((0.38..=0.62).contains(&share), "50/50 share {share}");
    let (status, view) = wharf
        .admin(Method::POST, "/v1/deployments/svc/abort", Some(ALPHA), None)
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["traffic"].as_array().unwrap().len(), 1);
    let (status, reply) = wharf
        .admin(
            Method::POST,
            "/v1/deployments/svc/promote",
            Some(ALPHA),
            None,
        )
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (409, Some("no_canary"))
    );
    let (status, reply) = wharf
        .admin(
            Method::POST,
            "/v1/deployments/svc/traffic",
            Some(ALPHA),
            Some(json!({ "split": [{ "version": v2, "weight": 60 }, { "version": v1, "weight": 30 }] })),
        )
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("invalid_traffic"))
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_mode_redeploys_exactly_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("wharf.toml");
    std::fs::copy(guests::HELLO, dir.path().join("a.wasm")).unwrap();
    std::fs::copy(guests::SWAP_V1, dir.path().join("b.wasm")).unwrap();
    let write_manifest = |greeting: &str| {
        std::fs::write(
            &manifest,
            format!(
                "[[component]]\nname = \"a\"\nsource = \"a.wasm\"\n[component.config]\ngreeting = \"{greeting}\"\n\n[[component]]\nname = \"b\"\nsource = \"b.wasm\"\n"
            ),
        )
        .unwrap();
    };
    write_manifest("hi");
    let data = tempfile::tempdir().unwrap();
    let wharf = Wharf::start_in(data.path(), |c| {
        c.manifest = Some(manifest.clone());
        c.watch = true;
    })
    .await;
    let operator = |wharf: &Wharf, name: &str| {
        let p = wharf.server().platform().clone();
        let name = name.to_string();
        async move {
            serde_json::to_value(p.view(&wharf_server::platform::operator(), &name).unwrap())
                .unwrap()
        }
    };
    assert_eq!(wharf.get("/a").await.1, "Hello from Wharf!\n");
    assert_eq!(version_of(&wharf.get("/b").await.1), "v1");
    let a_before = operator(&wharf, "a").await;

    // Replace b's file: b (and only b) moves to v2.
    let tmp = dir.path().join("b.wasm.new");
    std::fs::copy(guests::SWAP_V2, &tmp).unwrap();
    std::fs::rename(&tmp, dir.path().join("b.wasm")).unwrap();
    let swapped = eventually(Duration::from_secs(20), || async {
        wharf.get("/b").await.1 == "v2\n".repeat(64)
    })
    .await;
    assert!(swapped, "b was not redeployed");
    let a_after = operator(&wharf, "a").await;
    assert_eq!(a_before["traffic"], a_after["traffic"]);
    assert_eq!(
        a_before["swaps"], a_after["swaps"],
        "a was redeployed although it did not change"
    );

    // A broken file: logged, and v2 keeps serving.
    std::fs::write(dir.path().join("b.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let logged = eventually(Duration::from_secs(20), || async {
        let logs = wharf
            .server()
            .platform()
            .logs(&wharf_spec::Name::new("b").unwrap())
            .since(0, 1000);
        logs.iter().any(|l| {
            l.message.contains("redeploy from the manifest failed")
                && l.message.contains("core WebAssembly module")
        })
    })
    .await;
    assert!(logged, "the broken file was not reported");
    assert_eq!(version_of(&wharf.get("/b").await.1), "v2");

    // A changed manifest entry redeploys that component only.
    let b_before = operator(&wharf, "b").await;
    write_manifest("hello");
    let redeployed = eventually(Duration::from_secs(20), || async {
        operator(&wharf, "a").await["spec"]["config"]["greeting"] == "hello"
    })
    .await;
    assert!(redeployed, "a's new config was not applied");
    assert_eq!(operator(&wharf, "b").await["swaps"], b_before["swaps"]);
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_and_failures_per_version() {
    let wharf = Wharf::start().await;
    wharf
        .deploy(ALPHA, "misbehave", guests::MISBEHAVE, None)
        .await;
    for _ in 0..3 {
        wharf.get("/misbehave/ok").await;
    }
    wharf.get("/misbehave/trap").await;
    let metrics = wharf.metrics().await;
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(line("wharf_requests_total{deployment=\"misbehave\""), "4");
    assert!(metrics.contains("kind=\"trap\"} 1"), "{metrics}");
    assert_eq!(
        line("wharf_request_duration_seconds_count{deployment=\"misbehave\""),
        "4"
    );
    assert!(metrics.contains("wharf_swaps_total{deployment=\"misbehave\"} 1"));
    assert!(metrics.contains("wharf_compile_seconds{deployment=\"misbehave\""));
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_deploys_lists_rolls_back_and_removes() {
    let wharf = Wharf::start().await;
    let (ok, out, err) = cli(
        &wharf.admin,
        &[
            "deploy",
            "svc",
            guests::SWAP_V1,
            "--memory-limit",
            "32MiB",
            "--timeout",
            "5s",
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("deployed svc version"), "{out}");
    let (ok, out, err) = cli(&wharf.admin, &["deploy", "svc", guests::SWAP_V2]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(version_of(&wharf.get("/svc").await.1), "v2");
    let view = wharf.show(ALPHA, "svc").await;
    assert_eq!(
        view["spec"]["limits"]["memory"], "32MiB",
        "flags of the first deploy were kept"
    );

    let (ok, out, _) = cli(&wharf.admin, &["ls"]).await;
    assert!(ok && out.contains("svc") && out.contains("/svc"), "{out}");
    let (ok, out, _) = cli(&wharf.admin, &["versions", "svc", "--json"]).await;
    assert!(ok);
    let parsed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["versions"].as_array().unwrap().len(), 2);

    let (ok, out, err) = cli(&wharf.admin, &["rollback", "svc"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(version_of(&wharf.get("/svc").await.1), "v1");

    let notwasm = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(notwasm.path(), b"hello").unwrap();
    let (ok, _, err) = cli(
        &wharf.admin,
        &["deploy", "svc", notwasm.path().to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("not a WebAssembly file") && err.contains("not_wasm"),
        "{err}"
    );

    let (ok, _, err) = cli(
        &wharf.admin,
        &["deploy", "svc", guests::SWAP_V2, "--canary", "30"],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&wharf.admin, &["promote", "svc"]).await;
    assert!(ok && out.contains("100%"), "{out}");

    let (ok, out, err) = cli(&wharf.admin, &["rm", "svc"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(wharf.get("/svc").await.0, 404);
    let (ok, _, err) = cli(&wharf.admin, &["versions", "svc"]).await;
    assert!(!ok && err.contains("no deployment named `svc`"), "{err}");
    wharf.stop().await;
}
