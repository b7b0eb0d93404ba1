//! `wharf new --lang rust|python|js NAME`: a component project that builds
//! and deploys as generated.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The language of the component.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The project (and deployment) name.
    name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const RUST_CARGO: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
wasip2 = "2.0.1"

[profile.release]
opt-level = "s"
strip = true
codegen-units = 1
panic = "abort"

# A project of its own, even when created inside another workspace.
[workspace]
"#;

const RUST_LIB: &str = r#"//! `{name}`: a wasi:http component for Wharf.

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Component;

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let body = format!("Hello from {name} (Rust)! You asked for {path}\n");
        println!("answered {path}");

        let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain; charset=utf-8".to_vec())])
            .expect("valid headers");
        let response = OutgoingResponse::new(headers);
        let outgoing = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = outgoing.write().expect("stream is taken once");
        stream.blocking_write_and_flush(body.as_bytes()).expect("client went away");
        drop(stream);
        OutgoingBody::finish(outgoing, None).expect("no trailers");
    }
}

wasip2::http::proxy::export!(Component);
"#;

const PYTHON_APP: &str = r#""""`{name}`: a wasi:http component for Wharf, in Python."""

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.wasi_http_types import Fields, OutgoingBody, OutgoingResponse, ResponseOutparam


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request, response_out):
        path = request.path_with_query() or "/"
        body = f"Hello from {name} (Python)! You asked for {path}\n".encode()
        print(f"answered {path}")

        response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain; charset=utf-8")]))
        outgoing = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        with outgoing.write() as stream:
            stream.blocking_write_and_flush(body)
        OutgoingBody.finish(outgoing, None)
"#;

const JS_APP: &str = r#"// `{name}`: a wasi:http component for Wharf, in JavaScript.

import { Fields, OutgoingResponse, OutgoingBody, ResponseOutparam } from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();

export const incomingHandler = {
  handle(request, responseOut) {
    const path = request.pathWithQuery() ?? '/';
    const body = encoder.encode(`Hello from {name} (JavaScript)! You asked for ${path}\n`);
    console.log(`answered ${path}`);

    const response = new OutgoingResponse(Fields.fromList([['content-type', encoder.encode('text/plain; charset=utf-8')]]));
    const outgoing = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = outgoing.write();
    stream.blockingWriteAndFlush(body);
    stream[Symbol.dispose]();
    OutgoingBody.finish(outgoing, undefined);
  },
};
"#;

/// The build command of a generated project, run from its directory.
pub fn build_command(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Rust => format!(
            "cargo build --release --target wasm32-wasip2 && cp target/wasm32-wasip2/release/{}.wasm {name}.wasm",
            name.replace('-', "_")
        ),
        Lang::Python => {
            format!("componentize-py -d wit -w wharf:host/service componentize app -o {name}.wasm")
        }
        Lang::Js => format!(
            "componentize-js --wit wit --world-name wharf:host/service -d http -d fetch-event -o {name}.wasm app.js"
        ),
    }
}

fn readme(lang: Lang, name: &str) -> String {
    let (what, tools) = match lang {
        Lang::Rust => ("Rust", "rustup target add wasm32-wasip2"),
        Lang::Python => ("Python", "pip install componentize-py==0.25.1"),
        Lang::Js => (
            "JavaScript",
            "npm install @bytecodealliance/componentize-js@0.23.0   # then use npx componentize-js",
        ),
    };
    format!(
        "# {name}\n\nA {what} component for Wharf, answering HTTP (`wharf:host/service`).\n\n\
         `wit/` holds Wharf's WIT (from `wharf wit --out wit`).\n\n\
         ```sh\n{tools}\n{build}\nwharf deploy {name} {name}.wasm\ncurl http://127.0.0.1:8080/{name}/\nwharf logs {name}\n```\n",
        build = build_command(lang, name)
    )
}

/// Writes the project. Returns its directory.
pub fn create(lang: Lang, name: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    wharf_spec::Name::new(name).map_err(|e| anyhow::anyhow!("{e}"))?;
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text.replace("{name}", name))
            .with_context(|| format!("failed to write {}", path.display()))
    };
    crate::wit::write_all(&dir.join("wit"))?;
    match lang {
        Lang::Rust => {
            write("Cargo.toml", RUST_CARGO)?;
            write("src/lib.rs", RUST_LIB)?;
            write(".gitignore", "/target\n*.wasm\n")?;
        }
        Lang::Python => {
            write("app.py", PYTHON_APP)?;
            write(".gitignore", "__pycache__/\n*.wasm\n")?;
        }
        Lang::Js => {
            write("app.js", JS_APP)?;
            write(".gitignore", "node_modules/\n*.wasm\n")?;
        }
    }
    write("README.md", &readme(lang, name))?;
    Ok(dir.to_path_buf())
}

pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    create(args.lang, &args.name, &dir)?;
    println!("created {} in {}", args.name, dir.display());
    println!(
        "build it:  cd {} && {}",
        dir.display(),
        build_command(args.lang, &args.name)
    );
    println!("deploy it: wharf deploy {} {}.wasm", args.name, args.name);
    Ok(())
}
