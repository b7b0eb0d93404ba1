//! `wharf serve`: components answering HTTP, side by side, and failing alone.

use crate::harness::{ALPHA, Process, Wharf, eventually};
use std::time::Duration;
use wharf_test_artifacts as guests;

#[tokio::test(flavor = "multi_thread")]
async fn demo_binary_serves_hello_and_echo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let process = Process::serve(&["--demo", "--data-dir", data.to_str().unwrap()])
        .expect("wharf serve --demo starts");
    assert!(process.banner.contains("/hello"), "{}", process.banner);
    let http = reqwest::Client::new();
    let hello = http
        .get(format!("{}/hello", process.base))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), 200);
    assert_eq!(hello.text().await.unwrap(), "Hello from Wharf!\n");
    let echo = http
        .put(format!("{}/echo/some/path?x=1", process.base))
        .header("x-test", "yes")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    assert_eq!(echo.headers()["x-echo-method"], "PUT");
    assert_eq!(echo.headers()["x-echo-path"], "/some/path?x=1");
    let text = echo.text().await.unwrap();
    assert!(text.starts_with("PUT /some/path?x=1\n"), "{text}");
    assert!(text.contains("x-test: yes\n"), "{text}");
    assert!(text.contains("x-forwarded-prefix: /echo\n"), "{text}");
    assert!(text.ends_with("\n\npayload"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn components_serve_side_by_side_and_unknown_routes_404() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "hello", guests::HELLO, None).await;
    wharf.deploy(ALPHA, "echo", guests::ECHO, None).await;
    let (status, body) = wharf.get("/hello").await;
    assert_eq!((status, body.as_str()), (200, "Hello from Wharf!\n"));
    let (status, body) = wharf.get("/hello/anything/below").await;
    assert_eq!((status, body.as_str()), (200, "Hello from Wharf!\n"));
    let (status, body) = wharf.get("/echo").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("GET /\n"), "{body}");
    // Routes match whole segments only.
    let (status, body) = wharf.get("/hellothere").await;
    assert_eq!(status, 404);
    assert_eq!(body, "no deployment serves /hellothere\n");
    assert_eq!(wharf.get("/").await.0, 404);
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_is_a_500_for_that_request_only() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "hello", guests::HELLO, None).await;
    wharf
        .deploy(ALPHA, "misbehave", guests::MISBEHAVE, None)
        .await;
    for _ in 0..3 {
        let (status, body) = wharf.get("/misbehave/trap").await;
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("misbehave: the component trapped"), "{body}");
        assert!(body.contains("unreachable"), "{body}");
        assert_eq!(
            wharf.get("/hello").await,
            (200, "Hello from Wharf!\n".to_string())
        );
    }
    assert_eq!(wharf.get("/misbehave/ok").await.0, 200);
    let logs = wharf.logs(ALPHA, "misbehave").await;
    assert!(
        logs.iter()
            .any(|l| l.starts_with("host: the component trapped") && l.contains("(trap)")),
        "{logs:?}"
    );
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn core_modules_and_non_wasm_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    // The smallest valid core module: magic and version 1.
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let data = dir.path().join("data");
    let arg = format!("bad={}", core.display());
    let err = Process::serve(&["--component", &arg, "--data-dir", data.to_str().unwrap()])
        .err()
        .expect("a core module must not start");
    assert!(
        err.contains("core WebAssembly module, not a component"),
        "{err}"
    );
    assert!(err.contains("wasm32-wasip2"), "{err}");
    assert!(err.contains("wasm-tools component new"), "{err}");

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, b"these are not the bytes you are looking for").unwrap();
    let arg = format!("bad={}", text.display());
    let err = Process::serve(&["--component", &arg, "--data-dir", data.to_str().unwrap()])
        .err()
        .expect("a text file must not start");
    assert!(err.contains("not a WebAssembly file"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_stream_both_ways() {
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "echo", guests::ECHO, None).await;
    let body: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (status, echoed) = wharf
        .request(reqwest::Method::POST, "/echo/big", body.clone())
        .await;
    assert_eq!(status, 200);
    let split = echoed.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    assert_eq!(echoed.len() - split, body.len());
    assert!(echoed[split..] == body[..], "the body came back changed");
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_with_prior_knowledge() {
    use http_body_util::{BodyExt, Full};
    let wharf = Wharf::start().await;
    wharf.deploy(ALPHA, "hello", guests::HELLO, None).await;
    let stream = tokio::net::TcpStream::connect(wharf.server().ingress_addr())
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let request = http::Request::get(format!("http://{}/hello", wharf.server().ingress_addr()))
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"Hello from Wharf!\n");
    }
    wharf.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_in_flight_requests_finish() {
    let wharf = Wharf::start().await;
    wharf
        .deploy(ALPHA, "misbehave", guests::MISBEHAVE, None)
        .await;
    let url = format!("{}/misbehave/sleep?ms=800", wharf.base);
    let slow = tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
    let in_flight =
        eventually(Duration::from_secs(5), || async {
            wharf.metrics().await.lines().any(|l| {
                l.starts_with("wharf_in_flight{deployment=\"misbehave\"") && l.ends_with(" 1")
            })
        })
        .await;
    assert!(in_flight, "the slow request never started");
    let base = wharf.base.clone();
    wharf.stop().await;
    assert_eq!(slow.await.unwrap(), "slept\n");
    assert!(
        reqwest::get(format!("{base}/misbehave/ok")).await.is_err(),
        "still accepting after shutdown"
    );
}
