//! Python and JavaScript components on the same WIT as the Rust ones:
//! serving HTTP, providing interfaces to Rust callers, calling Rust
//! providers, hot-swapped, and scaffolded by `wharf new`.

use crate::harness::{ALPHA, BETA, Wharf, cli};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wharf_test_artifacts as guests;

const KINDS: &str = "wharf-test:kinds/values@0.1.0";

#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_serve_and_call_across_languages() {
    let wharf = Arc::new(Wharf::start().await);
    // Both handlers answer over HTTP.
    wharf
        .deploy(ALPHA, "hello-py", guests::HELLO_PY, None)
        .await;
    wharf
        .deploy(ALPHA, "hello-js", guests::HELLO_JS, None)
        .await;
    assert_eq!(
        wharf.get("/hello-py").await,
        (200, "Hello from Wharf!\n".to_string())
    );
    assert_eq!(
        wharf.get("/hello-js/x").await,
        (200, "Hello from Wharf!\n".to_string())
    );

    // A Rust component calls a Python provider through the host.
    let calls = json!({ "grants": { "calls": [KINDS] } });
    wharf
        .deploy(ALPHA, "kinds", guests::KINDS_PY_V1, None)
        .await;
    wharf
        .deploy(BETA, "caller", guests::KINDS_CALLER, Some(calls.clone()))
        .await;
    assert_eq!(
        wharf.get("/caller/roundtrip").await,
        (200, "ok\n".to_string())
    );
    assert_eq!(wharf.get("/caller/version").await.1, "py-v1");
    let (status, body) = wharf.get("/caller/boom").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("handled: the component trapped"), "{body}");
    let logs = wharf.logs(ALPHA, "kinds").await;
    assert!(
        logs.iter().any(|l| l.contains("blew up on purpose")),
        "the Python traceback reaches the log: {logs:?}"
    );

    // Hot swap of the Python provider under calls: none lost.
    let (status, v2) = wharf
        .upload(
            ALPHA,
            "kinds",
            guests::bytes(guests::KINDS_PY_V2),
            "activate=false",
            None,
        )
        .await;
    assert_eq!(status, 201, "{v2}");
    let v2 = v2["digest"].as_str().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (wharf, stop) = (wharf.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut seen, mut failures) = (BTreeSet::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match wharf.get("/caller/version").await {
                        (200, v) => {
                            seen.insert(v);
                        }
                        other => failures.push(other),
                    }
                }
                (seen, failures)
            })
        })
        .collect();
    for i in 0..6 {
        let path = if i % 2 == 0 { "activate" } else { "rollback" };
        let body = if i % 2 == 0 {
            json!({ "version": v2 })
        } else {
            json!({})
        };
        let (status, reply) = wharf
            .admin(
                Method::POST,
                &format!("/v1/deployments/kinds/{path}"),
                Some(ALPHA),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{reply}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = BTreeSet::new();
    for w in workers {
        let (s, failures) = w.await.unwrap();
        assert!(
            failures.is_empty(),
            "calls failed during the swaps: {failures:?}"
        );
        seen.extend(s);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["py-v1", "py-v2"]);

    // The same Rust caller against a JavaScript provider.
    wharf
        .admin(Method::DELETE, "/v1/deployments/kinds", Some(ALPHA), None)
        .await;
    wharf
        .deploy(ALPHA, "kinds-js", guests::KINDS_JS, None)
        .await;
    assert_eq!(wharf.get("/caller/version").await.1, "js");
    assert_eq!(
        wharf.get("/caller/roundtrip").await,
        (200, "ok\n".to_string())
    );
    let (status, body) = wharf.get("/caller/boom").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("handled:"), "{body}");

    // And the reverse: a Python component calls a Rust provider.
    wharf
        .admin(
            Method::DELETE,
            "/v1/deployments/kinds-js",
            Some(ALPHA),
            None,
        )
        .await;
    wharf.deploy(ALPHA, "kinds", guests::KINDS_V1, None).await;
    wharf
        .deploy(BETA, "caller-py", guests::CALLER_PY, Some(calls))
        .await;
    assert_eq!(
        wharf.get("/caller-py/add?a=40&b=2").await,
        (200, "42".to_string())
    );
    assert_eq!(wharf.get("/caller-py/version").await.1, "v1");
}

fn run(dir: &Path, shell: &str, path_extra: &[&Path]) -> String {
    let mut path = std::env::var("PATH").unwrap_or_default();
    for p in path_extra {
        path = format!("{}:{path}", p.display());
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(shell)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`{shell}` failed in {}:\n{text}",
        dir.display()
    );
    text
}

/// The authoring guides' steps, for each language: `wharf new`, the build
/// command the project's README gives, `wharf deploy`, a request, the logs.
#[tokio::test(flavor = "multi_thread")]
async fn wharf_new_projects_build_and_deploy_as_generated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = [
        root.join(".tools/venv/bin"),
        root.join("tools/node_modules/.bin"),
    ];
    let tools: Vec<&Path> = tools.iter().map(|p| p.as_path()).collect();
    let wharf = Wharf::start().await;
    let work = tempfile::tempdir().unwrap();
    for (lang, name, says) in [
        ("rust", "new-rs", "(Rust)"),
        ("python", "new-py", "(Python)"),
        ("js", "new-js", "(JavaScript)"),
    ] {
        let dir = work.path().join(name);
        let (ok, _, err) = cli(
            "http://unused",
            &["new", "--lang", lang, name, "--dir", dir.to_str().unwrap()],
        )
        .await;
        assert!(ok, "{err}");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        // Run the README's own build line, so the guide cannot drift.
        let build = readme
            .lines()
            .find(|l| l.starts_with("cargo build") || l.starts_with("componentize-"))
            .unwrap()
            .to_string();
        run(&dir, &build, &tools);
        let wasm = dir.join(format!("{name}.wasm"));
        let (ok, _, err) = cli(&wharf.admin, &["deploy", name, wasm.to_str().unwrap()]).await;
        assert!(ok, "{err}");
        let (status, body) = wharf.get(&format!("/{name}/hi")).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(says) && body.contains("You asked for /hi"),
            "{body}"
        );
        let logs = wharf.logs(ALPHA, name).await;
        assert!(
            logs.iter().any(|l| l.contains("answered /hi")),
            "{name}: {logs:?}"
        );
    }
    wharf.stop().await;
}
