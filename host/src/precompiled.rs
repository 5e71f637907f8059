//! Precompiled components: `<stem>.<hash>.cwasm` files next to the component, where the
//! hash identifies the engine configuration the machine code was compiled for.
//!
//! `handler precompile` writes the file with the same engine the server builds, so a
//! server on a machine with the same wasmtime version, settings and CPU features finds a
//! file under the name it expects. Any other server looks for another name and compiles.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::error::Context as _;

/// File extension of precompiled components.
pub const EXTENSION: &str = "cwasm";

/// Origin of the component that [`load`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Deserialized from this precompiled file.
    Precompiled(PathBuf),
    /// Compiled from the `.wasm` file.
    Compiled,
}

/// The component as loaded by [`load`], with how and how fast.
pub struct Loaded {
    /// The component, ready to link.
    pub component: Component,
    /// Origin of the machine code.
    pub source: Source,
    /// Time spent deserializing or compiling, including a failed deserialization.
    pub elapsed: Duration,
}

/// 16 hex digits identifying `engine`'s compilation settings: target, compiler flags,
/// CPU features, wasm features, tunables and wasmtime version.
///
/// `DefaultHasher::new()` has fixed keys, so one build of this binary always gives the
/// same value for the same settings; the file is only ever read by the binary version
/// that wrote it.
pub fn engine_hash(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The precompiled file for `component` and `engine` in `directory`:
/// `<component stem>.<engine hash>.cwasm`.
pub fn path_in(directory: &Path, component: &Path, engine: &Engine) -> PathBuf {
    let stem = component
        .file_stem()
        .map_or_else(|| "component".into(), |stem| stem.to_string_lossy());
    directory.join(format!("{stem}.{}.{EXTENSION}", engine_hash(engine)))
}

/// Compiles `component` for `engine` and writes the machine code to `output_dir`, returning
/// the file written. The file is written under a temporary name and renamed, so a reader
/// never sees half of it.
pub fn precompile(engine: &Engine, component: &Path, output_dir: &Path) -> anyhow::Result<PathBuf> {
    let wasm = std::fs::read(component)
        .with_context(|| format!("cannot read the component {}; fix --component", component.display()))?;
    let code = engine
        .precompile_component(&wasm)
        .with_context(|| format!("cannot compile the component {}", component.display()))?;

    std::fs::create_dir_all(output_dir)
        .with_context(|| format!("cannot create the output directory {}; fix --output", output_dir.display()))?;
    let path = path_in(output_dir, component, engine);
    let partial = path.with_extension(format!("{EXTENSION}.partial"));
    std::fs::write(&partial, &code).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))?;
    Ok(path)
}

/// Loads the component at `component`: from the precompiled file next to it when one
/// exists for `engine`, else by compiling it. A precompiled file that fails to load is
/// reported as a warning and the `.wasm` is compiled instead.
pub fn load(engine: &Engine, component: &Path) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let directory = component.parent().unwrap_or(Path::new("."));
    let precompiled = path_in(directory, component, engine);

    if precompiled.is_file() {
        // SAFETY: `deserialize_file` maps the file and runs its machine code, so the file
        // must come from `Engine::precompile_component`. This file ships in the same
        // read-only package as this binary and was written by `handler precompile` of
        // the same binary version; the engine hash in its name matches this engine.
        // wasmtime also checks the file's header against the engine's version and
        // settings and returns an error for a file it cannot use, which is handled below.
        match unsafe { Component::deserialize_file(engine, &precompiled) } {
            Ok(component) => {
                return Ok(Loaded {
                    component,
                    source: Source::Precompiled(precompiled),
                    elapsed: started.elapsed(),
                });
            }
            Err(error) => tracing::warn!(
                file = %precompiled.display(),
                error = %format!("{error:#}"),
                "cannot load the precompiled component; compiling the .wasm instead"
            ),
        }
    } else {
        tracing::info!(
            file = %precompiled.display(),
            "no precompiled component for this engine; compiling the .wasm"
        );
    }

    let component = Component::from_file(engine, component).with_context(|| {
        format!(
            "cannot load the component {}; pass the built keyless.wasm with --component or KEYLESS_COMPONENT",
            component.display()
        )
    })?;
    Ok(Loaded {
        component,
        source: Source::Compiled,
        elapsed: started.elapsed(),
    })
}
