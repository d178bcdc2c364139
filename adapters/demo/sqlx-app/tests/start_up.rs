//! The sqlx application migrates itself at start-up: two instances at once, on
//! PostgreSQL, SQLite and MariaDB.

#[path = "../../tests-common/start_up.rs"]
mod start_up;

use schema::testing::{fresh_mysql_database, fresh_postgres_database};

const APP: &str = env!("CARGO_BIN_EXE_sqlx-app");

fn fresh<F: std::future::Future<Output = Result<String, String>>>(f: F) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(f).unwrap()
}

#[test]
fn postgres_two_instances_at_once() {
    start_up::check_two_instances(APP, &fresh(fresh_postgres_database("sqlx_app")));
}

#[test]
fn sqlite_two_instances_at_once() {
    let path = start_up::sqlite_file("sqlx-app", "app.db");
    start_up::check_two_instances(APP, &format!("sqlite://{path}"));
}

#[test]
fn mysql_two_instances_at_once() {
    start_up::check_two_instances(APP, &fresh(fresh_mysql_database("sqlx_app")));
}
