use schema::Table;

#[derive(Table)]
#[table(name = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
}

#[derive(Table)]
pub struct Post {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "authors.id")]
    pub author_id: i64,
    #[column(references = "users.uuid")]
    pub editor_id: i64,
}

fn main() {}
