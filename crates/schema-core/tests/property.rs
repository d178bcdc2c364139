//! Property test: random sequences of model states, each turned into a revision by
//! autogenerate; replaying the upgrades reaches exactly the last state, and replaying the
//! downgrades walks back through every earlier state. Also: every written revision parses
//! back to the same operations.

mod common;

use common::*;
use schema_core::file::{self, RevisionFile};
use schema_core::model::*;
use schema_core::replay::replay;
use schema_core::{autogenerate, Schema, SqlType};

/// xorshift64*: deterministic, so a failure names a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

const TYPES: &[SqlType] = &[
    SqlType::Integer,
    SqlType::BigInt,
    SqlType::Text,
    SqlType::Boolean,
    SqlType::Varchar(40),
];
const TABLES: &[&str] = &["users", "posts", "tags", "orders", "items", "select"];
const COLUMNS: &[&str] = &["a", "b", "c", "name", "order", "value"];

fn random_table(rng: &mut Rng, name: &str, others: &[String]) -> TableDef {
    let mut t = id_table(name, vec![]);
    for c in COLUMNS {
        if rng.chance(50) {
            let mut col = if rng.chance(30) {
                nullable(c, TYPES[rng.below(TYPES.len())].clone())
            } else {
                col(c, TYPES[rng.below(TYPES.len())].clone())
            };
            if rng.chance(20) {
                col.default = Some(match col.ty {
                    SqlType::Boolean => "false".into(),
                    SqlType::Text | SqlType::Varchar(_) => "'x'".into(),
                    _ => "0".into(),
                });
            }
            t.columns.push(col);
        }
    }
    let cols: Vec<String> = t.columns.iter().skip(1).map(|c| c.name.clone()).collect();
    if let Some(c) = cols.first() {
        if rng.chance(40) {
            t.indexes.push(IndexDef {
                name: format!("ix_{name}_{c}"),
                columns: vec![c.clone()],
                unique: rng.chance(30),
                concurrently: false,
                ..Default::default()
            });
        }
    }
    if let Some(c) = cols.last() {
        if rng.chance(30) {
            t.uniques.push(UniqueDef {
                name: format!("uq_{name}_{c}"),
                columns: vec![c.clone()],
            });
        }
    }
    if rng.chance(20) {
        t.checks.push(CheckDef {
            name: format!("ck_{name}_id"),
            expr: "id > 0".into(),
        });
    }
    if let Some(target) = others.get(rng.below(others.len().max(1))) {
        if rng.chance(40) && target != name {
            t.columns.push(nullable("ref_id", SqlType::BigInt));
            t.foreign_keys.push(fk(name, "ref_id", target));
        }
    }
    t
}

fn random_schema(rng: &mut Rng, prev: &Schema) -> Schema {
    let mut names: Vec<String> = TABLES
        .iter()
        .filter(|_| rng.chance(60))
        .map(|s| s.to_string())
        .collect();
    names.sort();
    let mut tables = Vec::new();
    for n in &names {
        // Often keep a table as it was, so that small changes dominate.
        match prev.tables.get(n) {
            Some(t) if rng.chance(50) => {
                let mut t = t.clone();
                t.foreign_keys.retain(|f| names.contains(&f.ref_table));
                if t.foreign_keys.is_empty() {
                    t.columns.retain(|c| c.name != "ref_id");
                }
                tables.push(t)
            }
            _ => tables.push(random_table(rng, n, &names)),
        }
    }
    Schema::from_tables(tables)
}

#[test]
fn random_histories_replay_forward_and_back() {
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut states = vec![Schema::new()];
        let mut revisions = Vec::new();
        for step in 0..8 {
            let next = random_schema(&mut rng, states.last().expect("a state"));
            let diff = autogenerate(states.last().expect("a state"), &next);
            // The revision goes through its file form, as it would on disk.
            let rev = RevisionFile {
                revision: format!("{step:04}"),
                message: "step".into(),
                upgrade: diff.upgrade,
                downgrade: diff.downgrade,
                ..Default::default()
            };
            let text = file::write(&rev, &[]);
            let parsed = file::parse(&text, "x.toml".as_ref())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            assert_eq!(
                parsed, rev,
                "seed {seed}: the file parses back to the same revision"
            );
            revisions.push(parsed);
            states.push(next);
        }
        let mut s = Schema::new();
        for r in &revisions {
            replay(&mut s, &r.upgrade)
                .unwrap_or_else(|e| panic!("seed {seed} upgrade {}: {e}", r.revision));
        }
        assert_eq!(
            s.canonical(),
            states.last().expect("a state").canonical(),
            "seed {seed}: upgrades reach the last state"
        );
        for (i, r) in revisions.iter().enumerate().rev() {
            replay(&mut s, &r.downgrade)
                .unwrap_or_else(|e| panic!("seed {seed} downgrade {}: {e}", r.revision));
            assert_eq!(
                s.canonical(),
                states[i].canonical(),
                "seed {seed}: downgrade of {} restores state {i}",
                r.revision
            );
        }
    }
}
