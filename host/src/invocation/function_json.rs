//! The function app definition: host.json plus one `<name>/function.json` per function.
//!
//! The Functions host decides per function how it calls the handler. When host.json sets
//! `customHandler.enableForwardingHttpRequest`, a function whose bindings are exactly one
//! `httpTrigger` input and one `http` output is forwarded as the original HTTP request.
//! Every other function is invoked with `POST /<name>` and a JSON body. The handler reads
//! the same files at start, so it knows which JSON invocations to expect and how to
//! translate them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::FunctionJsonError;

/// Route prefix the Functions host uses when host.json does not set `extensions.http.routePrefix`.
pub const DEFAULT_ROUTE_PREFIX: &str = "api";

/// Variable in which the Functions host passes the function app's root directory to the
/// handler process.
pub const APP_ROOT_ENV: &str = "FUNCTIONS_APP_ROOT_PATH";

/// The functions of one function app and the host.json settings that affect invocation.
#[derive(Debug, Clone)]
pub struct FunctionApp {
    root: PathBuf,
    route_prefix: String,
    forwarding_enabled: bool,
    functions: BTreeMap<String, FunctionDefinition>,
}

/// One function: its folder name and its bindings.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDefinition {
    /// Folder name of the function, which is also its name in invocation paths.
    pub name: String,
    /// Bindings in function.json order.
    pub bindings: Vec<Binding>,
    /// The `disabled` flag of function.json.
    pub disabled: bool,
    /// Dispatch mode the Functions host uses for this function.
    pub dispatch: Dispatch,
}

/// Dispatch mode: the way the Functions host calls the handler for one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The original HTTP request is sent as is, at its original path.
    Forwarded,
    /// The host sends `POST /<function name>` with a JSON `{"Data", "Metadata"}` body.
    JsonInvocation,
}

/// Direction of a binding as written in function.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    InOut,
}

/// One entry of a function.json `bindings` array.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The `name` property, which keys the value in `Data` and `Outputs`.
    pub name: String,
    /// The `type` property, for example `httpTrigger`, `http` or `timerTrigger`.
    pub binding_type: String,
    pub direction: Direction,
    /// The `route` property of an HTTP trigger, without the route prefix.
    pub route: Option<String>,
    /// The whole binding object, for properties this module does not interpret.
    pub raw: Map<String, Value>,
}

impl Binding {
    /// Returns true when the binding type equals `binding_type`, ignoring ASCII case as the
    /// Functions host does.
    pub fn is(&self, binding_type: &str) -> bool {
        self.binding_type.eq_ignore_ascii_case(binding_type)
    }

    /// Returns true for trigger bindings (`httpTrigger`, `timerTrigger`, ...).
    pub fn is_trigger(&self) -> bool {
        self.binding_type.to_ascii_lowercase().ends_with("trigger")
    }

    fn is_input(&self) -> bool {
        matches!(self.direction, Direction::In | Direction::InOut)
    }

    fn is_output(&self) -> bool {
        matches!(self.direction, Direction::Out | Direction::InOut)
    }
}

impl FunctionDefinition {
    /// Returns the trigger binding, if function.json declares one.
    pub fn trigger(&self) -> Option<&Binding> {
        self.bindings.iter().find(|binding| binding.is_trigger())
    }

    /// Returns the first `http` output binding, if any.
    pub fn http_output(&self) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|binding| binding.is_output() && binding.is("http"))
    }

    /// Returns true when the bindings are exactly one `httpTrigger` input and one `http`
    /// output, the shape the Functions host forwards as a plain HTTP request.
    pub fn is_http_in_and_out(&self) -> bool {
        let inputs: Vec<&Binding> = self.bindings.iter().filter(|b| b.is_input()).collect();
        let outputs: Vec<&Binding> = self.bindings.iter().filter(|b| b.is_output()).collect();
        inputs.len() == 1
            && outputs.len() == 1
            && inputs[0].is("httpTrigger")
            && outputs[0].is("http")
    }
}

impl FunctionApp {
    /// Reads `host.json` and every `*/function.json` directly under `root`.
    ///
    /// A missing host.json is accepted and means the Functions host defaults (route prefix
    /// `api`, no forwarding). A folder without function.json is not a function and is
    /// skipped, as the Functions host does.
    pub fn load(root: &Path) -> Result<Self, FunctionJsonError> {
        let host_json_path = root.join("host.json");
        let host_json = if host_json_path.is_file() {
            read_json_object(&host_json_path)?
        } else {
            Map::new()
        };
        let forwarding_enabled = forwarding_enabled(&host_json, &host_json_path)?;
        let route_prefix = route_prefix(&host_json, &host_json_path)?;

        let mut functions = BTreeMap::new();
        let entries = fs::read_dir(root).map_err(|source| FunctionJsonError::Read {
            path: root.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| FunctionJsonError::Read {
                path: root.to_path_buf(),
                source,
            })?;
            let function_json_path = entry.path().join("function.json");
            if !function_json_path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let document = read_json_object(&function_json_path)?;
            let definition =
                parse_function(&name, &document, forwarding_enabled, &function_json_path)?;
            functions.insert(name, definition);
        }

        Ok(Self {
            root: root.to_path_buf(),
            route_prefix,
            forwarding_enabled,
            functions,
        })
    }

    /// Returns the directory that holds host.json: `FUNCTIONS_APP_ROOT_PATH` when the
    /// Functions host set it, else the current directory.
    pub fn default_root() -> PathBuf {
        match std::env::var_os(APP_ROOT_ENV) {
            Some(root) if !root.is_empty() => PathBuf::from(root),
            _ => PathBuf::from("."),
        }
    }

    /// Builds an app from definitions in memory, as `load` would after reading files.
    pub fn from_parts(
        root: PathBuf,
        route_prefix: String,
        forwarding_enabled: bool,
        functions: Vec<FunctionDefinition>,
    ) -> Self {
        let functions = functions.into_iter().map(|f| (f.name.clone(), f)).collect();
        Self {
            root,
            route_prefix,
            forwarding_enabled,
            functions,
        }
    }

    /// Returns the directory the definition was read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the route prefix without slashes. It is `api` unless host.json sets another
    /// prefix, which may be empty.
    pub fn route_prefix(&self) -> &str {
        &self.route_prefix
    }

    /// Returns the host.json `customHandler.enableForwardingHttpRequest` flag.
    pub fn forwarding_enabled(&self) -> bool {
        self.forwarding_enabled
    }

    /// Returns all functions, ordered by name.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionDefinition> {
        self.functions.values()
    }

    /// Looks a function up by name. Function names are case-insensitive in Azure Functions,
    /// so an exact match is tried first and then an ASCII case-insensitive one.
    pub fn function(&self, name: &str) -> Option<&FunctionDefinition> {
        self.functions.get(name).or_else(|| {
            self.functions
                .values()
                .find(|function| function.name.eq_ignore_ascii_case(name))
        })
    }

    /// Returns the function a request addresses when the request is a JSON invocation:
    /// `POST /<name>` for an enabled function that the Functions host does not forward.
    /// Every other request (forwarded traffic under the route prefix, readiness probes,
    /// unknown paths) yields `None`.
    pub fn json_invocation_target(
        &self,
        method: &http::Method,
        path: &str,
    ) -> Option<&FunctionDefinition> {
        if method != http::Method::POST {
            return None;
        }
        let name = path.strip_prefix('/')?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        self.function(name)
            .filter(|function| function.dispatch == Dispatch::JsonInvocation && !function.disabled)
    }
}

fn parse_function(
    name: &str,
    document: &Map<String, Value>,
    forwarding_enabled: bool,
    path: &Path,
) -> Result<FunctionDefinition, FunctionJsonError> {
    let invalid = |reason: String| FunctionJsonError::Invalid {
        path: path.to_path_buf(),
        reason,
    };

    let bindings_value = get_ignore_case(document, "bindings")
        .ok_or_else(|| invalid("the `bindings` array is missing".to_string()))?;
    let bindings_array = bindings_value
        .as_array()
        .ok_or_else(|| invalid("`bindings` must be an array".to_string()))?;

    let mut bindings = Vec::with_capacity(bindings_array.len());
    for (index, value) in bindings_array.iter().enumerate() {
        let object = value
            .as_object()
            .ok_or_else(|| invalid(format!("bindings[{index}] must be an object")))?;
        bindings.push(
            parse_binding(object)
                .map_err(|reason| invalid(format!("bindings[{index}]: {reason}")))?,
        );
    }

    let disabled = match get_ignore_case(document, "disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(invalid("`disabled` must be true or false".to_string())),
    };

    let mut definition = FunctionDefinition {
        name: name.to_string(),
        bindings,
        disabled,
        dispatch: Dispatch::JsonInvocation,
    };
    if forwarding_enabled && definition.is_http_in_and_out() {
        definition.dispatch = Dispatch::Forwarded;
    }
    Ok(definition)
}

fn parse_binding(object: &Map<String, Value>) -> Result<Binding, String> {
    let string_property = |key: &str| -> Result<Option<String>, String> {
        match get_ignore_case(object, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };

    let binding_type = string_property("type")?.ok_or("the `type` property is missing")?;
    let name = string_property("name")?.ok_or("the `name` property is missing")?;
    let direction = match string_property("direction")?.as_deref() {
        Some(text) if text.eq_ignore_ascii_case("in") => Direction::In,
        Some(text) if text.eq_ignore_ascii_case("out") => Direction::Out,
        Some(text) if text.eq_ignore_ascii_case("inout") => Direction::InOut,
        Some(other) => {
            return Err(format!(
                "`direction` is `{other}`; expected `in`, `out` or `inout`"
            ));
        }
        None => return Err("the `direction` property is missing".to_string()),
    };
    let route = string_property("route")?;

    Ok(Binding {
        name,
        binding_type,
        direction,
        route,
        raw: object.clone(),
    })
}

fn forwarding_enabled(
    host_json: &Map<String, Value>,
    path: &Path,
) -> Result<bool, FunctionJsonError> {
    let flag = get_ignore_case(host_json, "customHandler")
        .and_then(Value::as_object)
        .and_then(|custom_handler| get_ignore_case(custom_handler, "enableForwardingHttpRequest"));
    match flag {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        // .NET configuration binding also accepts the strings "true" and "false".
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(FunctionJsonError::Invalid {
            path: path.to_path_buf(),
            reason: "`customHandler.enableForwardingHttpRequest` must be true or false".to_string(),
        }),
    }
}

fn route_prefix(host_json: &Map<String, Value>, path: &Path) -> Result<String, FunctionJsonError> {
    let prefix = get_ignore_case(host_json, "extensions")
        .and_then(Value::as_object)
        .and_then(|extensions| get_ignore_case(extensions, "http"))
        .and_then(Value::as_object)
        .and_then(|http| get_ignore_case(http, "routePrefix"));
    match prefix {
        None | Some(Value::Null) => Ok(DEFAULT_ROUTE_PREFIX.to_string()),
        Some(Value::String(text)) => Ok(text.trim_matches('/').to_string()),
        Some(_) => Err(FunctionJsonError::Invalid {
            path: path.to_path_buf(),
            reason: "`extensions.http.routePrefix` must be a string".to_string(),
        }),
    }
}

fn read_json_object(path: &Path) -> Result<Map<String, Value>, FunctionJsonError> {
    let text = fs::read_to_string(path).map_err(|source| FunctionJsonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // host.json and function.json may start with a UTF-8 byte order mark when edited on Windows.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(FunctionJsonError::Invalid {
            path: path.to_path_buf(),
            reason: "the top level must be a JSON object".to_string(),
        }),
        Err(error) => Err(FunctionJsonError::Invalid {
            path: path.to_path_buf(),
            reason: error.to_string(),
        }),
    }
}

/// Looks a key up the way .NET configuration does: exact match first, then ASCII
/// case-insensitive.
pub(crate) fn get_ignore_case<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(root: &Path, relative: &str, value: &Value) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    }

    fn temp_root(label: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "keyless-function-json-{label}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root
    }

    fn http_function() -> Value {
        json!({"bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "route": "items/{id?}"},
            {"type": "http", "direction": "out", "name": "res"}
        ]})
    }

    #[test]
    fn forwarded_and_json_functions_are_told_apart() {
        let root = temp_root("dispatch");
        write(
            &root,
            "host.json",
            &json!({
                "version": "2.0",
                "customHandler": {"enableForwardingHttpRequest": true}
            }),
        );
        write(&root, "items/function.json", &http_function());
        write(
            &root,
            "audit/function.json",
            &json!({"bindings": [
                {"type": "httpTrigger", "direction": "in", "name": "req"},
                {"type": "http", "direction": "out", "name": "res"},
                {"type": "queue", "direction": "out", "name": "message", "queueName": "audit"}
            ]}),
        );
        write(
            &root,
            "nightly/function.json",
            &json!({"bindings": [
                {"type": "timerTrigger", "direction": "in", "name": "timer", "schedule": "0 0 2 * * *"}
            ]}),
        );
        fs::create_dir_all(root.join("not-a-function")).unwrap();

        let app = FunctionApp::load(&root).unwrap();

        let names: Vec<&str> = app.functions().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["audit", "items", "nightly"]);
        assert_eq!(app.function("items").unwrap().dispatch, Dispatch::Forwarded);
        assert_eq!(
            app.function("audit").unwrap().dispatch,
            Dispatch::JsonInvocation
        );
        assert_eq!(
            app.function("nightly").unwrap().dispatch,
            Dispatch::JsonInvocation
        );
        assert_eq!(app.route_prefix(), "api");
        assert_eq!(
            app.function("items")
                .unwrap()
                .trigger()
                .unwrap()
                .route
                .as_deref(),
            Some("items/{id?}")
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn forwarding_off_sends_every_function_as_json() {
        let root = temp_root("no-forwarding");
        write(
            &root,
            "host.json",
            &json!({
                "version": "2.0",
                "extensions": {"http": {"routePrefix": "/v1/"}}
            }),
        );
        write(&root, "items/function.json", &http_function());

        let app = FunctionApp::load(&root).unwrap();

        assert!(!app.forwarding_enabled());
        assert_eq!(
            app.function("items").unwrap().dispatch,
            Dispatch::JsonInvocation
        );
        assert_eq!(app.route_prefix(), "v1");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn json_invocation_target_matches_post_by_name() {
        let root = temp_root("target");
        write(
            &root,
            "host.json",
            &json!({"customHandler": {"enableForwardingHttpRequest": true}}),
        );
        write(&root, "items/function.json", &http_function());
        write(
            &root,
            "Nightly/function.json",
            &json!({"bindings": [
                {"type": "timerTrigger", "direction": "in", "name": "timer"}
            ]}),
        );
        let app = FunctionApp::load(&root).unwrap();

        let post = http::Method::POST;
        assert_eq!(
            app.json_invocation_target(&post, "/Nightly").unwrap().name,
            "Nightly"
        );
        assert_eq!(
            app.json_invocation_target(&post, "/nightly").unwrap().name,
            "Nightly"
        );
        assert!(
            app.json_invocation_target(&http::Method::GET, "/Nightly")
                .is_none()
        );
        assert!(
            app.json_invocation_target(&post, "/items").is_none(),
            "items is forwarded"
        );
        assert!(app.json_invocation_target(&post, "/api/items").is_none());
        assert!(app.json_invocation_target(&post, "/").is_none());
        assert!(app.json_invocation_target(&post, "/unknown").is_none());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn invalid_function_json_names_file_and_field() {
        let root = temp_root("invalid");
        write(
            &root,
            "broken/function.json",
            &json!({"bindings": [
                {"type": "httpTrigger", "name": "req"}
            ]}),
        );

        let error = FunctionApp::load(&root).unwrap_err().to_string();

        assert!(error.contains("broken/function.json"), "{error}");
        assert!(error.contains("bindings[0]"), "{error}");
        assert!(error.contains("`direction`"), "{error}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn repository_function_app_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/functionapp");

        let app = FunctionApp::load(&root).unwrap();

        assert!(app.forwarding_enabled());
        assert_eq!(app.route_prefix(), "api");
        assert_eq!(
            app.function("clients").unwrap().dispatch,
            Dispatch::Forwarded
        );
        assert_eq!(
            app.function("health").unwrap().dispatch,
            Dispatch::Forwarded
        );
        let refresh = app.function("refresh-summary").unwrap();
        assert_eq!(refresh.dispatch, Dispatch::JsonInvocation);
        assert!(refresh.trigger().unwrap().is("timerTrigger"));
    }
}
