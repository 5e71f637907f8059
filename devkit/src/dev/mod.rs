//! The `keyless-dev` tool: runs the handler and the component locally against a throwaway
//! PostgreSQL server.

pub mod cli;
mod database;
mod emulator;
mod handler;
mod hints;
mod token_wiring;
mod up;

pub use up::run_up;
