#!/usr/bin/env bash
# Wharf's benchmark suite. Runs Wharf side by side with `wasmtime serve` (same
# wasmtime version) and a native hyper server, one after the other, each
# server pinned to core 0 and the load generator (wrk) to core 1, and writes
# docs/benchmarks.md.
#
#   bench/run.sh                 # everything (about 15 minutes once built)
#   RUNS=5 DURATION=20 bench/run.sh
#
# Needs: wrk (installed from Debian's packages if missing), wasmtime-cli (built
# into .tools/ with `cargo install` if missing), taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
WASMTIME_VERSION=48.0.8
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
# A captured backtrace per error is a cost no production host pays.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
export RUST_LOG=warn

log() { echo "bench: $*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if [ ! -x "$TOOLS/bin/wasmtime" ]; then
  log "building wasmtime-cli $WASMTIME_VERSION into $TOOLS (once; this takes a while)"
  cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked --root "$TOOLS"
fi

log "building wharf (release)"
cargo build --release -p wharf -p wharf-bench
WHARF=$ROOT/target/release/wharf
DRIVER=$ROOT/target/release/wharf-bench
NATIVE=$ROOT/target/release/native-hello
GUESTS=$ROOT/target/wasm-guests/wasm32-wasip2/release
HELLO=$GUESTS/hello.wasm
[ -f "$HELLO" ] || { log "missing $HELLO"; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # URL
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  log "timed out waiting for $1"; return 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wrk_once URL [extra wrk args] -> "req_per_s p50_ms p99_ms non2xx errors"
wrk_once() {
  local url=$1; shift
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
  python3 - "$out" <<'EOF'
import re, sys
out = sys.argv[1]
def lat(p):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
    if not m: return 0.0
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
e = sum(int(x) for x in errs.groups()) if errs else 0
print(f"{rps:.0f} {lat('50'):.3f} {lat('99'):.3f} {int(non2xx.group(1)) if non2xx else 0} {e}")
EOF
}

# wrk_median URL -> median over RUNS of each column
wrk_median() {
  local url=$1; shift
  local rows=()
  for _ in $(seq 1 "$RUNS"); do rows+=("$(wrk_once "$url" "$@")"); done
  printf '%s\n' "${rows[@]}" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(" ".join(f"{statistics.median(c):g}" for c in zip(*rows)))'
}

start_wharf() { # DATADIR PORT ADMINPORT [args...] ; prints pid
  local data=$1 p=$2 a=$3; shift 3
  taskset -c 0 "$WHARF" serve --threads 1 --data-dir "$data" --listen "127.0.0.1:$p" \
    --admin-listen "127.0.0.1:$a" --admin-token "bench:bench-token-000000" "$@" >>"$WORK/wharf.log" 2>&1 &
  echo $!
}

declare -A R

log "throughput: native hyper"
P=$(port); taskset -c 0 "$NATIVE" "127.0.0.1:$P" 2>/dev/null & PID=$!; PIDS+=($PID)
wait_http "http://127.0.0.1:$P/"; R[native]=$(wrk_median "http://127.0.0.1:$P/"); stop $PID

log "throughput: wasmtime serve -S cli (fresh instance per request)"
P=$(port); taskset -c 0 "$TOOLS/bin/wasmtime" serve -S cli --addr "127.0.0.1:$P" "$HELLO" 2>/dev/null & PID=$!; PIDS+=($PID)
wait_http "http://127.0.0.1:$P/"; R[wasmtime]=$(wrk_median "http://127.0.0.1:$P/"); stop $PID

log "throughput: wharf (fresh instance per request, limits on)"
P=$(port); A=$(port); PID=$(start_wharf "$WORK/w1" "$P" "$A" --component "hello=$HELLO"); PIDS+=($PID)
wait_http "http://127.0.0.1:$P/hello"; R[wharf]=$(wrk_median "http://127.0.0.1:$P/hello")

log "bystander latency while a neighbour spins"
"$DRIVER" deploy --admin "http://127.0.0.1:$A" --name misbehave --component "$GUESTS/misbehave.wasm" \
  --spec '{"limits":{"cpu":"100ms","max_concurrency":4}}' >/dev/null
taskset -c 1 wrk -t1 -c4 -d"$((DURATION * RUNS + 5))s" "http://127.0.0.1:$P/misbehave/loop" >/dev/null 2>&1 & NOISE=$!
sleep 1
R[noisy]=$(wrk_median "http://127.0.0.1:$P/hello")
stop $NOISE; stop $PID

log "throughput: wharf with limits off (the cost of metering)"
P=$(port); A=$(port); PID=$(start_wharf "$WORK/w2" "$P" "$A" --component "hello=$HELLO" --no-limits); PIDS+=($PID)
wait_http "http://127.0.0.1:$P/hello"; R[nolimits]=$(wrk_median "http://127.0.0.1:$P/hello"); stop $PID

log "hot swaps under load"
P=$(port); A=$(port); PID=$(start_wharf "$WORK/w3" "$P" "$A"); PIDS+=($PID)
wait_http "http://127.0.0.1:$A/healthz"
V1=$("$DRIVER" deploy --admin "http://127.0.0.1:$A" --name svc --component "$GUESTS/swap_v1.wasm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
V2=$("$DRIVER" deploy --admin "http://127.0.0.1:$A" --name svc --component "$GUESTS/swap_v2.wasm" --no-activate | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
R[steady]=$(wrk_median "http://127.0.0.1:$P/svc")
"$DRIVER" swapper --admin "http://127.0.0.1:$A" --name svc --v1 "$V1" --v2 "$V2" \
  --seconds "$((DURATION * RUNS + 2))" --interval-ms 100 > "$WORK/swaps.json" &
SW=$!
R[swapping]=$(wrk_median "http://127.0.0.1:$P/svc")
wait $SW || true
stop $PID

log "typed calls through the host vs the same exchange over HTTP"
P=$(port); A=$(port); PID=$(start_wharf "$WORK/w4" "$P" "$A" --component "hello=$HELLO"); PIDS+=($PID)
wait_http "http://127.0.0.1:$P/hello"
"$DRIVER" deploy --admin "http://127.0.0.1:$A" --name kinds --component "$GUESTS/kinds_v1.wasm" >/dev/null
"$DRIVER" deploy --admin "http://127.0.0.1:$A" --name caller --component "$GUESTS/kinds_caller.wasm" \
  --spec '{"grants":{"calls":["wharf-test:kinds/values@0.1.0"]}}' >/dev/null
R[calls]=$(wrk_median "http://127.0.0.1:$P/caller/add?a=1&b=2")
cat > "$WORK/rpc.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"a": 1, "b": 2}'
wrk.headers["Authorization"] = "Bearer bench-token-000000"
wrk.headers["Content-Type"] = "application/json"
LUA
R[gateway]=$(wrk_median "http://127.0.0.1:$P/rpc/kinds/values/add" -s "$WORK/rpc.lua")
stop $PID

log "deploy latency, restart, density, in-process costs"
DEPLOY=$("$DRIVER" deploy-latency --wharf "$WHARF" --v1 "$GUESTS/swap_v1.wasm" --v2 "$GUESTS/swap_v2.wasm")
RESTART=$("$DRIVER" restart --wharf "$WHARF" --component "$HELLO" --count 100)
DENSITY=$("$DRIVER" density --wharf "$WHARF" --component "$HELLO" --counts 10,100,500)
INPROC=$(taskset -c 0 "$DRIVER" inproc --hello "$HELLO" --kinds "$GUESTS/kinds_v1.wasm")
MICRO=$(taskset -c 0 "$DRIVER" micro --hello "$HELLO" --deployments 500)
SWAPS=$(cat "$WORK/swaps.json")

POLYGLOT=""
if [ -x "$ROOT/bench/polyglot.sh" ]; then
  POLYGLOT=$("$ROOT/bench/polyglot.sh" "$WHARF" "$DRIVER" || true)
fi

log "writing $OUT"
export RUNS DURATION CONNS WASMTIME_VERSION
python3 - "$OUT" \
  "${R[native]}" "${R[wasmtime]}" "${R[wharf]}" "${R[noisy]}" "${R[nolimits]}" \
  "${R[steady]}" "${R[swapping]}" "${R[calls]}" "${R[gateway]}" \
  "$DEPLOY" "$RESTART" "$DENSITY" "$INPROC" "$SWAPS" "$MICRO" "$POLYGLOT" <<'EOF'
import json, os, platform, subprocess, sys, datetime
out = sys.argv[1]
row = lambda s: dict(zip(["rps", "p50", "p99", "non2xx", "errors"], map(float, s.split())))
native, wasmtime, wharf, noisy, nolimits, steady, swapping, calls, gateway = map(row, sys.argv[2:11])
deploy, restart, density, inproc, swaps, micro = (json.loads(x) for x in sys.argv[11:17])
polyglot = sys.argv[17]
def sh(cmd):
    try: return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return "?"
cpu = sh("lscpu | sed -n 's/^Model name:[ ]*//p'") or platform.processor()
runs, dur, conns = os.environ["RUNS"], os.environ["DURATION"], os.environ["CONNS"]
L = []
L.append("# Benchmarks\n")
L.append(f"Written by `bench/run.sh` on {datetime.date.today()}. Machine: {os.cpu_count()} cores ({cpu}), "
         f"Linux {platform.release()}; {sh('rustc --version')}; wasmtime {os.environ['WASMTIME_VERSION']} "
         f"(Wharf's engine and the `wasmtime serve` it is compared with); {sh('wrk --version 2>&1 | head -1')}.\n")
L.append(f"Each server runs pinned to core 0 (`taskset -c 0`, Wharf with `--threads 1`), the load generator on core 1: "
         f"`wrk -t1 -c{conns} -d{dur}s --latency`. Every throughput figure is the median of {runs} runs. The component is the "
         f"same `hello` built from `components/hello` for all three (a fresh instance per request for both wasm hosts).\n")
def verdict(ok): return "met" if ok else "**missed**"
swap_failed = int(swapping['non2xx'] + swapping['errors'])
act = deploy['activate_compiled_to_serving_ms']['median']
rows = sorted(density["density"], key=lambda d: d['components'])
for prev, d in zip([None] + rows[:-1], rows):
    base_n, base_mib = (0, d['rss_empty_mib']) if prev is None else (prev['components'], prev['rss_mib'])
    d['marginal_kib'] = (d['rss_mib'] - base_mib) * 1024 / max(d['components'] - base_n, 1)
per_kib = rows[-1]['marginal_kib']
L.append("## Targets\n")
L.append("| target | measured | |\n| --- | --- | --- |")
L.append(f"| hello throughput ≥ 2× `wasmtime serve` (stretch 3×) | {wharf['rps']/wasmtime['rps']:.2f}× | {verdict(wharf['rps'] >= 2*wasmtime['rps'])} |")
L.append(f"| hello throughput ≥ 17% of native hyper | {wharf['rps']/native['rps']:.1%} | {verdict(wharf['rps'] >= 0.17*native['rps'])} |")
L.append(f"| p99 no worse than `wasmtime serve` | {wharf['p99']:.2f} ms vs {wasmtime['p99']:.2f} ms | {verdict(wharf['p99'] <= wasmtime['p99'])} |")
L.append(f"| zero failed requests across hot swaps | {swap_failed} failed | {verdict(swap_failed == 0)} |")
L.append(f"| throughput while swapping ≥ 90% of steady | {swapping['rps']/steady['rps']:.1%} | {verdict(swapping['rps'] >= 0.9*steady['rps'])} |")
L.append(f"| already-compiled version serving within 20 ms of activation | {act} ms (median) | {verdict(act <= 20)} |")
L.append(f"| restart with 100 components ≥ 10× faster than compiling | {restart['speedup']}× | {verdict(float(restart['speedup']) >= 10)} |")
L.append(f"| idle deployed components < 2 MiB resident each | {per_kib:.0f} KiB each from {rows[-2]['components'] if len(rows) > 1 else 0} to {rows[-1]['components']} (see Density) | {verdict(per_kib < 2048)} |")
L.append("")
L.append("## Hello throughput\n")
L.append("| server | req/s | p50 ms | p99 ms | vs wasmtime serve | vs native |")
L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, r in [("native hyper (ceiling)", native), ("`wasmtime serve -S cli`", wasmtime), ("Wharf", wharf)]:
    L.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']/wasmtime['rps']:.2f}× | {r['rps']/native['rps']:.1%} |")
L.append("")
L.append("## The cost of limits\n")
L.append("| Wharf | req/s | p99 ms |\n| --- | ---: | ---: |")
L.append(f"| limits on (epoch interruption, CPU meter, memory limiter) | {wharf['rps']:.0f} | {wharf['p99']:.2f} |")
L.append(f"| `--no-limits` | {nolimits['rps']:.0f} | {nolimits['p99']:.2f} |")
L.append(f"\nLimits cost {1 - wharf['rps']/nolimits['rps']:.1%} of hello throughput.\n")
L.append("## A noisy neighbour\n")
L.append("`hello` measured while 4 connections hammer another deployment's infinite loop (CPU limit 100ms, "
         "max concurrency 4), on the same single server core.\n")
L.append("| hello while | req/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
L.append(f"| quiet | {wharf['rps']:.0f} | {wharf['p50']:.2f} | {wharf['p99']:.2f} |")
L.append(f"| a neighbour spins | {noisy['rps']:.0f} | {noisy['p50']:.2f} | {noisy['p99']:.2f} |")
L.append(f"\nBystander p99 ratio noisy/quiet: {noisy['p99']/max(wharf['p99'],1e-9):.1f}×; every hello request succeeded "
         f"({int(noisy['non2xx'])} non-2xx).\n")
L.append("## Hot swaps under load\n")
L.append(f"`/svc` swapped between two versions every 100 ms ({swaps['swaps']} swaps in all, slowest {swaps['slowest_swap_ms']} ms):\n")
L.append("| | req/s | p99 ms | failed requests |\n| --- | ---: | ---: | ---: |")
L.append(f"| steady | {steady['rps']:.0f} | {steady['p99']:.2f} | {int(steady['non2xx'] + steady['errors'])} |")
L.append(f"| swapping | {swapping['rps']:.0f} | {swapping['p99']:.2f} | {int(swapping['non2xx'] + swapping['errors'])} |")
L.append(f"\nThroughput while swapping: {swapping['rps']/steady['rps']:.1%} of steady state.\n")
L.append("## Deploys and restarts\n")
L.append("| | ms |\n| --- | ---: |")
L.append(f"| upload to first response, cold (compile) | {deploy['cold_upload_to_serving_ms']} |")
L.append(f"| activate an already-compiled version to first response (median / p95) | {deploy['activate_compiled_to_serving_ms']['median']} / {deploy['activate_compiled_to_serving_ms']['p95']} |")
L.append(f"| rollback to first response (median / p95) | {deploy['rollback_to_serving_ms']['median']} / {deploy['rollback_to_serving_ms']['p95']} |")
L.append(f"| restart with {restart['components']} components, from the artifact cache | {restart['restart_cached_ms']} |")
L.append(f"| restart with {restart['components']} components, recompiling | {restart['restart_compiling_ms']} |")
L.append(f"\nRestart from the cache is {restart['speedup']}× faster than recompiling.\n")
L.append("## Density\n")
L.append("Resident memory of `wharf serve` with N idle `hello` deployments (each a distinct component, so each has its "
         "own compiled code), measured after a restart from the cache:\n")
L.append("| deployments | RSS MiB | empty server MiB | average KiB per deployment | each added deployment KiB |\n| ---: | ---: | ---: | ---: | ---: |")
for d in rows:
    L.append(f"| {d['components']} | {d['rss_mib']} | {d['rss_empty_mib']} | {d['per_component_kib']:.0f} | {d['marginal_kib']:.0f} |")
L.append("\nThe average includes what the first deployments cost once (loader threads, allocator arenas, the "
         "registry's cache); the last column is the cost of each deployment added since the previous row.\n")
L.append("## Instances and typed calls\n")
L.append("| | |\n| --- | ---: |")
L.append(f"| fresh instance + hello handler, in process (no sockets) | {inproc['fresh_instance_request_us']} µs |")
L.append(f"| typed call into a fresh provider instance, in process | {inproc['fresh_instance_typed_call_us']} µs |")
L.append(f"| the same call on one live instance (no isolation; the baseline) | {inproc['direct_call_same_instance_us']} µs |")
L.append(f"| typed calls per second, one core, in process | {inproc['typed_calls_per_second_one_core']:.0f} |")
L.append(f"| HTTP request that makes one typed call (`/caller/add`), req/s | {calls['rps']:.0f} (p99 {calls['p99']:.2f} ms) |")
L.append(f"| the same server's plain hello, req/s | {wharf['rps']:.0f} |")
L.append(f"| the same `add` from outside over the JSON gateway (`POST /rpc/kinds/values/add`), req/s | {gateway['rps']:.0f} (p99 {gateway['p99']:.2f} ms) |")
L.append(f"\nA typed call adds about {1e3/calls['rps'] - 1e3/wharf['rps']:.3f} ms of server time per request "
         "(a second fresh instance, arguments and results copied across).\n")
L.append("## The request path, piece by piece\n")
L.append(f"Micro-benchmarks (`wharf-bench micro`, one core, {micro['deployments']} deployments loaded):\n")
L.append("| step | ns |\n| --- | ---: |")
L.append(f"| route lookup (`/svc-N/some/path`) | {micro['route_ns']} |")
L.append(f"| weighted version pick (90/10 canary) | {micro['weighted_pick_ns']} |")
L.append(f"| record a request in the version's counters | {micro['metrics_record_ns']} |")
L.append("")
if polyglot.strip():
    L.append(polyglot)
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
