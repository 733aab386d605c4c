#!/bin/sh
# returnflow: install every Debian package needed to build, test and run returnflow.
# Idempotent: prints nothing and changes nothing when all packages are present.
# Then the npm packages the tests use (tests/ks-sdk), with npm.
# Used by `make deps` (and so `make run` / `make test`) and by CI.
set -eu

# One package per line, with why returnflow needs it (the README reuses this list).
RF_DEB_PACKAGES="
build-essential       # C compiler (gcc), libc headers, ar
pkg-config            # the Makefile finds library flags with pkg-config
make                  # the build is driven by the Makefile
libzmq3-dev           # ZeroMQ: the message bus between the five workers
libuv1-dev            # libuv: each worker's event loop
libmsgpack-dev        # MessagePack: wire encoding of events on the bus
libjansson-dev        # Jansson: JSON for the HTTP APIs
libcmocka-dev         # cmocka: unit test framework
libhttp-parser-dev    # http-parser: the workers' embedded HTTP servers
libcurl4-openssl-dev  # libcurl: outgoing HTTP (webhooks, tests' helpers)
libssl-dev            # libcrypto: hashing and signatures
uthash-dev            # uthash: header-only hash tables
libpq-dev             # libpq: each worker's PostgreSQL client
postgresql            # PostgreSQL server: the private cluster of make run and the tests
python3               # integration test scenarios (tests/integration/*.py)
valgrind              # make test runs the unit tests under valgrind's memcheck
clang                 # libFuzzer targets (make fuzz; a short pass in make test)
libclang-rt-14-dev    # clang's sanitizer and libFuzzer runtimes
clang-format          # make format / format-check: the tree's C style (.clang-format)
clang-tidy            # make lint: the static analyzer and bug-finding checks (.clang-tidy)
bear                  # make compile_commands.json: the real compile flags for clang-tidy
openssl               # the openssl command: the tests' platform stand-in encrypts pushes with it
curl                  # talking to the workers' HTTP APIs by hand and in scripts
procps                # ps/pkill used when supervising and testing worker processes
docker-compose        # CI validates docker-compose.yml with docker-compose config (no engine needed)
prometheus            # promtool: the tests check every worker's /metrics with it
chromium              # headless browser: the ops page's end-to-end test
chromium-driver       # chromedriver: drives chromium over WebDriver in that test
"

# Strip the comments to get the bare names.
packages=$(printf '%s\n' "$RF_DEB_PACKAGES" | sed -e 's/#.*//' | tr -s ' \t\n' ' ')

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing="$missing $p" ;;
    esac
done
# Node.js and npm run the Kuaishou platform's own npm client in one test (its
# signatures checked against returnflow's); Debian's packages when the machine
# has no npm of its own.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
missing=${missing# }

# The npm packages of the tests (tests/ks-sdk: pinned by its package-lock.json).
install_npm_packages() {
    sdk="$(dirname "$0")/../tests/ks-sdk"
    [ -d "$sdk/node_modules/kuaishou-merchant-open-api" ] && return 0
    npm_log=$(mktemp "${TMPDIR:-/tmp}/rf-install-npm.XXXXXX")
    if ! (cd "$sdk" && npm ci --no-audit --no-fund) >"$npm_log" 2>&1; then
        tail -n 40 "$npm_log" >&2
        rm -f "$npm_log"
        echo "install-deps.sh: npm ci in tests/ks-sdk failed" >&2
        exit 1
    fi
    rm -f "$npm_log"
    echo "install-deps.sh: installed the npm packages of tests/ks-sdk"
}

if [ -z "$missing" ]; then
    install_npm_packages
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps.sh: missing packages: $missing" >&2
    echo "install-deps.sh: not root and no sudo; run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/rf-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086 # $sudo and $missing are meant to split into words
if ! { $sudo apt-get update -q &&
       $sudo env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends $missing; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "install-deps.sh: failed to install:$missing" >&2
    exit 1
fi
echo "install-deps.sh: installed $missing"
install_npm_packages
