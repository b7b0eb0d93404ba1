//! `wharf-bench`: the measurements `bench/run.sh` cannot make with `wrk`
//! alone. Every subcommand prints one JSON object on stdout.
//!
//! - `deploy-latency`: upload to first response, cold (compiling) and for an
//!   already-compiled version (activate / rollback);
//! - `restart`: restart time with N deployed components, from the artifact
//!   cache and recompiling;
//! - `density`: resident memory of the server with N idle components;
//! - `inproc`: per-request cost of a fresh instance (no sockets), and typed
//!   calls direct vs through the host;
//! - `swapper`: swaps a deployment between two versions on an interval (run
//!   next to `wrk`).

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token-000000";

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Upload-to-serving latency.
    DeployLatency {
        #[arg(long)]
        wharf: PathBuf,
        #[arg(long)]
        v1: PathBuf,
        #[arg(long)]
        v2: PathBuf,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Restart time with N components, cached and compiling.
    Restart {
        #[arg(long)]
        wharf: PathBuf,
        #[arg(long)]
        component: PathBuf,
        #[arg(long, default_value_t = 100)]
        count: usize,
    },
    /// Resident memory with N idle components.
    Density {
        #[arg(long)]
        wharf: PathBuf,
        #[arg(long)]
        component: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "10,100,500")]
        counts: Vec<usize>,
    },
    /// In-process cost of a fresh instance per request and of typed calls.
    Inproc {
        #[arg(long)]
        hello: PathBuf,
        #[arg(long)]
        kinds: PathBuf,
        #[arg(long, default_value_t = 20000)]
        iterations: usize,
        /// Bytes of each linear memory kept resident between instances.
        #[arg(long, default_value = "1MiB")]
        keep_resident: wharf_spec::ByteSize,
    },
    /// Upload-to-first-response of one component on a fresh server.
    Cold {
        #[arg(long)]
        wharf: PathBuf,
        #[arg(long)]
        component: PathBuf,
    },
    /// Micro-benchmarks of the request path: route lookup among N
    /// deployments, weighted version pick, and the per-request counters.
    Micro {
        #[arg(long)]
        hello: PathBuf,
        #[arg(long, default_value_t = 500)]
        deployments: usize,
    },
    /// Swaps NAME between two versions every INTERVAL for SECONDS.
    Swapper {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        v1: String,
        #[arg(long)]
        v2: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        interval_ms: u64,
    },
    /// Deploys a component as NAME on a running server.
    Deploy {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        spec: Option<String>,
        #[arg(long)]
        no_activate: bool,
    },
}

/// A component made distinct from `bytes` (so it has its own digest and its
/// own compiled artifact) by appending a custom section.
fn variant(bytes: &[u8], i: usize) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"wharf-bench";
    let payload = format!("variant {i}");
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(payload.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

struct Server {
    child: Child,
    base: String,
    admin: String,
}

impl Server {
    fn start(wharf: &Path, data: &Path) -> anyhow::Result<(Server, Duration)> {
        let started = Instant::now();
        let mut child = Command::new(wharf)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data)
            .args(["--admin-token", &format!("bench:{TOKEN}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("failed to start wharf")?;
        let mut reader = BufReader::new(child.stderr.take().context("no stderr")?);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("wharf exited: {seen}");
            }
            seen.push_str(&line);
            if let Some(rest) = line.strip_prefix("wharf: serving components on ") {
                let took = started.elapsed();
                let base = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let admin = rest
                    .split("admin API on ")
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .trim_end_matches(')')
                    .to_string();
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                        sink.clear();
                    }
                });
                return Ok((Server { child, base, admin }, took));
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        // SIGTERM, then wait: a graceful stop keeps the registry tidy.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(8)
        .build()
        .unwrap_or_default()
}

async fn upload(
    http: &reqwest::Client,
    admin: &str,
    name: &str,
    bytes: Vec<u8>,
    query: &str,
    spec: Option<&str>,
) -> anyhow::Result<Value> {
    let mut r = http
        .post(format!("{admin}/v1/deployments/{name}/versions?{query}"))
        .bearer_auth(TOKEN)
        .body(bytes);
    if let Some(spec) = spec {
        r = r.header("wharf-spec", spec);
    }
    let r = r.send().await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if !status.is_success() {
        bail!("upload of {name} failed: {body}");
    }
    Ok(body)
}

async fn post(http: &reqwest::Client, admin: &str, path: &str, body: Value) -> anyhow::Result<()> {
    let r = http
        .post(format!("{admin}{path}"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("{path}: {}", r.text().await?);
    }
    Ok(())
}

/// Polls `url` until its body satisfies `done`; returns the time it took.
async fn until(
    http: &reqwest::Client,
    url: &str,
    done: impl Fn(&str) -> bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
            && done(&r.text().await.unwrap_or_default())
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("{url} never answered as expected");
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .context("no VmRSS")
}

async fn deploy_latency(
    wharf: &Path,
    v1: &Path,
    v2: &Path,
    rounds: usize,
) -> anyhow::Result<Value> {
    let data = tempfile::tempdir()?;
    let (server, _) = Server::start(wharf, data.path())?;
    let http = client();
    let (v1, v2) = (std::fs::read(v1)?, std::fs::read(v2)?);
    let url = format!("{}/svc", server.base);
    let is = |v: &'static str| move |body: &str| body.starts_with(v);

    // Cold: compile and serve.
    let digest = |v: Value| v["digest"].as_str().unwrap_or_default().to_string();
    let started = Instant::now();
    let d1 = digest(upload(&http, &server.admin, "svc", v1, "", None).await?);
    until(&http, &url, is("v1")).await?;
    let cold = started.elapsed();

    let d2 = digest(upload(&http, &server.admin, "svc", v2, "activate=false", None).await?);
    // Time from an admin action to the first response of the version it
    // serves.
    let timed = |action: &'static str, body: Value, expect: &'static str| {
        let (http, admin, url) = (&http, &server.admin, &url);
        async move {
            let t = Instant::now();
            post(http, admin, &format!("/v1/deployments/svc/{action}"), body).await?;
            until(http, url, is(expect)).await?;
            anyhow::Ok(ms(t.elapsed()))
        }
    };
    let mut activate = Vec::new();
    let mut rollback = Vec::new();
    for _ in 0..rounds {
        activate.push(timed("activate", json!({ "version": d2 }), "v2").await?);
        rollback.push(timed("rollback", json!({ "to": d1 }), "v1").await?);
    }
    server.stop();
    let summary =
        |v: Vec<f64>| json!({ "median": percentile(v.clone(), 0.5), "p95": percentile(v, 0.95) });
    Ok(json!({
        "cold_upload_to_serving_ms": ms(cold),
        "activate_compiled_to_serving_ms": summary(activate),
        "rollback_to_serving_ms": summary(rollback),
    }))
}

async fn deploy_many(
    http: &reqwest::Client,
    admin: &str,
    base: &[u8],
    count: usize,
) -> anyhow::Result<()> {
    for i in 0..count {
        upload(http, admin, &format!("c{i}"), variant(base, i), "", None).await?;
    }
    Ok(())
}

async fn restart(wharf: &Path, component: &Path, count: usize) -> anyhow::Result<Value> {
    let data = tempfile::tempdir()?;
    let base = std::fs::read(component)?;
    let http = client();
    let (server, _) = Server::start(wharf, data.path())?;
    let t = Instant::now();
    deploy_many(&http, &server.admin, &base, count).await?;
    let first_deploy = t.elapsed();
    server.stop();

    let check = |server: &Server| {
        let url = format!("{}/c{}", server.base, count - 1);
        let http = http.clone();
        async move { until(&http, &url, |_| true).await }
    };
    let (server, cached) = Server::start(wharf, data.path())?;
    check(&server).await?;
    server.stop();
    std::fs::remove_dir_all(data.path().join("cache"))?;
    let (server, compiling) = Server::start(wharf, data.path())?;
    check(&server).await?;
    server.stop();
    Ok(json!({
        "components": count,
        "deploy_all_ms": ms(first_deploy),
        "restart_cached_ms": ms(cached),
        "restart_compiling_ms": ms(compiling),
        "speedup": (compiling.as_secs_f64() / cached.as_secs_f64() * 10.0).round() / 10.0,
    }))
}

async fn density(wharf: &Path, component: &Path, counts: &[usize]) -> anyhow::Result<Value> {
    let base = std::fs::read(component)?;
    let http = client();
    let mut rows = Vec::new();
    for &count in counts {
        let data = tempfile::tempdir()?;
        let (server, _) = Server::start(wharf, data.path())?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let empty = rss_kib(server.pid())?;
        deploy_many(&http, &server.admin, &base, count).await?;
        server.stop();
        // Measure after a restart from the cache, the steady state of a
        // server that has been up a while.
        let (server, _) = Server::start(wharf, data.path())?;
        until(&http, &format!("{}/c0", server.base), |_| true).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let full = rss_kib(server.pid())?;
        server.stop();
        rows.push(json!({
            "components": count,
            "rss_empty_mib": (empty as f64 / 1024.0 * 10.0).round() / 10.0,
            "rss_mib": (full as f64 / 1024.0 * 10.0).round() / 10.0,
            "per_component_kib": (full.saturating_sub(empty) as f64 / count as f64).round(),
        }));
    }
    Ok(json!({ "density": rows }))
}

async fn inproc(
    hello: &Path,
    kinds: &Path,
    iterations: usize,
    keep_resident: wharf_spec::ByteSize,
) -> anyhow::Result<Value> {
    use http_body_util::{BodyExt, Full};
    use std::sync::Arc;
    use wharf_runtime::{CallContext, NoProviders, Runtime, RuntimeConfig, Val, VersionParams};

    let dir = tempfile::tempdir()?;
    let kv = wharf_capabilities::keyvalue::RedbBackend::open(&dir.path().join("kv.redb"))?;
    let config = RuntimeConfig {
        keep_resident,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Arc::new(kv))?;
    let load = |path: &Path, name: &str| -> anyhow::Result<_> {
        let bytes: Arc<[u8]> = std::fs::read(path)?.into();
        Ok((bytes, name.to_string()))
    };
    let mut versions = Vec::new();
    for (bytes, name) in [load(hello, "hello")?, load(kinds, "kinds")?] {
        let component = runtime
            .compile(bytes)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let spec = wharf_spec::DeploymentSpec::default();
        let version = runtime
            .prepare(
                component,
                VersionParams {
                    name: wharf_spec::Name::new(&name).map_err(|e| anyhow::anyhow!("{e}"))?,
                    digest: "0".repeat(64),
                    gate: Arc::new(tokio::sync::Semaphore::new(1000)),
                    spec: Arc::new(spec),
                    logs: wharf_capabilities::logging::LogBuffer::new(&name, 10),
                    providers: Arc::new(NoProviders),
                    allow_unresolved: false,
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        versions.push(version);
    }
    let (hello, kinds) = (versions[0].clone(), versions[1].clone());

    let request = || {
        http::Request::get("http://localhost/")
            .header("host", "localhost")
            .body(Full::new(bytes::Bytes::new()))
            .expect("static request")
    };
    for _ in 0..1000 {
        let r = hello
            .handle_http(request())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        r.into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let t = Instant::now();
    for _ in 0..iterations {
        let r = hello
            .handle_http(request())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        r.into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let per_request = t.elapsed() / iterations as u32;

    let call = || CallContext {
        deployment: "bench".into(),
        caller: None,
        depth: 0,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let args = [Val::U64(1), Val::U64(2)];
    let iface = "wharf-test:kinds/values@0.1.0";
    for _ in 0..1000 {
        kinds
            .call_export(call(), iface, "add", &args)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let t = Instant::now();
    for _ in 0..iterations {
        kinds
            .call_export(call(), iface, "add", &args)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let per_call = t.elapsed() / iterations as u32;
    let direct = kinds
        .time_calls_on_one_instance(iface, "add", &args, iterations)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        / iterations as u32;
    Ok(json!({
        "fresh_instance_request_us": (per_request.as_secs_f64() * 1e7).round() / 10.0,
        "fresh_instance_typed_call_us": (per_call.as_secs_f64() * 1e7).round() / 10.0,
        "typed_calls_per_second_one_core": (1.0 / per_call.as_secs_f64()).round(),
        "direct_call_same_instance_us": (direct.as_secs_f64() * 1e7).round() / 10.0,
    }))
}

async fn cold(wharf: &Path, component: &Path) -> anyhow::Result<Value> {
    let data = tempfile::tempdir()?;
    let (server, _) = Server::start(wharf, data.path())?;
    let http = client();
    let bytes = std::fs::read(component)?;
    let size = bytes.len();
    let started = Instant::now();
    upload(&http, &server.admin, "c", bytes, "", None).await?;
    until(&http, &format!("{}/c/", server.base), |_| true).await?;
    let took = started.elapsed();
    server.stop();
    Ok(json!({ "bytes": size, "cold_deploy_ms": ms(took) }))
}

/// Nanoseconds per call of `f`, over enough iterations to be stable.
fn nanos_per(mut f: impl FnMut()) -> f64 {
    let iterations = 2_000_000;
    for _ in 0..iterations / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iterations {
        f();
    }
    (t.elapsed().as_nanos() as f64 / iterations as f64 * 10.0).round() / 10.0
}

async fn micro(hello: &Path, deployments: usize) -> anyhow::Result<Value> {
    use std::hint::black_box;
    use std::sync::Arc;
    use wharf_runtime::{NoProviders, Runtime, RuntimeConfig, VersionParams};
    use wharf_server::live::{Live, LiveDeployment};

    let dir = tempfile::tempdir()?;
    let kv = wharf_capabilities::keyvalue::RedbBackend::open(&dir.path().join("kv.redb"))?;
    let runtime = Runtime::new(RuntimeConfig::default(), Arc::new(kv))?;
    let component = runtime
        .compile(std::fs::read(hello)?.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let live = Live::default();
    let mut last = None;
    for i in 0..deployments {
        let name =
            wharf_spec::Name::new(&format!("svc-{i}")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let logs = wharf_capabilities::logging::LogBuffer::new(name.as_str(), 10);
        let version = runtime
            .prepare(
                component.clone(),
                VersionParams {
                    name: name.clone(),
                    digest: "0".repeat(64),
                    gate: Arc::new(tokio::sync::Semaphore::new(10)),
                    spec: Arc::new(wharf_spec::DeploymentSpec::default()),
                    logs: logs.clone(),
                    providers: Arc::new(NoProviders),
                    allow_unresolved: false,
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deployment = Arc::new(LiveDeployment::new(
            name.clone(),
            name.clone(),
            name.default_route(),
            vec![(version.clone(), 90), (version, 10)],
            logs,
            Default::default(),
        ));
        live.put(deployment.clone());
        last = Some(deployment);
    }
    let deployment = last.context("no deployments")?;
    let path = format!("/svc-{}/some/path", deployments - 1);
    let route = nanos_per(|| {
        black_box(live.route(black_box(&path)));
    });
    let pick = nanos_per(|| {
        black_box(deployment.pick());
    });
    let version = deployment.primary().context("no version")?.clone();
    let metrics = nanos_per(|| {
        version
            .metrics()
            .request(black_box(Duration::from_micros(120)));
    });
    Ok(json!({
        "deployments": deployments,
        "route_ns": route,
        "weighted_pick_ns": pick,
        "metrics_record_ns": metrics,
    }))
}

async fn swapper(
    admin: &str,
    name: &str,
    v1: &str,
    v2: &str,
    seconds: u64,
    interval: u64,
) -> anyhow::Result<Value> {
    let http = client();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut swaps = 0;
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        let target = if swaps % 2 == 0 { v2 } else { v1 };
        let t = Instant::now();
        post(
            &http,
            admin,
            &format!("/v1/deployments/{name}/activate"),
            json!({ "version": target }),
        )
        .await?;
        slowest = slowest.max(t.elapsed());
        swaps += 1;
        tokio::time::sleep(Duration::from_millis(interval)).await;
    }
    Ok(json!({ "swaps": swaps, "slowest_swap_ms": ms(slowest) }))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // In-process measurements run on one thread, like `wharf serve --threads 1`
    // pinned to one core in the throughput runs.
    let runtime = match cli.command {
        Cmd::Inproc { .. } | Cmd::Micro { .. } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    let out = runtime.block_on(async {
        match cli.command {
            Cmd::DeployLatency {
                wharf,
                v1,
                v2,
                rounds,
            } => deploy_latency(&wharf, &v1, &v2, rounds).await,
            Cmd::Restart {
                wharf,
                component,
                count,
            } => restart(&wharf, &component, count).await,
            Cmd::Density {
                wharf,
                component,
                counts,
            } => density(&wharf, &component, &counts).await,
            Cmd::Inproc {
                hello,
                kinds,
                iterations,
                keep_resident,
            } => inproc(&hello, &kinds, iterations, keep_resident).await,
            Cmd::Micro { hello, deployments } => micro(&hello, deployments).await,
            Cmd::Cold { wharf, component } => cold(&wharf, &component).await,
            Cmd::Swapper {
                admin,
                name,
                v1,
                v2,
                seconds,
                interval_ms,
            } => swapper(&admin, &name, &v1, &v2, seconds, interval_ms).await,
            Cmd::Deploy {
                admin,
                name,
                component,
                spec,
                no_activate,
            } => {
                let http = client();
                let query = if no_activate { "activate=false" } else { "" };
                upload(
                    &http,
                    &admin,
                    &name,
                    std::fs::read(&component)?,
                    query,
                    spec.as_deref(),
                )
                .await
            }
        }
    })?;
    println!("{out}");
    Ok(())
}
