//! The tables of the sqlx history imported from mig.
//! These structs are the source of truth from now on: edit them, then `cargo schema revision`.

use schema::Table;

#[derive(Debug, Clone, Table)]
#[table(name = "posts")]
#[table(primary_key(name = "pk_posts", columns("id")))]
#[table(foreign_key(name = "fk_posts_user_id", columns("user_id"), ref_table = "users", ref_columns("id"), on_delete = "cascade", on_update = "no action"))]
#[table(index(name = "ix_posts_user", columns("user_id")))]
pub struct Posts {
    #[column(auto_increment)]
    pub id: i32,
    pub user_id: i32,
    pub headline: String,
}

#[derive(Debug, Clone, Table)]
#[table(name = "users")]
#[table(primary_key(name = "pk_users", columns("id")))]
#[table(unique(name = "uq_users_email", columns("email")))]
#[table(check(name = "ck_users_karma", expr = "karma >= 0"))]
pub struct Users {
    #[column(auto_increment)]
    pub id: i32,
    #[column(max_length = 255)]
    pub email: String,
    #[column(default = "0")]
    pub karma: i32,
}

#[derive(schema::View)]
#[view(name = "recent", sql = "SELECT id, title FROM posts")]
pub struct Recent;
