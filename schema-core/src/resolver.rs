//! The one resolver of migration directories, shared by the CLI, `schema-build` and the
//! runtime: scan, parse, checksum, build the graph. The only module here that reads files.

use std::path::{Path, PathBuf};

use crate::checksum::checksum;
use crate::file::{self, FileError};
use crate::graph::{GraphError, MigrationGraph, Revision};

/// Why a set of migration directories could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and parses every revision of the directories, reporting every bad file at once.
pub fn load_revisions(dirs: &[PathBuf]) -> Result<Vec<Revision>, ResolveError> {
    let mut revisions = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        for path in migration_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| ResolveError::Io {
                path: path.clone(),
                source,
            })?;
            match parse_revision(&text, &path) {
                Ok(r) => revisions.push(r),
                Err(e) => errors.push(e),
            }
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
