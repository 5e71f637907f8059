//! The Azure Functions custom-handler invocation protocol, translated to and from the plain
//! HTTP requests the component serves.
//!
//! The Functions host forwards HTTP functions with one httpTrigger input and one http output
//! as the original request; those need no translation. Every other function arrives as
//! `POST /<function name>` with a JSON body, and the reply must be JSON as well:
//!
//! 1. [`FunctionApp::load`] reads host.json and the function.json files once at start.
//! 2. [`FunctionApp::json_invocation_target`] recognises a JSON invocation.
//! 3. [`request::component_request`] turns it into the request the component handles.
//! 4. [`response::invocation_reply`] turns the component's response into the JSON reply,
//!    and [`response::invalid_invocation_reply`] builds the reply for invocations that fail
//!    step 3.
//!
//! [`dispatch_json_invocation`] runs steps 3 and 4 around a call to the component.
//!
//! This module does no I/O besides reading the definition files.

pub mod dispatch;
pub mod error;
pub mod function_json;
pub mod request;
pub mod response;
pub mod target;

pub use dispatch::dispatch_json_invocation;
pub use error::{FunctionJsonError, InvocationError};
pub use function_json::{Binding, Direction, Dispatch, FunctionApp, FunctionDefinition};
