//! Judging a request whose idempotency key is already claimed (DESIGN §5): same key and
//! body → the first response again; different body → mismatch; first request still
//! running → in flight; first request died (lease expired) → a retry may take over.

use paygate_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyPolicy, IdempotencyRecord, IdempotencyState, Verdict,
    judge,
};
use paygate_domain::ids::MerchantId;
use paygate_kit::streams::*;
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const OWNER: Uuid = Uuid::from_u128(0x0A);

fn body() -> Fingerprint {
    Fingerprint::of(
        "create_deposit",
        br#"{"amount":10099,"currency":"AED","country":"AE","customer_id":"cus_42"}"#,
    )
}

fn other_body() -> Fingerprint {
    Fingerprint::of(
        "create_deposit",
        br#"{"amount":99,"currency":"AED","country":"AE","customer_id":"cus_42"}"#,
    )
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(Some(text)).unwrap()
}

/// A record claimed for `body()` in `state`.
fn record(state: IdempotencyState) -> IdempotencyRecord {
    let policy = IdempotencyPolicy::default();
    IdempotencyRecord {
        merchant_id: merchant(),
        key: key("order-A-1"),
        fingerprint: body(),
        deposit_id: DEPOSIT,
        state,
        response: Stream::requested(10_099).deposit.view(),
        refund: None,
        created_at: NOW,
        expires_at: NOW + policy.retention,
    }
}

fn in_flight_until(lease_until: OffsetDateTime) -> IdempotencyState {
    IdempotencyState::InFlight {
        owner: OWNER,
        lease_until,
    }
}

#[test]
fn the_same_request_after_completion_replays_the_first_response() {
    let stored = record(IdempotencyState::Completed);

    let verdict = judge(&stored, &body(), NOW + Duration::hours(1));

    assert_eq!(verdict, Verdict::Replay(stored.response.clone()));
}

#[test]
fn a_different_request_under_the_same_key_is_a_mismatch() {
    for state in [
        IdempotencyState::Completed,
        in_flight_until(NOW + Duration::seconds(30)),
        in_flight_until(NOW - Duration::seconds(30)),
    ] {
        let stored = record(state.clone());
        assert_eq!(
            judge(&stored, &other_body(), NOW),
            Verdict::Mismatch,
            "{state:?}"
        );
    }
}

#[test]
fn the_same_body_on_another_endpoint_is_a_mismatch() {
    let stored = record(IdempotencyState::Completed);
    let same_bytes_elsewhere = Fingerprint::of(
        "create_refund",
        br#"{"amount":10099,"currency":"AED","country":"AE","customer_id":"cus_42"}"#,
    );

    assert_eq!(
        judge(&stored, &same_bytes_elsewhere, NOW),
        Verdict::Mismatch
    );
}

#[test]
fn the_same_request_while_the_lease_is_live_is_in_flight() {
    let stored = record(in_flight_until(NOW + Duration::seconds(30)));

    assert_eq!(judge(&stored, &body(), NOW), Verdict::InFlight);
    assert_eq!(
        judge(&stored, &body(), NOW + Duration::seconds(29)),
        Verdict::InFlight
    );
}

#[test]
fn the_same_request_after_the_lease_expired_may_take_over() {
    let lease_until = NOW + Duration::seconds(30);
    let stored = record(in_flight_until(lease_until));

    // the lease ends at `lease_until` itself
    assert_eq!(
        judge(&stored, &body(), lease_until),
        Verdict::Abandoned { owner: OWNER }
    );
    assert_eq!(
        judge(&stored, &body(), lease_until + Duration::hours(1)),
        Verdict::Abandoned { owner: OWNER }
    );
}

#[test]
fn the_default_policy_keeps_keys_beyond_a_day_and_leases_them_briefly() {
    let policy = IdempotencyPolicy::default();

    assert!(policy.retention >= Duration::hours(24));
    assert!(policy.lease > Duration::ZERO && policy.lease < policy.retention);
}

#[test]
fn keys_are_scoped_per_merchant() {
    let k = key("order-A-1");

    let ours = IdempotencyRecord::storage_key(&merchant(), &k);
    let theirs = IdempotencyRecord::storage_key(&MerchantId("m_other".into()), &k);

    assert_ne!(ours, theirs);
    assert_ne!(
        ours,
        IdempotencyRecord::storage_key(&merchant(), &key("order-A-2"))
    );
}

#[test]
fn an_idempotency_record_round_trips_through_json() {
    for state in [
        IdempotencyState::Completed,
        in_flight_until(NOW + Duration::milliseconds(30_123)),
    ] {
        let stored = record(state);
        let json = serde_json::to_string(&stored).unwrap();
        let back: IdempotencyRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, stored);
    }
}
