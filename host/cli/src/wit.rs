//! `wharf wit`: Wharf's own worlds for authors, or a deployment's exports.

use crate::client::{self, Global};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/wit.rs"));
}

#[derive(Args, Debug)]
pub struct WitArgs {
    /// A deployment whose exported WIT to print (from the admin API).
    name: Option<String>,
    /// Write Wharf's WIT (wharf.wit and deps/) into DIR, ready for bindings
    /// generators (wit-bindgen, componentize-py, jco).
    #[arg(long, value_name = "DIR", conflicts_with = "name")]
    out: Option<PathBuf>,
    #[command(flatten)]
    global: Global,
}

/// Writes every embedded WIT file under `dir`.
pub fn write_all(dir: &std::path::Path) -> anyhow::Result<()> {
    for (relative, text) in embedded::FILES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(())
}

pub fn run(args: WitArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.name {
        let text = client::get_text(&args.global, &format!("/v1/deployments/{name}/wit"))?;
        print!("{text}");
        return Ok(());
    }
    if let Some(dir) = &args.out {
        write_all(dir)?;
        eprintln!(
            "wrote Wharf's WIT to {} (world wharf:host/service)",
            dir.display()
        );
        return Ok(());
    }
    let main = embedded::FILES
        .iter()
        .find(|(p, _)| *p == "wharf.wit")
        .map(|(_, t)| *t)
        .context("the embedded WIT is missing wharf.wit")?;
    print!("{main}");
    Ok(())
}
