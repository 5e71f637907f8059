//! The keyless business component: an HTTP API over the `clients` table.

wit_bindgen::generate!({
    world: "function",
    path: "wit",
    generate_all,
});
