//! Migrations embedded into an application binary by `schema-build`.

use schema_core::graph::MigrationGraph;
use schema_core::resolver::parse_revision;

use crate::runner::{Backend, Migrator, RunError, RunOptions, RunReport};

/// One embedded revision: the file's name, its text and the checksum computed at build time.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedRevision {
    /// The revision's key in the workspace graph (`branch@id` for a dependency's).
    pub id: &'static str,
    pub path: &'static str,
    pub checksum: &'static str,
    pub text: &'static str,
    /// The references as the graph resolved them at build time.
    pub down_revisions: &'static [&'static str],
    pub depends_on: &'static [&'static str],
    pub branch_labels: &'static [&'static str],
}

/// The migrations of a workspace as `schema-build` embedded them (validated at build time).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedMigrations {
    revisions: &'static [EmbeddedRevision],
    /// [`schema_core::checksum::history_digest`] of the revisions, computed at build time.
    digest: &'static str,
}

impl EmbeddedMigrations {
    /// What `schema-build` writes; applications get `MIGRATIONS` from
    /// [`include_migrations!`](crate::include_migrations).
    #[doc(hidden)]
    pub const fn generated(
        revisions: &'static [EmbeddedRevision],
        digest: &'static str,
    ) -> EmbeddedMigrations {
        EmbeddedMigrations { revisions, digest }
    }

    /// The embedded revisions, in graph order.
    pub fn revisions(&self) -> &'static [EmbeddedRevision] {
        self.revisions
    }

    /// The graph, parsed from the embedded texts (only needed when there is work to do).
    pub fn graph(&self) -> Result<MigrationGraph, RunError> {
        let mut revs = Vec::with_capacity(self.revisions.len());
        for r in self.revisions {
            let mut rev = parse_revision(r.text, std::path::Path::new(r.path))
                .map_err(|e| RunError::Target(e.to_string()))?;
            rev.checksum = r.checksum.to_string();
            let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
            rev.file.revision = r.id.to_string();
            rev.file.down_revisions = owned(r.down_revisions);
            rev.file.depends_on = owned(r.depends_on);
            rev.file.branch_labels = owned(r.branch_labels);
            revs.push(rev);
        }
        MigrationGraph::new(revs).map_err(|es| {
            RunError::Target(
                es.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })
    }

    /// Applies every pending revision through a backend, with options (the CLI and the
    /// test helpers use this). At head this is one read of the history table.
    pub async fn upgrade_with<B: Backend>(
        &self,
        db: &mut B,
        options: &RunOptions,
    ) -> Result<RunReport, RunError> {
        // One short answer from a database that can digest its history itself.
        if !options.allow_edited && db.history_digest().await?.as_deref() == Some(self.digest) {
            return Ok(RunReport::default());
        }
        let applied = db.read_history().await?;
        let at_head = crate::runner::history_matches(
            &applied,
            self.revisions.iter().map(|r| (r.id, r.checksum)),
            options.allow_edited,
        ) || (applied.is_empty() && self.revisions.is_empty());
        if at_head {
            return Ok(RunReport::default());
        }
        let graph = self.graph()?;
        Migrator::new(&graph, options.clone())
            .upgrade(db, "heads")
            .await
    }

    /// Applies every pending revision: `MIGRATIONS.upgrade(&mut conn).await?` with a
    /// `rusqlite::Connection`, a `tokio_postgres::Client` or a `mysql_async::Conn`.
    pub async fn upgrade<C: MigrationTarget>(&self, conn: &mut C) -> Result<RunReport, RunError> {
        conn.upgrade_embedded_with(self, &RunOptions::default())
            .await
    }

    /// Applies every pending revision on a SQLite connection, without an async runtime.
    #[cfg(feature = "sqlite")]
    pub fn upgrade_sqlite(&self, conn: &mut rusqlite::Connection) -> Result<RunReport, RunError> {
        let mut db = crate::sqlite::SqliteBackend::new(conn);
        block_on(self.upgrade_with(&mut db, &RunOptions::default()))
    }
}

/// Drives a future that never waits (the SQLite backend is synchronous underneath).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A connection that embedded migrations can be applied to.
#[allow(async_fn_in_trait)]
pub trait MigrationTarget {
    async fn upgrade_embedded_with(
        &mut self,
        m: &EmbeddedMigrations,
        options: &RunOptions,
    ) -> Result<RunReport, RunError>;
}

#[cfg(feature = "sqlite")]
impl MigrationTarget for rusqlite::Connection {
    async fn upgrade_embedded_with(
        &mut self,
        m: &EmbeddedMigrations,
        options: &RunOptions,
    ) -> Result<RunReport, RunError> {
        let mut db = crate::sqlite::SqliteBackend::new(self);
        m.upgrade_with(&mut db, options).await
    }
}

#[cfg(feature = "postgres")]
impl MigrationTarget for tokio_postgres::Client {
    async fn upgrade_embedded_with(
        &mut self,
        m: &EmbeddedMigrations,
        options: &RunOptions,
    ) -> Result<RunReport, RunError> {
        let mut db = crate::postgres::PostgresBackend::new(self)
            .with_history_schema(options.history_schema.clone());
        m.upgrade_with(&mut db, options).await
    }
}

#[cfg(feature = "mysql")]
impl MigrationTarget for mysql_async::Conn {
    async fn upgrade_embedded_with(
        &mut self,
        m: &EmbeddedMigrations,
        options: &RunOptions,
    ) -> Result<RunReport, RunError> {
        let mut db = crate::mysql::MysqlBackend::new(self);
        m.upgrade_with(&mut db, options).await
    }
}

/// Includes what `schema-build` generated: defines `MIGRATIONS`.
#[macro_export]
macro_rules! include_migrations {
    () => {
        include!(concat!(env!("OUT_DIR"), "/schema_migrations.rs"));
    };
}
