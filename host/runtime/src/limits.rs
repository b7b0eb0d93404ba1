//! Limits that hold: memory for the whole instance, CPU time, wall clock.
//!
//! - Memory: wasmtime's `StoreLimits` caps each memory on its own; a
//!   component with five memories could use five times its limit. The
//!   [`MemoryLimiter`] counts every memory and table of the store against one
//!   budget.
//! - CPU: the epoch ticker interrupts running wasm every tick. The callback
//!   adds the time the guest ran since it last resumed, traps when the budget
//!   is spent, and otherwise yields to the executor, so a spinning guest never
//!   holds a thread for more than a tick. Time spent in host calls (waiting
//!   on I/O) is not counted: the call hook pauses the meter around them.
//! - Wall clock: the callback also traps once the call's deadline has passed;
//!   requests are additionally wrapped in a timer, which covers guests that
//!   are blocked in the host rather than running.

use crate::host::Host;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::{CallHook, ResourceLimiter, Store, UpdateDeadline};

/// Why the host stopped a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// The CPU budget is spent.
    #[error("CPU time limit exceeded")]
    Cpu,
    /// The wall-clock deadline passed.
    #[error("deadline exceeded")]
    Deadline,
}

/// Bytes a table element is counted as (a pointer-sized reference).
const TABLE_ELEMENT_BYTES: usize = 8;

/// Counts all memories and tables of one store against a single budget.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// A limiter with a budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            hit: false,
        }
    }

    /// Whether a growth was refused because of the budget.
    pub fn hit(&self) -> bool {
        self.hit
    }

    fn grow(&mut self, bytes: usize) -> bool {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.limit => {
                self.used = total;
                true
            }
            _ => {
                self.hit = true;
                false
            }
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(desired.saturating_sub(current)))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let elements = desired.saturating_sub(current);
        Ok(self.grow(elements.saturating_mul(TABLE_ELEMENT_BYTES)))
    }
}

/// Nanoseconds since a process-wide origin: an `Instant` that fits in an
/// atomic, so the executor-side yield future can stamp it.
fn now_nanos() -> u64 {
    static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(ORIGIN.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Measures the time a guest spends executing WebAssembly.
#[derive(Debug)]
pub struct CpuMeter {
    budget: u64,
    used: u64,
    /// When the guest last (re)entered wasm; `0` while it is in the host.
    resumed_at: Arc<AtomicU64>,
}

impl CpuMeter {
    /// A meter with a budget.
    pub fn new(budget: Duration) -> Self {
        Self {
            budget: u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX),
            used: 0,
            resumed_at: Arc::new(AtomicU64::new(0)),
        }
    }

    fn resume(&self) {
        self.resumed_at.store(now_nanos(), Ordering::Relaxed);
    }

    fn pause(&mut self) {
        let since = self.resumed_at.swap(0, Ordering::Relaxed);
        if since != 0 {
            self.used = self.used.saturating_add(now_nanos().saturating_sub(since));
        }
    }

    /// Time spent in wasm so far.
    pub fn used(&self) -> Duration {
        Duration::from_nanos(self.used)
    }

    fn exhausted(&self) -> bool {
        self.used >= self.budget
    }
}

/// Installs the memory limiter, the CPU meter and the deadline on a store.
pub(crate) fn install(store: &mut Store<Host>) {
    store.limiter(|h| &mut h.limiter);
    store.call_hook(|mut cx, hook| {
        let meter = &mut cx.data_mut().meter;
        match hook {
            CallHook::CallingWasm | CallHook::ReturningFromHost => meter.resume(),
            CallHook::ReturningFromWasm | CallHook::CallingHost => meter.pause(),
        }
        Ok(())
    });
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let host = cx.data_mut();
        host.meter.pause();
        if host.meter.exhausted() {
            return Err(wasmtime::Error::new(Interrupted::Cpu));
        }
        if Instant::now() >= host.call.deadline {
            return Err(wasmtime::Error::new(Interrupted::Deadline));
        }
        // Give the executor to others for a moment; the meter restarts when
        // this future completes, i.e. right before the guest runs again.
        let resumed_at = host.meter.resumed_at.clone();
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                tokio::task::yield_now().await;
                resumed_at.store(now_nanos(), Ordering::Relaxed);
            }),
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_budget_for_all_memories_and_tables() {
        let mut l = MemoryLimiter::new(100 * 1024);
        assert!(l.memory_growing(0, 64 * 1024, None).unwrap());
        // A second memory shares the budget.
        assert!(!l.memory_growing(0, 64 * 1024, None).unwrap());
        assert!(l.hit());
        assert!(l.table_growing(0, 1000, None).unwrap());
        assert!(!l.table_growing(1000, 100_000, None).unwrap());
        assert!(!l.memory_growing(0, usize::MAX, None).unwrap());
    }

    #[test]
    fn meter_counts_only_time_in_wasm() {
        let mut m = CpuMeter::new(Duration::from_millis(5));
        m.resume();
        std::thread::sleep(Duration::from_millis(2));
        m.pause();
        let first = m.used();
        assert!(first >= Duration::from_millis(2));
        // Paused: time in the host does not count.
        std::thread::sleep(Duration::from_millis(5));
        m.pause();
        assert_eq!(m.used(), first);
        assert!(!m.exhausted());
        m.resume();
        std::thread::sleep(Duration::from_millis(4));
        m.pause();
        assert!(m.exhausted());
    }
}
