use schema::Table;

#[derive(Table)]
#[table(name = "users", schema = "public")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
}

fn main() {}
