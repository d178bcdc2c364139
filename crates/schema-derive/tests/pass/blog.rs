use schema::core::{ReferentialAction, SqlType};
use schema::Table;

#[derive(Table)]
#[table(name = "users")]
#[table(index(name = "ix_users_name", columns("last_name", "first_name")))]
#[table(check(name = "ck_users_karma", expr = "karma >= 0"))]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 255, unique)]
    pub email: String,
    pub last_name: String,
    pub first_name: Option<String>,
    #[column(default = "0")]
    pub karma: i32,
    #[column(sql_type = "jsonb", sqlite_type = "text")]
    pub prefs: String,
    #[column(renamed_from = "fullname")]
    pub display_name: String,
    #[column(name = "type")]
    pub kind: String,
    pub r#ref: i16,
    #[column(skip)]
    pub cached: Vec<String>,
}

#[derive(Table)]
pub struct BlogPost {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "set null", index)]
    pub author_id: Option<i64>,
}

#[derive(Table)]
pub struct Document {
    #[column(primary_key)]
    pub id: i64,
    #[column(sql_type(postgres = "jsonb", sqlite = "text", mysql = "json"))]
    pub body: String,
}

schema::models!(fn models = [User, BlogPost]);

fn main() {
    let t = User::table_def();
    assert_eq!(User::TABLE_NAME, "users");
    assert_eq!(t.columns.len(), 9);
    assert!(t.columns[0].auto_increment);
    assert_eq!(t.columns[1].ty, SqlType::Varchar(255));
    assert!(t.columns[3].nullable);
    assert_eq!(t.columns[5].ty, SqlType::parse("jsonb", Some("text")));
    assert_eq!(t.columns[5].ty.spelling_for("sqlite"), Some("text"));
    assert_eq!(t.columns[6].renamed_from.as_deref(), Some("fullname"));
    assert_eq!(t.columns[7].name, "type");
    assert_eq!(t.columns[8].name, "ref");
    assert_eq!(t.uniques[0].name, "uq_users_email");
    assert_eq!(t.indexes[0].name, "ix_users_name");
    let p = BlogPost::table_def();
    assert_eq!(p.name, "blog_post");
    assert_eq!(p.foreign_keys[0].name, "fk_blog_post_author_id_users");
    assert_eq!(p.foreign_keys[0].on_delete, ReferentialAction::SetNull);
    let d = Document::table_def();
    assert_eq!(d.columns[1].ty.to_string(), "jsonb");
    assert_eq!(d.columns[1].ty.spelling_for("sqlite"), Some("text"));
    assert_eq!(d.columns[1].ty.spelling_for("mysql"), Some("json"));
    assert_eq!(schema::core::Dialect::Mysql.type_sql(&d.columns[1].ty), "json");
    let s = models();
    assert_eq!(s.tables.len(), 2);
    assert!(s.tables["users"].columns[6].renamed_from.is_none(), "models() is what a database has");
}
