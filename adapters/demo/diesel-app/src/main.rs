//! A diesel application: at start-up it migrates its database through `schema-diesel`
//! (blocking, no other driver in its build), then inserts a note with `Insertable` and
//! reads every note back with `Queryable`/`Selectable` on the `#[derive(Table)]` struct.
//!
//! `diesel-app URL TITLE` prints `applied N` (revisions this start applied) and `notes M`.

use demo_models::{dsl::notes, NewNote, Note};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

schema::include_migrations!();

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(title)) = (args.next(), args.next()) else {
        eprintln!("usage: diesel-app URL TITLE");
        std::process::exit(2);
    };
    if let Err(e) = run(&url, &title) {
        eprintln!("diesel-app: {e}");
        std::process::exit(1);
    }
}

/// Start-up on one connection type: migrate, add a note, read every note back.
macro_rules! start {
    ($conn:expr, $title:expr) => {{
        let mut conn = $conn;
        let report = schema_diesel::upgrade(&mut conn, &MIGRATIONS)?;
        println!("applied {}", report.revisions.len());
        let new = NewNote {
            title: $title,
            body: None,
        };
        diesel::insert_into(notes::table)
            .values(&new)
            .execute(&mut conn)?;
        notes::table
            .select(Note::as_select())
            .order(notes::id)
            .load(&mut conn)?
    }};
}

fn run(url: &str, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let all: Vec<Note> = if url.starts_with("postgres") {
        start!(PgConnection::establish(url)?, title)
    } else {
        let mut conn = SqliteConnection::establish(url.trim_start_matches("sqlite://"))?;
        // Two instances at once: wait for the other's write lock rather than fail.
        conn.batch_execute("PRAGMA busy_timeout = 60000")?;
        start!(conn, title)
    };
    println!("notes {}", all.len());
    Ok(())
}
