//! Property tests of the Rules API's sans-IO parts: batches keep both limits and cover every
//! rule once, in order; a sync plan applied to the current list gives exactly the wanted set;
//! values with quotes, backslashes, control characters, emoji and other non-ASCII text
//! round-trip byte-exact through request bodies, `list`'s NDJSON and rule files.

use std::collections::BTreeSet;

use gnip_stream::unversioned::protocol::rules::{
    MAX_BODY_BYTES, MAX_RULES_PER_REQUEST, Rule, batches, parse_rules_file, rule_batches,
    rules_body, sync_plan,
};
use proptest::prelude::*;

/// Text that stresses JSON escaping: quotes, backslashes, control characters, emoji, CJK.
fn tricky() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\u{0}".to_owned()),
            Just("\u{1f}".to_owned()),
            Just("\n".to_owned()),
            Just("🤖".to_owned()),
            Just("中文".to_owned()),
            Just("é".to_owned()),
            "[a-zA-Z0-9 :#@()-]{1,8}",
        ],
        1..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn batches_keep_both_limits_and_cover_every_item_once(
        sizes in proptest::collection::vec(1usize..60, 0..300),
        overhead in 2usize..20,
        max_items in 1usize..40,
        extra in 60usize..400,
    ) {
        let max_bytes = overhead + extra;
        let got = batches(&sizes, overhead, max_items, max_bytes).unwrap();
        let mut next = 0;
        for r in &got {
            prop_assert_eq!(r.start, next, "consecutive, in order");
            prop_assert!(!r.is_empty());
            prop_assert!(r.len() <= max_items);
            let body = overhead + sizes[r.clone()].iter().sum::<usize>() + r.len() - 1;
            prop_assert!(body <= max_bytes, "{} > {}", body, max_bytes);
            next = r.end;
        }
        prop_assert_eq!(next, sizes.len(), "every item once");
    }

    #[test]
    fn real_rule_batches_fit_the_service_limits(
        n in 0usize..12_000,
        len in 1usize..1500,
    ) {
        let value = "x".repeat(len);
        let rules: Vec<Rule> = (0..n).map(|i| Rule::new(&format!("{i}{value}"), Some("t"))).collect();
        let got = rule_batches(&rules).unwrap();
        let mut covered = 0;
        for r in &got {
            prop_assert!(r.len() <= MAX_RULES_PER_REQUEST);
            prop_assert!(rules_body(&rules[r.clone()]).len() <= MAX_BODY_BYTES);
            covered += r.len();
        }
        prop_assert_eq!(covered, n);
    }

    #[test]
    fn a_sync_plan_applied_gives_exactly_the_wanted_set(
        current in proptest::collection::btree_map("[a-e]{1,2}", proptest::option::of("[xy]"), 0..12),
        wanted in proptest::collection::btree_map("[a-e]{1,2}", proptest::option::of("[xy]"), 0..12),
    ) {
        let current: Vec<Rule> = current
            .iter()
            .enumerate()
            .map(|(i, (v, t))| Rule { value: v.clone(), tag: t.clone(), id: Some(1 << 60 | i as u64) })
            .collect();
        let wanted: Vec<Rule> = wanted.iter().map(|(v, t)| Rule::new(v, t.as_deref())).collect();
        let plan = sync_plan(&current, &wanted);
        let after: BTreeSet<(String, Option<String>)> =
            plan.apply_to(&current).into_iter().map(|r| (r.value, r.tag)).collect();
        let want: BTreeSet<(String, Option<String>)> =
            wanted.iter().map(|r| (r.value.clone(), r.tag.clone())).collect();
        prop_assert_eq!(after, want);
        // Nothing a sync keeps is ever deleted, and nothing is added that is already there.
        let kept: BTreeSet<&str> = plan.delete.iter().map(|r| r.value.as_str()).collect();
        prop_assert!(wanted.iter().all(|w| !kept.contains(w.value.as_str())));
        prop_assert!(sync_plan(&plan.apply_to(&current), &wanted).is_empty(), "a second sync does nothing");
    }

    #[test]
    fn tricky_values_round_trip_byte_exact(value in tricky(), tag in proptest::option::of(tricky())) {
        let rule = Rule { value: value.clone(), tag: tag.clone(), id: Some(u64::MAX - 7) };
        // The request body, as the service reads it.
        let body: serde_json::Value = serde_json::from_slice(&rules_body(std::slice::from_ref(&rule))).unwrap();
        prop_assert_eq!(body["rules"][0]["value"].as_str(), Some(value.as_str()));
        prop_assert_eq!(body["rules"][0]["tag"].as_str(), tag.as_deref());
        // `list`'s NDJSON read back as a rules file: same value and tag; the id is ignored.
        let line = rule.to_ndjson();
        prop_assert!(!line.contains('\n'), "one line");
        prop_assert!(line.contains(&format!("\"id\":{}", u64::MAX - 7)), "exact digits");
        let back = parse_rules_file(format!("{line}\n").as_bytes()).unwrap();
        prop_assert_eq!(back, vec![Rule::new(&value, tag.as_deref())]);
    }
}
