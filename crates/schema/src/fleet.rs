//! Many databases at once, for applications that host tenants: the embedded migrations
//! applied to each tenant's connection with the same options, a bounded number at a time,
//! one report per tenant; one tenant's failure does not stop the others.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::embed::{EmbeddedMigrations, MigrationTarget};
use crate::runner::{RunError, RunOptions, RunReport};

/// What happened on one tenant's database.
#[derive(Debug)]
pub struct TenantReport<K> {
    /// The key the tenant was given with (a name, an id, a URL without its password).
    pub tenant: K,
    /// The revisions applied (none: it was at head), or why it failed.
    pub result: Result<RunReport, RunError>,
    pub elapsed: Duration,
}

/// Every tenant's report, in the order the tenants were given.
#[derive(Debug)]
pub struct FleetReport<K> {
    pub tenants: Vec<TenantReport<K>>,
}

impl<K> FleetReport<K> {
    /// The tenants that failed, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = &TenantReport<K>> {
        self.tenants.iter().filter(|t| t.result.is_err())
    }

    /// How many were upgraded (at least one revision applied).
    pub fn upgraded(&self) -> usize {
        self.tenants
            .iter()
            .filter(|t| t.result.as_ref().is_ok_and(|r| !r.revisions.is_empty()))
            .count()
    }

    /// How many were at head already.
    pub fn at_head(&self) -> usize {
        self.tenants
            .iter()
            .filter(|t| t.result.as_ref().is_ok_and(|r| r.revisions.is_empty()))
            .count()
    }
}

type Running<'a, K> = Pin<Box<dyn Future<Output = (usize, TenantReport<K>)> + 'a>>;

/// Applies `migrations` to every tenant's connection with `options`, up to `parallel` at
/// once on the caller's task (the connections are driven as usual: a
/// `tokio_postgres::Client`'s connection by the task it was spawned on). A tenant at head
/// costs one query. SQLite connections are synchronous underneath, so they run one after
/// another here; give each its own thread, or migrate each file when it is opened
/// ([`EmbeddedMigrations::upgrade_sqlite`]).
///
/// ```no_run
/// # async fn run<C: schema::embed::MigrationTarget>(
/// #     migrations: schema::EmbeddedMigrations,
/// #     tenants: Vec<(String, C)>,
/// # ) {
/// let report =
///     schema::fleet::upgrade_all(&migrations, tenants, &schema::RunOptions::default(), 8).await;
/// for t in report.failed() {
///     eprintln!("{}: {}", t.tenant, t.result.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
/// }
/// # }
/// ```
pub async fn upgrade_all<K, C: MigrationTarget>(
    migrations: &EmbeddedMigrations,
    tenants: impl IntoIterator<Item = (K, C)>,
    options: &RunOptions,
    parallel: usize,
) -> FleetReport<K> {
    let mut waiting = tenants.into_iter().enumerate();
    let mut running: Vec<Running<'_, K>> = Vec::new();
    let mut done: Vec<(usize, TenantReport<K>)> = Vec::new();
    loop {
        while running.len() < parallel.max(1) {
            let Some((i, (tenant, mut conn))) = waiting.next() else {
                break;
            };
            running.push(Box::pin(async move {
                let started = Instant::now();
                let result = conn.upgrade_embedded_with(migrations, options).await;
                (
                    i,
                    TenantReport {
                        tenant,
                        result,
                        elapsed: started.elapsed(),
                    },
                )
            }));
        }
        if running.is_empty() {
            break;
        }
        // Whichever finishes first makes room for the next tenant.
        let (j, report) = std::future::poll_fn(|cx| {
            for (j, f) in running.iter_mut().enumerate() {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    return Poll::Ready((j, r));
                }
            }
            Poll::Pending
        })
        .await;
        drop(running.swap_remove(j));
        done.push(report);
    }
    done.sort_by_key(|(i, _)| *i);
    FleetReport {
        tenants: done.into_iter().map(|(_, r)| r).collect(),
    }
}
