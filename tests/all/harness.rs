//! A real Wharf server on 127.0.0.1:0, real components, a real HTTP client.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wharf_runtime::RuntimeConfig;
use wharf_server::{Server, ServerConfig, Teams};
use wharf_spec::Name;

/// Team `alpha`'s admin token.
pub const ALPHA: &str = "alpha-token-0001";
/// Team `beta`'s admin token.
pub const BETA: &str = "beta-token-0002";

/// A running server and a client for it.
pub struct Wharf {
    server: Option<Server>,
    /// The data directory (kept across restarts).
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the ingress.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the admin API.
    pub admin: String,
}

/// The config tests start from: both listeners on port 0, a small pool,
/// teams `alpha` and `beta`.
pub fn config(data: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(data);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = "127.0.0.1:0".parse().unwrap();
    config.runtime = RuntimeConfig::small();
    let mut teams = Teams::new(false);
    teams.add_token(Name::new("alpha").unwrap(), ALPHA);
    teams.add_token(Name::new("beta").unwrap(), BETA);
    config.teams = teams;
    config.shutdown_grace = Duration::from_secs(10);
    config
}

impl Wharf {
    /// A server with a fresh data directory.
    pub async fn start() -> Wharf {
        Self::start_with(|_| {}).await
    }

    /// A server with a fresh data directory and a tweaked config.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Wharf {
        let tmp = tempfile::tempdir().unwrap();
        let mut wharf = Self::start_in(tmp.path(), tweak).await;
        wharf._tmp = Some(tmp);
        wharf
    }

    /// A server on an existing data directory.
    pub async fn start_in(data: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> Wharf {
        let mut config = config(data);
        tweak(&mut config);
        let server = Server::start(config).await.expect("server starts");
        Wharf {
            base: format!("http://{}", server.ingress_addr()),
            admin: format!("http://{}", server.admin_addr()),
            server: Some(server),
            data: data.to_path_buf(),
            _tmp: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
        }
    }

    /// The server.
    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    /// Shuts down and restarts on the same data directory.
    pub async fn restart(mut self) -> Wharf {
        let tmp = self._tmp.take();
        let data = self.data.clone();
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let mut next = Self::start_in(&data, |_| {}).await;
        next._tmp = tmp;
        next
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// `GET` on the ingress: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    /// Any request on the ingress with an optional body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap_or_default().to_vec())
    }

    /// An admin API call with a token and an optional JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.admin));
        if let Some(token) = token {
            r = r.bearer_auth(token);
        }
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.expect("admin request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Uploads `bytes` as a version of `name`; `query` like `activate=false`,
    /// `spec` sent in the `wharf-spec` header.
    pub async fn upload(
        &self,
        token: &str,
        name: &str,
        bytes: Vec<u8>,
        query: &str,
        spec: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!(
                "{}/v1/deployments/{name}/versions?{query}",
                self.admin
            ))
            .bearer_auth(token)
            .header("content-type", "application/wasm")
            .body(bytes);
        if let Some(spec) = spec {
            r = r.header("wharf-spec", serde_json::to_string(&spec).unwrap());
        }
        let r = r.send().await.expect("upload");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Uploads a guest from `components/` and expects it to serve.
    pub async fn deploy(&self, token: &str, name: &str, guest: &str, spec: Option<Value>) -> Value {
        let (status, body) = self
            .upload(token, name, wharf_test_artifacts::bytes(guest), "", spec)
            .await;
        assert_eq!(status, 201, "deploying {name} failed: {body}");
        body
    }

    /// The deployment as the admin API shows it.
    pub async fn show(&self, token: &str, name: &str) -> Value {
        let (status, body) = self
            .admin(
                reqwest::Method::GET,
                &format!("/v1/deployments/{name}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The admin listener's Prometheus metrics, as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Log lines of a deployment, as `source: message`.
    pub async fn logs(&self, token: &str, name: &str) -> Vec<String> {
        let r = self
            .http
            .get(format!(
                "{}/v1/deployments/{name}/logs?limit=10000",
                self.admin
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text()
            .await
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                format!(
                    "{}: {}",
                    v["source"].as_str().unwrap(),
                    v["message"].as_str().unwrap()
                )
            })
            .collect()
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of the `wharf` binary under test.
pub fn wharf_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wharf")
}

/// A `wharf serve` process started from the binary; killed on drop.
pub struct Process {
    /// The child.
    pub child: std::process::Child,
    /// The ingress base URL it printed.
    pub base: String,
    /// The admin base URL it printed.
    pub admin: String,
    /// Everything it printed to stderr up to the banner.
    pub banner: String,
}

impl Process {
    /// Starts `wharf serve ARGS` and waits for its banner. Returns the stderr
    /// text instead if it exits first.
    pub fn serve(args: &[&str]) -> Result<Process, String> {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(wharf_bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn wharf");
        let stderr = child.stderr.take().unwrap();
        let mut reader = BufReader::new(stderr);
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = child.wait();
                    return Err(banner);
                }
                Ok(_) => {}
            }
            banner.push_str(&line);
            if let Some(rest) = line.strip_prefix("wharf: serving components on ") {
                let base = rest.split_whitespace().next().unwrap().to_string();
                let admin = rest
                    .split("admin API on ")
                    .nth(1)
                    .unwrap()
                    .trim()
                    .trim_end_matches(')')
                    .to_string();
                // Keep draining stderr so the child never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                        sink.clear();
                    }
                });
                return Ok(Process {
                    child,
                    base,
                    admin,
                    banner,
                });
            }
        }
    }

    /// Sends SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Wharf {
    /// Deploys `first` as `name`, then uploads `second` with `query` (e.g.
    /// `activate=false` or `canary=20`); returns both digests.
    pub async fn two_versions(
        &self,
        token: &str,
        name: &str,
        first: &str,
        second: &str,
        query: &str,
    ) -> (String, String) {
        let v1 = self.deploy(token, name, first, None).await["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = self
            .upload(
                token,
                name,
                wharf_test_artifacts::bytes(second),
                query,
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (v1, body["digest"].as_str().unwrap().to_string())
    }
}

/// Runs the `wharf` binary against an admin API with team alpha's token:
/// `(success, stdout, stderr)`.
pub async fn cli(admin: &str, args: &[&str]) -> (bool, String, String) {
    let admin = admin.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(wharf_bin())
            .args(&args)
            .env("WHARF_ADMIN", admin)
            .env("WHARF_TOKEN", ALPHA)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}
