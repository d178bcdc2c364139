use schema::Table;

#[derive(Table)]
pub struct Pair {
    #[column(primary_key)]
    pub a: i64,
    #[column(primary_key)]
    pub b: i64,
}

#[derive(Table)]
#[table(primary_key(columns("a", "c")))]
pub struct Both {
    #[column(primary_key)]
    pub a: i64,
    pub b: i64,
}

fn main() {}
