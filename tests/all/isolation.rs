//! Walls between deployments: limits, failure containment, and each
//! deployment's own key-value data, config, files, logs and outbound HTTP.

use crate::harness::{ALPHA, Wharf};
use futures::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use wharf_test_artifacts as guests;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spinning_neighbour_does_not_starve_others() {
    let wharf = Wharf::start().await;
    wharf
        .deploy(
            ALPHA,
            "spinner",
            guests::MISBEHAVE,
            Some(json!({ "limits": { "cpu": "300ms", "timeout": "3s", "max_concurrency": 3 } })),
        )
        .await;
    wharf.deploy(ALPHA, "hello", guests::HELLO, None).await;

    let started = Instant::now();
    let spinners: Vec<_> = (0..6)
        .map(|_| {
            let http = wharf.http.clone();
            let url = format!("{}/spinner/loop", wharf.base);
            tokio::spawn(async move {
                let r = http.get(url).send().await.unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                (
                    r.status().as_u16(),
                    retry,
                    r.text().await.unwrap(),
                    started.elapsed(),
                )
            })
        })
        .collect();
    // While they spin, the neighbour answers every request.
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        let t = Instant::now();
        let (status, body) = wharf.get("/hello").await;
        slowest = slowest.max(t.elapsed());
        assert_eq!((status, body.as_str()), (200, "Hello from Wharf!\n"));
    }
    let mut busy = 0;
    for spinner in spinners {
        let (status, retry, body, took) = spinner.await.unwrap();
        match status {
            504 => {
                assert!(body.contains("CPU budget of 300ms"), "{body}");
                assert!(
                    took < Duration::from_secs(3),
                    "a spinning request ran {took:?}"
                );
            }
            503 => {
                assert_eq!(retry.as_deref(), Some("1"));
                assert!(body.contains("limit of 3 concurrent requests"), "{body}");
                busy += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(busy, 3, "three requests over the concurrency limit");
    // Generous bound: the point is that hello is never stuck behind a spinner.
    assert!(
        slowest < Duration::from_secs(2),
        "hello took {slowest:?} while a neighbour spun"
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_is_contained_named_and_logged() {
    let wharf = Wharf::start().await;
    let out = wharf
        .deploy(
            ALPHA,
            "misbehave",
            guests::MISBEHAVE,
            Some(json!({ "limits": { "memory": "32MiB", "cpu": "500ms", "timeout": "1s", "max_concurrency": 2 } })),
        )
        .await;
    let short = &out["digest"].as_str().unwrap()[..12];
    wharf.deploy(ALPHA, "hello", guests::HELLO, None).await;
    let cases = [
        ("/trap", 500, "trap", "unreachable"),
        ("/panic", 500, "trap", "unreachable"),
        ("/bomb", 500, "memory_limit", "limit of 32MiB"),
        // The shadow stack in linear memory or the wasm stack, whichever runs out first.
        ("/recurse", 500, "trap", "the component trapped"),
        ("/loop", 504, "cpu_limit", "CPU budget of 500ms"),
        ("/sleep?ms=5000", 504, "timeout", "timeout of 1s"),
        (
            "/noanswer",
            500,
            "no_response",
            "without sending a response",
        ),
    ];
    for (path, status, code, text) in cases {
        let (got, body) = wharf.get(&format!("/misbehave{path}")).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(text), "{path}: {body}");
        // The host is fine, and so is the component's next request.
        assert_eq!(wharf.get("/misbehave/ok").await.0, 200, "after {path}");
        assert_eq!(wharf.get("/hello").await.0, 200, "after {path}");
        let logs = wharf.logs(ALPHA, "misbehave").await;
        assert!(
            logs.iter()
                .any(|l| l.starts_with("host:") && l.ends_with(&format!("({code})"))),
            "{path}: no `{code}` line in {logs:?}"
        );
    }
    let logs = wharf
        .server()
        .platform()
        .logs(&wharf_spec::Name::new("misbehave").unwrap())
        .since(0, 1000);
    let panic = logs
        .iter()
        .find(|l| l.message.contains("misbehave panicked on purpose"))
        .expect("the panic message reaches the log");
    assert_eq!(&*panic.version, short, "log lines carry the version");
    // Slots went back: nothing is in flight and the full concurrency is available.
    let view = wharf.show(ALPHA, "misbehave").await;
    assert_eq!(view["versions"][0]["metrics"]["in_flight"], 0);
    let both = futures::future::join(
        wharf.get("/misbehave/sleep?ms=200"),
        wharf.get("/misbehave/sleep?ms=200"),
    )
    .await;
    assert_eq!((both.0.0, both.1.0), (200, 200));
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_holds_for_the_whole_instance() {
    let wharf = Wharf::start().await;
    wharf
        .deploy(
            ALPHA,
            "mem",
            guests::MISBEHAVE,
            Some(json!({ "limits": { "memory": "24MiB" } })),
        )
        .await;
    let (status, body) = wharf.get("/mem/grow").await;
    assert_eq!(status, 200, "{body}");
    let total: u64 = body
        .split("memory is ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total <= 24 << 20, "memory grew to {total}");
    assert!(total > 16 << 20, "memory stopped early at {total}");
    assert_eq!(wharf.get("/mem/alloc?mb=8").await.0, 200);
    let (status, body) = wharf.get("/mem/alloc?mb=64").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("limit of 24MiB"), "{body}");

    let before = rss_bytes();
    for _ in 0..20 {
        assert_eq!(wharf.get("/mem/bomb").await.0, 500);
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(
        grown < 200 << 20,
        "host RSS grew by {} MiB over 20 memory bombs",
        grown >> 20
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keyvalue_data_is_per_deployment_and_durable() {
    let wharf = Wharf::start().await;
    let kv = json!({ "grants": { "keyvalue": true } });
    wharf
        .deploy(ALPHA, "a", guests::KV_COUNTER, Some(kv.clone()))
        .await;
    wharf
        .deploy(ALPHA, "b", guests::KV_COUNTER, Some(kv.clone()))
        .await;
    let put = |name: &str, key: &str, value: &str| {
        let path = format!("/{name}/set?key={key}");
        let value = value.as_bytes().to_vec();
        let w = &wharf;
        async move { w.request(reqwest::Method::PUT, &path, value).await.0 }
    };
    assert_eq!(put("a", "shared", "from a").await, 200);
    assert_eq!(put("b", "shared", "from b").await, 200);
    assert_eq!(wharf.get("/a/get?key=shared").await.1, "from a");
    assert_eq!(wharf.get("/b/get?key=shared").await.1, "from b");
    assert_eq!(wharf.get("/a/incr?key=n&by=5").await.1, "5\n");
    assert_eq!(wharf.get("/a/incr?key=n&by=2").await.1, "7\n");
    assert_eq!(wharf.get("/b/get?key=n").await.0, 404);
    assert_eq!(wharf.get("/a/keys").await.1, "n\nshared\n");
    assert_eq!(wharf.get("/b/keys").await.1, "shared\n");
    // Buckets are separate namespaces too.
    assert_eq!(wharf.get("/a/get?key=shared&bucket=other").await.0, 404);

    // A hot swap (new version, new spec) keeps the data.
    wharf
        .deploy(
            ALPHA,
            "a",
            guests::KV_COUNTER,
            Some(json!({ "grants": { "keyvalue": true }, "config": { "x": "1" } })),
        )
        .await;
    assert_eq!(wharf.get("/a/get?key=shared").await.1, "from a");
    // So does a restart.
    let wharf = wharf.restart().await;
    assert_eq!(wharf.get("/a/get?key=shared").await.1, "from a");
    assert_eq!(wharf.get("/a/incr?key=n").await.1, "8\n");
    assert_eq!(wharf.get("/b/get?key=shared").await.1, "from b");
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn config_values_reach_the_guest_and_secrets_stay_hidden() {
    let wharf = Wharf::start().await;
    let secret = "hunter2-very-secret";
    wharf
        .deploy(
            ALPHA,
            "conf",
            guests::CONFIG_READER,
            Some(json!({ "config": { "region": "eu" }, "secrets": { "api_key": secret } })),
        )
        .await;
    assert_eq!(wharf.get("/conf/get?key=region").await.1, "eu");
    assert_eq!(wharf.get("/conf/get?key=api_key").await.1, secret);
    assert_eq!(wharf.get("/conf/keys").await.1, "api_key\nregion\n");
    assert_eq!(wharf.get("/conf/get?key=missing").await.0, 404);
    let view = wharf.show(ALPHA, "conf").await;
    assert_eq!(view["spec"]["config"]["region"], "eu");
    assert_eq!(view["spec"]["secrets"]["api_key"], "<redacted>");
    let (_, list) = wharf
        .admin(reqwest::Method::GET, "/v1/deployments", Some(ALPHA), None)
        .await;
    let metrics = wharf.metrics().await;
    let logs = wharf.logs(ALPHA, "conf").await;
    for shown in [view.to_string(), list.to_string(), metrics, logs.join("\n")] {
        assert!(!shown.contains(secret), "the secret leaked: {shown}");
    }
    wharf.stop().await;
}

/// A plain HTTP server standing in for an outside API.
async fn upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let body = format!("upstream saw {}", req.uri().path());
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(body)),
                        ))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_http_follows_the_allow_list() {
    let allowed = upstream().await;
    let other = upstream().await;
    let wharf = Wharf::start().await;
    wharf
        .deploy(
            ALPHA,
            "fetch",
            guests::FETCHER,
            Some(json!({ "grants": { "outbound": [format!("http://{allowed}")] } })),
        )
        .await;
    wharf
        .deploy(
            ALPHA,
            "byname",
            guests::FETCHER,
            Some(json!({ "grants": { "outbound": [format!("http://localhost:{}", allowed.port())] } })),
        )
        .await;
    let (status, body) = wharf
        .get(&format!("/fetch/fetch?url=http://{allowed}/hi"))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "status 200\nupstream saw /hi")
    );
    for url in [
        format!("http://{other}/"),
        format!("http://localhost:{}/", allowed.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "https://example.com/".to_string(),
    ] {
        let (status, body) = wharf.get(&format!("/fetch/fetch?url={url}")).await;
        assert_eq!(status, 502, "{url}: {body}");
        assert!(body.contains("HttpRequestDenied"), "{url}: {body}");
    }
    // A name on the list reaches the same server; the IP literal does not.
    let (status, body) = wharf
        .get(&format!(
            "/byname/fetch?url=http://localhost:{}/n",
            allowed.port()
        ))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "status 200\nupstream saw /n")
    );
    let (status, body) = wharf
        .get(&format!("/byname/fetch?url=http://{allowed}/n"))
        .await;
    assert_eq!(status, 502, "{body}");
    let logs = wharf.logs(ALPHA, "fetch").await;
    assert!(
        logs.iter()
            .any(|l| l.contains("denied: not in the deployment's `outbound` grant")),
        "{logs:?}"
    );
    // Raw sockets are linked (runtimes such as CPython import them) but
    // nothing can connect.
    wharf
        .deploy(ALPHA, "sockets", guests::SOCKETS_USER, None)
        .await;
    assert_eq!(
        wharf.get("/sockets/").await,
        (200, "connected: false\n".to_string())
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_stay_inside_their_directory() {
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("hello.txt"), "inside").unwrap();
    std::fs::write(root.path().join("secret.txt"), "outside").unwrap();
    let wharf = Wharf::start().await;
    let files = |mode: &str| json!({ "grants": { "files": { "path": granted, "mode": mode } } });
    wharf
        .deploy(ALPHA, "rw", guests::FILES, Some(files("rw")))
        .await;
    wharf
        .deploy(ALPHA, "ro", guests::FILES, Some(files("ro")))
        .await;
    wharf.deploy(ALPHA, "none", guests::FILES, None).await;

    assert_eq!(
        wharf.get("/rw/read?path=/hello.txt").await,
        (200, "inside".to_string())
    );
    assert_eq!(wharf.get("/rw/list?path=/").await.1, "hello.txt\n");
    let (status, _) = wharf
        .request(
            reqwest::Method::PUT,
            "/rw/write?path=/new.txt",
            b"made".to_vec(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read_to_string(granted.join("new.txt")).unwrap(),
        "made"
    );

    for escape in [
        "/../secret.txt",
        "../secret.txt",
        "/etc/passwd",
        "/./../../secret.txt",
    ] {
        let (status, body) = wharf.get(&format!("/rw/read?path={escape}")).await;
        assert_eq!(status, 403, "{escape}: {body}");
        assert!(
            !body.contains("outside") && !body.contains("root:"),
            "{escape}: {body}"
        );
    }
    // A symlink the guest makes that points out is refused or unreadable.
    let (status, body) = wharf
        .get("/rw/symlink?target=../secret.txt&link=/escape")
        .await;
    if status == 200 {
        let (status, body) = wharf.get("/rw/read?path=/escape").await;
        assert_eq!(status, 403, "{body}");
        assert!(!body.contains("outside"));
    } else {
        assert_eq!(status, 403, "{body}");
    }
    let (status, _) = wharf
        .get(&format!(
            "/rw/symlink?target={}&link=/abs",
            root.path().join("secret.txt").display()
        ))
        .await;
    if status == 200 {
        assert_eq!(wharf.get("/rw/read?path=/abs").await.0, 403);
    }

    assert_eq!(wharf.get("/ro/read?path=/hello.txt").await.1, "inside");
    let (status, body) = wharf
        .request(
            reqwest::Method::PUT,
            "/ro/write?path=/nope.txt",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(!granted.join("nope.txt").exists());
    let (status, _) = wharf.get("/none/read?path=/hello.txt").await;
    assert_eq!(
        status, 403,
        "a deployment without a files grant sees no files"
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_belong_to_their_own_deployment() {
    let wharf = Wharf::start().await;
    let one = wharf.deploy(ALPHA, "one", guests::LOGGER, None).await;
    wharf.deploy(ALPHA, "two", guests::LOGGER, None).await;

    // Follow `one` before it logs.
    let follow = wharf
        .http
        .get(format!(
            "{}/v1/deployments/one/logs?follow=true",
            wharf.admin
        ))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap();
    let mut stream = follow.bytes_stream();

    assert_eq!(wharf.get("/one/log?msg=apple").await.0, 200);
    assert_eq!(wharf.get("/two/log?msg=banana").await.0, 200);
    let logs_one = wharf.logs(ALPHA, "one").await;
    let logs_two = wharf.logs(ALPHA, "two").await;
    for expected in [
        "stdout: stdout apple 0",
        "stderr: stderr apple 0",
        "info: logging apple 0",
    ] {
        assert!(
            logs_one.contains(&expected.to_string()),
            "{expected} not in {logs_one:?}"
        );
    }
    assert!(
        logs_one.iter().all(|l| !l.contains("banana")),
        "{logs_one:?}"
    );
    assert!(
        logs_two.iter().any(|l| l.contains("banana"))
            && logs_two.iter().all(|l| !l.contains("apple"))
    );

    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("logging apple 0") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "following did not deliver the new line: {seen}");
    let line: serde_json::Value =
        serde_json::from_str(seen.lines().find(|l| l.contains("stdout apple")).unwrap()).unwrap();
    assert_eq!(line["version"], &one["digest"].as_str().unwrap()[..12]);
    assert_eq!(line["source"], "stdout");
    wharf.stop().await;
}
