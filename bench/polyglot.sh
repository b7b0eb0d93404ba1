#!/usr/bin/env bash
# The same hello handler in Rust, Python and JavaScript: component size,
# build time, cold deploy (compile) time and throughput. Called by
# bench/run.sh (WHARF and DRIVER as arguments); prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHARF=$1
DRIVER=$2
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
scripts/install-guest-tools.sh >&2

seconds() { python3 -c "import time; print(time.time())"; }

# Build each from a clean directory, as an author would.
declare -A WASM BUILD
t0=$(seconds)
cp -r components/hello "$WORK/hello-rs" && cp components/Cargo.lock "$WORK/hello-rs/"
sed -i 's/^version.workspace = true/version = "0.1.0"/; s/^edition.workspace = true/edition = "2024"/; s/^publish.workspace = true/publish = false/; s/^wasip2.workspace = true/wasip2 = "2.0.1"/' "$WORK/hello-rs/Cargo.toml"
printf '\n[workspace]\n\n[profile.release]\nopt-level = "s"\nstrip = true\ncodegen-units = 1\npanic = "abort"\n' >> "$WORK/hello-rs/Cargo.toml"
(cd "$WORK/hello-rs" && cargo build --quiet --release --target wasm32-wasip2 >&2)
t1=$(seconds); BUILD[rust]=$(python3 -c "print(round($t1-$t0,1))"); WASM[rust]=$WORK/hello-rs/target/wasm32-wasip2/release/hello.wasm

t0=$(seconds)
.tools/venv/bin/componentize-py -d wit -w wharf:host/service componentize -p components/python/hello app -o "$WORK/hello-py.wasm" >&2
t1=$(seconds); BUILD[python]=$(python3 -c "print(round($t1-$t0,1))"); WASM[python]=$WORK/hello-py.wasm

t0=$(seconds)
tools/node_modules/.bin/componentize-js --wit wit --world-name wharf:host/service -d http -d fetch-event -o "$WORK/hello-js.wasm" components/js/hello/app.js >&2
t1=$(seconds); BUILD[js]=$(python3 -c "print(round($t1-$t0,1))"); WASM[js]=$WORK/hello-js.wasm

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port); A=$(port)
taskset -c 0 "$WHARF" serve --threads 1 --data-dir "$WORK/data" --listen "127.0.0.1:$P" --admin-listen "127.0.0.1:$A" \
  --component "rs=${WASM[rust]}" --component "py=${WASM[python]}" --component "js=${WASM[js]}" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 1200); do curl -sf -o /dev/null "http://127.0.0.1:$P/js/" && break; sleep 0.1; done

echo "## Languages"
echo
echo "The same hello handler (\`components/hello\`, \`components/python/hello\`, \`components/js/hello\`), built from a clean directory, deployed on a fresh server, then loaded with \`wrk -t1 -c$CONNS -d${DURATION}s\` (server on core 0, wrk on core 1):"
echo
echo "| language | component | build s | cold deploy ms | req/s | p99 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for lang in rust python js; do
  case $lang in rust) route=rs;; python) route=py;; js) route=js;; esac
  COLD=$("$DRIVER" cold --wharf "$WHARF" --component "${WASM[$lang]}")
  OUT=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$P/$route/")
  python3 - "$lang" "$COLD" "$OUT" "${BUILD[$lang]}" <<'PY'
import json, re, sys
lang, cold, out, build = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else 0
print(f"| {lang} | {cold['bytes']/1e6:.1f} MB | {build} | {cold['cold_deploy_ms']:.0f} | {rps:.0f} | {p99:.2f} |")
PY
done
echo
