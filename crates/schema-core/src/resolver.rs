//! The one resolver of migration directories, shared by the CLI, `schema-build` and the
//! runtime: scan, parse, checksum, build the graph. The only module here that reads files.

use std::path::{Path, PathBuf};

use crate::checksum::checksum;
use crate::file::{self, FileError};
use crate::graph::{GraphError, MigrationGraph, Revision};

/// The file, at the workspace root, that records release tags.
pub const TAGS_FILE: &str = "schema-tags.toml";

/// Release tags from a tags file (none when it does not exist).
pub fn load_tags(
    path: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, ResolveError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(source) => {
            return Err(ResolveError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    #[derive(serde::Deserialize)]
    struct Tags {
        #[serde(default)]
        tags: std::collections::BTreeMap<String, Vec<String>>,
    }
    let t: Tags = toml::from_str(&text).map_err(|e| {
        ResolveError::Files(vec![FileError {
            path: path.to_path_buf(),
            line: None,
            message: e.message().to_string(),
        }])
    })?;
    Ok(t.tags)
}

/// The text of a tags file.
pub fn write_tags(tags: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::from("# Release tags recorded by `cargo schema tag`: each names the heads at that release.\n[tags]\n");
    for (tag, ids) in tags {
        let ids: Vec<String> = ids
            .iter()
            .map(|i| toml::Value::String(i.clone()).to_string())
            .collect();
        out.push_str(&format!(
            "{} = [{}]\n",
            toml::Value::String(tag.clone()),
            ids.join(", ")
        ));
    }
    out
}

/// Why a set of migration directories could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: a migration file must be a regular file (or a link to one)", .0.display())]
    NotAFile(PathBuf),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Files(Vec<FileError>),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphError>),
}

/// The `.toml` files of a migration directory, sorted by name. A missing directory has none.
pub fn migration_files(dir: &Path) -> Result<Vec<PathBuf>, ResolveError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(ResolveError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ResolveError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") || path.ends_with(TAGS_FILE) {
            continue;
        }
        // The entry's type comes with the listing: a stat only for a symlink. Anything
        // but a regular file (a FIFO, a socket, a device) could block a read forever.
        let file_type = entry.file_type().map_err(|source| ResolveError::Io {
            path: path.clone(),
            source,
        })?;
        let regular = if file_type.is_symlink() {
            std::fs::metadata(&path).is_ok_and(|m| m.is_file())
        } else {
            file_type.is_file()
        };
        if !regular {
            return Err(ResolveError::NotAFile(path));
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// The path and text of every migration file of the directories, in order.
pub fn read_migration_files(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, ResolveError> {
    let mut out = Vec::new();
    for dir in dirs {
        for path in migration_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| ResolveError::Io {
                path: path.clone(),
                source,
            })?;
            out.push((path, text));
        }
    }
    Ok(out)
}

/// Reads and parses every revision of the directories, reporting every bad file at once.
/// Files are parsed on every core: parsing is most of what `check` and `revision` do.
pub fn load_revisions(dirs: &[PathBuf]) -> Result<Vec<Revision>, ResolveError> {
    let files = read_migration_files(dirs)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let chunk = files.len().div_ceil(threads).max(64);
    let parsed: Vec<Result<Revision, FileError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, text)| parse_revision(text, path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut revisions = Vec::with_capacity(parsed.len());
    let mut errors = Vec::new();
    for r in parsed {
        match r {
            Ok(r) => revisions.push(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(revisions)
    } else {
        Err(ResolveError::Files(errors))
    }
}

/// One revision from its text.
pub fn parse_revision(text: &str, path: &Path) -> Result<Revision, FileError> {
    Ok(Revision {
        file: file::parse(text, path)?,
        path: path.to_path_buf(),
        checksum: checksum(text),
    })
}

/// Loads the directories into a validated graph.
pub fn load_graph(dirs: &[PathBuf]) -> Result<MigrationGraph, ResolveError> {
    MigrationGraph::new(load_revisions(dirs)?).map_err(ResolveError::Graph)
}

/// One model crate's migration directory: one branch of the workspace history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchSource {
    /// The crate's branch label (`branch`, default: the package name).
    pub branch: String,
    pub dir: PathBuf,
    /// A crate among the dependencies: read-only, and its ids may collide with ours, so
    /// they are known as `branch@id` (the history table records them that way).
    pub dependency: bool,
    /// The branches of the model crates this one depends on, transitively: where its own
    /// bare `depends_on` entries point.
    pub sees: Vec<String>,
}

impl BranchSource {
    /// The key a revision id of this branch has in the graph.
    pub fn key(&self, id: &str) -> String {
        if self.dependency {
            format!("{}@{id}", self.branch)
        } else {
            id.to_string()
        }
    }
}

/// Loads every branch into one validated graph (see [`settle`]).
pub fn load_branches(sources: &[BranchSource]) -> Result<MigrationGraph, ResolveError> {
    MigrationGraph::new(load_settled(sources)?).map_err(ResolveError::Graph)
}

/// Every branch's revisions, read, parsed and [`settle`]d.
pub fn load_settled(sources: &[BranchSource]) -> Result<Vec<Revision>, ResolveError> {
    let mut per_source = Vec::with_capacity(sources.len());
    let mut errors = Vec::new();
    for s in sources {
        match load_revisions(std::slice::from_ref(&s.dir)) {
            Ok(revs) => per_source.push(revs),
            Err(ResolveError::Files(es)) => {
                errors.extend(es);
                per_source.push(vec![]);
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ResolveError::Files(errors));
    }
    Ok(settle(sources, per_source))
}

/// Puts each branch's revisions in workspace terms, in memory only (files are never
/// rewritten): a dependency's ids and its references become `branch@id`; a bare reference
/// to another branch's revision becomes that revision's key, looked up first among the
/// branches the crate depends on; `branch@id` naming a workspace revision becomes its id;
/// and a branch's one root without a label gets the crate's branch label, so that
/// `BRANCH@head` names every crate's branch.
pub fn settle(sources: &[BranchSource], per_source: Vec<Vec<Revision>>) -> Vec<Revision> {
    use std::collections::BTreeSet;
    let ids: Vec<BTreeSet<String>> = per_source
        .iter()
        .map(|revs| revs.iter().map(|r| r.file.revision.clone()).collect())
        .collect();
    let find = |branch: &str| sources.iter().position(|s| s.branch == branch);
    let mut out = Vec::new();
    for (i, (source, mut revs)) in sources.iter().zip(per_source).enumerate() {
        let own = |r: &str| ids[i].contains(r);
        let reference = |r: &String| -> String {
            if let Some((branch, id)) = r.split_once('@') {
                return match find(branch) {
                    Some(j) if ids[j].contains(id) => sources[j].key(id),
                    _ => r.clone(),
                };
            }
            if own(r) {
                return source.key(r);
            }
            // The crates this one depends on first, then the one branch that has it.
            let seen = source
                .sees
                .iter()
                .filter_map(|b| find(b))
                .find(|&j| ids[j].contains(r.as_str()));
            let holders: Vec<usize> = (0..sources.len())
                .filter(|&j| ids[j].contains(r.as_str()))
                .collect();
            match (seen, holders.as_slice()) {
                (Some(j), _) | (None, &[j]) => sources[j].key(r),
                _ => r.clone(),
            }
        };
        let roots = revs
            .iter()
            .filter(|r| r.file.down_revisions.is_empty())
            .count();
        for r in &mut revs {
            if roots == 1
                && !source.branch.is_empty()
                && r.file.down_revisions.is_empty()
                && r.file.branch_labels.is_empty()
            {
                r.file.branch_labels.push(source.branch.clone());
            }
            r.file.down_revisions = r.file.down_revisions.iter().map(reference).collect();
            r.file.depends_on = r.file.depends_on.iter().map(reference).collect();
            r.file.revision = source.key(&r.file.revision);
        }
        out.extend(revs);
    }
    out
}

/// What a quick look at a migration file gives without parsing it: its checksum and,
/// when the file states it plainly on a line of its own, its revision id.
#[derive(Debug, Clone)]
pub struct ScannedFile {
    pub path: PathBuf,
    pub id: Option<String>,
    pub checksum: String,
}

/// Reads and hashes every migration file, taking each id from its `revision = "..."`
/// line. Enough to tell that a database is at head without parsing a single file.
pub fn scan(sources: &[BranchSource]) -> Result<Vec<ScannedFile>, ResolveError> {
    let mut out = Vec::new();
    for s in sources {
        for (path, text) in read_migration_files(std::slice::from_ref(&s.dir))? {
            out.push(ScannedFile {
                id: plain_revision_id(&text).map(|id| s.key(&id)),
                checksum: checksum(&text),
                path,
            });
        }
    }
    Ok(out)
}

/// The value of a top-level `revision = "id"` line, if it is a plain string.
fn plain_revision_id(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            return None;
        }
        let Some(rest) = line.strip_prefix("revision") else {
            continue;
        };
        let value = rest.trim_start().strip_prefix('=')?.trim();
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        return (!inner.is_empty() && !inner.contains(['"', '\\'])).then(|| inner.to_string());
    }
    None
}
