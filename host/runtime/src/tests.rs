//! Runtime tests against real components built from `components/`, in
//! process (no sockets): the end-to-end tests in `tests/` cover the server.

use crate::calls::NoProviders;
use crate::engine::{Runtime, RuntimeConfig};
use crate::version::{LoadedVersion, VersionParams};
use crate::{Failure, LoadError};
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use tokio::sync::Semaphore;
use wharf_capabilities::keyvalue::RedbBackend;
use wharf_capabilities::logging::LogBuffer;
use wharf_spec::{DeploymentSpec, Name};

pub(crate) fn runtime(dir: &std::path::Path) -> Arc<Runtime> {
    let kv = RedbBackend::open(&dir.join("kv.redb")).unwrap();
    Runtime::new(RuntimeConfig::small(), Arc::new(kv)).unwrap()
}

pub(crate) async fn load(
    rt: &Arc<Runtime>,
    name: &str,
    path: &str,
    spec: DeploymentSpec,
) -> Result<Arc<LoadedVersion>, LoadError> {
    let bytes: Arc<[u8]> = wharf_test_artifacts::bytes(path).into();
    let component = rt.compile(bytes).await?;
    let concurrency = spec.limits.max_concurrency as usize;
    rt.prepare(
        component,
        VersionParams {
            name: Name::new(name).unwrap(),
            digest: "0123456789abcdef0123456789abcdef".into(),
            spec: Arc::new(spec),
            logs: LogBuffer::new(name, 100),
            gate: Arc::new(Semaphore::new(concurrency)),
            providers: Arc::new(NoProviders),
            allow_unresolved: false,
        },
    )
}

pub(crate) async fn get(
    version: &Arc<LoadedVersion>,
    path: &str,
) -> Result<(u16, String), Failure> {
    let req = http::Request::get(format!("http://localhost{path}"))
        .header("host", "localhost")
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = version.handle_http(req).await?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::Host(format!("{e:?}")))?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

#[tokio::test]
async fn hello_answers_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let hello = load(
        &rt,
        "hello",
        wharf_test_artifacts::HELLO,
        DeploymentSpec::default(),
    )
    .await
    .unwrap();
    eprintln!("hello imports: {:?}", hello.wasi_imports());
    assert!(hello.serves_http());
    for _ in 0..3 {
        let (status, body) = get(&hello, "/").await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, "Hello from Wharf!\n");
    }
    assert_eq!(hello.metrics().snapshot().in_flight, 0);
}

#[tokio::test]
async fn core_modules_and_garbage_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let core = rt
        .compile(Arc::from(&b"\0asm\x01\0\0\0"[..]))
        .await
        .unwrap_err();
    assert_eq!(core.code(), "core_module");
    assert!(core.to_string().contains("wasm32-wasip2"), "{core}");
    let junk = rt.compile(Arc::from(&b"GIF89a"[..])).await.unwrap_err();
    assert_eq!(junk.code(), "not_wasm");
}
