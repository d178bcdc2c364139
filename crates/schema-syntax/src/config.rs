//! The schema settings of a model crate, from the workspace manifests as
//! `schema_core::manifest` reads them for the CLI and `schema-build` (the derive cannot run
//! `cargo metadata`), so the three agree on naming and on `depends-on`.

use std::path::{Path, PathBuf};

use schema_core::manifest::{
    crate_model_settings, dependency_crates, path_dependency, read_workspace, MemberCrate,
    ModelSettings, RunCargo,
};

pub use schema_core::manifest::{crate_naming, naming_from_table, workspace_naming};

/// What the derive needs to know about the crate it expands in.
#[derive(Debug, Clone)]
pub struct CrateSettings {
    /// How its models are read (naming convention, doc comments).
    pub model: ModelSettings,
    /// The crate's root file, then those of the model crates it `depends-on`.
    pub roots: Vec<PathBuf>,
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
    let model = crate_model_settings(&ws, own)?;
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
    Ok(CrateSettings { model, roots })
}
