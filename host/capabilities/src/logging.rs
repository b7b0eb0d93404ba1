//! Logs: `wasi:logging`, and the guest's stdout and stderr, line by line.
//!
//! Every line is tagged with the deployment and the version that wrote it, goes
//! to the host's structured log (`tracing`, target `wharf::guest`), and into a
//! bounded per-deployment [`LogBuffer`] that the admin API reads and follows.
//! A guest that logs without end only ever costs the buffer's capacity.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWrite;
use tokio::sync::broadcast;
use wasmtime::component::HasData;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "wasi:logging/imports",
    });
}

use generated::wasi::logging::logging;

/// A line longer than this is split into several lines (nothing is dropped).
pub const MAX_LINE: usize = 16 * 1024;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// `wasi:logging` at trace level.
    Trace,
    /// `wasi:logging` at debug level.
    Debug,
    /// `wasi:logging` at info level.
    Info,
    /// `wasi:logging` at warn level.
    Warn,
    /// `wasi:logging` at error level.
    Error,
    /// `wasi:logging` at critical level.
    Critical,
    /// The host, about this deployment (traps, timeouts, swaps).
    Host,
}

/// One log line.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// Increasing per buffer; lets a follower resume without duplicates.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The version (digest prefix) that wrote the line.
    pub version: Arc<str>,
    /// stdout, stderr, a `wasi:logging` level, or the host.
    pub source: Source,
    /// `wasi:logging` context, empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub context: String,
    /// The text, without its newline.
    pub message: String,
}

/// The bounded log of one deployment.
pub struct LogBuffer {
    deployment: Arc<str>,
    capacity: usize,
    lines: Mutex<VecDeque<LogLine>>,
    next_seq: AtomicU64,
    tx: broadcast::Sender<LogLine>,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuffer")
            .field("deployment", &self.deployment)
            .finish()
    }
}

impl LogBuffer {
    /// A buffer for `deployment` that keeps the last `capacity` lines.
    pub fn new(deployment: &str, capacity: usize) -> Arc<Self> {
        let (tx, _) = broadcast::channel(1024);
        Arc::new(Self {
            deployment: deployment.into(),
            capacity: capacity.max(1),
            lines: Mutex::new(VecDeque::new()),
            next_seq: AtomicU64::new(1),
            tx,
        })
    }

    /// Appends a line: to the buffer, to followers, and to the host log.
    pub fn push(&self, version: &Arc<str>, source: Source, context: &str, message: &str) {
        let line = LogLine {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            version: version.clone(),
            source,
            context: context.to_string(),
            message: message.to_string(),
        };
        match source {
            Source::Error | Source::Critical => tracing::warn!(
                target: "wharf::guest", deployment = %self.deployment, version = %version,
                source = ?source, context, "{message}"
            ),
            _ => tracing::info!(
                target: "wharf::guest", deployment = %self.deployment, version = %version,
                source = ?source, context, "{message}"
            ),
        }
        {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.len() == self.capacity {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        // No followers is fine.
        let _ = self.tx.send(line);
    }

    /// Lines with `seq > after`, oldest first, at most `limit`.
    pub fn since(&self, after: u64, limit: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let skip = lines.len().saturating_sub(limit);
        lines
            .iter()
            .skip(skip)
            .filter(|l| l.seq > after)
            .cloned()
            .collect()
    }

    /// A receiver of every line pushed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.tx.subscribe()
    }
}

/// What one instance logs into: its deployment's buffer and its version.
#[derive(Clone)]
pub struct LogSink {
    buffer: Arc<LogBuffer>,
    version: Arc<str>,
}

impl LogSink {
    /// Lines written through this sink are tagged with `version`.
    pub fn new(buffer: Arc<LogBuffer>, version: &str) -> Self {
        Self {
            buffer,
            version: version.into(),
        }
    }

    /// Logs a host-side line about this deployment (a trap, a timeout).
    pub fn host(&self, message: &str) {
        self.buffer.push(&self.version, Source::Host, "", message);
    }

    /// An stdout or stderr stream for `WasiCtxBuilder` that logs line by line.
    pub fn stream(&self, source: Source) -> GuestOutput {
        GuestOutput {
            sink: self.clone(),
            source,
        }
    }

    fn line(&self, source: Source, context: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.buffer.push(&self.version, source, context, text);
    }
}

/// The guest's stdout or stderr.
pub struct GuestOutput {
    sink: LogSink,
    source: Source,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            sink: self.sink.clone(),
            source: self.source,
            pending: Vec::new(),
        })
    }
}

/// Splits written bytes into lines; a partial last line is emitted on
/// shutdown or drop.
struct LineWriter {
    sink: LogSink,
    source: Source,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit_complete_lines(&mut self) {
        let mut start = 0;
        while let Some(pos) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            for chunk in self.pending[start..end].chunks(MAX_LINE) {
                self.sink.line(self.source, "", chunk);
            }
            start = end + 1;
        }
        self.pending.drain(..start);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.sink.line(self.source, "", &chunk);
        }
    }

    fn flush_partial(&mut self) {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.sink.line(self.source, "", &chunk);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.emit_complete_lines();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flush_partial();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_partial();
    }
}

/// The per-call view implementing `wasi:logging/logging`.
pub struct Logging<'a> {
    sink: &'a LogSink,
}

impl<'a> Logging<'a> {
    /// A view over `sink`.
    pub fn new(sink: &'a LogSink) -> Self {
        Self { sink }
    }
}

impl logging::Host for Logging<'_> {
    fn log(&mut self, level: logging::Level, context: String, message: String) {
        let source = match level {
            logging::Level::Trace => Source::Trace,
            logging::Level::Debug => Source::Debug,
            logging::Level::Info => Source::Info,
            logging::Level::Warn => Source::Warn,
            logging::Level::Error => Source::Error,
            logging::Level::Critical => Source::Critical,
        };
        // One call may carry several lines; keep the buffer line-oriented.
        for line in message.split('\n') {
            for chunk in line.as_bytes().chunks(MAX_LINE) {
                self.sink.line(source, &context, chunk);
            }
        }
    }
}

struct HasLogging;

impl HasData for HasLogging {
    type Data<'a> = Logging<'a>;
}

/// Adds `wasi:logging/logging` to `linker`.
pub fn add_to_linker<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> Logging<'_>,
) -> wasmtime::Result<()> {
    logging::add_to_linker::<_, HasLogging>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn lines_are_split_tagged_and_bounded() {
        let buffer = LogBuffer::new("svc", 3);
        let sink = LogSink::new(buffer.clone(), "abc123");
        let mut out = Box::into_pin(sink.stream(Source::Stdout).async_stream());
        out.write_all(b"one\ntw").await.unwrap();
        out.write_all(b"o\r\nthree\nfour\nfive").await.unwrap();
        drop(out);
        let lines = buffer.since(0, 100);
        let texts: Vec<_> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(texts, ["three", "four", "five"]);
        assert!(
            lines
                .iter()
                .all(|l| &*l.version == "abc123" && l.source == Source::Stdout)
        );
        assert_eq!(buffer.since(lines[1].seq, 100).len(), 1);
    }

    #[tokio::test]
    async fn long_lines_are_split_not_dropped() {
        let buffer = LogBuffer::new("svc", 100);
        let sink = LogSink::new(buffer.clone(), "v");
        let mut out = Box::into_pin(sink.stream(Source::Stderr).async_stream());
        out.write_all(&vec![b'x'; MAX_LINE * 2 + 5]).await.unwrap();
        drop(out);
        let total: usize = buffer.since(0, 100).iter().map(|l| l.message.len()).sum();
        assert_eq!(total, MAX_LINE * 2 + 5);
    }
}
