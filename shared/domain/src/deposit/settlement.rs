//! What a gateway's answer about a deposit's payment means, as events: one rule, used by
//! the processor (its own call's answer), the sweeper (status lookups) and nobody else.
//!
//! The rules keep the one promise: a deposit is charged at most once, across gateways.
//! * Only the attempt's owner closes it on its own call's answer, and "nothing was done"
//!   closes only an attempt whose request was sent once: once resumed, the first call may
//!   have charged, so only a definite answer (accepted, declined) ends it.
//! * An unclear answer releases the attempt: the next delivery sends the same request
//!   with the same key to the same gateway, whose idempotency answers with the original.
//! * A lookup settles an open attempt only when the gateway found the payment; "not
//!   found" is never proof (indexes lag, keys are forgotten).
//! * A charge whose amount or currency is not the deposit's never makes it succeed: the
//!   deposit fails and the charge is refunded (an anomaly).

use super::aggregate::Deposit;
use super::attempts::Attempt;
use super::events::{Anomaly, AnomalyKind, ChargeRef, DepositEvent, FailureReason};
use super::status::DepositStatus;
use crate::ids::{AttemptOwner, RefundId};
use crate::money::Money;
use crate::ports::gateway::{
    PaymentOutcome, PaymentState, RefundOutcome, RefundSettlement, RefundStatusOutcome,
    StatusOutcome,
};

/// The reason code of a deposit failed because its charge was for another amount.
pub const AMOUNT_MISMATCH: &str = "amount_mismatch";
/// The reason code of an attempt that failed without reaching its gateway.
pub const GATEWAY_UNAVAILABLE: &str = "gateway_unavailable";

/// A payment a gateway showed us (in an answer, a lookup or a webhook).
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    pub gateway: &'a str,
    pub external_id: &'a str,
    /// What the gateway says the payment is for, when it said.
    pub charged: Option<Money>,
    pub attempt: Option<u32>,
    /// The gateway's event id, when a webhook showed it.
    pub gateway_event_id: Option<&'a str>,
}

impl Sighting<'_> {
    fn charge(&self) -> ChargeRef {
        ChargeRef {
            gateway: self.gateway.to_owned(),
            external_id: self.external_id.to_owned(),
        }
    }

    /// An anomaly of `kind` about this payment, seen moving `charged`.
    fn anomaly(&self, kind: AnomalyKind, charged: Money, detail: String) -> Anomaly {
        Anomaly {
            kind,
            gateway: self.gateway.to_owned(),
            external_id: Some(self.external_id.to_owned()),
            charged: Some(charged),
            attempt: self.attempt,
            refund: None,
            gateway_event_id: self.gateway_event_id.map(str::to_owned),
            detail,
        }
    }
}

impl Deposit {
    /// The open attempt, if it is `number` and `owner` holds it.
    pub fn owned_attempt(&self, number: u32, owner: AttemptOwner) -> Option<&Attempt> {
        self.open_attempt()
            .filter(|a| a.number == number && a.owner == Some(owner))
    }

    /// Whether `charged` is what this deposit asked for.
    pub fn is_charged_as_asked(&self, charged: &Money) -> bool {
        charged.amount == self.request.amount && charged.currency == self.request.currency
    }

    /// What to record after `owner`'s call for attempt `number` answered `answer`. Nothing
    /// if the attempt is no longer `owner`'s (another delivery took it over or settled it)
    /// — except a payment id that is not the deposit's, which is a charge to undo.
    pub fn settle_call(
        &self,
        number: u32,
        owner: AttemptOwner,
        answer: &PaymentOutcome,
        reversal: RefundId,
    ) -> Vec<DepositEvent> {
        let Some(attempt) = self.owned_attempt(number, owner) else {
            return match answer {
                // The payment the deposit already holds (its webhook overtook this
                // answer): "taken" says nothing new, its outcome is already recorded or
                // on its way. Never a success: it may have failed since.
                PaymentOutcome::Accepted { external_id }
                    if self.external_id.as_deref() == Some(external_id.as_str()) =>
                {
                    vec![]
                }
                PaymentOutcome::Accepted { external_id } => self.stray_charge(
                    &Sighting {
                        gateway: &self.attempt_gateway(number),
                        external_id,
                        charged: None,
                        attempt: Some(number),
                        gateway_event_id: None,
                    },
                    reversal,
                ),
                _ => vec![],
            };
        };
        match answer {
            PaymentOutcome::Accepted { external_id } => vec![DepositEvent::DepositSubmitted {
                attempt: number,
                gateway: attempt.gateway.clone(),
                external_id: external_id.clone(),
            }],
            PaymentOutcome::Declined { code, message } => declined(number, code, message),
            // Merchants read this reason: a fixed text, never the transport's error.
            PaymentOutcome::Transient { .. } if !attempt.resumed => {
                vec![DepositEvent::AttemptFailed {
                    attempt: number,
                    reason: FailureReason::new(GATEWAY_UNAVAILABLE, UNREACHABLE),
                    retryable: true,
                }]
            }
            PaymentOutcome::Transient { .. } | PaymentOutcome::Ambiguous { .. } => {
                vec![DepositEvent::AttemptReleased { attempt: number }]
            }
        }
    }

    /// What to record after the gateway's status lookup for attempt `number` (the latest
    /// attempt of a `processing` deposit, or the submitted one). Only a found payment
    /// settles anything.
    pub fn settle_lookup(
        &self,
        number: u32,
        answer: &StatusOutcome,
        reversal: RefundId,
    ) -> Vec<DepositEvent> {
        let StatusOutcome::Found {
            external_id,
            state,
            charged,
        } = answer
        else {
            return vec![];
        };
        let gateway = self.attempt_gateway(number);
        let sighting = Sighting {
            gateway: &gateway,
            external_id,
            charged: *charged,
            attempt: Some(number),
            gateway_event_id: None,
        };
        let open = self.open_attempt().is_some_and(|a| a.number == number);
        let submitted_as_this = self.status == DepositStatus::Submitted
            && self.external_id.as_deref() == Some(external_id.as_str());
        if !open && !submitted_as_this {
            return match (self.status, state) {
                // A payment the deposit does not hold, found succeeded: undo it.
                (_, PaymentState::Succeeded)
                    if self.external_id.as_deref() != Some(external_id.as_str()) =>
                {
                    self.stray_charge(&sighting, reversal)
                }
                _ => vec![],
            };
        }
        let mut events = Vec::new();
        if open {
            match state {
                PaymentState::Failed { code } | PaymentState::Declined { code } => {
                    return declined(number, code, "the gateway reports the payment failed");
                }
                PaymentState::Pending | PaymentState::Succeeded => {
                    events.push(DepositEvent::DepositSubmitted {
                        attempt: number,
                        gateway: gateway.clone(),
                        external_id: external_id.clone(),
                    });
                }
            }
        }
        match state {
            PaymentState::Succeeded => events.extend(self.confirm_charge(&sighting, reversal)),
            PaymentState::Failed { code } | PaymentState::Declined { code } => {
                events.push(DepositEvent::DepositFailed {
                    reason: FailureReason::new(
                        code.clone(),
                        "the gateway reports the payment failed",
                    ),
                });
            }
            PaymentState::Pending => {}
        }
        events
    }

    /// The deposit's own charge succeeded (as `seen`): success if it is for what was
    /// asked, else the deposit fails and the charge is refunded. Assumes the deposit is
    /// (or is about to be) `submitted` with that payment.
    pub fn confirm_charge(&self, seen: &Sighting<'_>, reversal: RefundId) -> Vec<DepositEvent> {
        let succeeded = || DepositEvent::DepositSucceeded {
            external_id: seen.external_id.to_owned(),
        };
        let Some(charged) = seen.charged.filter(|c| !self.is_charged_as_asked(c)) else {
            return vec![succeeded()];
        };
        let asked = format!("{} {}", self.request.amount.minor(), self.request.currency);
        if self.is_payout() {
            // The money left: the payout is paid (its reservation leaves with it)
            // and a person settles the difference with the gateway.
            let detail = format!(
                "the gateway paid out {charged}, the payout asked for {asked}; settle the difference with the gateway"
            );
            let mut events =
                self.anomaly_once(seen.anomaly(AnomalyKind::AmountMismatch, charged, detail));
            events.push(succeeded());
            return events;
        }
        let detail = format!("the gateway charged {charged}, the deposit asked for {asked}");
        vec![
            DepositEvent::PaymentAnomalyDetected {
                anomaly: seen.anomaly(AnomalyKind::AmountMismatch, charged, detail),
            },
            DepositEvent::DepositFailed {
                reason: FailureReason::new(
                    AMOUNT_MISMATCH,
                    "the gateway charged another amount than asked; it is refunded",
                ),
            },
            DepositEvent::RefundRequested {
                refund_id: reversal,
                amount: charged.amount,
                charge: Some(seen.charge()),
            },
        ]
    }

    /// A charge (as `seen`) the deposit does not hold as its own: recorded as an anomaly
    /// and refunded (by paygate, with its own idempotency key), once.
    pub fn stray_charge(&self, seen: &Sighting<'_>, reversal: RefundId) -> Vec<DepositEvent> {
        let charge = seen.charge();
        // The deposit's own charge is stray only once the deposit failed.
        let owned =
            self.status != DepositStatus::Failed && self.own_charge().as_ref() == Some(&charge);
        if owned || self.is_being_reversed(&charge) {
            return vec![];
        }
        let kind = if self.status == DepositStatus::Failed {
            AnomalyKind::SuccessAfterFailure
        } else {
            AnomalyKind::UnexpectedCharge
        };
        let charged = seen.charged.unwrap_or(Money {
            amount: self.request.amount,
            currency: self.request.currency,
        });
        let anomaly = seen.anomaly(
            kind,
            charged,
            format!(
                "payment {} at {} is not the deposit's charge; it is refunded",
                seen.external_id, seen.gateway
            ),
        );
        if self.is_payout() {
            // A payout cannot be pulled back: money may have left twice, and only the
            // gateway and a person can recover it.
            let anomaly = Anomaly {
                detail: format!(
                    "payout {} at {} is not the payout's own: money may have left twice; recover it with the gateway",
                    seen.external_id, seen.gateway
                ),
                ..anomaly
            };
            return self.anomaly_once(anomaly);
        }
        let mut events = self.anomaly_once(anomaly);
        events.push(DepositEvent::RefundRequested {
            refund_id: reversal,
            amount: charged.amount,
            charge: Some(charge),
        });
        events
    }

    /// What to record for an open attempt past the gateway's key horizon, given the
    /// gateway's status lookup: its settlement if the payment was found, else (once) an
    /// anomaly for a person — re-sending with a possibly forgotten key could charge again.
    pub fn settle_past_horizon(
        &self,
        number: u32,
        answer: &StatusOutcome,
        reversal: RefundId,
    ) -> Vec<DepositEvent> {
        let events = self.settle_lookup(number, answer, reversal);
        if !events.is_empty() || self.open_attempt().is_none_or(|a| a.number != number) {
            return events;
        }
        let anomaly = Anomaly {
            kind: AnomalyKind::AttemptUnresolved,
            gateway: self.attempt_gateway(number),
            external_id: None,
            charged: None,
            attempt: Some(number),
            refund: None,
            gateway_event_id: None,
            detail: format!(
                "attempt {number}'s outcome is still unknown past the gateway's key horizon; check with the gateway"
            ),
        };
        self.anomaly_once(anomaly)
    }

    /// What to record after refund `refund`'s call answered `answer`: only a definite
    /// answer (taken, refused) is recorded, and only while the refund still waits for it;
    /// an unclear one leaves it to be sent again with the same key.
    pub fn settle_refund_call(
        &self,
        refund: RefundId,
        answer: &RefundOutcome,
    ) -> Vec<DepositEvent> {
        if !self
            .refunds
            .iter()
            .any(|r| r.id == refund && r.awaits_submission())
        {
            return vec![];
        }
        match answer {
            RefundOutcome::Accepted { refund_external_id } => vec![DepositEvent::RefundSubmitted {
                refund_id: refund,
                refund_external_id: refund_external_id.clone(),
            }],
            RefundOutcome::Rejected { code, message } => {
                self.refund_failed(refund, FailureReason::new(code.clone(), message.clone()))
            }
            RefundOutcome::Transient { .. } | RefundOutcome::Ambiguous { .. } => vec![],
        }
    }

    /// What to record after the gateway's lookup of refund `refund`: a found refund is
    /// recorded as taken (if it was not), and its final outcome if it has one.
    pub fn settle_refund_lookup(
        &self,
        refund: RefundId,
        answer: &RefundStatusOutcome,
    ) -> Vec<DepositEvent> {
        let Some(pending) = self
            .refunds
            .iter()
            .find(|r| r.id == refund && r.state == super::refunds::RefundState::Pending)
        else {
            return vec![];
        };
        let RefundStatusOutcome::Found {
            refund_external_id,
            state,
        } = answer
        else {
            return vec![];
        };
        let mut events = Vec::new();
        if pending.external_id.is_none() {
            events.push(DepositEvent::RefundSubmitted {
                refund_id: refund,
                refund_external_id: refund_external_id.clone(),
            });
        }
        match state {
            RefundSettlement::Succeeded => {
                events.push(DepositEvent::RefundSucceeded { refund_id: refund })
            }
            RefundSettlement::Failed { code } => events.extend(self.refund_failed(
                refund,
                FailureReason::new(code.clone(), "the gateway reports the refund failed"),
            )),
            RefundSettlement::Pending => {}
        }
        events
    }

    /// A refund not yet taken by its gateway, requested before the gateway may have
    /// forgotten its key: its lookup settles it if the gateway found it; otherwise (once)
    /// an anomaly for a person — sending it again could refund twice.
    pub fn settle_refund_past_horizon(
        &self,
        refund: RefundId,
        answer: &RefundStatusOutcome,
    ) -> Vec<DepositEvent> {
        let events = self.settle_refund_lookup(refund, answer);
        let Some(pending) = self
            .refunds
            .iter()
            .find(|r| r.id == refund && r.awaits_submission())
        else {
            return events;
        };
        if !events.is_empty() {
            return events;
        }
        let target = pending.charge.clone().or_else(|| self.own_charge());
        let anomaly = Anomaly {
            kind: AnomalyKind::RefundUnresolved,
            gateway: target
                .as_ref()
                .map(|c| c.gateway.clone())
                .unwrap_or_default(),
            external_id: target.map(|c| c.external_id),
            charged: Some(Money {
                amount: pending.amount,
                currency: self.request.currency,
            }),
            attempt: None,
            refund: Some(refund),
            gateway_event_id: None,
            detail: format!(
                "refund {refund}'s outcome is still unknown past the gateway's key horizon; check with the gateway"
            ),
        };
        self.anomaly_once(anomaly)
    }

    /// Refund `refund` failed at its gateway. When it was paygate's own refund of a charge
    /// that is not the deposit's, the customer is still charged: a person must return the
    /// money with the gateway (an anomaly, once).
    pub fn refund_failed(&self, refund: RefundId, reason: FailureReason) -> Vec<DepositEvent> {
        let mut events = vec![DepositEvent::RefundFailed {
            refund_id: refund,
            reason,
        }];
        let Some((reversal, charge)) = self
            .refunds
            .iter()
            .find(|r| r.id == refund)
            .and_then(|r| Some((r, r.charge.clone()?)))
        else {
            return events;
        };
        let anomaly = Anomaly {
            kind: AnomalyKind::ReversalDeclined,
            gateway: charge.gateway.clone(),
            external_id: Some(charge.external_id.clone()),
            charged: Some(Money {
                amount: reversal.amount,
                currency: self.refund_currency(reversal),
            }),
            attempt: None,
            refund: Some(refund),
            gateway_event_id: None,
            detail: format!(
                "the gateway declined paygate's refund of charge {} at {}; the customer is still charged: return it with the gateway",
                charge.external_id, charge.gateway
            ),
        };
        events.extend(self.anomaly_once(anomaly));
        events
    }

    /// `anomaly` as an event, unless the same one is recorded already (gateways and
    /// sweeps report a surprise more than once).
    pub fn anomaly_once(&self, anomaly: Anomaly) -> Vec<DepositEvent> {
        if self.anomalies.iter().any(|a| a.same_as(&anomaly)) {
            return vec![];
        }
        vec![DepositEvent::PaymentAnomalyDetected { anomaly }]
    }

    /// Whether the deposit holds as many contradicting reports as it keeps
    /// ([`MAX_CONTRADICTIONS`]): it is already in front of a person, and every report a
    /// gateway invents would otherwise grow a stream every command replays.
    pub fn contradictions_full(&self) -> bool {
        let recorded = self
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::OutcomeContradiction)
            .count();
        recorded >= MAX_CONTRADICTIONS
    }

    /// The attempt that submitted the deposit's payment, if any.
    pub fn submitted_attempt(&self) -> Option<&Attempt> {
        self.attempts
            .iter()
            .rev()
            .find(|a| a.state == super::attempts::AttemptState::Submitted)
    }

    /// The gateway attempt `number` went to (the deposit's gateway if unknown).
    fn attempt_gateway(&self, number: u32) -> String {
        self.attempts
            .iter()
            .find(|a| a.number == number)
            .map(|a| a.gateway.clone())
            .or_else(|| self.gateway.clone())
            .unwrap_or_default()
    }
}

/// The most contradicting reports (no money moved) one deposit records.
pub const MAX_CONTRADICTIONS: usize = 20;

/// What a merchant reads when a gateway could not be reached (the cause is in the logs).
pub const UNREACHABLE: &str = "the gateway could not be reached or did not answer in time";

fn declined(number: u32, code: &str, message: &str) -> Vec<DepositEvent> {
    vec![
        DepositEvent::AttemptFailed {
            attempt: number,
            reason: FailureReason::new(code, message),
            retryable: false,
        },
        DepositEvent::DepositFailed {
            reason: FailureReason::new(code, message),
        },
    ]
}
