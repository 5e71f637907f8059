//! The release build of the keyless component.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

/// Returns the path of the release component,
/// `target/wasm32-wasip2/release/keyless.wasm` (under `$CARGO_TARGET_DIR` when set), after
/// building it with `cargo build --release --target wasm32-wasip2 -p keyless` when it is
/// missing or older than a file under `src/` or `wit/` or the root `Cargo.toml`/`Cargo.lock`.
///
/// # Panics
///
/// When the build fails; the cargo output is on stderr.
pub fn component_wasm() -> PathBuf {
    // Tests in one process call this concurrently; one build is enough.
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let root = workspace_root();
    let wasm = target_dir(&root)
        .join("wasm32-wasip2")
        .join("release")
        .join("keyless.wasm");

    if is_up_to_date(&wasm, &root) {
        return wasm;
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "keyless",
        ])
        .status()
        .unwrap_or_else(|err| panic!("failed to run cargo to build the component: {err}"));
    assert!(
        status.success(),
        "`cargo build --release --target wasm32-wasip2 -p keyless` failed ({status}); \
         if the target is missing, run `rustup target add wasm32-wasip2` or scripts/setup.sh"
    );
    assert!(
        wasm.is_file(),
        "the component build succeeded but {} does not exist",
        wasm.display()
    );
    wasm
}

/// Returns the repository root, the parent of the devkit crate.
pub fn workspace_root() -> PathBuf {
    let devkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    devkit
        .parent()
        .expect("devkit/ sits inside the repository")
        .to_path_buf()
}

/// Returns the cargo target directory: `$CARGO_TARGET_DIR` (relative to the root) or
/// `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn is_up_to_date(wasm: &Path, root: &Path) -> bool {
    let Some(built) = modified(wasm) else {
        return false;
    };
    let inputs = [
        root.join("src"),
        root.join("wit"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ];
    inputs
        .iter()
        .filter_map(|input| newest_modification(input))
        .all(|input_time| input_time <= built)
}

/// Returns the newest modification time of `path` or of any file below it.
fn newest_modification(path: &Path) -> Option<SystemTime> {
    let own = modified(path);
    if !path.is_dir() {
        return own;
    }
    let entries = std::fs::read_dir(path).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| newest_modification(&entry.path()))
        .chain(own)
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}
