//! `cargo xtask`: this repository's tasks. Dispatch only; one module per task.

mod adapters_bench;
mod bench;
mod ci;
mod demo;
mod fleet_bench;
mod test;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>
  test [--use-migrations] [--db sqlite|postgres|mysql|all]   run every test (throwaway PostgreSQL and MariaDB servers are started)
  ci                                                  what .ci/run runs: fmt, clippy, every test both ways
  demo                                                the main job: change a blog model, revision, upgrade on SQLite
  bench [--quick] [--fleet] [--adapters]              benchmarks (see README); --fleet: only the fleet rows; --adapters: only schema-sqlx against sqlx's migrator";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("ci") => ci::run(),
        Some("demo") => demo::run(),
        Some("bench") => bench::run_bench(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
