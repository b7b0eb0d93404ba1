//! Limits that hold: memory for the whole instance, CPU time, wall clock.
//!
//! - Memory: wasmtime's `StoreLimits` caps each memory on its own; a
//!   component with five memories could use five times its limit. The
//!   [`MemoryLimiter`] counts every memory and table of the store against one
//!   budget.
//! - CPU: the epoch ticker advances the engine's epoch every tick, and wasm
//!   code checks it. Each time a running guest reaches a tick boundary the
//!   callback charges it one tick, traps once the budget is spent, and
//!   otherwise yields to the executor, so a spinning guest holds a thread for
//!   at most one tick. A guest waiting in a host call (I/O, another
//!   deployment) runs no wasm and is not charged, except the one tick in which
//!   it comes back. Counting ticks needs no clock reads and no hook on host
//!   calls, so the request path pays nothing for it until a guest runs past a
//!   tick.
//! - Wall clock: the callback also traps once the call's deadline has passed;
//!   requests are additionally wrapped in a timer, which covers guests that
//!   are blocked in the host rather than running.

use crate::host::Host;
use std::time::{Duration, Instant};
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};

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

/// Measures the time a guest spends executing WebAssembly, in epoch ticks.
#[derive(Debug)]
pub struct CpuMeter {
    budget: u64,
    used: u64,
}

impl CpuMeter {
    /// A meter allowing `budget` of execution at `tick` granularity (at
    /// least one tick).
    pub fn new(budget: Duration, tick: Duration) -> Self {
        let tick = tick.as_nanos().max(1);
        Self {
            budget: u64::try_from(budget.as_nanos().div_ceil(tick))
                .unwrap_or(u64::MAX)
                .max(1),
            used: 0,
        }
    }

    /// Charges one tick; returns whether the budget is spent.
    fn charge(&mut self) -> bool {
        self.used = self.used.saturating_add(1);
        self.used > self.budget
    }

    /// Ticks charged so far.
    pub fn used_ticks(&self) -> u64 {
        self.used
    }
}

/// Installs the memory limiter, the CPU meter and the deadline on a store.
pub(crate) fn install(store: &mut Store<Host>) {
    store.limiter(|h| &mut h.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let host = cx.data_mut();
        if host.meter.charge() {
            return Err(wasmtime::Error::new(Interrupted::Cpu));
        }
        if Instant::now() >= host.call.deadline {
            return Err(wasmtime::Error::new(Interrupted::Deadline));
        }
        // Give the executor to others, then run another tick. The longer a
        // request has run, the more turns it waits: short requests from
        // other deployments are served between a spinner's ticks instead of
        // queueing behind it. tokio's `yield_now` (unlike wasmtime's plain
        // `Yield`) resumes only after the executor has polled for I/O, so
        // waiting requests are seen at every turn; with nobody else ready
        // the turns cost microseconds.
        let rounds = host.meter.used_ticks().min(8);
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                for _ in 0..rounds {
                    tokio::task::yield_now().await;
                }
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
    fn the_meter_counts_ticks() {
        let tick = Duration::from_millis(10);
        let mut m = CpuMeter::new(Duration::from_millis(25), tick);
        assert!(!m.charge());
        assert!(!m.charge());
        assert!(!m.charge(), "25ms rounds up to three ticks");
        assert!(m.charge());
        assert_eq!(m.used_ticks(), 4);
        let mut tiny = CpuMeter::new(Duration::from_micros(1), tick);
        assert!(!tiny.charge(), "at least one tick");
        assert!(tiny.charge());
    }
}
