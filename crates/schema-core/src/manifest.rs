//! Reading a workspace's Cargo manifests directly: the members, their library roots and
//! their `[package.metadata.schema]`. This is what `cargo metadata` would say for ordinary
//! layouts, at a fraction of its cost (no cargo process); callers fall back to `cargo
//! metadata` when a layout is beyond it (an error here).

use std::path::{Path, PathBuf};

/// `[package.metadata.schema]` of one crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaConfig {
    pub migrations: PathBuf,
    pub branch: String,
    pub depends_on: Vec<String>,
}

/// One workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCrate {
    pub name: String,
    pub manifest_path: PathBuf,
    /// `src/lib.rs` (or `[lib] path`), else `src/main.rs`.
    pub root_file: Option<PathBuf>,
    pub schema: Option<SchemaConfig>,
}

#[derive(Debug, Clone)]
pub struct WorkspaceManifest {
    pub root: PathBuf,
    pub members: Vec<MemberCrate>,
    /// `[workspace.metadata.schema]`, if any.
    pub schema: Option<toml::Table>,
}

fn read(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message()))
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The workspace holding `start` (a directory or a manifest path).
pub fn read_workspace(start: &Path) -> Result<WorkspaceManifest, String> {
    let start = if start.is_file() {
        start.parent().unwrap_or(Path::new("."))
    } else {
        start
    };
    let start = start
        .canonicalize()
        .map_err(|e| format!("{}: {e}", start.display()))?;
    let mut root = None;
    let mut first_package = None;
    for dir in start.ancestors() {
        let m = dir.join("Cargo.toml");
        if !m.is_file() {
            continue;
        }
        let t = read(&m)?;
        if first_package.is_none() {
            first_package = Some((dir.to_path_buf(), t.clone()));
        }
        if t.contains_key("workspace") {
            root = Some((dir.to_path_buf(), t));
            break;
        }
    }
    let (root, table) = match (root, first_package) {
        (Some(r), _) => r,
        (None, Some(p)) => p,
        (None, None) => return Err(format!("no Cargo.toml in {} or above", start.display())),
    };
    let ws = table.get("workspace").and_then(|w| w.as_table());
    let mut dirs = Vec::new();
    if table.contains_key("package") {
        dirs.push(root.clone());
    }
    let excluded: Vec<PathBuf> = strings(ws.and_then(|w| w.get("exclude")))
        .iter()
        .map(|e| root.join(e))
        .collect();
    for m in strings(ws.and_then(|w| w.get("members"))) {
        if m.contains(['?', '[']) || m.contains("**") {
            return Err(format!(
                "workspace member pattern `{m}` needs cargo metadata"
            ));
        }
        match m.split_once('*') {
            None => dirs.push(root.join(&m)),
            Some((prefix, rest)) => {
                if !rest.is_empty() || prefix.contains('*') {
                    return Err(format!(
                        "workspace member pattern `{m}` needs cargo metadata"
                    ));
                }
                let parent = root.join(prefix.trim_end_matches('/'));
                let (dir, name_prefix) = if prefix.ends_with('/') || prefix.is_empty() {
                    (parent, String::new())
                } else {
                    let p = root.join(prefix);
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (p.parent().map(Path::to_path_buf).unwrap_or_default(), name)
                };
                let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(&name_prefix))
                    })
                    .filter(|p| p.join("Cargo.toml").is_file())
                    .collect();
                found.sort();
                dirs.extend(found);
            }
        }
    }
    dirs.retain(|d| !excluded.contains(d));
    dirs.sort();
    dirs.dedup();
    let mut members = Vec::new();
    for dir in dirs {
        let manifest_path = dir.join("Cargo.toml");
        let t = read(&manifest_path)?;
        let Some(pkg) = t.get("package").and_then(|p| p.as_table()) else {
            continue;
        };
        let name = pkg
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| format!("{}: [package] has no name", manifest_path.display()))?
            .to_string();
        let lib = t
            .get("lib")
            .and_then(|l| l.get("path"))
            .and_then(|p| p.as_str())
            .map(|p| dir.join(p));
        let root_file = lib.or_else(|| {
            ["src/lib.rs", "src/main.rs"]
                .iter()
                .map(|p| dir.join(p))
                .find(|p| p.is_file())
        });
        let schema = pkg
            .get("metadata")
            .and_then(|m| m.get("schema"))
            .map(|cfg| SchemaConfig {
                migrations: dir.join(
                    cfg.get("migrations")
                        .and_then(|v| v.as_str())
                        .unwrap_or("migrations"),
                ),
                branch: cfg
                    .get("branch")
                    .and_then(|v| v.as_str())
                    .unwrap_or(&name)
                    .to_string(),
                depends_on: strings(cfg.get("depends-on")),
            });
        members.push(MemberCrate {
            name,
            manifest_path,
            root_file,
            schema,
        });
    }
    let schema = ws
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("schema"))
        .and_then(|s| s.as_table())
        .cloned();
    Ok(WorkspaceManifest {
        root,
        members,
        schema,
    })
}
