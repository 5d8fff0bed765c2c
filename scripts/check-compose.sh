#!/usr/bin/env bash
# Static checks of the deployment files, no Docker engine needed (CI runs it):
# docker-compose.yml, .env.example, Dockerfile and .dockerignore, against what
# jobsctl and queue-worker say about themselves (`--describe-json`) and the
# package's products (`swift package dump-package`).
#
#   scripts/check-compose.sh [--bin DIR] [COMPOSE_FILE]     (default: docker-compose.yml)
#   scripts/check-compose.sh --test                         the checker's own unit tests
#
# Without --bin it builds first (swift build -c release; a no-op when up to date),
# so the descriptions are those of the current sources. The checks themselves are
# the Python program in scripts/compose_check/ (docs/deployment.md lists them); it
# needs PyYAML: the first python3 that has it, else Debian's python3-yaml is
# installed (as root, like .ci/run installs postgresql).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

find_python() {
    local candidate
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}
if ! PYTHON="$(find_python)"; then
    echo "check-compose: no python3 with PyYAML; installing Debian's python3-yaml" >&2
    if [[ "$(id -u)" == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q >/dev/null
    "${SUDO[@]}" apt-get install -y -q python3 python3-yaml >/dev/null
    PYTHON="$(find_python)" || { echo "check-compose: error: cannot import yaml after installing python3-yaml" >&2; exit 1; }
fi
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"

if [[ "${1:-}" == --test ]]; then
    exec "$PYTHON" -m unittest discover -s "$ROOT/scripts/compose_check/tests" -t "$ROOT/scripts"
fi
BIN=""
if [[ "${1:-}" == --bin ]]; then
    [[ $# -ge 2 ]] || { echo "check-compose: error: --bin needs a folder" >&2; exit 2; }
    BIN="$2"
    shift 2
fi
if [[ -z "$BIN" ]]; then
    if ! output="$(cd "$ROOT" && swift build -c release -Xswiftc -warnings-as-errors 2>&1)"; then
        echo "$output" >&2
        echo "check-compose: error: the release build failed" >&2
        exit 1
    fi
    BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
fi
exec "$PYTHON" -m compose_check --root "$ROOT" --bin "$BIN" "$@"
