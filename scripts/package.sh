#!/usr/bin/env bash
# Builds the zip-deploy package of the Azure Functions app: host.json, one folder per
# function, the Linux x86-64 `handler` binary (mode 0755), the component keyless.wasm, its
# precompiled machine code keyless.<hash>.cwasm and local.settings.json.example.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/package.sh [options]

Builds dist/keyless-functionapp.zip for zip deploy to Azure Functions.

Options:
  --profile NAME     Cargo profile for the handler: release (default) or dev.
  --target TRIPLE    Rust target of the handler (default x86_64-unknown-linux-gnu).
                     x86_64-unknown-linux-musl gives a static binary that does not
                     depend on the platform's glibc version.
  --handler PATH     Use this handler binary instead of building one.
  --component PATH   Use this component instead of building keyless.wasm (release).
  --output PATH      Write the zip here (default dist/keyless-functionapp.zip).
  --no-precompile    Leave out keyless.<hash>.cwasm, for example when --handler is
                     not a handler that runs on this machine. The handler then
                     compiles the component at every start.
  -h, --help         Show this help.

The function app files come from deploy/functionapp and deploy/local.settings.json.example.
Entries have a fixed timestamp (SOURCE_DATE_EPOCH, else the last commit's time) and a
fixed order, so the same inputs give the same zip.

The packaged handler precompiles the component with `handler precompile`. The hash in
the file name covers the wasmtime version, engine settings and this machine's CPU
features; a server whose CPU features differ looks for another name and compiles the
component, so the file only saves time where it was built for the same CPU features.
EOF
}

die() {
    echo "package.sh: $*" >&2
    exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
profile=release
target=x86_64-unknown-linux-gnu
handler=""
component=""
output="$repo_root/dist/keyless-functionapp.zip"
precompile=yes

while [[ $# -gt 0 ]]; do
    case "$1" in
        --profile) [[ $# -ge 2 ]] || die "--profile needs a value"; profile=$2; shift 2 ;;
        --target) [[ $# -ge 2 ]] || die "--target needs a value"; target=$2; shift 2 ;;
        --handler) [[ $# -ge 2 ]] || die "--handler needs a path"; handler=$2; shift 2 ;;
        --component) [[ $# -ge 2 ]] || die "--component needs a path"; component=$2; shift 2 ;;
        --output) [[ $# -ge 2 ]] || die "--output needs a path"; output=$2; shift 2 ;;
        --no-precompile) precompile=no; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1'; run scripts/package.sh --help" ;;
    esac
done

case "$target" in
    x86_64-unknown-linux-gnu | x86_64-unknown-linux-musl) ;;
    *) die "target '$target' is not Linux x86-64; Azure Functions on Linux runs x86_64-unknown-linux-gnu or -musl binaries" ;;
esac
command -v zip >/dev/null || die "zip is not installed; install it with 'apt-get install zip'"

app_dir="$repo_root/deploy/functionapp"
settings_example="$repo_root/deploy/local.settings.json.example"
[[ -f "$app_dir/host.json" ]] || die "missing $app_dir/host.json"
[[ -f "$settings_example" ]] || die "missing $settings_example"
target_dir=${CARGO_TARGET_DIR:-$repo_root/target}

# Step 1: the handler, built for the requested target and profile unless given.
if [[ -z "$handler" ]]; then
    case "$profile" in
        dev) profile_dir=debug ;;
        *) profile_dir=$profile ;;
    esac
    host_triple=$(rustc -vV | sed -n 's/^host: //p')
    build=(cargo build --manifest-path "$repo_root/Cargo.toml" -p keyless-host --bin handler --profile "$profile")
    if [[ "$target" == "$host_triple" ]]; then
        # Building without --target reuses the artifacts of ordinary builds and tests.
        handler="$target_dir/$profile_dir/handler"
    else
        build+=(--target "$target")
        handler="$target_dir/$target/$profile_dir/handler"
    fi
    echo "package.sh: building the handler: ${build[*]}" >&2
    "${build[@]}"
fi
[[ -f "$handler" ]] || die "handler binary not found at $handler"

# An x86-64 ELF file starts with 7f 45 4c 46 02 (64-bit) and has machine 0x3e at offset 18.
elf_header=$(od -An -tx1 -N20 "$handler" | tr -d ' \n')
if [[ "${elf_header:0:10}" != "7f454c4602" || "${elf_header:36:4}" != "3e00" ]]; then
    die "$handler is not a Linux x86-64 executable; build it for x86_64-unknown-linux-gnu"
fi

# Step 2: the component, always a release build unless given.
if [[ -z "$component" ]]; then
    build=(cargo build --manifest-path "$repo_root/Cargo.toml" --release --target wasm32-wasip2 -p keyless)
    echo "package.sh: building the component: ${build[*]}" >&2
    "${build[@]}"
    component="$target_dir/wasm32-wasip2/release/keyless.wasm"
fi
[[ -f "$component" ]] || die "component not found at $component"
if [[ "$(od -An -tx1 -N4 "$component" | tr -d ' \n')" != "0061736d" ]]; then
    die "$component is not a WebAssembly file (no \\0asm header)"
fi

# Step 3: stage the app root with the modes the platform needs.
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
install -m 0644 "$app_dir/host.json" "$staging/host.json"
for function_json in "$app_dir"/*/function.json; do
    function_name=$(basename "$(dirname "$function_json")")
    install -d -m 0755 "$staging/$function_name"
    install -m 0644 "$function_json" "$staging/$function_name/function.json"
done
install -m 0755 "$handler" "$staging/handler"
install -m 0644 "$component" "$staging/keyless.wasm"
install -m 0644 "$settings_example" "$staging/local.settings.json.example"

# Step 4: the precompiled component, written by the packaged handler itself so the engine
# settings match the server's.
if [[ "$precompile" == yes ]]; then
    echo "package.sh: precompiling the component with $handler" >&2
    if ! "$staging/handler" precompile --component "$staging/keyless.wasm" --output "$staging" >/dev/null; then
        die "'$handler precompile' failed; pass a handler that runs on this machine, or --no-precompile to ship without keyless.<hash>.cwasm"
    fi
    cwasm_files=("$staging"/keyless.*.cwasm)
    [[ -f "${cwasm_files[0]}" ]] || die "'$handler precompile' wrote no keyless.<hash>.cwasm"
    chmod 0644 "${cwasm_files[@]}"
else
    echo "package.sh: --no-precompile: the package has no keyless.<hash>.cwasm; the handler compiles the component at every start" >&2
fi

# Step 5: zip with a fixed timestamp and order.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || date +%s)}
find "$staging" -exec touch -h -d "@$epoch" {} +
mkdir -p "$(dirname "$output")"
output=$(cd "$(dirname "$output")" && pwd)/$(basename "$output")
rm -f "$output"
(
    cd "$staging"
    find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | TZ=UTC zip -X -q -@ "$output"
)

size=$(stat -c %s "$output")
digest=$(sha256sum "$output" | cut -d' ' -f1)
echo "package.sh: wrote $output ($size bytes, sha256 $digest)" >&2
