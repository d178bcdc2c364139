//! A sqlx application: at start-up it migrates its database through `schema-sqlx` (no
//! other driver in its build), then adds a note and reads every note back with
//! `sqlx::FromRow` on the `#[derive(Table)]` struct.
//!
//! `sqlx-app URL TITLE` prints `applied N` (revisions this start applied) and `notes M`.

use demo_models::Note;

schema::include_migrations!();

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(title)) = (args.next(), args.next()) else {
        eprintln!("usage: sqlx-app URL TITLE");
        std::process::exit(2);
    };
    if let Err(e) = run(&url, &title).await {
        eprintln!("sqlx-app: {e}");
        std::process::exit(1);
    }
}

/// Start-up on one pool type: migrate, add a note, read every note back.
macro_rules! start {
    ($pool:expr, $insert:literal, $title:expr) => {{
        let pool = $pool;
        let report = schema_sqlx::upgrade_pool(&pool, &MIGRATIONS).await?;
        println!("applied {}", report.revisions.len());
        sqlx::query($insert).bind($title).execute(&pool).await?;
        sqlx::query_as::<_, Note>("SELECT * FROM notes ORDER BY id")
            .fetch_all(&pool)
            .await?
    }};
}

async fn run(url: &str, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let notes = if url.starts_with("postgres") {
        start!(
            sqlx::PgPool::connect(url).await?,
            "INSERT INTO notes (title, stars) VALUES ($1, 1)",
            title
        )
    } else if url.starts_with("mysql") {
        start!(
            sqlx::MySqlPool::connect(url).await?,
            "INSERT INTO notes (title, stars) VALUES (?, 1)",
            title
        )
    } else {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()?
            .create_if_missing(true);
        start!(
            sqlx::SqlitePool::connect_with(options).await?,
            "INSERT INTO notes (title, stars) VALUES (?, 1)",
            title
        )
    };
    println!("notes {}", notes.len());
    Ok(())
}
