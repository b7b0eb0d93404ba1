//! A component that misbehaves on request, for Wharf's isolation tests.
//!
//! | route | what it does |
//! | --- | --- |
//! | `/ok` | answers 200 |
//! | `/trap` | executes `unreachable` |
//! | `/panic` | panics (prints the message to stderr, then traps) |
//! | `/loop` | spins forever |
//! | `/spin?ms=N` | burns CPU for N ms, then answers |
//! | `/sleep?ms=N` | waits N ms without CPU, then answers |
//! | `/bomb` | allocates until the allocator fails (a trap) |
//! | `/grow` | calls `memory.grow` until it fails, answers how far it got |
//! | `/alloc?mb=N` | allocates and touches N MiB, answers 200 |
//! | `/recurse` | recurses until the stack overflows |
//! | `/noanswer` | returns without sending a response |

use guest_util::{Request, respond};
use std::hint::black_box;

struct Misbehave;

fn recurse(depth: u64, pad: [u64; 16]) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let mut local = pad;
    local[(depth % 16) as usize] = depth;
    black_box(&mut local);
    recurse(depth + 1, local) + local[0]
}

impl wasip2::exports::http::incoming_handler::Guest for Misbehave {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        match request.path.as_str() {
            "/ok" | "/" => respond(out, 200, "ok\n"),
            "/trap" => core::arch::wasm32::unreachable(),
            "/panic" => panic!("misbehave panicked on purpose"),
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "/spin" => {
                let until = guest_util::now_ms() + request.number("ms", 100);
                let mut n: u64 = 0;
                while guest_util::now_ms() < until {
                    n = black_box(n.wrapping_add(1));
                }
                respond(out, 200, format!("spun {n}\n"));
            }
            "/sleep" => {
                guest_util::sleep_ms(request.number("ms", 100));
                respond(out, 200, "slept\n");
            }
            "/bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    hoard.push(black_box(chunk));
                }
            }
            "/grow" => {
                let mut pages = 0usize;
                while core::arch::wasm32::memory_grow(0, 16) != usize::MAX {
                    pages += 16;
                }
                let total = core::arch::wasm32::memory_size(0) * 65536;
                respond(out, 200, format!("grew {pages} pages; memory is {total} bytes\n"));
            }
            "/alloc" => {
                let mb = request.number("mb", 1) as usize;
                let mut block = vec![0u8; mb << 20];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                black_box(&block);
                respond(out, 200, format!("allocated {mb} MiB\n"));
            }
            "/recurse" => {
                let n = recurse(0, [0; 16]);
                respond(out, 200, format!("{n}\n"));
            }
            "/noanswer" => drop(out),
            _ => respond(out, 404, "unknown route\n"),
        }
    }
}

wasip2::http::proxy::export!(Misbehave);
