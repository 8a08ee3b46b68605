//! What payments and payouts share: a lost reply still moves the money, lookups lag
//! behind creation, and a key past its horizon is forgotten.

use super::*;

/// One kind of order, as these tests drive it.
struct Kind {
    /// The key its requests are made under.
    key: &'static str,
    create: fn(&str) -> http::Request<Vec<u8>>,
    /// Where its status is looked up.
    path: &'static str,
    /// How many the books hold.
    count: fn(&Psp) -> usize,
}

fn kinds() -> [Kind; 2] {
    [
        Kind {
            key: "d:1",
            create: |key| create(key, "tok_success", 100),
            path: "/v1/payments",
            count: |psp| psp.payments().len(),
        },
        Kind {
            key: "po:1",
            create: |key| payout(key, "ba_success", 100),
            path: "/v1/payouts",
            count: |psp| psp.payouts().len(),
        },
    ]
}

/// Each kind with a JSON PSP of its own with these knobs, its dice seeded by `seeds`.
fn each_kind(seeds: [u64; 2], knobs: fn(&mut Behaviour)) -> impl Iterator<Item = (Kind, TestPsp)> {
    let psps = seeds.map(|seed| TestPsp::new(seed, Format::Json, knobs));
    kinds().into_iter().zip(psps)
}

#[test]
fn a_lost_reply_still_moves_the_money() {
    for (kind, mut psp) in each_kind([6, 33], |knobs| knobs.lost_reply_rate = 1.0) {
        let (ticket, ready) = working(psp.arrive(&(kind.create)(kind.key), T0));
        assert!(psp.finish(ticket, ready).lost, "{}", kind.path);
        assert_eq!(psp.charges(kind.key), 1, "{}", kind.path);
        let lookup = get(&format!("{}?idempotency_key={}", kind.path, kind.key));
        let (status, _) = psp.call(&lookup, T0 + 1);
        assert_eq!(status, 200, "{}: lookups are never lost", kind.path);
    }
}

#[test]
fn lookups_lag_behind_creation_and_a_forgotten_key_moves_money_again() {
    let lagging_and_forgetful = |knobs: &mut Behaviour| {
        knobs.lookup_lag_ms = 500;
        knobs.key_horizon_ms = 1_000;
    };
    for (kind, mut psp) in each_kind([7, 34], lagging_and_forgetful) {
        let request = (kind.create)(kind.key);
        let (_, first) = psp.call(&request, T0);
        let id = json_of(&first)["id"].as_str().unwrap().to_owned();
        for uri in [
            format!("{}/{id}", kind.path),
            format!("{}?idempotency_key={}", kind.path, kind.key),
        ] {
            assert_eq!(psp.call(&get(&uri), T0 + 499).0, 404, "{uri}");
            assert_eq!(psp.call(&get(&uri), T0 + 500).0, 200, "{uri}");
        }
        let (_, replay) = psp.call(&request, T0 + 999);
        assert_eq!(first, replay, "{}: replayed within the horizon", kind.path);
        let (_, second) = psp.call(&request, T0 + 1_000);
        assert_ne!(
            json_of(&first)["id"],
            json_of(&second)["id"],
            "{}",
            kind.path
        );
        assert_eq!(psp.charges(kind.key), 2, "{}", kind.path);
        assert_eq!((kind.count)(&psp), 2, "{}", kind.path);
    }
}
