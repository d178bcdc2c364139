use schema::core::SqlType;
use schema::{Enum, EnumType, Table};

#[derive(Debug, Clone, Copy, PartialEq, Enum)]
#[enum_type(name = "channel_role", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Owner,
    #[enum_value(name = "viewer", renamed_from = "guest")]
    ReadOnly,
    BotAccount,
}

#[derive(Table)]
#[table(name = "members")]
pub struct Member {
    #[column(primary_key, identity)]
    pub id: i64,
    #[column(default = "'viewer'")]
    pub role: Role,
    pub previous_role: Option<Role>,
}

fn main() {
    assert_eq!(Role::VALUES, ["OWNER", "viewer", "BOT_ACCOUNT"]);
    assert_eq!(Role::BotAccount.as_value(), "BOT_ACCOUNT");
    assert_eq!(Role::from_value("viewer"), Some(Role::ReadOnly));
    assert_eq!(Role::from_value("guest"), None);
    let t = Member::table_def();
    let role = SqlType::Enum {
        name: "channel_role".into(),
        values: vec!["OWNER".into(), "viewer".into(), "BOT_ACCOUNT".into()],
    };
    assert_eq!(t.columns[1].ty, role);
    assert!(!t.columns[1].nullable);
    assert_eq!(t.columns[2].ty, role);
    assert!(t.columns[2].nullable);
    // The schema of the models carries the type, once.
    schema::models!(fn models = [Member]);
    let s = models();
    assert_eq!(s.enums["channel_role"].values.len(), 3);
}
