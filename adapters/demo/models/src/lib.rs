//! The demo applications' models: `#[derive(Table)]` on the same structs as
//! `sqlx::FromRow` and diesel's `Queryable`/`Selectable`/`Insertable`.

use schema::Table;

/// diesel's view of the tables (what `diesel print-schema` would write).
pub mod dsl {
    diesel::table! {
        notes (id) {
            id -> BigInt,
            title -> Varchar,
            body -> Nullable<Text>,
            stars -> Integer,
            pinned -> Bool,
        }
    }
}

#[derive(Table, sqlx::FromRow, diesel::Queryable, diesel::Selectable, Debug, Clone, PartialEq)]
#[diesel(table_name = dsl::notes)]
#[table(name = "notes")]
#[table(index(columns("stars")))]
pub struct Note {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 200)]
    pub title: String,
    pub body: Option<String>,
    #[column(default = "0")]
    pub stars: i32,
    #[column(default = "false")]
    pub pinned: bool,
}

/// A new note, as diesel inserts it (the database numbers it).
#[derive(diesel::Insertable)]
#[diesel(table_name = dsl::notes)]
pub struct NewNote<'a> {
    pub title: &'a str,
    pub body: Option<&'a str>,
}

schema::models!(pub fn models = [Note]);
