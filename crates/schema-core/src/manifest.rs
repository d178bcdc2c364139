//! Reading a workspace's Cargo manifests directly: the members, their library roots and
//! their `[package.metadata.schema]`. This is what `cargo metadata` would say for ordinary
//! layouts, at a fraction of its cost (no cargo process); callers fall back to `cargo
//! metadata` when a layout is beyond it (an error here).

use std::path::{Path, PathBuf};

use crate::dialect::Dialect;
use crate::NamingConvention;

/// `[package.metadata.schema]` of one crate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaConfig {
    pub migrations: PathBuf,
    pub branch: String,
    pub depends_on: Vec<String>,
    /// The crate's own `naming-convention`, which wins over the workspace's.
    #[serde(default)]
    pub naming: Vec<(String, String)>,
    /// The crate's own `dialects`, which win over the workspace's (empty: not set).
    #[serde(default)]
    pub dialects: Vec<String>,
    /// The crate's own `doc-comments`, which wins over the workspace's.
    #[serde(default)]
    pub doc_comments: Option<bool>,
}

impl SchemaConfig {
    /// Reads `[package.metadata.schema]` of the crate `name` in directory `dir`.
    fn read(cfg: &toml::Value, name: &str, dir: &Path) -> SchemaConfig {
        SchemaConfig {
            migrations: dir.join(
                cfg.get("migrations")
                    .and_then(|v| v.as_str())
                    .unwrap_or("migrations"),
            ),
            branch: cfg
                .get("branch")
                .and_then(|v| v.as_str())
                .unwrap_or(name)
                .to_string(),
            depends_on: strings(cfg.get("depends-on")),
            naming: cfg
                .get("naming-convention")
                .and_then(|v| v.as_table())
                .map(|t| {
                    t.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            dialects: strings(cfg.get("dialects")),
            doc_comments: cfg.get("doc-comments").and_then(|v| v.as_bool()),
        }
    }
}

/// One workspace member, or a model crate among the dependencies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        members.extend(read_member(&dir.join("Cargo.toml"))?);
    }
    Ok(WorkspaceManifest {
        root,
        members,
        schema: workspace_schema(&table),
    })
}

/// `[workspace.metadata.schema]` of a root manifest.
fn workspace_schema(root: &toml::Table) -> Option<toml::Table> {
    root.get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("schema"))
        .and_then(|s| s.as_table())
        .cloned()
}

/// A workspace whose members someone else listed (`cargo metadata`, for member patterns
/// [`read_workspace`] does not expand): their settings are read here all the same.
pub fn workspace_of_members(
    root: &Path,
    member_manifests: &[PathBuf],
) -> Result<WorkspaceManifest, String> {
    let table = read(&root.join("Cargo.toml"))?;
    let mut members = Vec::new();
    for m in member_manifests {
        members.extend(read_member(m)?);
    }
    Ok(WorkspaceManifest {
        root: root.to_path_buf(),
        members,
        schema: workspace_schema(&table),
    })
}

/// One package's manifest (none: a virtual manifest).
fn read_member(manifest_path: &Path) -> Result<Option<MemberCrate>, String> {
    let dir = manifest_path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let manifest_path = manifest_path.to_path_buf();
    {
        let t = read(&manifest_path)?;
        let Some(pkg) = t.get("package").and_then(|p| p.as_table()) else {
            return Ok(None);
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
            .map(|cfg| SchemaConfig::read(cfg, &name, &dir));
        Ok(Some(MemberCrate {
            name,
            manifest_path,
            root_file,
            schema,
        }))
    }
}

/// A naming convention from a `naming-convention` table.
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

/// How a crate's models are read: its naming convention, and whether `///` doc comments
/// are the comments of tables and columns that do not say `comment = ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSettings {
    pub naming: NamingConvention,
    pub doc_comments: bool,
}

/// [`ModelSettings`] of one crate: its own settings, else its workspace's.
pub fn crate_model_settings(
    ws: &WorkspaceManifest,
    own: Option<&MemberCrate>,
) -> Result<ModelSettings, String> {
    let naming = crate_naming(ws, own)?;
    let own_flag = own
        .and_then(|m| m.schema.as_ref())
        .and_then(|c| c.doc_comments);
    let doc_comments = match own_flag {
        Some(b) => b,
        None => match ws.schema.as_ref().and_then(|s| s.get("doc-comments")) {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                return Err("[workspace.metadata.schema] doc-comments must be true or false".into())
            }
        },
    };
    Ok(ModelSettings {
        naming,
        doc_comments,
    })
}

/// A duration as settings and flags write it: `200ms`, `5s` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{s}` is not a duration: write e.g. 200ms or 5s");
    let (n, scale) = match s.strip_suffix("ms") {
        Some(n) => (n, 1),
        None => (s.strip_suffix('s').unwrap_or(s), 1000),
    };
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    n.checked_mul(scale)
        .map(std::time::Duration::from_millis)
        .ok_or_else(bad)
}

/// The workspace's `ddl-lock-timeout` (`[workspace.metadata.schema]`), if it sets one:
/// how long a DDL statement waits for another session's lock on PostgreSQL.
pub fn workspace_ddl_lock_timeout(
    ws: &WorkspaceManifest,
) -> Result<Option<std::time::Duration>, String> {
    match ws.schema.as_ref().and_then(|s| s.get("ddl-lock-timeout")) {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_duration(s)
            .map(Some)
            .map_err(|e| format!("[workspace.metadata.schema] ddl-lock-timeout: {e}")),
        Some(_) => Err(
            "[workspace.metadata.schema] ddl-lock-timeout must be a string such as \"2s\" or \"500ms\"".into(),
        ),
    }
}

/// `history-schema`: the PostgreSQL schema the history table lives in (none: the
/// connection's own).
pub fn workspace_history_schema(ws: &WorkspaceManifest) -> Result<Option<String>, String> {
    match ws.schema.as_ref().and_then(|s| s.get("history-schema")) {
        None => Ok(None),
        Some(toml::Value::String(s)) => crate::input::identifier(s)
            .map(|()| Some(s.clone()))
            .map_err(|e| format!("[workspace.metadata.schema] history-schema: schema {e}")),
        Some(_) => Err("[workspace.metadata.schema] history-schema must be a schema name".into()),
    }
}

/// The dialects one crate's history must run on: its own `dialects`, else its
/// workspace's, else every dialect.
pub fn crate_dialects(
    ws: &WorkspaceManifest,
    own: Option<&MemberCrate>,
) -> Result<Vec<Dialect>, String> {
    let own_list = own
        .and_then(|m| m.schema.as_ref())
        .map(|c| c.dialects.clone())
        .filter(|d| !d.is_empty());
    let names = match own_list {
        Some(d) => d,
        None => match ws.schema.as_ref().and_then(|s| s.get("dialects")) {
            None => return Ok(Dialect::ALL.to_vec()),
            Some(v) => {
                let list = v
                    .as_array()
                    .ok_or("[workspace.metadata.schema] dialects must be a list of names")?;
                strings(Some(&toml::Value::Array(list.clone())))
            }
        },
    };
    let mut out = Vec::new();
    for n in names {
        let d = Dialect::parse(&n).ok_or_else(|| {
            format!(
                "unknown dialect `{n}` in `dialects`; the dialects are postgres, sqlite and mysql"
            )
        })?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Whether [`dependency_crates`] may spawn `cargo metadata` when its cache has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCargo {
    /// The CLI: cargo may fetch what the lock file names.
    Online,
    /// Build scripts: what is on disk only.
    Offline,
    /// The derive, inside the compiler: the cache or nothing.
    Never,
}

/// The model crates outside the workspace that its members reach through `path`
/// dependencies (transitively), read from the manifests alone.
pub fn path_model_crates(ws: &WorkspaceManifest) -> Vec<MemberCrate> {
    let member_dirs: Vec<PathBuf> = ws
        .members
        .iter()
        .filter_map(|m| m.manifest_path.parent().map(Path::to_path_buf))
        .collect();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    let mut stack = member_dirs.clone();
    while let Some(dir) = stack.pop() {
        let Ok(t) = read(&dir.join("Cargo.toml")) else {
            continue;
        };
        let deps = t.get("dependencies").and_then(|d| d.as_table());
        for (name, spec) in deps.into_iter().flatten() {
            let Some(rel) = spec.get("path").and_then(|p| p.as_str()) else {
                continue;
            };
            let Ok(target) = dir.join(rel).canonicalize() else {
                continue;
            };
            if member_dirs.contains(&target) || seen.contains(&target) {
                continue;
            }
            seen.push(target.clone());
            stack.push(target.clone());
            if let Some(m) = path_dependency(&dir, name).filter(|m| m.schema.is_some()) {
                found.push(m);
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The crate `name` as the crate in `dir` depends on it by `path` (a model crate outside
/// the workspace is found this way without cargo).
pub fn path_dependency(dir: &Path, name: &str) -> Option<MemberCrate> {
    let t = read(&dir.join("Cargo.toml")).ok()?;
    let rel = t
        .get("dependencies")
        .and_then(|d| d.get(name))
        .and_then(|d| d.get("path"))
        .and_then(|p| p.as_str())?;
    let ws = read_workspace(&dir.join(rel)).ok()?;
    let target = dir.join(rel).canonicalize().ok()?;
    ws.members
        .into_iter()
        .find(|m| m.manifest_path.parent() == Some(target.as_path()))
}

/// The model crates among the workspace's dependencies (path dependencies outside the
/// workspace, git and registry crates), as `cargo metadata` resolves them; each one's
/// `depends_on` lists the model crates it depends on. The answer is cached under the
/// target directory, keyed by `Cargo.lock` and the members' manifests, so only the first
/// run after a dependency change spawns cargo. `offline` is for build scripts.
pub fn dependency_crates(
    ws: &WorkspaceManifest,
    cargo: RunCargo,
) -> Result<Vec<MemberCrate>, String> {
    use sha2::Digest as _;
    let mut key = sha2::Sha256::new();
    key.update(ws.root.to_string_lossy().as_bytes());
    key.update(std::fs::read(ws.root.join("Cargo.lock")).unwrap_or_default());
    for m in &ws.members {
        key.update(std::fs::read(&m.manifest_path).unwrap_or_default());
    }
    let key: String = key
        .finalize()
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { ws.root.join(t) } else { t })
        .unwrap_or_else(|| ws.root.join("target"));
    let cache = target
        .join("cargo-schema")
        .join(format!("dependencies-{key}.json"));
    if let Some(found) = std::fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<MemberCrate>>(&b).ok())
    {
        return Ok(found);
    }
    // What is on disk first (no network, and quicker); the network only when that fails.
    // `cargo metadata` needs every package of the lock file on disk, even those no build
    // uses; without them, the model crates reachable by `path` are still found, and
    // nothing is cached so that the next run asks cargo again.
    let found = match cargo {
        RunCargo::Never => Err(String::new()),
        RunCargo::Offline => from_cargo_metadata(&ws.root, true),
        RunCargo::Online => {
            from_cargo_metadata(&ws.root, true).or_else(|_| from_cargo_metadata(&ws.root, false))
        }
    };
    let found = match found {
        Ok(found) => found,
        Err(_) => return Ok(path_model_crates(ws)),
    };
    if std::fs::create_dir_all(cache.parent().unwrap_or(&target)).is_ok() {
        if let Ok(text) = serde_json::to_vec(&found) {
            // Another process may write the same answer at once: write aside, then rename.
            let tmp = cache.with_extension(format!("{}.tmp", std::process::id()));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &cache);
            }
        }
    }
    Ok(found)
}

fn from_cargo_metadata(root: &Path, offline: bool) -> Result<Vec<MemberCrate>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    if offline {
        cmd.arg("--offline");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cannot read the output of `cargo metadata`: {e}"))?;
    let members: std::collections::BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let is_model = |p: &serde_json::Value| p["metadata"]["schema"].is_object();
    let name_of_id: std::collections::BTreeMap<&str, &serde_json::Value> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let mut found = Vec::new();
    for p in packages.iter().filter(|p| is_model(p)) {
        let id = p["id"].as_str().unwrap_or_default();
        if members.contains(id) {
            continue;
        }
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let manifest_path = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        let root_file = targets
            .iter()
            .find(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "lib"))
            })
            .or_else(|| targets.first())
            .and_then(|t| t["src_path"].as_str())
            .map(PathBuf::from);
        let cfg: toml::Value =
            serde_json::from_value(p["metadata"]["schema"].clone()).map_err(|e| {
                format!(
                    "{}: [package.metadata.schema]: {e}",
                    manifest_path.display()
                )
            })?;
        let mut schema = SchemaConfig::read(&cfg, &name, &dir);
        // The model crates it depends on, from the resolved graph.
        let node = meta["resolve"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["id"] == p["id"]);
        for dep in node
            .and_then(|n| n["dependencies"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
        {
            if let Some(d) = name_of_id.get(dep).filter(|d| is_model(d)) {
                let dep_name = d["name"].as_str().unwrap_or_default().to_string();
                if !schema.depends_on.contains(&dep_name) {
                    schema.depends_on.push(dep_name);
                }
            }
        }
        found.push(MemberCrate {
            name,
            manifest_path,
            root_file,
            schema: Some(schema),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The model crates a workspace's history is made of: its members with
/// `[package.metadata.schema]`, then those among its dependencies (flagged `true`).
pub fn model_crates(
    ws: &WorkspaceManifest,
    cargo: RunCargo,
) -> Result<Vec<(MemberCrate, bool)>, String> {
    let members = ws
        .members
        .iter()
        .filter(|m| m.schema.is_some())
        .map(|m| (m.clone(), false));
    let dependencies = dependency_crates(ws, cargo)?.into_iter().map(|m| (m, true));
    Ok(members.chain(dependencies).collect())
}

/// Each model crate's history as a branch: `(name, settings, is a dependency)`. A
/// branch sees the branches of the crates it `depends-on`, transitively.
pub fn branch_sources<'a>(
    crates: impl IntoIterator<Item = (&'a str, &'a SchemaConfig, bool)>,
) -> Vec<crate::resolver::BranchSource> {
    let crates: Vec<(&str, &SchemaConfig, bool)> = crates.into_iter().collect();
    crates
        .iter()
        .map(|(_, cfg, dependency)| {
            let mut sees: Vec<String> = Vec::new();
            let mut stack: Vec<&str> = cfg.depends_on.iter().map(String::as_str).collect();
            while let Some(name) = stack.pop() {
                if let Some((_, dep, _)) = crates.iter().find(|(n, _, _)| *n == name) {
                    if !sees.contains(&dep.branch) {
                        sees.push(dep.branch.clone());
                        stack.extend(dep.depends_on.iter().map(String::as_str));
                    }
                }
            }
            crate::resolver::BranchSource {
                branch: cfg.branch.clone(),
                dir: cfg.migrations.clone(),
                dependency: *dependency,
                sees,
            }
        })
        .collect()
}
