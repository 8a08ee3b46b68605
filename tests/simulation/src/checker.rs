//! The money rules, as plain functions over the end state of a run: the store, the
//! PSPs' books (the ground truth of what was charged and refunded), the bus, the queues
//! and what merchants were told. Each broken rule is one line naming the deposit (or
//! the merchant, for a ledger's totals: [`ledger`]).

mod ledger;
mod payouts;

use crate::merchant::{Answer, Ask};
use crate::world::World;
use gateway_simulator::{PaymentRecord, PaymentStatus, PayoutRecord, RefundStatus};
use paygate_domain::deposit::{AnomalyKind, ChargeRef, RefundState};
use paygate_domain::service::publish::bus_event;
use paygate_domain::{Deposit, DepositId, DepositStatus};
use paygate_memory::StoreSnapshot;
use payouts::PaidOut;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// What the checks found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub violations: Vec<String>,
    /// Deposits a person must settle (an attempt past the key horizon): announced by an
    /// anomaly, so not a violation, but counted.
    pub needs_a_person: usize,
    pub deposits: usize,
    pub refunds: usize,
    pub payouts: usize,
    pub anomalies: usize,
}

/// A PSP payment and the gateway that holds it.
struct Held<'a> {
    gateway: &'a str,
    payment: &'a PaymentRecord,
}

impl Held<'_> {
    fn charge(&self) -> ChargeRef {
        ChargeRef {
            gateway: self.gateway.to_owned(),
            external_id: self.payment.id.clone(),
        }
    }

    fn succeeded(&self) -> bool {
        self.payment.status == PaymentStatus::Succeeded
    }

    /// Refunded at the PSP (refunds that succeeded).
    fn refunded(&self) -> i64 {
        self.payment
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Succeeded)
            .map(|r| r.amount)
            .sum()
    }
}

/// Per deposit of `ids`, what the PSPs' `books` hold under its id as reference, each as
/// `at(gateway, record)`.
fn at_psps<'a, R, T>(
    ids: impl Iterator<Item = &'a DepositId>,
    books: &'a BTreeMap<&'a str, Vec<R>>,
    reference: impl Fn(&R) -> &str,
    at: impl Fn(&'a str, &'a R) -> T,
) -> BTreeMap<DepositId, Vec<T>> {
    ids.map(|id| {
        let id_text = id.to_string();
        let found = books
            .iter()
            .flat_map(|(gateway, records)| {
                records
                    .iter()
                    .filter(|r| reference(r) == id_text)
                    .map(|record| at(gateway, record))
            })
            .collect();
        (*id, found)
    })
    .collect()
}

pub fn check(world: &World) -> Verdict {
    let snapshot = world.store.snapshot();
    let books: BTreeMap<&str, Vec<PaymentRecord>> = world
        .psps
        .iter()
        .map(|(name, psp)| (*name, psp.payments()))
        .collect();
    let payout_books: BTreeMap<&str, Vec<PayoutRecord>> = world
        .psps
        .iter()
        .map(|(name, psp)| (*name, psp.payouts()))
        .collect();
    let mut verdict = Verdict::default();
    let mut deposits = BTreeMap::new();
    for id in snapshot.streams.keys() {
        match stream_problems(&snapshot, *id) {
            Ok(deposit) => {
                deposits.insert(*id, deposit);
            }
            Err(problem) => verdict.violations.push(problem),
        }
    }
    verdict.payouts = deposits.values().filter(|d| d.is_payout()).count();
    verdict.deposits = deposits.len() - verdict.payouts;
    let payouts = deposits
        .iter()
        .filter(|(_, d)| d.is_payout())
        .map(|(id, _)| id);
    let paid_out = at_psps(
        payouts,
        &payout_books,
        |p| &p.reference,
        |gateway, payout| PaidOut { gateway, payout },
    );
    let held = at_psps(
        deposits.keys(),
        &books,
        |p| &p.reference,
        |gateway, payment| Held { gateway, payment },
    );
    for (id, deposit) in &deposits {
        let held = &held[id];
        verdict.refunds += deposit.refunds.len();
        verdict.anomalies += deposit.anomalies.len();
        let unresolved = deposit
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::AttemptUnresolved);
        let direction = deposit.request.direction;
        let for_a_person = deposit
            .anomalies
            .iter()
            .any(|a| a.kind.needs_a_person_for(direction));
        if for_a_person {
            verdict.needs_a_person += 1;
        }
        if deposit.is_payout() {
            let at_psps = paid_out.get(id).map_or(&[][..], Vec::as_slice);
            payouts::check(*id, deposit, at_psps, for_a_person, &mut verdict.violations);
            // A payout is not charged: nothing of a payment may name it.
            for payment in held {
                verdict.violations.push(format!(
                    "{id}: a payout, yet {} holds payment {} for it",
                    payment.gateway, payment.payment.id
                ));
            }
        } else {
            charges(*id, deposit, held, unresolved, &mut verdict.violations);
            refunds(*id, deposit, held, &mut verdict.violations);
        }
        if !unresolved {
            liveness(*id, deposit, &mut verdict.violations);
        }
    }
    published(world, &snapshot, &deposits, &mut verdict.violations);
    answers(world, &snapshot, &deposits, &mut verdict.violations);
    queues(world, &deposits, &mut verdict.violations);
    ledger::check(
        &snapshot,
        &deposits,
        &held,
        &paid_out,
        &mut verdict.violations,
    );
    verdict
}

/// Gapless, replayable, its view the fold of its events, everything published.
fn stream_problems(snapshot: &StoreSnapshot, id: DepositId) -> Result<Deposit, String> {
    let stream = &snapshot.streams[&id];
    let gapless = stream
        .iter()
        .enumerate()
        .all(|(i, e)| e.version == i as u64 + 1 && e.deposit_id == id);
    if !gapless {
        return Err(format!("{id}: the stream has a gap or a foreign event"));
    }
    let deposit =
        Deposit::replay(stream).map_err(|e| format!("{id}: the stream does not replay: {e}"))?;
    match snapshot.views.get(&id) {
        Some(view) if *view == deposit.view() => {}
        Some(_) => {
            return Err(format!(
                "{id}: the read model is not the fold of its events"
            ));
        }
        None => return Err(format!("{id}: no read model")),
    }
    if snapshot.unpublished.contains(&id) {
        let published = snapshot.published.get(&id).copied().unwrap_or(0);
        return Err(format!(
            "{id}: bus events after version {published} of {} unpublished (the outbox never emptied)",
            deposit.version
        ));
    }
    Ok(deposit)
}

/// At most one live charge; it is the deposit's, for its amount, iff it succeeded; every
/// other charge is an announced anomaly, refunded in full.
fn charges(
    id: DepositId,
    deposit: &Deposit,
    held: &[Held<'_>],
    unresolved: bool,
    violations: &mut Vec<String>,
) {
    // Rule 1 on the PSPs' books: the simulated PSPs charge only when asked, so two
    // charges (even one refunded since, or one still pending) mean paygate asked twice.
    let taken: Vec<&str> = held
        .iter()
        .filter(|h| {
            matches!(
                h.payment.status,
                PaymentStatus::Succeeded | PaymentStatus::Pending
            )
        })
        .map(|h| h.payment.id.as_str())
        .collect();
    if taken.len() > 1 {
        violations.push(format!("{id}: charged {} times: {taken:?}", taken.len()));
    }
    let own = match deposit.status {
        DepositStatus::Failed => None,
        _ => deposit.own_charge(),
    };
    let mut live = 0;
    for payment in held.iter().filter(|h| h.succeeded()) {
        let charge = payment.charge();
        if Some(&charge) == own.as_ref() {
            live += 1;
            let asked = deposit.request.amount.minor() as i64;
            if payment.payment.amount != asked
                || payment.payment.currency != deposit.request.currency.code()
            {
                violations.push(format!(
                    "{id}: {} holds {} {} as its charge, asked {asked} {}",
                    deposit.status,
                    payment.payment.amount,
                    payment.payment.currency,
                    deposit.request.currency
                ));
            }
            continue;
        }
        // A reversal the gateway declined is announced for a person to return the money.
        let declined = deposit.anomalies.iter().any(|a| {
            a.kind == AnomalyKind::ReversalDeclined && a.charge().as_ref() == Some(&charge)
        });
        if payment.refunded() < payment.payment.amount && !declined {
            violations.push(format!(
                "{id}: extra charge {} at {} of {} not refunded (refunded {})",
                payment.payment.id,
                payment.gateway,
                payment.payment.amount,
                payment.refunded()
            ));
        }
        let announced = deposit
            .anomalies
            .iter()
            .any(|a| a.charge().as_ref() == Some(&charge));
        if !announced {
            violations.push(format!(
                "{id}: extra charge {} at {} is not recorded as an anomaly",
                payment.payment.id, payment.gateway
            ));
        }
    }
    if live > 1 {
        violations.push(format!("{id}: {live} live charges"));
    }
    let captured = matches!(
        deposit.status,
        DepositStatus::Succeeded | DepositStatus::PartiallyRefunded | DepositStatus::Refunded
    );
    if captured && live == 0 {
        violations.push(format!(
            "{id}: {} but no gateway holds its charge as succeeded",
            deposit.status
        ));
    }
    if !captured && live > 0 && !unresolved && deposit.status.is_final_outcome() {
        violations.push(format!("{id}: {} yet its charge succeeded", deposit.status));
    }
}

/// The merchant's refunds agree with the gateway's; never more than captured.
fn refunds(id: DepositId, deposit: &Deposit, held: &[Held<'_>], violations: &mut Vec<String>) {
    let all_psp_refunds: Vec<_> = held
        .iter()
        .flat_map(|h| h.payment.refunds.iter().map(move |r| (h, r)))
        .collect();
    for refund in &deposit.refunds {
        let key = format!("{id}:refund:{}", refund.id);
        let at_psp = all_psp_refunds
            .iter()
            .find(|(_, r)| r.idempotency_key == key)
            .map(|(_, r)| r.status);
        match (refund.state, at_psp) {
            (RefundState::Succeeded, Some(RefundStatus::Succeeded)) => {}
            (RefundState::Succeeded, other) => violations.push(format!(
                "{id}: refund {} recorded succeeded, the gateway says {other:?}",
                refund.id
            )),
            (RefundState::Failed, Some(RefundStatus::Succeeded)) => violations.push(format!(
                "{id}: refund {} recorded failed, yet the gateway refunded it",
                refund.id
            )),
            _ => {}
        }
    }
    for (payment, psp_refund) in &all_psp_refunds {
        if psp_refund.status != RefundStatus::Succeeded {
            continue;
        }
        let ours = deposit
            .refunds
            .iter()
            .any(|r| format!("{id}:refund:{}", r.id) == psp_refund.idempotency_key);
        if !ours {
            violations.push(format!(
                "{id}: the gateway {} made refund {} nobody recorded",
                payment.gateway, psp_refund.id
            ));
        }
    }
    let refunded = deposit.refunded_amount();
    if refunded > deposit.request.amount.minor() {
        violations.push(format!(
            "{id}: refunded {refunded} of {}",
            deposit.request.amount.minor()
        ));
    }
}

/// Once faults stopped and the sweeper had its periods, everything is final.
fn liveness(id: DepositId, deposit: &Deposit, violations: &mut Vec<String>) {
    if !deposit.status.is_final_outcome() {
        violations.push(format!("{id}: still {} at the end", deposit.status));
    }
    for refund in &deposit.refunds {
        let left_for_a_person = deposit
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::RefundUnresolved && a.refund == Some(refund.id));
        if refund.state == RefundState::Pending && !left_for_a_person {
            violations.push(format!(
                "{id}: refund {} still pending at the end",
                refund.id
            ));
        }
    }
}

/// Every event consumers are told about reached the bus (at least once).
fn published(
    world: &World,
    snapshot: &StoreSnapshot,
    deposits: &BTreeMap<DepositId, Deposit>,
    violations: &mut Vec<String>,
) {
    let on_bus: HashSet<String> = world
        .bus
        .published()
        .iter()
        .filter_map(|e| e.detail["event_id"].as_str().map(str::to_owned))
        .collect();
    for (id, deposit) in deposits {
        for event in &snapshot.streams[id] {
            if bus_event(deposit, event).is_some() && !on_bus.contains(&event.event_id.to_string())
            {
                violations.push(format!(
                    "{id}: {} (version {}) never reached the bus",
                    event.event.kind(),
                    event.version
                ));
            }
        }
    }
}

/// One key, one deposit; a 4xx wrote nothing; nothing durable was answered as failed.
fn answers(
    world: &World,
    snapshot: &StoreSnapshot,
    deposits: &BTreeMap<DepositId, Deposit>,
    violations: &mut Vec<String>,
) {
    let log = world.log.answers();
    let mut named: BTreeMap<(&str, &str), BTreeSet<DepositId>> = BTreeMap::new();
    for answer in log
        .iter()
        .filter(|a| matches!(a.ask, Ask::Deposit | Ask::Payout))
    {
        if let Some(deposit) = answer.deposit {
            named
                .entry((answer.merchant, answer.key.as_str()))
                .or_default()
                .insert(deposit);
        }
    }
    for ((merchant, key), ids) in &named {
        if ids.len() > 1 {
            violations.push(format!(
                "{merchant} key {key}: answered with {} deposits",
                ids.len()
            ));
        }
    }
    let lost_creates = world.faults.lost_creates();
    let by_correlation: BTreeMap<&str, &Answer> =
        log.iter().map(|a| (a.correlation.as_str(), a)).collect();
    for (id, deposit) in deposits {
        let Some(first) = snapshot.streams[id].first() else {
            continue;
        };
        // The request that created the deposit, and what it was told.
        let Some(creator) = by_correlation.get(first.correlation_id.0.as_str()) else {
            continue;
        };
        let charged = matches!(
            deposit.status,
            DepositStatus::Succeeded | DepositStatus::PartiallyRefunded | DepositStatus::Refunded
        );
        match creator.status {
            Some(status) if (400..500).contains(&status) => violations.push(format!(
                "{id}: created by a request answered {status} (key {})",
                creator.key
            )),
            Some(status) if status >= 500 && !lost_creates.contains(id) => {
                violations.push(format!(
                    "{id}: created by a request answered {status} (key {}), though it was stored{}",
                    creator.key,
                    if charged { ", and charged" } else { "" }
                ));
            }
            _ => {}
        }
    }
}

/// Nothing waits in the DLQ for a deposit that is not final, unannounced (a deposit left
/// for a person is announced by its anomaly).
fn queues(world: &World, deposits: &BTreeMap<DepositId, Deposit>, violations: &mut Vec<String>) {
    for message in world.dlq.peek() {
        if let Some(deposit) = deposits.get(&message.deposit_id)
            && !deposit
                .anomalies
                .iter()
                .any(|a| a.kind.needs_a_person_for(deposit.request.direction))
            && (!deposit.status.is_final_outcome()
                || deposit
                    .refunds
                    .iter()
                    .any(|r| r.state == RefundState::Pending))
        {
            violations.push(format!(
                "{}: waits in the DLQ while not final",
                message.deposit_id
            ));
        }
    }
}
