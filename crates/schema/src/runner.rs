//! The migration runner, written once over a small backend trait: read the history,
//! plan, and apply each revision with its history row in one locked transaction.

use std::collections::BTreeSet;

use schema_core::dialect::{Dialect, Step};
use schema_core::graph::{MigrationGraph, Revision};
use schema_core::ops::Operation;
use schema_core::plan::{render_revisions, render_revisions_by_operation};
use schema_core::replay::apply;
use schema_core::replay::replay_revisions;
use schema_core::targets::DowngradePlan;
use schema_core::Schema;

pub use schema_core::dialect::HISTORY_TABLE;

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRevision {
    pub revision: String,
    /// The checksum of the file's text.
    pub checksum: String,
    /// [`Revision::content_checksum`] (none in a row an earlier release wrote).
    pub content: Option<String>,
    /// Whether it was recorded as breaking (none in a row an earlier release wrote).
    pub breaking: Option<bool>,
    /// Where a revision stopped on a database whose DDL commits itself (MySQL).
    pub progress: Progress,
}

impl AppliedRevision {
    pub fn complete(
        revision: String,
        checksum: String,
        content: Option<String>,
        breaking: Option<bool>,
    ) -> AppliedRevision {
        AppliedRevision {
            revision,
            checksum,
            content,
            breaking,
            progress: Progress::Complete,
        }
    }
}

/// What a history row records of a revision: the checksum of its file's text (compared
/// at head without parsing anything) and that of its content (which formatting and
/// `renumber` leave alone).
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub checksum: &'a str,
    pub content: &'a str,
    /// Whether code written before it may fail after it (an old binary on a database
    /// ahead of it decides from this whether to start).
    pub breaking: bool,
}

impl<'a> Recorded<'a> {
    /// What the history records of `rev`, given its content checksum.
    pub fn of(rev: &'a Revision, content: &'a str) -> Recorded<'a> {
        Recorded {
            checksum: &rev.checksum,
            content,
            breaking: rev.file.is_breaking(),
        }
    }
}

/// How much of a revision a database has, where DDL commits itself statement by
/// statement and a failure can leave a revision half done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Complete,
    /// The first N operations of its upgrade ran.
    Upgrading(usize),
    /// It was applied, and the first N operations of its downgrade ran.
    Downgrading(usize),
}

impl Progress {
    /// The history column's text (`None`: complete).
    pub fn to_column(self) -> Option<String> {
        match self {
            Progress::Complete => None,
            Progress::Upgrading(n) => Some(format!("upgrade {n}")),
            Progress::Downgrading(n) => Some(format!("downgrade {n}")),
        }
    }

    pub fn from_column(text: Option<&str>) -> Progress {
        let Some(t) = text else {
            return Progress::Complete;
        };
        let (verb, n) = t.split_once(' ').unwrap_or((t, "0"));
        let n = n.trim().parse().unwrap_or(0);
        if verb == "downgrade" {
            Progress::Downgrading(n)
        } else {
            Progress::Upgrading(n)
        }
    }
}

/// What can go wrong while migrating, with what a user needs to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("database error: {0}")]
    Database(String),
    #[error("revision {revision} failed; the database is left at the revision before it\n  statement: {statement}\n  database said: {message}")]
    Statement {
        revision: String,
        statement: String,
        message: String,
    },
    #[error("revision {revision} ({path}) was edited after it was applied: its operations differ from what the database recorded (checksum {recorded} in the database, {current} now); restore the file, or, once the database has what the file now says, record it with `cargo schema repair --accept {revision}` (or allow it for one run: --allow-edited)")]
    Edited {
        revision: String,
        path: String,
        recorded: String,
        current: String,
    },
    #[error("the database records revision(s) {} that this code does not know: it is ahead of the code; deploy the newer code or downgrade with it", .0.join(", "))]
    Ahead(Vec<String>),
    #[error("the database is ahead of this code, and {} breaking: code written before it may fail on this schema; deploy the newer code", breaking_list(.0))]
    AheadBreaking(Vec<String>),
    #[error("the connection was lost during revision {revision} ({message}); {whereabouts}; run `cargo schema current` to see where it is")]
    ConnectionLost {
        revision: String,
        message: String,
        whereabouts: String,
    },
    #[error("another process changed the history during this run: {0}; nothing more was done, run the command again")]
    HistoryMoved(String),
    #[error("timed out waiting for the migration lock held by another process ({0})")]
    LockTimeout(String),
    #[error("revision {revision}: {message}")]
    Replay { revision: String, message: String },
    #[error("{0}")]
    PartlyApplied(Box<Halfway>),
    #[error("revision {revision} is partly reverted ({done} of its downgrade operations ran); run `cargo schema downgrade` to finish reverting it before upgrading")]
    PartlyReverted { revision: String, done: usize },
    #[error("the database recorded revision {recorded}, which is {now} now (renumbered: the same operations under a new id); run `cargo schema repair` to record it as {now}")]
    Renumbered { recorded: String, now: String },
    #[error("{0}")]
    Target(String),
    #[error("backup refused, nothing was run: {0}")]
    Backup(String),
}

/// A revision stopped halfway where DDL commits itself: what ran and stays, what failed,
/// and where the history now says the database is.
#[derive(Debug)]
pub struct Halfway {
    pub revision: String,
    /// Why what ran stays (`mysql commits each DDL statement`).
    pub reason: String,
    pub ran: Vec<String>,
    pub statement: String,
    pub message: String,
    pub where_: String,
}

impl std::fmt::Display for Halfway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "revision {} stopped halfway: {}, so what ran before the failure stays.",
            self.revision, self.reason
        )?;
        writeln!(f, "  ran and kept:")?;
        for s in &self.ran {
            writeln!(f, "    {s}")?;
        }
        writeln!(f, "  failed: {}", self.statement)?;
        writeln!(f, "  database said: {}", self.message)?;
        write!(
            f,
            "The history records {} as {}. Fix the cause and run `cargo schema upgrade` to run the rest, or `cargo schema downgrade` to revert the part that ran.",
            self.revision.split(' ').next().unwrap_or_default(),
            self.where_
        )
    }
}

/// Options of a run; the defaults are what an application wants at start-up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Apply revisions whose file changed after they were applied.
    pub allow_edited: bool,
    /// How long to wait for another process's migration lock (PostgreSQL).
    pub lock_timeout_secs: u64,
    /// Apply every pending revision in one transaction: all or nothing, one commit.
    pub single_transaction: bool,
    /// Let `stamp` delete history rows of revisions this code does not know.
    pub forget_unknown: bool,
    /// Back the database up here before the first statement of an upgrade that has
    /// something to do (SQLite: the online backup API; PostgreSQL: `pg_dump -Fc`).
    pub backup: Option<std::path::PathBuf>,
    /// What an upgrade does on a database that records revisions this code does not know.
    pub ahead: AheadPolicy,
    /// How long a DDL statement waits for another session's lock before its revision is
    /// rolled back and retried (PostgreSQL's `lock_timeout`; separate from the wait for
    /// the migration lock).
    pub ddl_lock_timeout: std::time::Duration,
    /// How many times a revision is retried after a DDL lock timeout.
    pub ddl_retries: u32,
    /// Where the migration lock is a row with an expiry (engines without advisory locks):
    /// how long it stays held without progress; longer than the longest operation.
    pub lock_expiry: std::time::Duration,
    /// Told of each revision as it starts and, when it asks for them, of each step with
    /// its time (a progress bar, `-v`).
    pub observer: Option<Observer>,
    /// PostgreSQL: the schema of the history table, as the workspace's `history-schema`
    /// says (none: the connection's own). Read where a runner builds its backend from a
    /// client (`MigrationTarget`).
    pub history_schema: Option<String>,
}

/// What a run tells whoever watches it.
pub trait RunObserver: Send + Sync {
    /// Revision `n` of `total` starts.
    fn revision_started(&self, n: usize, total: usize, id: &str);
    /// Whether to time each operation's statements (runs them one operation at a time).
    fn wants_steps(&self) -> bool {
        false
    }
    /// One operation's statements ran in `elapsed`.
    fn step_done(&self, statements: &[String], elapsed: std::time::Duration) {
        let _ = (statements, elapsed);
    }
    /// The run is over (whatever its outcome).
    fn finished(&self) {}
}

/// A shared [`RunObserver`].
#[derive(Clone)]
pub struct Observer(pub std::sync::Arc<dyn RunObserver>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// What an upgrade does when the database is ahead of the code (schema first, code
/// later): refuse, start when every unknown revision was recorded as compatible (the
/// application's default), or start whatever they are. It applies nothing then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AheadPolicy {
    Refuse,
    #[default]
    Compatible,
    Any,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            allow_edited: false,
            lock_timeout_secs: 60,
            single_transaction: false,
            forget_unknown: false,
            backup: None,
            ahead: AheadPolicy::Compatible,
            ddl_lock_timeout: std::time::Duration::from_secs(5),
            ddl_retries: 3,
            lock_expiry: std::time::Duration::from_secs(600),
            observer: None,
            history_schema: None,
        }
    }
}

/// The verbs a database offers the runner (PostgreSQL and SQLite implement it).
#[allow(async_fn_in_trait)]
pub trait Backend {
    fn dialect(&self) -> Dialect;
    /// Whether DDL runs inside transactions here: the dialect's answer, unless the engine
    /// behind the connection lacks it (a PostgreSQL-compatible distributed database).
    fn transactional_ddl(&self) -> bool {
        self.dialect().transactional_ddl()
    }
    /// The history rows, or none when the history table does not exist yet.
    async fn read_history(&mut self) -> Result<Vec<AppliedRevision>, RunError>;
    /// Creates the history table if it is missing.
    async fn ensure_history(&mut self, options: &RunOptions) -> Result<(), RunError>;
    /// Takes the migration lock for the whole run, before the history is read, and holds
    /// it until [`Backend::unlock_run`]. A backend that cannot hold a lock across
    /// transactions does nothing here, and each revision's transaction takes it instead.
    async fn lock_run(&mut self, options: &RunOptions) -> Result<(), RunError> {
        let _ = options;
        Ok(())
    }

    /// Whether the connection to the server is gone (after a failure: then where the
    /// database is depends on which commits reached the disk).
    fn connection_lost(&self) -> bool {
        false
    }

    /// Releases the run lock (a no-op when none is held).
    async fn unlock_run(&mut self) -> Result<(), RunError> {
        Ok(())
    }

    /// Makes sure the migration lock is held across transactions until
    /// [`Backend::unlock_run`]: before a revision runs in parts (see [`Step::Detached`]).
    async fn hold_lock(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.lock_run(options).await
    }

    /// One part of a revision that runs in parts: its statements and the history row
    /// saying how far the revision got (`Complete` for the last part), in one committed
    /// transaction; on error it is rolled back.
    async fn apply_part(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Recorded<'_>,
        progress: Progress,
        options: &RunOptions,
    ) -> Result<(), StatementError> {
        let _ = (statements, revision, record, progress, options);
        Err(StatementError {
            statement: None,
            message: format!("{} runs each revision whole", self.dialect()),
        })
    }

    /// Starts a transaction holding the migration lock.
    async fn begin_locked(&mut self, options: &RunOptions) -> Result<(), RunError>;
    /// Inside the transaction: which of `ids` the history records.
    async fn recorded_among(&mut self, ids: &[&str]) -> Result<BTreeSet<String>, RunError>;
    /// Inside the transaction: runs the statements, then records (`Some(checksum)`) or
    /// forgets (`None`) the revision. On error nothing is rolled back yet.
    async fn run(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError>;
    async fn commit(&mut self) -> Result<(), RunError>;
    async fn rollback(&mut self) -> Result<(), RunError>;

    /// The [`schema_core::checksum::history_digest`] of the history table, when the
    /// database can compute it in one query (`None`: it cannot, or there is no history).
    async fn history_digest(&mut self) -> Result<Option<String>, RunError> {
        Ok(None)
    }

    /// Makes every earlier commit of this connection durable (after commits made with
    /// `durable = false`). Nothing to do for a backend that always commits durably.
    async fn flush(&mut self) -> Result<(), RunError> {
        Ok(())
    }

    /// Inside the transaction: runs several revisions and records each, in order. On
    /// error, the index of the revision that failed. A backend may send them at once.
    async fn run_revisions(
        &mut self,
        revisions: &[PlannedRevision<'_>],
    ) -> Result<(), (usize, StatementError)> {
        for (i, r) in revisions.iter().enumerate() {
            self.run(r.statements, r.id, Some(r.record))
                .await
                .map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Starts a revision's transaction under the lock; returns which of `ids` (the
    /// revision and those it needs or that need it) the history records. A backend may do this in one round trip. When `durable` is false
    /// a backend may commit without waiting for the disk: a later durable commit in the
    /// same run makes it durable too, and a crash before that leaves the database at an
    /// earlier revision, never in between.
    async fn begin_revision(
        &mut self,
        ids: &[&str],
        durable: bool,
        options: &RunOptions,
    ) -> Result<BTreeSet<String>, RunError> {
        let _ = durable;
        self.begin_locked(options).await?;
        self.recorded_among(ids).await
    }

    /// Runs a revision's statements and history change and commits; on error the
    /// transaction is rolled back and the failing statement named. A backend may send it
    /// all at once and find the failing statement afterwards.
    async fn apply_revision(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        match self.run(statements, revision, record).await {
            Ok(()) => self.commit().await.map_err(|e| StatementError {
                statement: Some("COMMIT".into()),
                message: e.to_string(),
            }),
            Err(e) => {
                let _ = self.rollback().await;
                Err(e)
            }
        }
    }
    /// The live schema, read back from the catalog.
    async fn introspect(&mut self) -> Result<Schema, RunError>;

    /// Writes a backup of the whole database to `path` (a new file), from which it can be
    /// restored as it is now.
    async fn backup(&mut self, path: &std::path::Path) -> Result<(), RunError> {
        Err(RunError::Backup(format!(
            "cannot back up a {} database to {} from here",
            self.dialect(),
            path.display()
        )))
    }

    /// Inside the transaction of a rehearsal: runs one operation's statements and says what
    /// they cost (time, rows the database reports, locks they took where it tells).
    async fn rehearse_steps(&mut self, steps: &[Step]) -> Result<RehearsedStep, StatementError> {
        let _ = steps;
        Err(StatementError {
            statement: None,
            message: format!("{} cannot rehearse", self.dialect()),
        })
    }

    /// Outside any transaction, where DDL commits itself: runs one operation's statements.
    async fn run_steps(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        let _ = steps;
        Err(StatementError {
            statement: None,
            message: "this database runs revisions in transactions".into(),
        })
    }

    /// Where DDL commits itself: records how far a revision got (`None`: forgets it).
    async fn record_progress(
        &mut self,
        revision: &str,
        record: Recorded<'_>,
        progress: Option<Progress>,
    ) -> Result<(), RunError> {
        let _ = (revision, record, progress);
        Err(RunError::Database(
            "this database runs revisions in transactions".into(),
        ))
    }
    /// Runs statements in one transaction (for `create_all` and `reset`).
    async fn execute_all(&mut self, statements: &[String]) -> Result<(), RunError>;
}

/// How many revisions `--single-transaction` sends to the database at once.
const REVISIONS_PER_BATCH: usize = 100;

/// A revision ready to run: its statements and the checksum to record.
pub struct PlannedRevision<'a> {
    pub id: &'a str,
    pub record: Recorded<'a>,
    pub statements: &'a [Step],
}

/// A failed statement: which one (if known) and what the database said.
#[derive(Debug)]
pub struct StatementError {
    pub statement: Option<String>,
    pub message: String,
}

impl StatementError {
    /// Whether it waited longer than the DDL lock timeout for another session's lock
    /// (PostgreSQL's SQLSTATE 55P03, which the backend puts in the message).
    pub fn is_lock_timeout(&self) -> bool {
        self.message.contains("SQLSTATE 55P03")
    }
}

/// One operation of a rehearsal: its statements, how long they took, the rows the
/// database said they touched, and the locks they took (PostgreSQL: relation, mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RehearsedStep {
    pub statements: Vec<String>,
    pub elapsed: std::time::Duration,
    pub rows: Option<u64>,
    pub locks: Vec<(String, String)>,
}

/// A rehearsed revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehearsed {
    pub revision: String,
    pub steps: Vec<RehearsedStep>,
}

/// What `repair` did and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// (recorded id, new id) of renumbered revisions, re-recorded under the new id.
    pub renumbered: Vec<(String, String)>,
    /// Rows re-recorded because only the form of their file changed (or, for a row an
    /// earlier release wrote, to add the content checksum).
    pub rerecorded: Vec<String>,
    /// Rows whose operations changed, re-recorded because `--accept` named them.
    pub accepted: Vec<String>,
    /// Rows whose operations changed, left as they are.
    pub changed: Vec<String>,
    /// Rows of revisions this code does not know.
    pub unknown: Vec<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Revision ids applied (upgrade) or reverted (downgrade), in order.
    pub revisions: Vec<String>,
}

/// Runs a migration graph against one backend.
pub struct Migrator<'g> {
    graph: &'g MigrationGraph,
    options: RunOptions,
}

impl<'g> Migrator<'g> {
    pub fn new(graph: &'g MigrationGraph, options: RunOptions) -> Migrator<'g> {
        Migrator { graph, options }
    }

    /// Checks the history against the code: renumbered revisions, unknown revisions and
    /// edited files. A file whose text changed but whose content did not (a comment, the
    /// layout, the message) is no edit.
    fn verify(&self, applied: &[AppliedRevision]) -> Result<(), RunError> {
        if let Some((recorded, now)) = self.renumbered(applied).into_iter().next() {
            return Err(RunError::Renumbered { recorded, now });
        }
        self.ahead_of_code(applied)?;
        if !self.options.allow_edited {
            for a in applied {
                if let Some(r) = self.graph.get(&a.revision) {
                    if r.checksum != a.checksum
                        && a.content.as_deref() != Some(r.content_checksum().as_str())
                    {
                        return Err(RunError::Edited {
                            revision: a.revision.clone(),
                            path: r.path.display().to_string(),
                            recorded: short(&a.checksum),
                            current: short(&r.checksum),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The unknown revisions a database records, as the policy sees them: refused, or
    /// tolerated (then an upgrade applies nothing). A row an earlier release wrote does
    /// not say whether it is breaking, so it counts as breaking.
    fn ahead_of_code(&self, applied: &[AppliedRevision]) -> Result<bool, RunError> {
        let unknown: Vec<&AppliedRevision> = applied
            .iter()
            .filter(|a| self.graph.get(&a.revision).is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(false);
        }
        match self.options.ahead {
            AheadPolicy::Any => Ok(true),
            AheadPolicy::Compatible => {
                let breaking: Vec<String> = unknown
                    .iter()
                    .filter(|a| a.breaking != Some(false))
                    .map(|a| a.revision.clone())
                    .collect();
                if breaking.is_empty() {
                    Ok(true)
                } else {
                    Err(RunError::AheadBreaking(breaking))
                }
            }
            AheadPolicy::Refuse => {
                let ids: Vec<String> = unknown
                    .iter()
                    .map(|a| match a.breaking {
                        Some(true) | None => format!("{} (breaking)", a.revision),
                        Some(false) => format!("{} (compatible)", a.revision),
                    })
                    .collect();
                Err(RunError::Ahead(ids))
            }
        }
    }

    /// Rows recorded under an id that now names other content (or nothing), whose content
    /// is a revision the history does not record: `renumber` moved it. (recorded, now).
    fn renumbered(&self, applied: &[AppliedRevision]) -> Vec<(String, String)> {
        let suspects: Vec<&AppliedRevision> = applied
            .iter()
            .filter(|a| {
                a.content.is_some()
                    && !self.graph.get(&a.revision).is_some_and(|r| {
                        r.checksum == a.checksum
                            || a.content.as_deref() == Some(r.content_checksum().as_str())
                    })
            })
            .collect();
        if suspects.is_empty() {
            return vec![];
        }
        let recorded: BTreeSet<&str> = applied.iter().map(|a| a.revision.as_str()).collect();
        let by_content: std::collections::HashMap<String, &str> = self
            .graph
            .ordered()
            .filter(|r| !recorded.contains(r.id()))
            .map(|r| (r.content_checksum(), r.id()))
            .collect();
        suspects
            .into_iter()
            .filter_map(|a| {
                let now = by_content.get(a.content.as_deref()?)?;
                Some((a.revision.clone(), now.to_string()))
            })
            .collect()
    }

    /// `cargo schema repair`: brings the history in step with the files where that is
    /// safe. A row whose revision was renumbered moves to the new id; a row whose file
    /// changed only in form gets the new checksums; a row an earlier release wrote gets
    /// its content checksum. A row whose revision's operations changed is re-recorded only
    /// when `accept` names it (the database does not have the new operations: accepting
    /// says it does, or that it does not matter); otherwise it is reported.
    pub async fn repair<B: Backend>(
        &self,
        db: &mut B,
        accept: &[String],
    ) -> Result<RepairReport, RunError> {
        db.lock_run(&self.options).await?;
        let result = self.repair_locked(db, accept).await;
        let unlocked = db.unlock_run().await;
        let report = result?;
        unlocked?;
        Ok(report)
    }

    async fn repair_locked<B: Backend>(
        &self,
        db: &mut B,
        accept: &[String],
    ) -> Result<RepairReport, RunError> {
        db.ensure_history(&self.options).await?;
        let applied = db.read_history().await?;
        let mut report = RepairReport::default();
        let mut changes: Vec<(String, Option<String>)> = Vec::new();
        for (old, new) in self.renumbered(&applied) {
            changes.push((old.clone(), Some(new.clone())));
            report.renumbered.push((old, new));
        }
        for a in &applied {
            if report.renumbered.iter().any(|(old, _)| *old == a.revision) {
                continue;
            }
            let Some(r) = self.graph.get(&a.revision) else {
                report.unknown.push(a.revision.clone());
                continue;
            };
            let content = r.content_checksum();
            if r.checksum == a.checksum && a.content.as_deref() == Some(content.as_str()) {
                continue;
            }
            let same = r.checksum == a.checksum || a.content.as_deref() == Some(content.as_str());
            if same || accept.iter().any(|x| x == r.id()) {
                changes.push((a.revision.clone(), None));
                if same {
                    report.rerecorded.push(a.revision.clone());
                } else {
                    report.accepted.push(a.revision.clone());
                }
            } else {
                report.changed.push(a.revision.clone());
            }
        }
        if changes.is_empty() {
            return Ok(report);
        }
        db.begin_locked(&self.options).await?;
        for (id, new_id) in &changes {
            let target = new_id.as_deref().unwrap_or(id);
            let Some(r) = self.graph.get(target) else {
                continue;
            };
            let content = r.content_checksum();
            let record = Recorded::of(r, &content);
            // Forget the old row and record the revision as the files have it now.
            let result = match db.run(&[], id, None).await {
                Ok(()) => db.run(&[], target, Some(record)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                db.rollback().await?;
                return Err(RunError::Database(e.message));
            }
        }
        db.commit().await?;
        Ok(report)
    }

    fn wanted(
        &self,
        target: &str,
        applied: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, RunError> {
        self.graph
            .upgrade_set(target, applied)
            .map_err(|e| RunError::Target(e.to_string()))
    }

    /// The schema the applied revisions produce.
    pub fn state_of(&self, applied: &BTreeSet<String>) -> Result<Schema, RunError> {
        let mut s = Schema::new();
        replay_revisions(&mut s, self.graph.in_order(applied)).map_err(|e| RunError::Replay {
            revision: e.revision.clone(),
            message: e.to_string(),
        })?;
        Ok(s)
    }

    /// The applied revision ids, checked against the code (a revision stopped halfway
    /// is not applied).
    pub async fn applied<B: Backend>(&self, db: &mut B) -> Result<BTreeSet<String>, RunError> {
        Ok(self.history(db).await?.0)
    }

    /// The complete revisions, and the rows of those stopped halfway.
    async fn history<B: Backend>(
        &self,
        db: &mut B,
    ) -> Result<(BTreeSet<String>, Vec<AppliedRevision>), RunError> {
        let rows = db.read_history().await?;
        self.verify(&rows)?;
        let (complete, partial): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|a| a.progress == Progress::Complete);
        Ok((complete.into_iter().map(|a| a.revision).collect(), partial))
    }

    /// The revisions a database whose DDL commits itself has stopped halfway, with how
    /// far each got (empty elsewhere).
    pub async fn half_done<B: Backend>(
        &self,
        db: &mut B,
    ) -> Result<Vec<(String, Progress)>, RunError> {
        Ok(self
            .history(db)
            .await?
            .1
            .into_iter()
            .map(|a| (a.revision, a.progress))
            .collect())
    }

    /// The applied revisions nothing applied follows: where the database is.
    pub async fn current<B: Backend>(&self, db: &mut B) -> Result<Vec<String>, RunError> {
        let applied = self.applied(db).await?;
        Ok(self.graph.heads_within(&applied))
    }

    /// Applies every revision the target needs that is not applied yet. When there is
    /// nothing to do this costs one read of the history and takes no lock.
    pub async fn upgrade<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<RunReport, RunError> {
        let rows = db.read_history().await?;
        if self.ahead_of_code(&rows)? {
            // Schema first, code later: this code starts on the newer schema as it is.
            return Ok(RunReport::default());
        }
        self.verify(&rows)?;
        let applied: BTreeSet<String> = rows
            .into_iter()
            .filter(|a| a.progress == Progress::Complete)
            .map(|a| a.revision)
            .collect();
        let wanted = self.wanted(target, &applied)?;
        if wanted.is_subset(&applied) {
            return Ok(RunReport::default());
        }
        // What `check` and the build refuse, the runner refuses too: two heads on a branch
        // (or two unlabelled roots) would have it apply both lines.
        let head_errors = self.graph.head_errors();
        if !head_errors.is_empty() {
            return Err(RunError::Target(
                head_errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        db.lock_run(&self.options).await?;
        let result = self.upgrade_locked(db, target).await;
        if let Some(o) = &self.options.observer {
            o.0.finished();
        }
        finish(db, result).await
    }

    /// The upgrade under the run lock: the history read here cannot change before the run
    /// ends, so the plan made from it is the plan that runs.
    async fn upgrade_locked<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<RunReport, RunError> {
        db.ensure_history(&self.options).await?;
        let (applied, partial) = self.history(db).await?;
        let wanted = self.wanted(target, &applied)?;
        let pending: BTreeSet<String> = wanted.difference(&applied).cloned().collect();
        if pending.is_empty() {
            return Ok(RunReport::default());
        }
        let state = self.state_of(&applied)?;
        if let Some(path) = &self.options.backup {
            // Under the lock, after the plan is known to be non-empty, before anything runs.
            db.backup(path).await?;
        }
        if !db.transactional_ddl() {
            if self.options.single_transaction {
                return Err(RunError::Target(format!(
                    "--single-transaction needs DDL inside transactions; {} commits each DDL statement",
                    db.dialect()
                )));
            }
            return self.upgrade_stepwise(db, &pending, state, &partial).await;
        }
        if self.options.single_transaction {
            return self.upgrade_in_one_transaction(db, &pending, state).await;
        }
        // Every pending revision is replayed and rendered before the first statement.
        let mut state = state;
        let planned = render_by_operation(db.dialect(), &mut state, self.graph.in_order(&pending))?;
        let mut report = RunReport::default();
        // Only the last commit of a run waits for the disk (it makes the earlier ones
        // durable too).
        let last = planned
            .last()
            .map(|(r, _)| r.id().to_string())
            .unwrap_or_default();
        let durable = |id: &str| id == last;
        // Whether everything this run committed is on disk.
        let mut flushed = true;
        let total = planned.len();
        let observer = self.options.observer.as_ref().map(|o| &o.0);
        'revisions: for (n, (rev, ops)) in planned.iter().enumerate() {
            let steps: Vec<Step> = ops.concat();
            if let Some(o) = observer {
                o.revision_started(n + 1, total, rev.id());
            }
            let stopped_at = partial.iter().find(|p| p.revision == rev.id());
            if schema_core::plan::runs_in_parts(ops) || stopped_at.is_some() {
                let start = match stopped_at.map(|p| p.progress) {
                    Some(Progress::Upgrading(k)) => k.min(ops.len()),
                    Some(Progress::Downgrading(done)) => {
                        return Err(RunError::PartlyReverted {
                            revision: rev.id().to_string(),
                            done,
                        })
                    }
                    _ => 0,
                };
                self.apply_in_parts(db, rev, ops, start).await?;
                flushed = true;
                report.revisions.push(rev.id().to_string());
                continue;
            }
            // Without a run lock, another process may have applied it meanwhile, or
            // reverted what it needs: the history read under this revision's lock decides.
            let needs = parents(rev);
            let ids: Vec<&str> = std::iter::once(rev.id())
                .chain(needs.iter().copied())
                .collect();
            let content = rev.content_checksum();
            let record = Recorded::of(rev, &content);
            let mut retries = 0;
            loop {
                let recorded = db
                    .begin_revision(&ids, durable(rev.id()), &self.options)
                    .await?;
                if recorded.contains(rev.id()) {
                    db.commit().await?;
                    continue 'revisions;
                }
                if let Some(gone) = needs.iter().find(|p| !recorded.contains(**p)) {
                    let _ = db.rollback().await;
                    return Err(RunError::HistoryMoved(format!(
                        "{} needs {gone}, which is no longer applied",
                        rev.id()
                    )));
                }
                let applied = match observer.filter(|o| o.wants_steps()) {
                    Some(o) => Self::apply_timed(db, ops, rev.id(), Some(record), o.as_ref()).await,
                    None => db.apply_revision(&steps, rev.id(), Some(record)).await,
                };
                match applied {
                    Ok(()) => break,
                    // Another session holds a lock a statement needs: the revision was
                    // rolled back; wait a little and try again rather than queue behind
                    // it (which would block every query after ours).
                    Err(e) if e.is_lock_timeout() && retries < self.options.ddl_retries => {
                        retries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(
                            (100u64 << retries).min(2000),
                        ));
                    }
                    Err(mut e) => {
                        if e.is_lock_timeout() {
                            e.message = format!(
                                "{} (gave up after {retries} retries: another session holds a lock this statement needs; the revision was rolled back each time)",
                                e.message
                            );
                        }
                        let e = self.statement_error(rev, e);
                        return Err(lost_or(db, e, rev.id(), report.revisions.last()));
                    }
                }
            }
            flushed = durable(rev.id());
            report.revisions.push(rev.id().to_string());
        }
        if !flushed {
            // The last revision was applied by another process: make ours durable.
            db.flush().await?;
        }
        Ok(report)
    }

    /// A revision with steps that run outside its transaction (PostgreSQL's concurrent
    /// index builds and validations), from operation `start` on: the operations between
    /// them run in transactions that also record how far the revision got, and each
    /// detached step runs alone and is recorded after it, so that a failure leaves a
    /// state the history names and a re-run continues from it.
    async fn apply_in_parts<B: Backend>(
        &self,
        db: &mut B,
        rev: &Revision,
        ops: &[Vec<Step>],
        start: usize,
    ) -> Result<(), RunError> {
        db.hold_lock(&self.options).await?;
        let content = rev.content_checksum();
        let rec = Recorded::of(rev, &content);
        let mut ran: Vec<String> = Vec::new();
        for (range, detached) in schema_core::plan::parts(ops, start) {
            let (j, end) = (range.start, range.end);
            let progress = if end == ops.len() {
                Progress::Complete
            } else {
                Progress::Upgrading(end)
            };
            let steps: Vec<Step> = ops[j..end].concat();
            let result = if detached {
                match db.run_steps(&steps).await {
                    Ok(()) => db
                        .record_progress(rev.id(), rec, Some(progress))
                        .await
                        .map_err(|e| StatementError {
                            statement: None,
                            message: e.to_string(),
                        }),
                    Err(e) => Err(e),
                }
            } else {
                let mut retries = 0;
                loop {
                    match db
                        .apply_part(&steps, rev.id(), rec, progress, &self.options)
                        .await
                    {
                        Err(e) if e.is_lock_timeout() && retries < self.options.ddl_retries => {
                            retries += 1;
                            std::thread::sleep(std::time::Duration::from_millis(
                                (100u64 << retries).min(2000),
                            ));
                        }
                        other => break other,
                    }
                }
            };
            if let Err(e) = result {
                if j == 0 {
                    return Err(self.statement_error(rev, e));
                }
                return Err(RunError::PartlyApplied(Box::new(Halfway {
                    revision: format!("{} ({})", rev.id(), rev.path.display()),
                    reason: "its steps outside the transaction (concurrent index builds, validations) commit one by one".into(),
                    ran,
                    statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
                    message: e.message,
                    where_: format!(
                        "partly applied: {j} of its {} operations ran; `cargo schema downgrade {}` reverts them",
                        ops.len(),
                        self.before(rev)
                    ),
                })));
            }
            // A detached step prints as what ran: its CONCURRENTLY form.
            ran.extend(steps.iter().map(Step::to_string));
        }
        Ok(())
    }

    /// [`Backend::apply_revision`] one operation at a time, each timed and told to the
    /// observer (what `-v` prints); the history row and the commit as usual.
    async fn apply_timed<B: Backend>(
        db: &mut B,
        ops: &[Vec<Step>],
        id: &str,
        record: Option<Recorded<'_>>,
        observer: &dyn RunObserver,
    ) -> Result<(), StatementError> {
        for op in ops {
            match db.rehearse_steps(op).await {
                Ok(r) => observer.step_done(&r.statements, r.elapsed),
                Err(e) => {
                    let _ = db.rollback().await;
                    return Err(e);
                }
            }
        }
        db.apply_revision(&[], id, record).await
    }

    async fn upgrade_in_one_transaction<B: Backend>(
        &self,
        db: &mut B,
        pending: &BTreeSet<String>,
        state: Schema,
    ) -> Result<RunReport, RunError> {
        // Render every pending revision before the first statement, then send them in
        // large batches: one commit, few round trips.
        let mut planned = render_plan(db.dialect(), state, self.graph.in_order(pending), true)?;
        let mut report = RunReport::default();
        db.begin_locked(&self.options).await?;
        // Without a run lock another process may have applied some meanwhile; they ran
        // the same operations, so what follows them was rendered from the right state.
        let recorded: BTreeSet<String> = match db.read_history().await {
            Ok(rows) => rows.into_iter().map(|a| a.revision).collect(),
            Err(e) => {
                let _ = db.rollback().await;
                return Err(e);
            }
        };
        planned.retain(|(rev, _)| !recorded.contains(rev.id()));
        for chunk in planned.chunks(REVISIONS_PER_BATCH) {
            let contents: Vec<String> = chunk.iter().map(|(r, _)| r.content_checksum()).collect();
            let batch: Vec<PlannedRevision<'_>> = chunk
                .iter()
                .zip(&contents)
                .map(|((rev, statements), content)| PlannedRevision {
                    id: rev.id(),
                    record: Recorded::of(rev, content),
                    statements,
                })
                .collect();
            if let Err((i, e)) = db.run_revisions(&batch).await {
                let _ = db.rollback().await;
                let rev = chunk[i].0;
                return Err(RunError::Statement {
                    revision: format!("{} ({})", rev.id(), rev.path.display()),
                    statement: e
                        .statement
                        .unwrap_or_else(|| "(see the database's message)".into()),
                    message: e.message,
                });
            }
            report
                .revisions
                .extend(chunk.iter().map(|(rev, _)| rev.id().to_string()));
        }
        db.commit().await?;
        Ok(report)
    }

    async fn run_one<B: Backend>(
        &self,
        db: &mut B,
        rev: &Revision,
        statements: &[Step],
        record: Option<Recorded<'_>>,
    ) -> Result<(), RunError> {
        db.apply_revision(statements, rev.id(), record)
            .await
            .map_err(|e| RunError::Statement {
                revision: format!("{} ({})", rev.id(), rev.path.display()),
                statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
                message: e.message,
            })
    }

    /// `upgrade --rehearse`: runs the pending revisions in one transaction under the lock,
    /// measuring each operation, then rolls everything back; nothing is recorded. Refused
    /// where DDL commits itself (it would change the database).
    pub async fn rehearse<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<Vec<Rehearsed>, RunError> {
        if !db.transactional_ddl() {
            return Err(RunError::Target(format!(
                "--rehearse needs DDL inside a transaction; {} commits each DDL statement, so rehearse on a copy of the database",
                db.dialect()
            )));
        }
        db.lock_run(&self.options).await?;
        let result = self.rehearse_locked(db, target).await;
        let unlocked = db.unlock_run().await;
        let report = result?;
        unlocked?;
        Ok(report)
    }

    async fn rehearse_locked<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<Vec<Rehearsed>, RunError> {
        let applied = self.applied(db).await?;
        let wanted = self.wanted(target, &applied)?;
        let pending: BTreeSet<String> = wanted.difference(&applied).cloned().collect();
        let mut state = self.state_of(&applied)?;
        let planned = render_by_operation(db.dialect(), &mut state, self.graph.in_order(&pending))?;
        let mut report = Vec::new();
        if planned.is_empty() {
            return Ok(report);
        }
        db.begin_locked(&self.options).await?;
        for (rev, ops) in &planned {
            let mut steps = Vec::new();
            for op in ops {
                match db.rehearse_steps(op).await {
                    Ok(r) => steps.push(r),
                    Err(e) => {
                        let _ = db.rollback().await;
                        return Err(self.statement_error(rev, e));
                    }
                }
            }
            report.push(Rehearsed {
                revision: rev.id().to_string(),
                steps,
            });
        }
        db.rollback().await?;
        Ok(report)
    }

    /// What a downgrade to `target` reverts, newest first (see
    /// [`MigrationGraph::downgrade_plan`]).
    pub fn downgrade_plan(
        &self,
        applied: &BTreeSet<String>,
        target: &str,
    ) -> Result<DowngradePlan, RunError> {
        self.graph
            .downgrade_plan(target, applied)
            .map_err(|e| RunError::Target(e.to_string()))
    }

    /// Reverts applied revisions until the target is where the database is.
    pub async fn downgrade<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<RunReport, RunError> {
        db.lock_run(&self.options).await?;
        let result = self.downgrade_locked(db, target).await;
        finish(db, result).await
    }

    async fn downgrade_locked<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<RunReport, RunError> {
        let (applied, partial) = self.history(db).await?;
        let plan = self.downgrade_plan(&applied, target)?.revisions;
        if !db.transactional_ddl() {
            return self.downgrade_stepwise(db, &plan, &applied, &partial).await;
        }
        let mut report = RunReport::default();
        if !partial.is_empty() {
            // A revision that ran in parts stopped halfway: revert the part that ran.
            db.hold_lock(&self.options).await?;
            self.revert_partial(db, &applied, &partial, &mut report)
                .await?;
        }
        if plan.is_empty() {
            return Ok(report);
        }
        let state = self.state_of(&applied)?;
        let revisions = plan.iter().filter_map(|id| self.graph.get(id));
        // Every revert is replayed and rendered before the first statement.
        let planned = render_plan(db.dialect(), state, revisions, false)?;
        let last = plan.last().cloned().unwrap_or_default();
        let mut flushed = true;
        for (rev, steps) in &planned {
            let id = rev.id();
            // Without a run lock, another process may have reverted it meanwhile, or
            // applied something that needs it.
            let needed_by: Vec<&str> = self
                .graph
                .ordered()
                .filter(|r| parents(r).contains(&id))
                .map(|r| r.id())
                .collect();
            let ids: Vec<&str> = std::iter::once(id)
                .chain(needed_by.iter().copied())
                .collect();
            let recorded = db.begin_revision(&ids, id == last, &self.options).await?;
            if !recorded.contains(id) {
                db.commit().await?;
                continue;
            }
            if let Some(user) = needed_by.iter().find(|d| recorded.contains(**d)) {
                let _ = db.rollback().await;
                return Err(RunError::HistoryMoved(format!(
                    "{user}, which needs {id}, is applied now"
                )));
            }
            if let Err(e) = self.run_one(db, rev, steps, None).await {
                return Err(lost_or(db, e, id, report.revisions.last()));
            }
            flushed = id == last;
            report.revisions.push(id.to_string());
        }
        if !flushed {
            db.flush().await?;
        }
        Ok(report)
    }

    /// Where DDL commits itself: each revision's operations run one by one, and the
    /// history row says after each how many did, so a failure leaves a state the history
    /// describes exactly. A revision stopped halfway earlier continues where it stopped.
    async fn upgrade_stepwise<B: Backend>(
        &self,
        db: &mut B,
        pending: &BTreeSet<String>,
        state: Schema,
        partial: &[AppliedRevision],
    ) -> Result<RunReport, RunError> {
        if let Some(p) = partial.iter().find_map(|p| match p.progress {
            Progress::Downgrading(done) => Some((p.revision.clone(), done)),
            _ => None,
        }) {
            return Err(RunError::PartlyReverted {
                revision: p.0,
                done: p.1,
            });
        }
        let mut state = state;
        let planned = render_by_operation(db.dialect(), &mut state, self.graph.in_order(pending))?;
        let mut report = RunReport::default();
        let total = planned.len();
        for (n, (rev, ops)) in planned.iter().enumerate() {
            if let Some(o) = &self.options.observer {
                o.0.revision_started(n + 1, total, rev.id());
            }
            let content = rev.content_checksum();
            let rec = Recorded::of(rev, &content);
            let start = partial
                .iter()
                .find(|p| p.revision == rev.id())
                .map(|p| match p.progress {
                    Progress::Upgrading(n) => n.min(ops.len()),
                    _ => 0,
                })
                .unwrap_or(0);
            db.record_progress(rev.id(), rec, Some(Progress::Upgrading(start)))
                .await?;
            let mut ran: Vec<String> = Vec::new();
            for (j, steps) in ops.iter().enumerate().skip(start) {
                if let Err(e) = db.run_steps(steps).await {
                    ran.extend(ran_before(steps, &e));
                    if ran.is_empty() && start == 0 {
                        db.record_progress(rev.id(), rec, None).await?;
                        return Err(self.statement_error(rev, e));
                    }
                    return Err(RunError::PartlyApplied(Box::new(Halfway {
                        revision: format!("{} ({})", rev.id(), rev.path.display()),
                        reason: format!("DDL commits operation by operation on this {} database", db.dialect()),
                        ran,
                        statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
                        message: e.message,
                        where_: format!(
                            "partly applied: {j} of its {} operations ran; `cargo schema downgrade {}` reverts them",
                            ops.len(),
                            self.before(rev)
                        ),
                    })));
                }
                ran.extend(steps.iter().filter_map(Step::as_sql).map(str::to_string));
                db.record_progress(rev.id(), rec, Some(Progress::Upgrading(j + 1)))
                    .await?;
            }
            db.record_progress(rev.id(), rec, Some(Progress::Complete))
                .await?;
            report.revisions.push(rev.id().to_string());
        }
        Ok(report)
    }

    /// Finishes what was stopped halfway, one operation at a time, recording progress as
    /// it goes: reverts the operations a stopped upgrade ran (from their exact inverses),
    /// or runs the rest of a stopped downgrade; then forgets the revision.
    async fn revert_partial<B: Backend>(
        &self,
        db: &mut B,
        applied: &BTreeSet<String>,
        partial: &[AppliedRevision],
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        let dialect = db.dialect();
        let replay_err = |rev: &Revision, e: schema_core::replay::ReplayError| RunError::Replay {
            revision: rev.id().to_string(),
            message: e.to_string(),
        };
        for p in partial {
            let Some(rev) = self.graph.get(&p.revision) else {
                continue;
            };
            let content = rev.content_checksum();
            let rec = Recorded::of(rev, &content);
            let mut state = self.state_of(applied)?;
            let (ops, progress): (Vec<Operation>, Box<dyn Fn(usize) -> Progress>) = match p.progress
            {
                Progress::Upgrading(k) => {
                    let done = &rev.file.upgrade[..k.min(rev.file.upgrade.len())];
                    let mut inverses = Vec::new();
                    for op in done {
                        apply(&mut state, op).map_err(|e| replay_err(rev, e))?;
                        if !op.needs_inverse() {
                            // Nothing to undo; a step that runs nothing keeps the count of
                            // operations (the progress recorded) exact.
                            inverses.push(Operation::Execute {
                                sql: schema_core::ops::ExecuteSql::PerDialect(Default::default()),
                            });
                            continue;
                        }
                        inverses.push(op.inverse().ok_or_else(|| RunError::Target(format!(
                                "revision {} stopped halfway after a `{}` step, which has no automatic inverse; revert it by hand and `stamp` the revision before it",
                                rev.id(),
                                op.kind()
                            )))?);
                    }
                    inverses.reverse();
                    let n = done.len();
                    (inverses, Box::new(move |i| Progress::Upgrading(n - i)))
                }
                Progress::Downgrading(d) => {
                    state = self.state_of(
                        &applied
                            .iter()
                            .cloned()
                            .chain([rev.id().to_string()])
                            .collect(),
                    )?;
                    let d = d.min(rev.file.downgrade.len());
                    for op in &rev.file.downgrade[..d] {
                        apply(&mut state, op).map_err(|e| replay_err(rev, e))?;
                    }
                    (
                        rev.file.downgrade[d..].to_vec(),
                        Box::new(move |i| Progress::Downgrading(d + i)),
                    )
                }
                Progress::Complete => continue,
            };
            for (i, op) in ops.iter().enumerate() {
                let steps = dialect
                    .render_op(&state, op)
                    .map_err(|e| replay_err(rev, e))?;
                apply(&mut state, op).map_err(|e| replay_err(rev, e))?;
                if let Err(e) = db.run_steps(&steps).await {
                    return Err(RunError::PartlyApplied(Box::new(Halfway {
                        revision: format!("{} ({})", rev.id(), rev.path.display()),
                        reason: format!(
                            "DDL commits operation by operation on this {dialect} database"
                        ),
                        ran: ran_before(&steps, &e),
                        statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
                        message: e.message,
                        where_: "stopped halfway, as before this run".into(),
                    })));
                }
                db.record_progress(rev.id(), rec, Some(progress(i + 1)))
                    .await?;
            }
            db.record_progress(rev.id(), rec, None).await?;
            report.revisions.push(rev.id().to_string());
        }
        Ok(())
    }

    /// Where DDL commits itself: first finishes what was stopped halfway (reverting the
    /// operations a stopped upgrade ran, or the rest of a stopped downgrade), then
    /// reverts the plan one operation at a time, recording progress as it goes.
    async fn downgrade_stepwise<B: Backend>(
        &self,
        db: &mut B,
        plan: &[String],
        applied: &BTreeSet<String>,
        partial: &[AppliedRevision],
    ) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        self.revert_partial(db, applied, partial, &mut report)
            .await?;
        let dialect = db.dialect();
        let replay_err = |rev: &Revision, e: schema_core::replay::ReplayError| RunError::Replay {
            revision: rev.id().to_string(),
            message: e.to_string(),
        };
        let mut state = self.state_of(applied)?;
        for id in plan {
            let Some(rev) = self.graph.get(id) else {
                continue;
            };
            let content = rev.content_checksum();
            let rec = Recorded::of(rev, &content);
            let ops = &rev.file.downgrade;
            let mut ran: Vec<String> = Vec::new();
            db.record_progress(id, rec, Some(Progress::Downgrading(0)))
                .await?;
            for (j, op) in ops.iter().enumerate() {
                let steps = dialect
                    .render_op(&state, op)
                    .map_err(|e| replay_err(rev, e))?;
                apply(&mut state, op).map_err(|e| replay_err(rev, e))?;
                if let Err(e) = db.run_steps(&steps).await {
                    ran.extend(ran_before(&steps, &e));
                    if ran.is_empty() {
                        db.record_progress(id, rec, Some(Progress::Complete))
                            .await?;
                        return Err(self.statement_error(rev, e));
                    }
                    return Err(RunError::PartlyApplied(Box::new(Halfway {
                        revision: format!("{id} ({})", rev.path.display()),
                        reason: format!(
                            "DDL commits operation by operation on this {dialect} database"
                        ),
                        ran,
                        statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
                        message: e.message,
                        where_: format!(
                            "partly reverted: {j} of its {} downgrade operations ran",
                            ops.len()
                        ),
                    })));
                }
                ran.extend(steps.iter().filter_map(Step::as_sql).map(str::to_string));
                db.record_progress(id, rec, Some(Progress::Downgrading(j + 1)))
                    .await?;
            }
            db.record_progress(id, rec, None).await?;
            report.revisions.push(id.clone());
        }
        Ok(report)
    }

    fn statement_error(&self, rev: &Revision, e: StatementError) -> RunError {
        RunError::Statement {
            revision: format!("{} ({})", rev.id(), rev.path.display()),
            statement: e.statement.unwrap_or_else(|| "(unknown)".into()),
            message: e.message,
        }
    }

    /// The downgrade target that is just before `rev`.
    fn before(&self, rev: &Revision) -> String {
        match rev.file.down_revisions.as_slice() {
            [one] => self.graph.target_for(one),
            _ => match self.graph.branch_of(rev.id()) {
                Some(b) => format!("{b}@base"),
                None => "base".into(),
            },
        }
    }

    /// Records the target as applied (and nothing else) without running anything.
    pub async fn stamp<B: Backend>(&self, db: &mut B, target: &str) -> Result<RunReport, RunError> {
        db.lock_run(&self.options).await?;
        let result = self.stamp_locked(db, target).await;
        finish(db, result).await
    }

    async fn stamp_locked<B: Backend>(
        &self,
        db: &mut B,
        target: &str,
    ) -> Result<RunReport, RunError> {
        db.ensure_history(&self.options).await?;
        let rows = db.read_history().await?;
        if let Some(half) = rows.iter().find(|a| a.progress != Progress::Complete) {
            // Stamping over it would record a state that no revision describes.
            return Err(RunError::Target(format!(
                "revision {} stopped halfway ({}); finish it with `cargo schema upgrade` or revert it with `cargo schema downgrade` before stamping",
                half.revision,
                half.progress.to_column().unwrap_or_default()
            )));
        }
        let applied: BTreeSet<String> = rows.into_iter().map(|a| a.revision).collect();
        let wanted = self.wanted(target, &applied)?;
        let unknown: Vec<String> = applied
            .iter()
            .filter(|id| self.graph.get(id).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() && !self.options.forget_unknown {
            // Stamping would delete what a newer release recorded: say so instead.
            return Err(RunError::Ahead(unknown));
        }
        db.begin_locked(&self.options).await?;
        let mut report = RunReport::default();
        for id in applied.difference(&wanted) {
            if let Err(e) = db.run(&[], id, None).await {
                db.rollback().await?;
                return Err(RunError::Database(e.message));
            }
        }
        for rev in self.graph.in_order(&wanted) {
            if !applied.contains(rev.id()) {
                let content = rev.content_checksum();
                let record = Recorded::of(rev, &content);
                if let Err(e) = db.run(&[], rev.id(), Some(record)).await {
                    db.rollback().await?;
                    return Err(RunError::Database(e.message));
                }
                report.revisions.push(rev.id().to_string());
            }
        }
        db.commit().await?;
        Ok(report)
    }
}

/// A failed revision's error, or, when the connection is gone, one that says where the
/// database may be: this run's earlier commits did not wait for the disk (only a run's
/// last commit does), so a server crash can take the database back past them.
fn lost_or<B: Backend>(
    db: &B,
    e: RunError,
    revision: &str,
    committed: Option<&String>,
) -> RunError {
    let RunError::Statement { message, .. } = &e else {
        return e;
    };
    if !db.connection_lost() {
        return e;
    }
    let whereabouts = match committed {
        Some(last) => format!(
            "this run's earlier commits, up to {last}, did not wait for the disk, so if the \
             server crashed the database is anywhere from where this run started to {last}"
        ),
        None => format!(
            "the database is where this run started, or past {revision} if its commit \
             reached the server"
        ),
    };
    RunError::ConnectionLost {
        revision: revision.to_string(),
        message: message.clone(),
        whereabouts,
    }
}

/// The revisions `rev` follows: its parents and what it depends on.
fn parents(rev: &Revision) -> Vec<&str> {
    rev.file
        .down_revisions
        .iter()
        .chain(&rev.file.depends_on)
        .map(String::as_str)
        .collect()
}

/// Releases the run lock whatever the run's outcome; the run's own error comes first.
async fn finish<B: Backend>(
    db: &mut B,
    result: Result<RunReport, RunError>,
) -> Result<RunReport, RunError> {
    let unlocked = db.unlock_run().await;
    let report = result?;
    unlocked?;
    Ok(report)
}

fn breaking_list(ids: &[String]) -> String {
    match ids {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(", ")),
    }
}

/// Whether the history records exactly the `expected` revisions (id, checksum), each
/// complete and, unless `allow_edited`, with that checksum: the one decision of "at head"
/// that skips reading any migration (the embedded runner and the CLI both ask it).
pub fn history_matches<'e>(
    applied: &[AppliedRevision],
    expected: impl IntoIterator<Item = (&'e str, &'e str)>,
    allow_edited: bool,
) -> bool {
    let recorded: std::collections::HashMap<&str, &AppliedRevision> =
        applied.iter().map(|a| (a.revision.as_str(), a)).collect();
    let mut n = 0;
    let all = expected.into_iter().all(|(id, checksum)| {
        n += 1;
        recorded.get(id).is_some_and(|a| {
            a.progress == Progress::Complete && (a.checksum == checksum || allow_edited)
        })
    });
    all && n == applied.len() && n > 0
}

/// The statements of an operation that ran before the failing one.
fn ran_before(steps: &[Step], e: &StatementError) -> Vec<String> {
    steps
        .iter()
        .filter_map(Step::as_sql)
        .take_while(|s| Some(*s) != e.statement.as_deref())
        .map(str::to_string)
        .collect()
}

/// Each revision's upgrade rendered operation by operation (for DDL that commits itself),
/// validated before anything runs.
fn render_by_operation<'r>(
    dialect: Dialect,
    state: &mut Schema,
    revisions: impl Iterator<Item = &'r Revision>,
) -> Result<Vec<schema_core::plan::RenderedRevision<'r>>, RunError> {
    render_revisions_by_operation(dialect, state, revisions, true).map_err(|e| RunError::Replay {
        revision: e.revision.clone(),
        message: e.to_string(),
    })
}

/// [`render_revisions`] for the runner: a revision that cannot apply stops the run
/// before its first statement.
fn render_plan<'r>(
    dialect: Dialect,
    mut state: Schema,
    revisions: impl Iterator<Item = &'r Revision>,
    up: bool,
) -> Result<Vec<(&'r Revision, Vec<Step>)>, RunError> {
    render_revisions(dialect, &mut state, revisions, up).map_err(|e| RunError::Replay {
        revision: e.revision.clone(),
        message: e.to_string(),
    })
}

fn short(checksum: &str) -> String {
    checksum.chars().take(12).collect()
}

/// Creates every table of `schema` in one transaction (dependency order; cycles closed
/// with ALTER TABLE where the dialect needs it). The fast way to prepare a test database.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use schema::Table;
///
/// #[derive(Table)]
/// #[table(name = "notes")]
/// pub struct Note {
///     #[column(primary_key)]
///     pub id: i64,
///     pub body: String,
/// }
/// schema::models!(fn models = [Note]);
///
/// let mut conn = rusqlite::Connection::open_in_memory().unwrap();
/// let mut db = schema::sqlite::SqliteBackend::new(&mut conn);
/// schema::embed::block_on(schema::create_all(&mut db, &models())).unwrap();
/// drop(db);
/// let live = schema::sqlite::introspect(&conn).unwrap();
/// assert!(live.tables.contains_key("notes"));
/// # }
/// ```
pub async fn create_all<B: Backend>(db: &mut B, schema: &Schema) -> Result<(), RunError> {
    let statements = db.dialect().create_all(schema);
    db.execute_all(&statements).await
}

/// Drops every table of `schema` (dependents first) and the history table.
pub async fn drop_all<B: Backend>(db: &mut B, schema: &Schema) -> Result<(), RunError> {
    let statements = db.dialect().drop_tables(schema, &[HISTORY_TABLE]);
    db.execute_all(&statements).await
}
