#!/usr/bin/env bash
# Installs what building and testing keyless needs on Debian or Ubuntu: the wasm32-wasip2
# Rust target, a C compiler for crates with C parts, the PostgreSQL server programs (the
# test harness runs initdb and postgres from them), the psql client and zip.
#
# Safe to run repeatedly: it installs only what is missing and prints nothing when
# everything is present. Installing packages needs root; otherwise it prints the command.
set -euo pipefail

missing_packages=()

is_root() {
    [ "$(id -u)" -eq 0 ]
}

# Looks for initdb where the test harness looks (devkit/src/postgres/binaries.rs).
has_postgres_server() {
    local dir
    if [ -n "${KEYLESS_PG_BINDIR:-}" ] && [ -x "$KEYLESS_PG_BINDIR/initdb" ]; then
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            return 0
        fi
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            return 0
        fi
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

# Rust itself is installed by the developer; this script only adds the target.
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup.sh: cargo is required; install Rust from https://rustup.rs and run this again" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx 'wasm32-wasip2'; then
        echo "setup.sh: adding the Rust target wasm32-wasip2"
        rustup target add wasm32-wasip2
    fi
elif ! [ -d "$(rustc --print target-libdir --target wasm32-wasip2 2>/dev/null)" ]; then
    echo "setup.sh: the Rust standard library for wasm32-wasip2 is missing and rustup is not installed; install Rust with rustup (https://rustup.rs) or add the target with your Rust distribution" >&2
    exit 1
fi

if ! command -v cc >/dev/null 2>&1; then
    missing_packages+=(gcc libc6-dev)
fi
if ! has_postgres_server; then
    missing_packages+=(postgresql)
fi
if ! command -v psql >/dev/null 2>&1; then
    missing_packages+=(postgresql-client)
fi
# scripts/package.sh, and the test that checks its output, write the zip with zip(1).
if ! command -v zip >/dev/null 2>&1; then
    missing_packages+=(zip)
fi

if [ "${#missing_packages[@]}" -eq 0 ]; then
    exit 0
fi

if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: missing ${missing_packages[*]}; install with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing_packages[*]}" >&2
    exit 1
fi

# The postgresql package normally creates and starts a system cluster on port 5432. The
# tests start their own servers, so tell postgresql-common not to create one.
if [[ " ${missing_packages[*]} " == *" postgresql "* ]]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/keyless-no-main-cluster.conf
fi

echo "setup.sh: installing ${missing_packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null

if ! has_postgres_server; then
    echo "setup.sh: PostgreSQL was installed but initdb is still not found; set KEYLESS_PG_BINDIR to its bin directory" >&2
    exit 1
fi
