//! The JSON gateway: every interface a deployment exports, callable from
//! outside as JSON over HTTP, and self-describing.
//!
//! - `GET /rpc/NAME` describes the exported interfaces: their WIT text and a
//!   JSON Schema of each function's arguments and result.
//! - `POST /rpc/NAME/INTERFACE/FUNCTION` calls a function with a JSON object
//!   of arguments by parameter name. `INTERFACE` is the full name
//!   (`example:catalog/items@0.1.0`) or, when unambiguous, the short one
//!   (`items`).
//!
//! Calls run exactly like service calls: a fresh instance of the version the
//! traffic split picks, with the deployment's limits. Access follows the
//! deployment's `exports.external` (team token by default).

use crate::ingress::{Body, Ingress, full};
use crate::json::{self, JsonError};
use crate::live::LiveDeployment;
use crate::platform::{ApiError, Platform};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use wharf_runtime::LoadedVersion;
use wharf_runtime::inspect::Interface;
use wharf_spec::External;

/// Largest JSON request body the gateway reads.
pub const MAX_JSON_BODY: usize = 16 << 20;

/// A JSON response.
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The JSON form of an API error: `{"error": {"code", "message", ...}}`.
pub fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &json!({ "error": error }));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn argument_error(e: JsonError) -> ApiError {
    ApiError::new(400, "invalid_argument", format!("invalid arguments: {e}"))
}

/// Finds the export an URL names: its full name, its unversioned name, or
/// its short interface name when only one export has it.
pub fn find_interface<'a>(version: &'a LoadedVersion, id: &str) -> Result<&'a Interface, ApiError> {
    let exports: Vec<&Interface> = version.exports().collect();
    if let Some(i) = exports.iter().find(|i| i.name == id) {
        return Ok(i);
    }
    let matches: Vec<&&Interface> = exports
        .iter()
        .filter(|i| i.parsed.unversioned() == id || i.parsed.interface == id)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(ApiError::new(
            404,
            "unknown_interface",
            format!(
                "`{}` exports no interface `{id}`; it exports: {}",
                version.name(),
                if exports.is_empty() {
                    "nothing".to_string()
                } else {
                    exports
                        .iter()
                        .map(|i| format!("`{}`", i.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        )),
        _ => Err(ApiError::new(
            400,
            "ambiguous_interface",
            format!(
                "`{id}` names several exports of `{}`; use the full interface name",
                version.name()
            ),
        )),
    }
}

/// Calls `interface/function` of `deployment` with JSON arguments.
pub async fn call(deployment: &LiveDeployment, path: &str, body: &[u8]) -> Result<Value, ApiError> {
    let version = deployment
        .pick()
        .cloned()
        .ok_or_else(|| ApiError::not_serving(503, "no_version", deployment.name.as_str()))?;
    let (interface_id, function) = path.rsplit_once('/').ok_or_else(|| {
        ApiError::new(
            404,
            "not_found",
            "call a function with POST /rpc/NAME/INTERFACE/FUNCTION; GET /rpc/NAME lists them",
        )
    })?;
    let interface = find_interface(&version, interface_id)?;
    let func = interface.function(function).ok_or_else(|| {
        ApiError::new(
            404,
            "unknown_function",
            format!(
                "`{}` has no function `{function}`; it has: {}",
                interface.name,
                interface
                    .functions
                    .iter()
                    .map(|f| format!("`{}`", f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let arguments: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                400,
                "invalid_json",
                format!("the request body is not valid JSON: {e}"),
            )
        })?
    };
    let params: Vec<(String, wharf_runtime::Type)> =
        func.ty.params().map(|(n, t)| (n.to_string(), t)).collect();
    let args = json::arguments(&arguments, &params).map_err(argument_error)?;
    let started = Instant::now();
    let call = version.root_call(started + version.spec().limits.timeout.duration());
    let results = version
        .call_export(call, &interface.name, function, &args)
        .await
        .map_err(|failure| {
            ApiError::new(
                failure.status(),
                failure.code(),
                format!("{}: {failure}", deployment.name),
            )
        })?;
    version.metrics().request(started.elapsed());
    Ok(match results.as_slice() {
        [] => Value::Null,
        [one] => json::to_json(one),
        many => Value::Array(many.iter().map(json::to_json).collect()),
    })
}

/// Describes what `deployment` exports.
pub async fn describe(platform: &Platform, deployment: &LiveDeployment) -> Result<Value, ApiError> {
    let version = deployment
        .primary()
        .cloned()
        .ok_or_else(|| ApiError::not_serving(503, "no_version", deployment.name.as_str()))?;
    let wit = platform.exported_wit(&version).await.unwrap_or_else(|e| {
        tracing::warn!(deployment = %deployment.name, error = %e, "could not render WIT");
        String::new()
    });
    let interfaces: Vec<Value> = version
        .exports()
        .map(|interface| {
            let functions: Vec<Value> = interface
                .functions
                .iter()
                .map(|f| {
                    let properties: serde_json::Map<String, Value> =
                        f.ty.params().map(|(n, t)| (n.to_string(), json::schema(&t))).collect();
                    let required: Vec<String> = f
                        .ty
                        .params()
                        .filter(|(_, t)| !matches!(t, wharf_runtime::Type::Option(_)))
                        .map(|(n, _)| n.to_string())
                        .collect();
                    let result = match f.ty.results().next() {
                        Some(t) => json::schema(&t),
                        None => json!({ "type": "null" }),
                    };
                    json!({
                        "name": f.name,
                        "call": format!("POST /rpc/{}/{}/{}", deployment.name, interface.name, f.name),
                        "params": {
                            "type": "object",
                            "properties": properties,
                            "required": required,
                            "additionalProperties": false,
                        },
                        "result": result,
                    })
                })
                .collect();
            json!({ "name": interface.name, "functions": functions })
        })
        .collect();
    Ok(json!({
        "name": deployment.name,
        "version": version.digest(),
        "route": deployment.route,
        "http": version.serves_http(),
        "external": version.spec().exports.external,
        "interfaces": interfaces,
        "wit": wit,
    }))
}

/// `/rpc/...` on the ingress listener.
pub(crate) async fn handle_ingress(
    ingress: &Ingress,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    match handle(ingress, request, peer).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn handle(
    ingress: &Ingress,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().to_string();
    let rest = path.trim_start_matches("/rpc").trim_start_matches('/');
    if rest.is_empty() {
        return Err(ApiError::new(
            404,
            "not_found",
            "GET /rpc/NAME describes a deployment's interfaces; POST /rpc/NAME/INTERFACE/FUNCTION calls one",
        ));
    }
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let deployment = ingress.platform.live.get(name).ok_or_else(|| {
        ApiError::new(
            404,
            "not_found",
            format!("no deployment named `{name}` is serving"),
        )
    })?;
    authorize(ingress, &deployment, &request, peer)?;
    let tail = tail.trim_end_matches('/');
    if tail.is_empty() {
        if request.method() != Method::GET {
            return Err(ApiError::new(
                405,
                "method_not_allowed",
                "use GET /rpc/NAME to describe",
            ));
        }
        let description = describe(&ingress.platform, &deployment).await?;
        return Ok(json_response(StatusCode::OK, &description));
    }
    if request.method() != Method::POST {
        return Err(ApiError::new(
            405,
            "method_not_allowed",
            "call functions with POST and a JSON object of arguments",
        ));
    }
    let body = read_body(request.into_body()).await?;
    let value = call(&deployment, tail, &body).await?;
    Ok(json_response(StatusCode::OK, &value))
}

fn authorize(
    ingress: &Ingress,
    deployment: &LiveDeployment,
    request: &Request<Incoming>,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let external = deployment
        .primary()
        .map(|v| v.spec().exports.external)
        .unwrap_or_default();
    match external {
        External::Public => Ok(()),
        External::None => Err(ApiError::new(
            403,
            "not_exposed",
            format!(
                "`{}` does not expose its interfaces outside (exports.external = \"none\")",
                deployment.name
            ),
        )),
        External::Token => {
            let header = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            ingress
                .teams
                .authenticate(header, peer.ip())
                .map(|_| ())
                .map_err(|e| ApiError::new(401, "unauthorized", e.to_string()))
        }
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    Limited::new(body, MAX_JSON_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| {
            ApiError::new(
                413,
                "too_large",
                format!("the request body is over {MAX_JSON_BODY} bytes or was cut short"),
            )
        })
}

impl Platform {
    /// The WIT of the interfaces `version` exports, decoded from its bytes.
    pub async fn exported_wit(&self, version: &Arc<LoadedVersion>) -> Result<String, ApiError> {
        let bytes = self.blob(version.digest()).await?;
        let exported: Vec<String> = version.exports().map(|e| e.name.clone()).collect();
        tokio::task::spawn_blocking(move || render_wit(&bytes, &exported))
            .await
            .map_err(|_| ApiError::new(500, "internal", "rendering WIT failed"))?
    }
}

/// Renders the packages that contain the exported interfaces.
fn render_wit(bytes: &[u8], exported: &[String]) -> Result<String, ApiError> {
    let decoded = wit_component::decode(bytes).map_err(|e| {
        ApiError::new(
            500,
            "wit_failed",
            format!("failed to decode the component's WIT: {e}"),
        )
    })?;
    let resolve = decoded.resolve();
    let mut packages = Vec::new();
    for (_, interface) in resolve.interfaces.iter() {
        let (Some(name), Some(package)) = (&interface.name, interface.package) else {
            continue;
        };
        let pkg = &resolve.packages[package];
        let full = match &pkg.name.version {
            Some(v) => format!("{}:{}/{}@{}", pkg.name.namespace, pkg.name.name, name, v),
            None => format!("{}:{}/{}", pkg.name.namespace, pkg.name.name, name),
        };
        if exported.contains(&full) && !packages.contains(&package) {
            packages.push(package);
        }
    }
    let mut out = String::new();
    for package in packages {
        let mut printer = wit_component::WitPrinter::default();
        printer
            .print(resolve, package, &[])
            .map_err(|e| ApiError::new(500, "wit_failed", format!("failed to print WIT: {e}")))?;
        out.push_str(&printer.output.to_string());
        out.push('\n');
    }
    Ok(out)
}
