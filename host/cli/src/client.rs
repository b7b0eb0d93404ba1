//! The commands that talk to a running Wharf through its admin API.

use crate::Command;
use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use wharf_spec::{ByteSize, DeploymentSpec, FilesGrant, FilesMode, Millis, Route};

/// Options every client command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The admin API of the Wharf to talk to.
    #[arg(
        long,
        env = "WHARF_ADMIN",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    admin: String,
    /// Your team's admin token.
    #[arg(long, env = "WHARF_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    /// The deployment.
    name: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The deployment name (created on first deploy; owned by your team).
    name: String,
    /// The component (`.wasm`).
    file: PathBuf,
    /// Mount at this path prefix instead of /NAME.
    #[arg(long)]
    route: Option<String>,
    /// Serve the new version to PERCENT of requests, next to the current one.
    #[arg(long, value_name = "PERCENT")]
    canary: Option<u32>,
    /// Only store the version; keep serving the current one.
    #[arg(long)]
    no_activate: bool,
    /// Memory for one instance (all memories and tables), e.g. 64MiB.
    #[arg(long)]
    memory_limit: Option<ByteSize>,
    /// Wall-clock limit per request, e.g. 2s.
    #[arg(long)]
    timeout: Option<Millis>,
    /// CPU time limit per request, e.g. 500ms.
    #[arg(long)]
    cpu_limit: Option<Millis>,
    /// Concurrent instances; beyond this requests get 503 + Retry-After.
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Grant `wasi:keyvalue` (the deployment's own store).
    #[arg(long)]
    keyvalue: bool,
    /// Allow outbound HTTP to ORIGIN (repeatable), e.g. https://api.example.com
    #[arg(long = "outbound", value_name = "ORIGIN")]
    outbound: Vec<String>,
    /// Grant a host directory, seen as `/`: DIR (read-only) or DIR:rw.
    #[arg(long, value_name = "DIR[:rw]")]
    files: Option<String>,
    /// Allow importing INTERFACE from another deployment (repeatable).
    #[arg(long = "call", value_name = "INTERFACE")]
    calls: Vec<String>,
    /// Set a config value (repeatable): KEY=VALUE.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Set a secret config value (repeatable, never shown back): KEY=VALUE.
    #[arg(long = "secret", value_name = "KEY=VALUE")]
    secrets: Vec<String>,
    /// Only these deployments may call this one's interfaces (repeatable).
    #[arg(long = "allow-caller", value_name = "NAME")]
    callers: Vec<String>,
    /// Who may call its interfaces from outside: token, public or none.
    #[arg(long)]
    external: Option<String>,
    /// Start even if an imported interface has no provider yet.
    #[arg(long)]
    allow_unresolved: bool,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The deployment.
    name: String,
    /// The version (digest or unique prefix) to serve; default: the previous one.
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
pub struct ActivateArgs {
    /// The deployment.
    name: String,
    /// The version (digest or unique prefix).
    version: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The deployment.
    name: String,
    /// Keep printing new lines as they are written.
    #[arg(long, short)]
    follow: bool,
    /// How many recent lines to print first.
    #[arg(long, default_value_t = 100)]
    tail: usize,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The deployment.
    name: String,
    /// INTERFACE.FUNCTION, e.g. items.get or example:catalog/items@0.1.0.get
    function: String,
    /// The arguments as a JSON object by parameter name.
    #[arg(default_value = "{}")]
    args: String,
    #[command(flatten)]
    global: Global,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    json: bool,
}

impl Client {
    fn new(global: &Global) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("failed to create the HTTP client")?;
        Ok(Self {
            http,
            base: global.admin.trim_end_matches('/').to_string(),
            token: global.token.clone(),
            json: global.json,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            r = r.bearer_auth(token);
        }
        r
    }

    /// Sends `request`; a non-2xx answer becomes an error with the API's
    /// message and code.
    async fn open(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the admin API at {} (is `wharf serve` running? set --admin)",
                self.base
            )
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let value = json_or_text(&response.bytes().await.unwrap_or_default());
        let message = value["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        let code = value["error"]["code"].as_str().unwrap_or("error");
        bail!("{message} ({code}, HTTP {})", status.as_u16());
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let body = self
            .open(request)
            .await?
            .bytes()
            .await
            .context("the admin API's response was cut short")?;
        Ok(json_or_text(&body))
    }

    fn print(&self, value: &Value, human: impl FnOnce(&Value)) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            human(value);
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn traffic_text(traffic: &Value) -> String {
    let parts: Vec<String> = traffic
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{} {}%",
                short(t["digest"].as_str().unwrap_or("?")),
                t["weight"]
            )
        })
        .collect();
    if parts.is_empty() {
        "(nothing active)".into()
    } else {
        parts.join(", ")
    }
}

fn print_view(view: &Value) {
    println!(
        "{}  team {}  route {}",
        view["name"].as_str().unwrap_or("?"),
        view["team"].as_str().unwrap_or("?"),
        view["route"].as_str().unwrap_or("?")
    );
    println!("serving: {}", traffic_text(&view["traffic"]));
    println!();
    println!(
        "{:<14} {:>8} {:>10} {:>8} {:>10} {:>8}  {}",
        "VERSION", "WEIGHT", "SIZE", "COMPILE", "REQUESTS", "ERRORS", "UPLOADED"
    );
    for v in view["versions"].as_array().into_iter().flatten() {
        let uploaded = v["uploaded_ms"].as_u64().unwrap_or(0);
        println!(
            "{:<14} {:>7}% {:>10} {:>6}ms {:>10} {:>8}  {}",
            short(v["digest"].as_str().unwrap_or("?")),
            v["weight"].to_string(),
            ByteSize::bytes_exact(v["size"].as_u64().unwrap_or(0)).to_string(),
            v["compile_ms"].to_string(),
            v["metrics"]["requests"]
                .as_u64()
                .map(|n| n + v["metrics"]["calls"].as_u64().unwrap_or(0))
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            v["metrics"]["errors"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            format_time(uploaded),
        );
    }
    let exports: Vec<&str> = view["exports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .collect();
    if !exports.is_empty() {
        println!("\nexports: {}", exports.join(", "));
    }
    let imports: Vec<&str> = view["imports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .collect();
    if !imports.is_empty() {
        println!("imports: {}", imports.join(", "));
    }
}

fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Escapes non-ASCII characters so JSON fits in an HTTP header.
fn ascii_json(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn key_value(entry: &str, flag: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = entry
        .split_once('=')
        .with_context(|| format!("{flag} `{entry}` must be KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

impl DeployArgs {
    fn changes_spec(&self) -> bool {
        self.route.is_some()
            || self.memory_limit.is_some()
            || self.timeout.is_some()
            || self.cpu_limit.is_some()
            || self.max_concurrency.is_some()
            || self.keyvalue
            || !self.outbound.is_empty()
            || self.files.is_some()
            || !self.calls.is_empty()
            || !self.config.is_empty()
            || !self.secrets.is_empty()
            || !self.callers.is_empty()
            || self.external.is_some()
            || self.allow_unresolved
    }

    /// The current spec with this command's flags applied.
    fn apply(&self, mut spec: DeploymentSpec) -> anyhow::Result<DeploymentSpec> {
        if let Some(route) = &self.route {
            spec.route = Some(Route::new(route).map_err(|e| anyhow::anyhow!("--route: {e}"))?);
        }
        if let Some(v) = self.memory_limit {
            spec.limits.memory = v;
        }
        if let Some(v) = self.timeout {
            spec.limits.timeout = v;
        }
        if let Some(v) = self.cpu_limit {
            spec.limits.cpu = v;
        }
        if let Some(v) = self.max_concurrency {
            spec.limits.max_concurrency = v;
        }
        if self.keyvalue {
            spec.grants.keyvalue = true;
        }
        for origin in &self.outbound {
            if !spec.grants.outbound.contains(origin) {
                spec.grants.outbound.push(origin.clone());
            }
        }
        if let Some(files) = &self.files {
            let (path, mode) = match files.rsplit_once(':') {
                Some((p, "rw")) => (p, FilesMode::Rw),
                Some((p, "ro")) => (p, FilesMode::Ro),
                _ => (files.as_str(), FilesMode::Ro),
            };
            let path = std::fs::canonicalize(path)
                .with_context(|| format!("--files: {path} does not exist"))?;
            spec.grants.files = Some(FilesGrant { path, mode });
        }
        for call in &self.calls {
            if !spec.grants.calls.contains(call) {
                spec.grants.calls.push(call.clone());
            }
        }
        for entry in &self.config {
            let (k, v) = key_value(entry, "--config")?;
            spec.config.insert(k, v);
        }
        for entry in &self.secrets {
            let (k, v) = key_value(entry, "--secret")?;
            spec.secrets.insert(k, v);
        }
        if !self.callers.is_empty() {
            let names = self
                .callers
                .iter()
                .map(|n| {
                    wharf_spec::Name::new(n).map_err(|e| anyhow::anyhow!("--allow-caller: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            spec.exports.callers = Some(names);
        }
        if let Some(external) = &self.external {
            spec.exports.external = serde_json::from_value(json!(external))
                .map_err(|_| anyhow::anyhow!("--external must be token, public or none"))?;
        }
        if self.allow_unresolved {
            spec.allow_unresolved = true;
        }
        spec.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(spec)
    }
}

async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.global)?;
    let bytes = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("failed to read {}", args.file.display()))?;
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&bytes))
    };

    let mut request = client.request(
        reqwest::Method::POST,
        &format!("/v1/deployments/{}/versions", args.name),
    );
    if args.changes_spec() {
        // Secrets come back redacted; a spec change must resend the values
        // it keeps, so start from the server's spec only for the rest.
        let current = client
            .send(client.request(
                reqwest::Method::GET,
                &format!("/v1/deployments/{}", args.name),
            ))
            .await;
        let mut spec = match current {
            Ok(view) => {
                serde_json::from_value::<DeploymentSpec>(view["spec"].clone()).unwrap_or_default()
            }
            Err(_) => DeploymentSpec::default(),
        };
        spec.secrets.retain(|_, v| v != "<redacted>");
        let spec = args.apply(spec)?;
        request = request.header("wharf-spec", ascii_json(&serde_json::to_value(&spec)?));
    }
    let mut query: Vec<(&str, String)> = vec![("sha256", digest.clone())];
    if args.no_activate {
        query.push(("activate", "false".into()));
    }
    if let Some(canary) = args.canary {
        query.push(("canary", canary.to_string()));
    }

    let total = bytes.len() as u64;
    let progress = indicatif::ProgressBar::new(total);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "uploading {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if total < (1 << 20) {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let bar = progress.clone();
    let chunks: Vec<bytes::Bytes> = bytes::Bytes::from(bytes)
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let stream = futures::stream::iter(chunks).map(move |chunk| {
        bar.inc(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    });
    let request = request
        .query(&query)
        .header(reqwest::header::CONTENT_TYPE, "application/wasm")
        .header(reqwest::header::CONTENT_LENGTH, total)
        .body(reqwest::Body::wrap_stream(stream));
    let outcome = client.send(request).await;
    progress.finish_and_clear();
    let outcome = outcome?;
    client.print(&outcome, |o| {
        println!(
            "deployed {} version {} ({}, {})",
            args.name,
            short(o["digest"].as_str().unwrap_or("?")),
            ByteSize::bytes_exact(o["size"].as_u64().unwrap_or(0)),
            if o["compiled"].as_bool().unwrap_or(false) {
                format!("compiled in {}ms", o["compile_ms"])
            } else {
                "already compiled".to_string()
            }
        );
        println!("serving: {}", traffic_text(&o["traffic"]));
        for w in o["warnings"].as_array().into_iter().flatten() {
            eprintln!("warning: {}", w.as_str().unwrap_or_default());
        }
    });
    Ok(())
}

/// A response body as JSON, or as a JSON string when it is not JSON (null
/// when empty).
fn json_or_text(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.global)?;
    let path = format!(
        "/v1/deployments/{}/logs?limit={}&follow={}",
        args.name, args.tail, args.follow
    );
    let response = client
        .open(client.request(reqwest::Method::GET, &path))
        .await?;
    let mut stream = response.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("the log stream broke")?;
        pending.extend_from_slice(&chunk);
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            if client.json {
                print!("{}", String::from_utf8_lossy(&line));
                continue;
            }
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let context = v["context"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default();
            println!(
                "{} {} {:<6}{} {}",
                format_time(v["time_ms"].as_u64().unwrap_or(0)),
                v["version"].as_str().unwrap_or("?"),
                v["source"].as_str().unwrap_or("?"),
                context,
                v["message"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

async fn call(args: CallArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.global)?;
    let (interface, function) = args.function.rsplit_once('.').with_context(|| {
        format!(
            "`{}` must be INTERFACE.FUNCTION, e.g. items.get",
            args.function
        )
    })?;
    let body: Value =
        serde_json::from_str(&args.args).context("the arguments are not valid JSON")?;
    let value = client
        .send(
            client
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/deployments/{}/rpc/{interface}/{function}", args.name),
                )
                .json(&body),
        )
        .await?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Deploy(args) => deploy(args).await,
        Command::Logs(args) => logs(args).await,
        Command::Call(args) => call(args).await,
        Command::Ls(global) => {
            let client = Client::new(&global)?;
            let value = client
                .send(client.request(reqwest::Method::GET, "/v1/deployments"))
                .await?;
            client.print(&value, |v| {
                println!(
                    "{:<20} {:<12} {:<20} {:>8} {:>10} {:>8}  {}",
                    "NAME", "TEAM", "ROUTE", "VERSIONS", "REQUESTS", "ERRORS", "SERVING"
                );
                for d in v["deployments"].as_array().into_iter().flatten() {
                    println!(
                        "{:<20} {:<12} {:<20} {:>8} {:>10} {:>8}  {}",
                        d["name"].as_str().unwrap_or("?"),
                        d["team"].as_str().unwrap_or("?"),
                        d["route"].as_str().unwrap_or("?"),
                        d["versions"].to_string(),
                        d["requests"].to_string(),
                        d["errors"].to_string(),
                        traffic_text(&d["traffic"])
                    );
                }
            });
            Ok(())
        }
        Command::Versions(args) => {
            let client = Client::new(&args.global)?;
            let value = client
                .send(client.request(
                    reqwest::Method::GET,
                    &format!("/v1/deployments/{}", args.name),
                ))
                .await?;
            client.print(&value, print_view);
            Ok(())
        }
        Command::Rollback(args) => {
            traffic_action(
                &args.global,
                &args.name,
                "rollback",
                json!({ "to": args.to }),
            )
            .await
        }
        Command::Activate(args) => {
            traffic_action(
                &args.global,
                &args.name,
                "activate",
                json!({ "version": args.version }),
            )
            .await
        }
        Command::Promote(args) => {
            traffic_action(&args.global, &args.name, "promote", json!({})).await
        }
        Command::Abort(args) => traffic_action(&args.global, &args.name, "abort", json!({})).await,
        Command::Rm(args) => {
            let client = Client::new(&args.global)?;
            client
                .send(client.request(
                    reqwest::Method::DELETE,
                    &format!("/v1/deployments/{}", args.name),
                ))
                .await?;
            if !client.json {
                println!("removed {}", args.name);
            }
            Ok(())
        }
        Command::Serve(_) | Command::Wit(_) | Command::New(_) => Ok(()),
    }
}

/// POSTs `body` to `/v1/deployments/NAME/ACTION` and prints what serves after.
async fn traffic_action(
    global: &Global,
    name: &str,
    action: &str,
    body: Value,
) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let value = client
        .send(
            client
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/deployments/{name}/{action}"),
                )
                .json(&body),
        )
        .await?;
    client.print(&value, |v| {
        println!("{name} now serves {}", traffic_text(&v["traffic"]))
    });
    Ok(())
}

/// Runs a client command on a small runtime.
pub fn run(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(dispatch(command))
}

/// Fetches text from the admin API (for `wharf wit NAME`).
pub fn get_text(global: &Global, path: &str) -> anyhow::Result<String> {
    let client = Client::new(global)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let value = client
            .send(client.request(reqwest::Method::GET, path))
            .await?;
        Ok(value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_ascii() {
        let v = json!({ "config": { "greeting": "grüß dich 👋" } });
        let s = ascii_json(&v);
        assert!(s.is_ascii());
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18 11:06:40Z");
    }
}
