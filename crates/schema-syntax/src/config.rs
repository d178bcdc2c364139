//! The schema settings of a model crate, from the workspace manifests as
//! `schema_core::manifest` reads them for the CLI and `schema-build` (the derive cannot run
//! `cargo metadata`), so the three agree on naming and on `depends-on`.

use std::path::{Path, PathBuf};

use schema_core::manifest::{
    dependency_crates, path_dependency, read_workspace, MemberCrate, RunCargo, WorkspaceManifest,
};
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

/// The naming convention of a workspace (`[workspace.metadata.schema] naming-convention`).
pub fn workspace_naming(ws: &WorkspaceManifest) -> Result<NamingConvention, String> {
    match ws.schema.as_ref().and_then(|s| s.get("naming-convention")) {
        None => Ok(NamingConvention::default()),
        Some(toml::Value::Table(t)) => naming_from_table(Some(t)),
        Some(_) => Err("[workspace.metadata.schema] naming-convention must be a table".into()),
    }
}

/// What the derive needs to know about the crate it expands in.
#[derive(Debug, Clone)]
pub struct CrateSettings {
    pub naming: NamingConvention,
    /// The crate's root file, then those of the model crates it `depends-on`.
    pub roots: Vec<PathBuf>,
}

/// The naming convention of one crate: its own `naming-convention` when it sets one,
/// else its workspace's (never a consuming workspace's).
pub fn crate_naming(
    ws: &WorkspaceManifest,
    own: Option<&MemberCrate>,
) -> Result<NamingConvention, String> {
    match own
        .and_then(|m| m.schema.as_ref())
        .filter(|c| !c.naming.is_empty())
    {
        Some(cfg) => NamingConvention::with_overrides(
            cfg.naming.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        None => workspace_naming(ws),
    }
}

/// The settings of the crate at `manifest_dir`, found through its workspace. A crate it
/// `depends-on` is looked for among the members, then its path dependencies, then the
/// dependencies the CLI last found (the derive never spawns cargo).
pub fn crate_settings(manifest_dir: &Path) -> Result<CrateSettings, String> {
    let ws = read_workspace(manifest_dir)?;
    let dir = manifest_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", manifest_dir.display()))?;
    let own = ws
        .members
        .iter()
        .find(|m| m.manifest_path.parent() == Some(dir.as_path()));
    let naming = crate_naming(&ws, own)?;
    let mut roots: Vec<PathBuf> = own.and_then(|m| m.root_file.clone()).into_iter().collect();
    let mut cached: Option<Vec<MemberCrate>> = None;
    if let Some(cfg) = own.and_then(|m| m.schema.as_ref()) {
        for dep in &cfg.depends_on {
            let found = ws
                .members
                .iter()
                .find(|m| m.name == *dep)
                .cloned()
                .or_else(|| path_dependency(&dir, dep))
                .or_else(|| {
                    cached
                        .get_or_insert_with(|| {
                            dependency_crates(&ws, RunCargo::Never).unwrap_or_default()
                        })
                        .iter()
                        .find(|m| m.name == *dep)
                        .cloned()
                });
            if let Some(root) = found.and_then(|m| m.root_file) {
                roots.push(root);
            }
        }
    }
    Ok(CrateSettings { naming, roots })
}
