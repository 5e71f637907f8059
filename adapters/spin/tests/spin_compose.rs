//! Composes the business component with the Spin adapter the way `spin up` does for a
//! component dependency, and checks that the result needs only what Spin 4.0 provides.
//!
//! Spin 4.0 (crates/compose) registers the component and each dependency in a wac-graph
//! `CompositionGraph`, plugs the dependency's export into the import of the same name
//! and re-exports the component's exports. This test does the same without Spin.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wac_graph::types::{Package, Types};
use wac_graph::{CompositionGraph, EncodeOptions};

const TOKEN: &str = "keyless:host/token@0.1.0";
const POSTGRES: &str = "keyless:host/postgres@0.1.0";
const INCOMING_HANDLER_PREFIX: &str = "wasi:http/incoming-handler@0.2.";

/// WASI 0.2 packages that Spin 4.0 links, at patch versions up to the 0.2.6 it vendors;
/// wasmtime also accepts imports of older patch versions.
const WASI_PACKAGES: &[&str] = &["cli", "clocks", "filesystem", "http", "io", "random", "sockets"];
const MAX_WASI_PATCH: u32 = 6;

/// Spin-specific interfaces that Spin 4.0's `platform` world provides (postgres 4.0.0 is
/// served by the 4.2.0 host implementation through semver-compatible linking).
const SPIN_INTERFACES: &[&str] = &[
    "spin:postgres/postgres@4.0.0",
    "fermyon:spin/variables@2.0.0",
    "spin:variables/variables@3.0.0",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Builds `package` for wasm32-wasip2 in release mode (a no-op when it is up to date)
/// and returns the path of its `.wasm`.
fn build_component(package: &str, file_name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", package])
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release --target wasm32-wasip2 -p {package} failed");

    let path = target_dir().join("wasm32-wasip2/release").join(file_name);
    assert!(path.is_file(), "{} is missing after the build", path.display());
    path
}

/// Builds the two components once per test run and returns their paths.
fn components() -> &'static (PathBuf, PathBuf) {
    static COMPONENTS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        (
            build_component("keyless", "keyless.wasm"),
            build_component("keyless-spin-adapter", "keyless_spin_adapter.wasm"),
        )
    })
}

/// Import and export names of a component's world.
fn world_of(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut types = Types::default();
    let package = Package::from_bytes("inspected", None, bytes.to_vec(), &mut types).expect("a valid component");
    let world = &types[package.ty()];
    (world.imports.keys().cloned().collect(), world.exports.keys().cloned().collect())
}

/// Composes the business component with the adapter as Spin does.
fn compose(business: &Path, adapter: &Path) -> Vec<u8> {
    let mut graph = CompositionGraph::new();

    let business = Package::from_file("keyless", None, business, graph.types_mut()).expect("business component loads");
    let business_exports: Vec<String> = graph.types()[business.ty()].exports.keys().cloned().collect();
    let business = graph.register_package(business).expect("business component registers");
    let adapter = Package::from_file("keyless-spin-adapter", None, adapter, graph.types_mut()).expect("adapter loads");
    let adapter = graph.register_package(adapter).expect("adapter registers");

    let business_instance = graph.instantiate(business);
    let adapter_instance = graph.instantiate(adapter);

    for interface in [TOKEN, POSTGRES] {
        let export = graph
            .alias_instance_export(adapter_instance, interface)
            .unwrap_or_else(|error| panic!("adapter exports {interface}: {error}"));
        graph
            .set_instantiation_argument(business_instance, interface, export)
            .unwrap_or_else(|error| panic!("business component accepts {interface}: {error}"));
    }

    for name in business_exports {
        let export = graph.alias_instance_export(business_instance, &name).expect("export aliases");
        graph.export(export, &name).expect("export is unique");
    }

    graph.encode(EncodeOptions::default()).expect("composition encodes and validates")
}

/// Checks whether Spin 4.0 provides the import `name`.
fn spin_provides(name: &str) -> bool {
    if SPIN_INTERFACES.contains(&name) {
        return true;
    }

    let Some(rest) = name.strip_prefix("wasi:") else {
        return false;
    };
    let Some((package, rest)) = rest.split_once('/') else {
        return false;
    };
    let Some((_interface, version)) = rest.split_once('@') else {
        return false;
    };
    let patch = version.strip_prefix("0.2.").and_then(|patch| patch.parse::<u32>().ok());
    WASI_PACKAGES.contains(&package) && patch.is_some_and(|patch| patch <= MAX_WASI_PATCH)
}

#[test]
fn composed_imports_only_spin_interfaces() {
    let (business, adapter) = components();
    let composed = compose(business, adapter);

    let (imports, exports) = world_of(&composed);

    let keyless_imports: Vec<&String> = imports.iter().filter(|name| name.starts_with("keyless:")).collect();
    assert!(keyless_imports.is_empty(), "keyless imports remain: {keyless_imports:?}");

    let foreign: Vec<&String> = imports.iter().filter(|name| !spin_provides(name)).collect();
    assert!(foreign.is_empty(), "imports Spin 4.0 does not provide: {foreign:?} (all imports: {imports:?})");

    assert!(
        imports.iter().any(|name| name == "spin:postgres/postgres@4.0.0"),
        "spin:postgres/postgres@4.0.0 is not imported: {imports:?}"
    );
    assert!(
        exports.iter().any(|name| name.starts_with(INCOMING_HANDLER_PREFIX)),
        "no wasi:http/incoming-handler@0.2.x export: {exports:?}"
    );
}

#[test]
fn adapter_exports_both_interfaces() {
    let (_business, adapter) = components();
    let bytes = std::fs::read(adapter).expect("adapter is readable");

    let (imports, exports) = world_of(&bytes);

    assert_eq!(exports, [TOKEN, POSTGRES]);
    for required in ["spin:postgres/postgres@4.0.0", "fermyon:spin/variables@2.0.0"] {
        assert!(imports.iter().any(|name| name == required), "adapter does not import {required}: {imports:?}");
    }
    assert!(
        imports.iter().any(|name| name.starts_with("wasi:http/outgoing-handler@0.2.")),
        "adapter does not import wasi:http/outgoing-handler: {imports:?}"
    );
    let foreign: Vec<&String> = imports.iter().filter(|name| !spin_provides(name)).collect();
    assert!(foreign.is_empty(), "adapter imports that Spin 4.0 does not provide: {foreign:?}");
}

#[test]
fn business_component_needs_adapter() {
    let (business, _adapter) = components();
    let bytes = std::fs::read(business).expect("business component is readable");

    let (imports, _exports) = world_of(&bytes);

    for interface in [TOKEN, POSTGRES] {
        assert!(imports.iter().any(|name| name == interface), "business component does not import {interface}: {imports:?}");
    }
}
