//! The schema settings in Cargo manifests, read straight from the TOML (the derive cannot
//! run `cargo metadata`; the CLI passes what cargo_metadata gave it through the same code).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schema_core::NamingConvention;

/// A naming convention from the `naming-convention` table of `[workspace.metadata.schema]`.
pub fn naming_from_table(table: Option<&toml::Table>) -> Result<NamingConvention, String> {
    let Some(table) = table else {
        return Ok(NamingConvention::default());
    };
    let mut pairs = Vec::new();
    for (k, v) in table {
        let v = v
            .as_str()
            .ok_or_else(|| format!("naming-convention `{k}` must be a string"))?;
        pairs.push((k.as_str(), v));
    }
    NamingConvention::with_overrides(pairs)
}

fn read_manifest(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

fn schema_table<'a>(t: &'a toml::Table, section: &str) -> Option<&'a toml::Table> {
    t.get(section)?.get("metadata")?.get("schema")?.as_table()
}

/// The naming convention of the workspace that holds `manifest_dir`.
pub fn naming_for_crate(manifest_dir: &Path) -> Result<NamingConvention, String> {
    let mut dir = Some(manifest_dir);
    while let Some(d) = dir {
        if let Some(t) = read_manifest(&d.join("Cargo.toml")) {
            if t.contains_key("workspace") {
                let nc = schema_table(&t, "workspace")
                    .and_then(|s| s.get("naming-convention"))
                    .and_then(|v| v.as_table());
                return naming_from_table(nc);
            }
        }
        dir = d.parent();
    }
    Ok(NamingConvention::default())
}

/// The library root of the crate at `manifest_dir` (`src/lib.rs`, else `src/main.rs`).
pub fn crate_root(manifest_dir: &Path) -> Option<PathBuf> {
    let t = read_manifest(&manifest_dir.join("Cargo.toml"));
    if let Some(p) = t.as_ref().and_then(|t| t.get("lib")?.get("path")?.as_str()) {
        return Some(manifest_dir.join(p));
    }
    ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|p| manifest_dir.join(p))
        .find(|p| p.is_file())
}

/// The directories of the model crates named in `depends-on`, found through the path
/// dependencies of the crate's manifest.
pub fn depends_on_dirs(manifest_dir: &Path) -> Vec<PathBuf> {
    let Some(t) = read_manifest(&manifest_dir.join("Cargo.toml")) else {
        return vec![];
    };
    let names: BTreeSet<String> = schema_table(&t, "package")
        .and_then(|s| s.get("depends-on"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let deps = t.get("dependencies").and_then(|d| d.as_table());
    names
        .iter()
        .filter_map(|n| {
            deps?
                .get(n)?
                .get("path")?
                .as_str()
                .map(|p| manifest_dir.join(p))
        })
        .collect()
}
