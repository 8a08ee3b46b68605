//! The merchants' ledgers: each consistent in itself (the domain's audit: gapless, the
//! merchant's own, balanced, never overdrawn, `available_after` exact, the head the fold
//! of its entries), posted exactly as the stored events move money, and agreeing with the
//! deposits and with the money that really moved at the PSPs.

use super::Held;
use super::payouts::PaidOut;
use gateway_simulator::PaymentStatus;
use paygate_domain::deposit::{AnomalyKind, ChargeRef, RefundState};
use paygate_domain::ledger::{self, Account, LedgerEntry, LedgerHead, Movement};
use paygate_domain::{Currency, Deposit, DepositId, DepositStatus, MerchantId};
use paygate_memory::StoreSnapshot;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a deposit holds in each account, by currency.
type Holdings = BTreeMap<(Currency, Account), i64>;

pub(super) fn check(
    snapshot: &StoreSnapshot,
    deposits: &BTreeMap<DepositId, Deposit>,
    held: &BTreeMap<DepositId, Vec<Held<'_>>>,
    paid_out: &BTreeMap<DepositId, Vec<PaidOut<'_>>>,
    violations: &mut Vec<String>,
) {
    let books = Books { held, paid_out };
    let merchants: BTreeSet<&MerchantId> = snapshot
        .ledgers
        .keys()
        .chain(deposits.values().map(|d| &d.merchant_id))
        .collect();
    for merchant in merchants {
        let (head, entries) = snapshot
            .ledgers
            .get(merchant)
            .cloned()
            .unwrap_or_else(|| (LedgerHead::empty(merchant.clone()), Vec::new()));
        consistent(merchant, &head, &entries, violations);
        let own: BTreeMap<DepositId, &Deposit> = deposits
            .iter()
            .filter(|(_, d)| &d.merchant_id == merchant)
            .map(|(id, d)| (*id, d))
            .collect();
        caused(merchant, &entries, snapshot, deposits, &own, violations);
        settled(merchant, &entries, &own, &books, violations);
    }
}

/// The domain's audit of the stored ledger, and the head against `LedgerHead::fold`.
fn consistent(
    merchant: &MerchantId,
    head: &LedgerHead,
    entries: &[LedgerEntry],
    violations: &mut Vec<String>,
) {
    if &head.merchant_id != merchant {
        violations.push(format!(
            "ledger of {merchant}: its head is {}'s",
            head.merchant_id
        ));
    }
    let audit = ledger::audit(head, entries);
    for problem in &audit.problems {
        violations.push(format!("ledger of {merchant}: {problem}"));
    }
    if audit.more_problems > 0 {
        violations.push(format!(
            "ledger of {merchant}: {} more problems",
            audit.more_problems
        ));
    }
    // The audit sums on past a gap; the fold refuses one. Both must give the head.
    if audit.is_consistent() && LedgerHead::fold(merchant.clone(), entries).as_ref() != Some(head) {
        violations.push(format!(
            "ledger of {merchant}: the audit passed, yet the head is not the fold of the entries"
        ));
    }
}

/// Each entry is what one stored event of the merchant's deposits moves, posted once;
/// each event that moves money has its entry.
fn caused(
    merchant: &MerchantId,
    entries: &[LedgerEntry],
    snapshot: &StoreSnapshot,
    deposits: &BTreeMap<DepositId, Deposit>,
    own: &BTreeMap<DepositId, &Deposit>,
    violations: &mut Vec<String>,
) {
    let mut by_event: HashMap<_, &LedgerEntry> = HashMap::new();
    for entry in entries {
        let id = entry.movement.deposit_id;
        if !own.contains_key(&id) {
            // A stream that does not replay is reported already.
            if !snapshot.streams.contains_key(&id) || deposits.contains_key(&id) {
                violations.push(format!(
                    "{id}: {} of the ledger of {merchant} is about a deposit the merchant does not have",
                    entry.id()
                ));
            }
            continue;
        }
        if let Some(first) = by_event.insert(entry.movement.event_id, entry) {
            violations.push(format!(
                "{id}: ledger of {merchant}: {} posts the movement of {} again",
                entry.id(),
                first.id()
            ));
        }
    }
    for (id, deposit) in own {
        let stream = &snapshot.streams[id];
        let moved = ledger::movements(None, stream).unwrap_or_default();
        let caused_by: BTreeSet<_> = moved.iter().map(|m| m.event_id).collect();
        for movement in &moved {
            let Some(event) = stream.iter().find(|e| e.event_id == movement.event_id) else {
                continue;
            };
            match by_event.get(&movement.event_id) {
                None => violations.push(format!(
                    "{id}: ledger of {merchant}: {} (v{}) moves {} but has no entry",
                    event.event.kind(),
                    event.version,
                    describe(movement)
                )),
                Some(entry) if entry.movement != *movement => violations.push(format!(
                    "{id}: ledger of {merchant}: {} posts {} for {} (v{}), which moves {}",
                    entry.id(),
                    describe(&entry.movement),
                    event.event.kind(),
                    event.version,
                    describe(movement)
                )),
                Some(_) => {}
            }
        }
        for entry in entries
            .iter()
            .filter(|e| e.movement.deposit_id == deposit.id)
        {
            if !caused_by.contains(&entry.movement.event_id) {
                violations.push(format!(
                    "{id}: ledger of {merchant}: {} posts {}, which no event of the deposit moves",
                    entry.id(),
                    describe(&entry.movement)
                ));
            }
        }
    }
}

/// What the PSPs' books hold for each deposit and payout.
struct Books<'b, 'a> {
    held: &'b BTreeMap<DepositId, Vec<Held<'a>>>,
    paid_out: &'b BTreeMap<DepositId, Vec<PaidOut<'a>>>,
}

/// The run has settled (faults stopped, the sweeper had its periods), so each account is
/// what the deposits and payouts say: `available` their captures less the merchant's
/// refunds that did not fail and less the payouts that did not fail; `reserved` the
/// refunds and payouts still pending (0 when none is); `suspense` the stray charges held
/// less paygate's refunds of them that did not fail; and `gateway:<name>` what that PSP's
/// books say moved (captured less refunded in, paid out out), i.e. the money that really
/// moved. Compared per currency and account over the merchant's deposits and payouts,
/// naming those whose own share differs.
fn settled(
    merchant: &MerchantId,
    entries: &[LedgerEntry],
    own: &BTreeMap<DepositId, &Deposit>,
    books: &Books<'_, '_>,
    violations: &mut Vec<String>,
) {
    // Skipped: deposits and payouts left for a person (an attempt or a refund whose
    // outcome only a person can learn, a payout a gateway surprised us with). Their PSP
    // may hold money the ledger rightly does not hold yet.
    let settled: BTreeMap<DepositId, &Deposit> = own
        .iter()
        .filter(|(_, d)| {
            let direction = d.request.direction;
            !d.anomalies
                .iter()
                .any(|a| a.kind.needs_a_person_for(direction))
        })
        .map(|(id, d)| (*id, *d))
        .collect();
    let mut posted: BTreeMap<DepositId, Holdings> = BTreeMap::new();
    for entry in entries {
        if settled.contains_key(&entry.movement.deposit_id) {
            let holdings = posted.entry(entry.movement.deposit_id).or_default();
            for posting in &entry.movement.postings {
                *holdings
                    .entry((entry.movement.currency, posting.account.clone()))
                    .or_default() += posting.amount;
            }
        }
    }
    let expected: BTreeMap<DepositId, Holdings> = settled
        .iter()
        .map(|(id, d)| (*id, expected(d, books, id)))
        .collect();
    let none = Holdings::new();
    let keys: BTreeSet<&(Currency, Account)> = posted
        .values()
        .chain(expected.values())
        .flat_map(BTreeMap::keys)
        .collect();
    for key in keys {
        let share = |of: &BTreeMap<DepositId, Holdings>, id: &DepositId| {
            of.get(id).unwrap_or(&none).get(key).copied().unwrap_or(0)
        };
        let in_ledger: i64 = settled.keys().map(|id| share(&posted, id)).sum();
        let said: i64 = settled.keys().map(|id| share(&expected, id)).sum();
        if in_ledger == said {
            continue;
        }
        let (currency, account) = key;
        // A gateway account is negative for money it holds: shown as what it holds.
        let sign = if matches!(account, Account::Gateway(_)) {
            -1
        } else {
            1
        };
        let differing: Vec<String> = settled
            .keys()
            .filter(|id| share(&posted, id) != share(&expected, id))
            .take(3)
            .map(|id| {
                let (posted, said) = (share(&posted, id), share(&expected, id));
                format!("{id} {} vs {}", sign * posted, sign * said)
            })
            .collect();
        let (in_ledger, said) = (sign * in_ledger, sign * said);
        let what = match account {
            Account::Gateway(name) => {
                format!("-{account} is {in_ledger}; {name}'s books hold {said} net for them")
            }
            _ => format!("{account} is {in_ledger}; their events say {said}"),
        };
        violations.push(format!(
            "ledger of {merchant}: in {currency} over its settled deposits {what} (differing: {})",
            differing.join(", ")
        ));
    }
}

/// What a deposit (or payout) should hold in each account: from its events, and, at the
/// gateways, from the PSPs' books.
fn expected(deposit: &Deposit, books: &Books<'_, '_>, id: &DepositId) -> Holdings {
    if deposit.is_payout() {
        return expected_of_payout(deposit, books.paid_out.get(id).map_or(&[], Vec::as_slice));
    }
    let held = books.held.get(id).map_or(&[][..], Vec::as_slice);
    let mut holdings = Holdings::new();
    let mut add = |currency: Currency, account: Account, amount: i64| {
        *holdings.entry((currency, account)).or_default() += amount;
    };
    let currency = deposit.request.currency;
    if matches!(
        deposit.status,
        DepositStatus::Succeeded | DepositStatus::PartiallyRefunded | DepositStatus::Refunded
    ) {
        add(currency, Account::Available, minor(deposit.request.amount));
    }
    // Each stray charge is held once, in what the PSP said it charged.
    let mut charges: BTreeMap<(String, String), Currency> = BTreeMap::new();
    for anomaly in &deposit.anomalies {
        let holds = matches!(
            anomaly.kind,
            AnomalyKind::UnexpectedCharge
                | AnomalyKind::SuccessAfterFailure
                | AnomalyKind::AmountMismatch
        );
        if let (true, Some(charge), Some(charged)) = (holds, anomaly.charge(), anomaly.charged)
            && !charges.contains_key(&key(&charge))
        {
            charges.insert(key(&charge), charged.currency);
            add(charged.currency, Account::Suspense, minor(charged.amount));
        }
    }
    for refund in &deposit.refunds {
        let amount = minor(refund.amount);
        let (currency, from) = match &refund.charge {
            None => (currency, Account::Available),
            Some(charge) => (
                charges.get(&key(charge)).copied().unwrap_or(currency),
                Account::Suspense,
            ),
        };
        if refund.state != RefundState::Failed {
            add(currency, from, -amount);
        }
        if refund.state == RefundState::Pending {
            add(currency, Account::Reserved, amount);
        }
    }
    for payment in held {
        if payment.payment.status != PaymentStatus::Succeeded {
            continue;
        }
        let Some(currency) = Currency::parse(&payment.payment.currency).ok() else {
            continue;
        };
        let net = payment.payment.amount - payment.refunded();
        add(currency, Account::Gateway(payment.gateway.to_owned()), -net);
    }
    holdings.retain(|_, amount| *amount != 0);
    holdings
}

/// A payout holds its amount out of `available` unless it failed, in `reserved` while it
/// is not final; each gateway holds what it paid out.
fn expected_of_payout(payout: &Deposit, paid_out: &[PaidOut<'_>]) -> Holdings {
    let mut holdings = Holdings::new();
    let currency = payout.request.currency;
    let amount = minor(payout.request.amount);
    if payout.status != DepositStatus::Failed {
        *holdings.entry((currency, Account::Available)).or_default() -= amount;
    }
    if !payout.status.is_final_outcome() {
        *holdings.entry((currency, Account::Reserved)).or_default() += amount;
    }
    for paid in paid_out.iter().filter(|p| p.paid()) {
        let Some(currency) = Currency::parse(&paid.payout.currency).ok() else {
            continue;
        };
        let account = Account::Gateway(paid.gateway.to_owned());
        *holdings.entry((currency, account)).or_default() += paid.payout.amount;
    }
    holdings.retain(|_, amount| *amount != 0);
    holdings
}

fn key(charge: &ChargeRef) -> (String, String) {
    (charge.gateway.clone(), charge.external_id.clone())
}

fn minor(amount: paygate_domain::Amount) -> i64 {
    amount.minor() as i64
}

/// `deposit: gateway:acme_json -1000, available 1000 (AED)`.
fn describe(movement: &Movement) -> String {
    let postings: Vec<String> = movement
        .postings
        .iter()
        .map(|p| format!("{} {}", p.account, p.amount))
        .collect();
    format!(
        "{}: {} ({})",
        movement.entry_type.as_str(),
        postings.join(", "),
        movement.currency
    )
}
