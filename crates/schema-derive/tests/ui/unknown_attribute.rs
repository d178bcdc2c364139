use schema::Table;

#[derive(Table)]
#[table(nme = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_lenght = 10)]
    pub email: String,
    #[column(references = "users.id", on_delete = "explode")]
    pub boss_id: i64,
}

fn main() {}
