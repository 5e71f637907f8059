//! Test harness and local tooling for keyless: a throwaway PostgreSQL server
//! ([`postgres::TestCluster`]), the path of the built component ([`component::component_wasm`])
//! and the `keyless-dev` binary that runs everything locally.

pub mod component;
pub mod dev;
pub mod identity;
pub mod logs;
pub mod postgres;
