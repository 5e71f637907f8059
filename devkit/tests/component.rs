//! Tests of `component_wasm()`, which builds and locates the release component.

use keyless_devkit::component::component_wasm;

#[test]
fn component_wasm_is_a_component() {
    let path = component_wasm();
    assert!(
        path.ends_with("wasm32-wasip2/release/keyless.wasm"),
        "{}",
        path.display()
    );

    let bytes = std::fs::read(&path).expect("the component file is readable");
    assert_eq!(&bytes[0..4], b"\0asm", "WebAssembly magic number");
    // A component's preamble has version 0x0d and layer 1; a core module has layer 0.
    assert_eq!(
        &bytes[4..8],
        &[0x0d, 0x00, 0x01, 0x00],
        "component version and layer"
    );
}

#[test]
fn component_wasm_is_stable_when_up_to_date() {
    let first = component_wasm();
    let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
    let second = component_wasm();
    assert_eq!(first, second);
    assert_eq!(
        std::fs::metadata(&second).unwrap().modified().unwrap(),
        modified,
        "the file is unchanged on the second call"
    );
}
