//! A component that exports `keyless:host/token@0.1.0` and `keyless:host/postgres@0.1.0`
//! and imports only interfaces that Spin 4 provides: `spin:postgres/postgres@4.0.0`,
//! `fermyon:spin/variables@2.0.0` and `wasi:http/outgoing-handler`.
//!
//! `spin.toml` lists this component as a dependency of the business component, so the
//! same business `.wasm` that the custom-handler host runs also runs under `spin up`.
//! The conversions are plain functions over the generated types so they are unit-tested
//! natively; only the calls into Spin need a Spin host.

#![deny(missing_docs)]

pub mod postgres;
pub mod token;

/// Bindings for the `adapter` world in `wit/`, which exports the two keyless interfaces.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "keyless:spin-adapter/adapter",
        path: ["../../wit", "wit"],
        generate_all,
    });
}

/// The type that implements both exported interfaces.
pub struct Adapter;

// The export symbols have names such as `keyless:host/postgres@0.1.0#...`, which a native
// cdylib's linker script rejects, so they exist only in the WebAssembly build.
#[cfg(target_arch = "wasm32")]
bindings::export!(Adapter with_types_in bindings);
