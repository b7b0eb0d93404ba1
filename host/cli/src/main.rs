//! `wharf`: serve components, and deploy, inspect and roll them back.

mod client;
mod new;
mod serve;
mod wit;

use clap::{Parser, Subcommand};

// Every request creates and drops a store, a WASI context and a few dozen
// small objects; mimalloc's thread-local free lists make that measurably
// cheaper than glibc's allocator (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Wharf: a host for WebAssembly components built by independent teams.
#[derive(Parser, Debug)]
#[command(name = "wharf", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve components over HTTP, with the admin API beside them.
    Serve(serve::ServeArgs),
    /// Upload a component as a new version of NAME and serve it.
    Deploy(client::DeployArgs),
    /// List the deployments your team can see.
    Ls(client::Global),
    /// Show a deployment's versions, traffic and counters.
    Versions(client::NameArgs),
    /// Serve an earlier version again (the previous one, or --to VERSION).
    Rollback(client::RollbackArgs),
    /// Serve one version to all traffic.
    Activate(client::ActivateArgs),
    /// End a canary: the canary version takes all traffic.
    Promote(client::NameArgs),
    /// End a canary: the primary version takes all traffic back.
    Abort(client::NameArgs),
    /// Remove a deployment (it stops routing once in-flight requests finish).
    Rm(client::NameArgs),
    /// Print a deployment's log (stdout, stderr, wasi:logging, host events).
    Logs(client::LogsArgs),
    /// Call an exported function with JSON arguments.
    Call(client::CallArgs),
    /// Print Wharf's WIT worlds, or the WIT a deployment exports.
    Wit(wit::WitArgs),
    /// Create a component project (Rust, Python or JavaScript) that builds
    /// and deploys as generated.
    New(new::NewArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Wit(args) => wit::run(args),
        Command::New(args) => new::run(args),
        other => client::run(other),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
