//! What a component is and what it asks for, before anything runs.
//!
//! [`check_format`] runs on the raw bytes (cheap, before compiling);
//! [`Shape::of`] reads a compiled component's imports and exports and sorts
//! them into what Wharf provides, what needs a grant, what other deployments
//! must provide, and what Wharf will never provide.

use crate::error::LoadError;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{self, ComponentFunc, ComponentItem, Type};
use wharf_spec::{Grants, InterfaceName};

/// Refuses bytes that are not a component, with a message that says why.
pub fn check_format(bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm);
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::Invalid(
            "unknown WebAssembly version or layer; Wharf runs components (WASI 0.2)".into(),
        ));
    }
    Ok(())
}

/// WASI interfaces every deployment may import (see `wit/wharf.wit`,
/// world `platform`). Matched without their version: the linker accepts any
/// compatible 0.2.x import.
const PLATFORM: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:http/types",
    "wasi:config/store",
    "wasi:logging/logging",
    // Linked but inert: the WASI context has no network, so every socket
    // operation is denied. Runtimes such as CPython (componentize-py) import
    // these whatever the program does; refusing them would refuse every
    // Python component. Deployments reach the network only through
    // `wasi:http/outgoing-handler` and its allow-list.
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

const KEYVALUE: &[&str] = &[
    "wasi:keyvalue/store",
    "wasi:keyvalue/atomics",
    "wasi:keyvalue/batch",
];
const OUTBOUND: &str = "wasi:http/outgoing-handler";
/// The HTTP handler export, any 0.2.x version.
pub const HTTP_HANDLER: &str = "wasi:http/incoming-handler";

/// A function of an interface another deployment provides (or this one
/// exports).
#[derive(Clone, Debug)]
pub struct Function {
    /// The function's name within its interface.
    pub name: String,
    /// Its type.
    pub ty: ComponentFunc,
}

/// An interface imported from, or exported to, other deployments.
#[derive(Clone, Debug)]
pub struct Interface {
    /// The name as it appears in the component, e.g. `example:catalog/items@0.1.0`.
    pub name: String,
    /// The parsed name.
    pub parsed: InterfaceName,
    /// Its functions.
    pub functions: Vec<Function>,
}

impl Interface {
    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// The sorted imports and exports of a component.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    /// Platform and granted WASI interfaces it imports (full names).
    pub wasi_imports: Vec<String>,
    /// Interfaces it imports from other deployments.
    pub service_imports: Vec<Interface>,
    /// Whether it exports `wasi:http/incoming-handler`.
    pub http_handler: bool,
    /// Interfaces it exports for other deployments and the JSON gateway.
    pub exports: Vec<Interface>,
    unsupported: Vec<String>,
    resource_errors: Vec<(String, String)>,
}

fn unversioned(name: &str) -> &str {
    name.split_once('@').map(|(n, _)| n).unwrap_or(name)
}

impl Shape {
    /// Reads a compiled component's imports and exports.
    pub fn of(engine: &Engine, component: &Component) -> Shape {
        let ty = component.component_type();
        let mut shape = Shape::default();
        for (name, ext) in ty.imports(engine) {
            let base = unversioned(name);
            if base.starts_with("wasi:") {
                let known =
                    PLATFORM.contains(&base) || KEYVALUE.contains(&base) || base == OUTBOUND;
                if known {
                    shape.wasi_imports.push(name.to_string());
                } else {
                    shape.unsupported.push(name.to_string());
                }
                continue;
            }
            match (&ext.ty, InterfaceName::parse(name)) {
                (ComponentItem::ComponentInstance(inst), Ok(parsed)) => {
                    let iface = interface(engine, name, parsed, inst, &mut shape.resource_errors);
                    shape.service_imports.push(iface);
                }
                _ => shape.unsupported.push(name.to_string()),
            }
        }
        for (name, ext) in ty.exports(engine) {
            if unversioned(name) == HTTP_HANDLER {
                shape.http_handler = true;
                continue;
            }
            if let (ComponentItem::ComponentInstance(inst), Ok(parsed)) =
                (&ext.ty, InterfaceName::parse(name))
            {
                let iface = interface(engine, name, parsed, inst, &mut shape.resource_errors);
                shape.exports.push(iface);
            }
        }
        shape
    }

    /// Checks the imports against what Wharf provides and what the deployment
    /// was granted, and the exports against what Wharf can serve.
    pub fn check(&self, grants: &Grants) -> Result<(), LoadError> {
        if !self.unsupported.is_empty() {
            return Err(LoadError::UnsupportedImport {
                names: self.unsupported.clone(),
            });
        }
        if let Some((interface, item)) = self.resource_errors.first() {
            return Err(LoadError::ResourceInInterface {
                interface: interface.clone(),
                item: item.clone(),
            });
        }
        let mut missing = Vec::new();
        let mut how = Vec::new();
        let kv: Vec<_> = self
            .wasi_imports
            .iter()
            .filter(|n| KEYVALUE.contains(&unversioned(n)))
            .cloned()
            .collect();
        if !kv.is_empty() && !grants.keyvalue {
            missing.extend(kv);
            how.push("add `keyvalue = true` to its grants (`[component.grants]` in the manifest, `--keyvalue` with `wharf deploy`)");
        }
        let out: Vec<_> = self
            .wasi_imports
            .iter()
            .filter(|n| unversioned(n) == OUTBOUND)
            .cloned()
            .collect();
        if !out.is_empty() && grants.outbound.is_empty() {
            missing.extend(out);
            how.push("list the origins it may call in `outbound = [\"https://api.example.com\"]` (`--outbound ORIGIN` with `wharf deploy`)");
        }
        let calls: Vec<_> = self
            .service_imports
            .iter()
            .filter(|i| !granted_call(grants, &i.parsed))
            .map(|i| i.name.clone())
            .collect();
        if !calls.is_empty() {
            missing.extend(calls);
            how.push("list the interfaces it may call in `calls = [\"ns:pkg/iface@x.y.z\"]` (`--call IFACE` with `wharf deploy`)");
        }
        if !missing.is_empty() {
            return Err(LoadError::NotGranted {
                names: missing,
                how: how.join("; "),
            });
        }
        if !self.http_handler && self.exports.is_empty() {
            return Err(LoadError::MissingExport);
        }
        Ok(())
    }
}

/// Whether `grants.calls` lists an interface compatible with `import`.
pub fn granted_call(grants: &Grants, import: &InterfaceName) -> bool {
    grants.calls.iter().any(|g| {
        InterfaceName::parse(g)
            .map(|g| {
                g.package == import.package
                    && g.interface == import.interface
                    && versions_overlap(&g, import)
            })
            .unwrap_or(false)
    })
}

fn versions_overlap(grant: &InterfaceName, import: &InterfaceName) -> bool {
    match (&grant.version, &import.version) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(_), Some(_)) => grant.is_satisfied_by(import) || import.is_satisfied_by(grant),
    }
}

fn interface(
    engine: &Engine,
    name: &str,
    parsed: InterfaceName,
    inst: &types::ComponentInstance,
    resource_errors: &mut Vec<(String, String)>,
) -> Interface {
    let mut functions = Vec::new();
    for (item_name, ext) in inst.exports(engine) {
        match &ext.ty {
            ComponentItem::ComponentFunc(f) => {
                let carries = f.params().any(|(_, t)| has_resource(&t))
                    || f.results().any(|t| has_resource(&t));
                if carries {
                    resource_errors.push((name.to_string(), item_name.to_string()));
                }
                functions.push(Function {
                    name: item_name.to_string(),
                    ty: f.clone(),
                });
            }
            ComponentItem::Resource(_) => {
                resource_errors.push((name.to_string(), format!("resource {item_name}")));
            }
            ComponentItem::Type(t) if has_resource(t) => {
                resource_errors.push((name.to_string(), item_name.to_string()));
            }
            _ => {}
        }
    }
    Interface {
        name: name.to_string(),
        parsed,
        functions,
    }
}

/// Whether a value of this type carries a resource handle (or another value
/// that cannot be copied between stores: futures, streams, error contexts).
pub fn has_resource(ty: &Type) -> bool {
    match ty {
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            true
        }
        Type::List(l) => has_resource(&l.ty()),
        Type::FixedLengthList(l) => has_resource(&l.ty()),
        Type::Map(m) => has_resource(&m.key()) || has_resource(&m.value()),
        Type::Record(r) => r.fields().any(|f| has_resource(&f.ty)),
        Type::Tuple(t) => t.types().any(|t| has_resource(&t)),
        Type::Variant(v) => v.cases().any(|c| c.ty.as_ref().is_some_and(has_resource)),
        Type::Option(o) => has_resource(&o.ty()),
        Type::Result(r) => {
            r.ok().is_some_and(|t| has_resource(&t)) || r.err().is_some_and(|t| has_resource(&t))
        }
        _ => false,
    }
}

/// Whether two function types are the same for a call between components:
/// same parameter names and types, same results (types compare
/// structurally, including record field and case names).
pub fn same_signature(a: &ComponentFunc, b: &ComponentFunc) -> bool {
    a.params().len() == b.params().len()
        && a.results().len() == b.results().len()
        && a.params().zip(b.params()).all(|((_, x), (_, y))| x == y)
        && a.results().zip(b.results()).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(check_format(b"hello"), Err(LoadError::NotWasm));
        assert_eq!(check_format(b""), Err(LoadError::NotWasm));
        let core = b"\0asm\x01\0\0\0";
        assert_eq!(check_format(core), Err(LoadError::CoreModule));
        let component = b"\0asm\x0d\0\x01\0";
        assert_eq!(check_format(component), Ok(()));
        assert!(check_format(b"\0asm\x99\0\x07\0").is_err());
    }

    #[test]
    fn call_grants_follow_semver() {
        let grants = Grants {
            calls: vec!["example:catalog/items@0.1.0".into(), "acme:x/any".into()],
            ..Grants::default()
        };
        let ok = InterfaceName::parse("example:catalog/items@0.1.2").unwrap();
        let bad = InterfaceName::parse("example:catalog/items@0.2.0").unwrap();
        let any = InterfaceName::parse("acme:x/any@3.0.0").unwrap();
        assert!(granted_call(&grants, &ok));
        assert!(!granted_call(&grants, &bad));
        assert!(granted_call(&grants, &any));
    }
}
