#!/usr/bin/env bash
# Installs the pinned Python and JavaScript guest toolchains into the
# project: a virtualenv in .tools/venv (componentize-py) and tools/node_modules
# (jco, componentize-js). Idempotent; CI and the authoring guides use it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

fail() { echo "install-guest-tools: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is missing; install Python 3.10+ (e.g. apt-get install python3 python3-venv)"
command -v npm >/dev/null || fail "npm is missing; install Node.js 20+ with npm"

if [ ! -x .tools/venv/bin/componentize-py ] || ! .tools/venv/bin/pip freeze 2>/dev/null | grep -qxF -f <(grep -v '^#' tools/requirements.txt); then
  echo "install-guest-tools: installing componentize-py into .tools/venv"
  python3 -m venv .tools/venv || fail "python3 -m venv failed; install python3-venv"
  .tools/venv/bin/pip install --quiet -r tools/requirements.txt || fail "pip install -r tools/requirements.txt failed"
fi

# Reinstall whenever the lock file changed since the last install, so a
# machine with an older tools/node_modules picks up added packages.
if [ ! -x tools/node_modules/.bin/componentize-js ] || ! cmp -s tools/package-lock.json tools/node_modules/.wharf-installed-lock; then
  echo "install-guest-tools: installing jco and componentize-js into tools/node_modules"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tools/ failed"
  cp tools/package-lock.json tools/node_modules/.wharf-installed-lock
fi

.tools/venv/bin/componentize-py --version >/dev/null || fail "componentize-py does not run"
tools/node_modules/.bin/jco --version >/dev/null || fail "jco does not run"
echo "install-guest-tools: componentize-py $(.tools/venv/bin/componentize-py --version | awk '{print $2}'), jco $(tools/node_modules/.bin/jco --version)"
