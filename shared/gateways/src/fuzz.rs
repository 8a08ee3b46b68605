//! Property-based fuzzing of everything the PSPs send us: webhook notifications in both
//! formats ([`parse_notification`]) and the answers to every call, JSON and SOAP (each
//! format's `CreatePaymentReply`, `PaymentStatusReply`, `RefundReply`,
//! `RefundStatusReply`, `CreatePayoutReply`, `PayoutStatusReply`) under every HTTP status.
//!
//! Each reader never panics, on any bytes and on structure-aware mutations of the
//! documented bodies (WIRE.md): fields and elements removed, repeated, retyped, renamed,
//! nested deep, huge numbers, unicode, control characters, entities, long text, cut
//! short. What it accepts keeps the rules (ids non-blank and trimmed, money valid, codes
//! plain, an outcome the HTTP status allows), and the documented bodies read as sent.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=200000 cargo test --release -p paygate-gateways --lib fuzz`.

use crate::classify::{HttpClass, psp_code};
use crate::transport::Reply;
use crate::webhooks::{NotificationError, parse_notification};
use paygate_domain::gateways::WireFormat;
use paygate_domain::money::MAX_AMOUNT_MINOR;
use paygate_domain::ports::gateway::{
    GatewayNotification, NotifiedOutcome, PaymentOutcome, PaymentState, RefundOutcome,
    RefundSettlement, RefundStatusOutcome, StatusOutcome,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};

/// Proptest's defaults, so `PROPTEST_CASES` sets the cases; a failure is kept in the
/// crate's `proptest-regressions/` and replayed first from then on.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------ readers

/// A module reading every PSP answer as the `$format` connector reads it.
macro_rules! readers_of {
    ($module:ident, $format:ident) => {
        mod $module {
            use crate::test_support::reply_readers;
            use crate::transport::Reply;
            use crate::$format::transformers::{
                CreatePaymentReply, CreatePayoutReply, PaymentStatusReply, PayoutStatusReply,
                RefundReply, RefundStatusReply,
            };
            use paygate_domain::ports::gateway::{
                PaymentOutcome, RefundOutcome, RefundStatusOutcome, StatusOutcome,
            };
            reply_readers!();

            /// `reply` read as this format reads the answer to `call`.
            pub(super) fn read(call: super::Call, reply: Reply) -> super::Read {
                use super::{Call, Read};
                match call {
                    Call::CreatePayment => Read::Payment(create(reply)),
                    Call::PaymentStatus => Read::Status(status(reply)),
                    Call::Refund => Read::Refund(refund(reply)),
                    Call::RefundStatus => Read::RefundStatus(refund_status(reply)),
                    Call::CreatePayout => Read::Payment(create_payout(reply)),
                    Call::PayoutStatus => Read::Status(payout_status(reply)),
                }
            }
        }
    };
}

readers_of!(json_readers, json);
readers_of!(soap_readers, soap);

/// Which answer is read, and so which words it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    CreatePayment,
    PaymentStatus,
    Refund,
    RefundStatus,
    CreatePayout,
    PayoutStatus,
}

const CALLS: [Call; 6] = [
    Call::CreatePayment,
    Call::PaymentStatus,
    Call::Refund,
    Call::RefundStatus,
    Call::CreatePayout,
    Call::PayoutStatus,
];

/// What a reader made of an answer.
#[derive(Debug)]
enum Read {
    Payment(PaymentOutcome),
    Status(StatusOutcome),
    Refund(RefundOutcome),
    RefundStatus(RefundStatusOutcome),
}

fn read(format: WireFormat, call: Call, reply: Reply) -> Read {
    match format {
        WireFormat::Json => json_readers::read(call, reply),
        WireFormat::Soap => soap_readers::read(call, reply),
    }
}

// ------------------------------------------------------------------ rules

/// An id the PSP gave, as the domain may keep it: non-blank, no surrounding whitespace.
fn check_id(id: &str) -> Result<(), TestCaseError> {
    prop_assert!(!id.is_empty(), "blank id");
    prop_assert_eq!(id.trim(), id);
    Ok(())
}

/// A code fit for the domain and the logs: 1 to 64 of `[A-Za-z0-9_.-]`.
fn check_code(code: &str) -> Result<(), TestCaseError> {
    let plain = psp_code(Some(code));
    prop_assert_eq!(plain.as_deref(), Some(code), "unplain code");
    Ok(())
}

/// A message fit for an outcome: short, no control characters.
fn check_message(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(message.chars().count() <= 200);
    prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
    Ok(())
}

fn check_state(state: &PaymentState) -> Result<(), TestCaseError> {
    match state {
        PaymentState::Failed { code } | PaymentState::Declined { code } => check_code(code),
        PaymentState::Pending | PaymentState::Succeeded => Ok(()),
    }
}

/// What every reading must respect, whatever the body: the rules of its values, and the
/// outcomes the HTTP status leaves open (the table in `crate::connector`).
fn check_read(format: WireFormat, status: u16, read: &Read) -> Result<(), TestCaseError> {
    let class = HttpClass::of(status);
    let success = class == HttpClass::Success;
    let soap = format == WireFormat::Soap;
    match read {
        Read::Payment(outcome) => match outcome {
            PaymentOutcome::Accepted { external_id } => {
                prop_assert!(success, "accepted on {}", status);
                check_id(external_id)?;
            }
            PaymentOutcome::Declined { code, message } => {
                prop_assert!(
                    matches!(class, HttpClass::Success | HttpClass::Rejected)
                        || (soap && status == 500),
                    "declined on {}",
                    status
                );
                check_code(code)?;
                check_message(message)?;
            }
            PaymentOutcome::Transient { .. } => {
                prop_assert_eq!(class, HttpClass::NotActedOn, "transient on {}", status);
            }
            PaymentOutcome::Ambiguous { .. } => {
                prop_assert_ne!(class, HttpClass::NotActedOn, "ambiguous on {}", status);
            }
        },
        Read::Status(outcome) => match outcome {
            StatusOutcome::Found {
                external_id, state, ..
            } => {
                prop_assert!(success, "found on {}", status);
                check_id(external_id)?;
                check_state(state)?;
            }
            StatusOutcome::NotFound => prop_assert!(
                status == 404 || (soap && (success || status == 500)),
                "not found on {}",
                status
            ),
            StatusOutcome::Unknown { .. } => {}
        },
        Read::Refund(outcome) => match outcome {
            RefundOutcome::Accepted { refund_external_id } => {
                prop_assert!(success, "accepted on {}", status);
                check_id(refund_external_id)?;
            }
            RefundOutcome::Rejected { code, message } => {
                prop_assert!(
                    matches!(class, HttpClass::Success | HttpClass::Rejected)
                        || status == 404
                        || (soap && status == 500),
                    "rejected on {}",
                    status
                );
                check_code(code)?;
                check_message(message)?;
            }
            RefundOutcome::Transient { .. } => {
                prop_assert_eq!(class, HttpClass::NotActedOn, "transient on {}", status);
            }
            RefundOutcome::Ambiguous { .. } => {
                prop_assert_ne!(class, HttpClass::NotActedOn, "ambiguous on {}", status);
            }
        },
        Read::RefundStatus(outcome) => match outcome {
            RefundStatusOutcome::Found {
                refund_external_id,
                state,
            } => {
                prop_assert!(success, "found on {}", status);
                check_id(refund_external_id)?;
                if let RefundSettlement::Failed { code } = state {
                    check_code(code)?;
                }
            }
            RefundStatusOutcome::NotFound => prop_assert!(
                status == 404 || (soap && (success || status == 500)),
                "not found on {}",
                status
            ),
            RefundStatusOutcome::Unknown { .. } => {}
        },
    }
    Ok(())
}

/// An accepted notification: ids and reference non-blank and trimmed, a plain code.
fn check_notification(notification: &GatewayNotification) -> Result<(), TestCaseError> {
    check_id(&notification.event_id)?;
    check_id(&notification.external_id)?;
    check_id(&notification.reference)?;
    prop_assert!((1..=MAX_AMOUNT_MINOR).contains(&notification.charged.amount.minor()));
    match &notification.outcome {
        NotifiedOutcome::PaymentSucceeded => {}
        NotifiedOutcome::PaymentFailed { code } => check_code(code)?,
        NotifiedOutcome::RefundSucceeded { refund_external_id } => check_id(refund_external_id)?,
        NotifiedOutcome::RefundFailed {
            refund_external_id,
            code,
        } => {
            check_id(refund_external_id)?;
            check_code(code)?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ generators

/// Text a reader should survive: any unicode, control characters, markup and JSON
/// punctuation, entities, numbers at the edges, long runs.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f <>&;\"'{}\\[\\]:,/=]{0,6}",
        "(&(amp|lt|gt|quot|apos|nbsp|x);|&#x?[0-9a-fA-F]{1,8};|<!\\[CDATA\\[[a-z]{0,3}\\]\\]>){1,3}",
        "-?[0-9]{1,30}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,4})?",
        "[\\u{1F600}-\\u{1F64F}\\u{0660}-\\u{0669}é \\t]{1,6}",
        "[ \\t\\n]*[a-z_]{1,10}[ \\t\\n]*",
        (0usize..3000, select(vec!['a', '<', '[', '{', '0', ' ']))
            .prop_map(|(n, c)| c.to_string().repeat(n)),
        Just(String::new()),
    ]
}

fn currency() -> impl Strategy<Value = &'static str> {
    select(vec!["AED", "USD", "EUR", "JPY", "KWD", "GBP", "BHD", "CHF"])
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..100_000, 1..=MAX_AMOUNT_MINOR]
}

fn hex_id(prefix: &'static str) -> impl Strategy<Value = String> {
    "[0-9a-f]{32}".prop_map(move |hex| format!("{prefix}{hex}"))
}

fn plain_code() -> impl Strategy<Value = String> {
    "[a-z_]{1,30}"
}

/// Any status, weighted towards the ones the table names.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        select(vec![
            200, 201, 204, 301, 400, 401, 402, 403, 404, 405, 408, 409, 410, 422, 429, 500, 502,
            503, 504,
        ]),
        100u16..600,
    ]
}

/// A JSON value, any type, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        nasty_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(nasty_text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One change to a JSON object's members, or to its text.
#[derive(Debug, Clone)]
enum JsonEdit {
    Remove(Index),
    Replace(Index, Value),
    Insert(String, Value),
    /// A member named again at the start of the text.
    Repeat(Index, Value),
    InsertBytes(Index, Vec<u8>),
    Truncate(Index),
    Nest(usize),
}

/// The field names of both formats' JSON, so a mutation may put one back wrongly typed.
const JSON_FIELDS: [&str; 14] = [
    "id",
    "type",
    "payment_id",
    "payout_id",
    "refund_id",
    "reference",
    "amount",
    "currency",
    "failure_code",
    "status",
    "error",
    "code",
    "message",
    "created",
];

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let name = prop_oneof![
        3 => select(JSON_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => nasty_text(),
    ];
    prop_oneof![
        any::<Index>().prop_map(JsonEdit::Remove),
        (any::<Index>(), any_json()).prop_map(|(at, v)| JsonEdit::Replace(at, v)),
        (name, any_json()).prop_map(|(k, v)| JsonEdit::Insert(k, v)),
        (any::<Index>(), any_json()).prop_map(|(at, v)| JsonEdit::Repeat(at, v)),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..4),
                nasty_text().prop_map(String::into_bytes)
            ]
        )
            .prop_map(|(at, b)| JsonEdit::InsertBytes(at, b)),
        any::<Index>().prop_map(JsonEdit::Truncate),
        prop_oneof![1usize..140, Just(50_000)].prop_map(JsonEdit::Nest),
    ]
}

/// `body` changed by one to four edits: first to its members, then to its text.
fn mutated_json(body: Value) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(json_edit(), 1..5).prop_map(move |edits| {
        let mut value = body.clone();
        let mut text_edits = Vec::new();
        for edit in edits {
            let Some(object) = value.as_object_mut() else {
                break;
            };
            let keys: Vec<String> = object.keys().cloned().collect();
            let pick = |at: Index| keys.get(at.index(keys.len().max(1))).cloned();
            match edit {
                JsonEdit::Remove(at) => {
                    if let Some(key) = pick(at) {
                        object.remove(&key);
                    }
                }
                JsonEdit::Replace(at, v) => {
                    if let Some(key) = pick(at) {
                        object.insert(key, v);
                    }
                }
                JsonEdit::Insert(k, v) => {
                    object.insert(k, v);
                }
                other => text_edits.push(other),
            }
        }
        let keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut text = serde_json::to_vec(&value).expect("a value serialises");
        for edit in text_edits {
            match edit {
                JsonEdit::Repeat(at, v) if text.first() == Some(&b'{') && !keys.is_empty() => {
                    let key = &keys[at.index(keys.len())];
                    let member = format!("{}:{v},", Value::from(key.as_str()));
                    text.splice(1..1, member.into_bytes());
                }
                JsonEdit::InsertBytes(at, bytes) => {
                    let at = at.index(text.len() + 1);
                    text.splice(at..at, bytes);
                }
                JsonEdit::Truncate(at) => text.truncate(at.index(text.len() + 1)),
                JsonEdit::Nest(depth) => {
                    let mut nested = vec![b'['; depth];
                    nested.append(&mut text);
                    nested.extend(vec![b']'; depth]);
                    text = nested;
                }
                _ => {}
            }
        }
        text
    })
}

/// An XML document as a list of `(element, raw content)` under one root.
#[derive(Debug, Clone)]
struct Xml {
    /// The elements that wrap the fields, outermost first, e.g. `soap:Envelope`.
    wrappers: Vec<String>,
    fields: Vec<(String, String)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Xml {
    fn render(&self) -> String {
        let mut out = String::new();
        for wrapper in &self.wrappers {
            out.push_str(&format!("<{wrapper}>"));
        }
        for (name, content) in &self.fields {
            out.push_str(&format!("<{name}>{content}</{name}>"));
        }
        for wrapper in self.wrappers.iter().rev() {
            let name = wrapper.split_whitespace().next().unwrap_or_default();
            out.push_str(&format!("</{name}>"));
        }
        out
    }
}

/// One change to an XML document's elements, or to its text.
#[derive(Debug, Clone)]
enum XmlEdit {
    Remove(Index),
    Repeat(Index),
    /// Other text, escaped or written raw (so it may be markup).
    Text(Index, String, bool),
    Rename(Index, String),
    Insert(Index, String, String),
    /// The content buried under `depth` elements.
    Nest(Index, usize),
    /// A wrapper dropped, or another prefix for one.
    Unwrap(Index),
    InsertText(Index, String),
    Truncate(Index),
    /// A declaration, a DOCTYPE with entities, a byte order mark, a comment.
    Prolog(&'static str),
}

const XML_FIELDS: [&str; 17] = [
    "p:EventId",
    "p:Type",
    "p:TransactionId",
    "p:PayoutId",
    "p:RefundId",
    "p:Reference",
    "p:Amount",
    "p:Currency",
    "p:ReasonCode",
    "p:Status",
    "faultcode",
    "faultstring",
    "detail",
    "EventId",
    "x:Amount",
    "Amount",
    "soap:Body",
];

fn xml_edit() -> impl Strategy<Value = XmlEdit> {
    let name = prop_oneof![
        3 => select(XML_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => "[A-Za-z_][A-Za-z0-9_.:-]{0,12}",
        1 => nasty_text(),
    ];
    prop_oneof![
        any::<Index>().prop_map(XmlEdit::Remove),
        any::<Index>().prop_map(XmlEdit::Repeat),
        (any::<Index>(), nasty_text(), any::<bool>())
            .prop_map(|(at, t, raw)| XmlEdit::Text(at, t, raw)),
        (any::<Index>(), name.clone()).prop_map(|(at, n)| XmlEdit::Rename(at, n)),
        (any::<Index>(), name, nasty_text()).prop_map(|(at, n, t)| XmlEdit::Insert(
            at,
            n,
            escape(&t)
        )),
        (any::<Index>(), prop_oneof![1usize..64, Just(5_000)])
            .prop_map(|(at, d)| XmlEdit::Nest(at, d)),
        any::<Index>().prop_map(XmlEdit::Unwrap),
        (any::<Index>(), nasty_text()).prop_map(|(at, t)| XmlEdit::InsertText(at, t)),
        any::<Index>().prop_map(XmlEdit::Truncate),
        select(vec![
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<?xml version=\"1.0\" encoding=\"latin1\"?>",
            "\u{FEFF}",
            "<!-- c -->",
            "<!DOCTYPE n [<!ENTITY e \"x\"><!ENTITY f \"&e;&e;&e;&e;\">]>",
            "<!DOCTYPE n SYSTEM \"file:///etc/passwd\">",
        ])
        .prop_map(XmlEdit::Prolog),
    ]
}

/// `xml` changed by one to four edits.
fn mutated_xml(xml: Xml) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(xml_edit(), 1..5).prop_map(move |edits| {
        let mut xml = xml.clone();
        let mut text_edits = Vec::new();
        for edit in edits {
            let len = xml.fields.len();
            let at = |i: Index| i.index(len.max(1)).min(len.saturating_sub(1));
            match edit {
                XmlEdit::Remove(i) if len > 0 => {
                    xml.fields.remove(at(i));
                }
                XmlEdit::Repeat(i) if len > 0 => {
                    let field = xml.fields[at(i)].clone();
                    xml.fields.push(field);
                }
                XmlEdit::Text(i, text, raw) if len > 0 => {
                    xml.fields[at(i)].1 = if raw { text } else { escape(&text) };
                }
                XmlEdit::Rename(i, name) if len > 0 => xml.fields[at(i)].0 = name,
                XmlEdit::Insert(i, name, text) => {
                    xml.fields.insert(i.index(len + 1), (name, text));
                }
                XmlEdit::Nest(i, depth) if len > 0 => {
                    let content = &mut xml.fields[at(i)].1;
                    *content = format!("{}{content}{}", "<x>".repeat(depth), "</x>".repeat(depth));
                }
                XmlEdit::Unwrap(i) if !xml.wrappers.is_empty() => {
                    xml.wrappers.remove(i.index(xml.wrappers.len()));
                }
                other => text_edits.push(other),
            }
        }
        let mut text = xml.render();
        for edit in text_edits {
            match edit {
                XmlEdit::InsertText(i, insert) => {
                    let mut at = i.index(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.insert_str(at, &insert);
                }
                XmlEdit::Truncate(i) => {
                    let mut at = i.index(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.truncate(at);
                }
                XmlEdit::Prolog(prolog) => text.insert_str(0, prolog),
                _ => {}
            }
        }
        text.into_bytes()
    })
}

// ---- notifications

/// A notification as WIRE.md documents it, and what it must read as.
#[derive(Debug, Clone)]
struct Notification {
    event_id: String,
    kind: usize,
    external_id: String,
    refund_id: String,
    reference: String,
    amount: u64,
    currency: &'static str,
    code: Option<String>,
}

const JSON_TYPES: [&str; 6] = [
    "payment.succeeded",
    "payment.failed",
    "refund.succeeded",
    "refund.failed",
    "payout.paid",
    "payout.failed",
];
const SOAP_TYPES: [&str; 6] = [
    "PAYMENT_SUCCEEDED",
    "PAYMENT_FAILED",
    "REFUND_SUCCEEDED",
    "REFUND_FAILED",
    "PAYOUT_PAID",
    "PAYOUT_FAILED",
];

fn notification() -> impl Strategy<Value = Notification> {
    (
        hex_id("evt_"),
        0usize..6,
        hex_id("pay_"),
        hex_id("po_"),
        hex_id("ref_"),
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        amount(),
        currency(),
        prop::option::of(plain_code()),
    )
        .prop_map(
            |(event_id, kind, payment, payout, refund_id, reference, amount, currency, code)| {
                Notification {
                    event_id,
                    kind,
                    external_id: if kind >= 4 { payout } else { payment },
                    refund_id,
                    reference,
                    amount,
                    currency,
                    code,
                }
            },
        )
}

impl Notification {
    fn is_payout(&self) -> bool {
        self.kind >= 4
    }

    fn is_refund(&self) -> bool {
        self.kind == 2 || self.kind == 3
    }

    fn json(&self) -> Value {
        let mut body = json!({
            "id": self.event_id, "type": JSON_TYPES[self.kind], "reference": self.reference,
            "amount": self.amount, "currency": self.currency, "failure_code": self.code,
            "created": 1_700_000_000,
        });
        if self.is_payout() {
            body["payout_id"] = self.external_id.clone().into();
        } else {
            body["payment_id"] = self.external_id.clone().into();
            body["refund_id"] = if self.is_refund() {
                self.refund_id.clone().into()
            } else {
                Value::Null
            };
        }
        body
    }

    fn soap(&self) -> Xml {
        let mut fields = vec![
            ("p:EventId".to_owned(), self.event_id.clone()),
            ("p:Type".to_owned(), SOAP_TYPES[self.kind].to_owned()),
        ];
        if self.is_payout() {
            fields.push(("p:PayoutId".to_owned(), self.external_id.clone()));
        } else {
            fields.push(("p:TransactionId".to_owned(), self.external_id.clone()));
            let refund = if self.is_refund() {
                &self.refund_id[..]
            } else {
                ""
            };
            fields.push(("p:RefundId".to_owned(), refund.to_owned()));
        }
        fields.extend([
            ("p:Reference".to_owned(), self.reference.clone()),
            ("p:Amount".to_owned(), self.amount.to_string()),
            ("p:Currency".to_owned(), self.currency.to_owned()),
            (
                "p:ReasonCode".to_owned(),
                self.code.clone().unwrap_or_default(),
            ),
        ]);
        Xml {
            wrappers: vec![r#"p:Notification xmlns:p="urn:paygate:sim:psp""#.to_owned()],
            fields,
        }
    }

    /// What it must read as.
    fn expected(&self) -> GatewayNotification {
        let code = self.code.clone().unwrap_or_else(|| "failed".to_owned());
        let refund_external_id = self.refund_id.clone();
        GatewayNotification {
            event_id: self.event_id.clone(),
            external_id: self.external_id.clone(),
            reference: self.reference.clone(),
            charged: paygate_domain::Money {
                amount: paygate_domain::Amount::new(self.amount).expect("in range"),
                currency: paygate_domain::Currency::parse(self.currency).expect("a currency"),
            },
            outcome: match self.kind {
                0 | 4 => NotifiedOutcome::PaymentSucceeded,
                1 | 5 => NotifiedOutcome::PaymentFailed { code },
                2 => NotifiedOutcome::RefundSucceeded { refund_external_id },
                _ => NotifiedOutcome::RefundFailed {
                    refund_external_id,
                    code,
                },
            },
        }
    }
}

fn mutated_notification() -> impl Strategy<Value = (WireFormat, Vec<u8>)> {
    (notification(), any::<bool>()).prop_flat_map(|(notification, json)| {
        if json {
            mutated_json(notification.json())
                .prop_map(|b| (WireFormat::Json, b))
                .boxed()
        } else {
            mutated_xml(notification.soap())
                .prop_map(|b| (WireFormat::Soap, b))
                .boxed()
        }
    })
}

// ---- replies

/// A documented answer's body, kept in a form its mutations understand.
#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Xml(Xml),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(value) => value.to_string().into_bytes(),
            Body::Xml(xml) => xml.render().into_bytes(),
        }
    }
}

/// An answer WIRE.md documents for `call`, in `format`: its status and body.
fn documented_reply(format: WireFormat, call: Call) -> BoxedStrategy<(u16, Body)> {
    let fields = (
        hex_id("pay_"),
        hex_id("po_"),
        hex_id("ref_"),
        0usize..4,
        amount(),
        currency(),
        prop::option::of(plain_code()),
        ".{0,60}",
    );
    fields
        .prop_map(
            move |(pay, po, rf, state, amount, currency, code, message)| {
                let answer = Answer {
                    call,
                    pay,
                    po,
                    rf,
                    state,
                    amount,
                    currency,
                    code,
                    message,
                };
                match format {
                    WireFormat::Json => answer.json(),
                    WireFormat::Soap => answer.soap(),
                }
            },
        )
        .boxed()
}

const PAYMENT_STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "declined"];
const PAYOUT_STATUSES: [&str; 4] = ["pending", "paid", "failed", "rejected"];
const REFUND_STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "pending"];

/// The values one documented answer is made of.
struct Answer {
    call: Call,
    pay: String,
    po: String,
    rf: String,
    /// Which of the call's answers (its statuses, a refusal, "not found").
    state: usize,
    amount: u64,
    currency: &'static str,
    code: Option<String>,
    message: String,
}

impl Answer {
    fn lookup(&self) -> bool {
        matches!(
            self.call,
            Call::PaymentStatus | Call::PayoutStatus | Call::RefundStatus
        )
    }

    fn json(self) -> (u16, Body) {
        let error = |status: u16, code: &str| {
            let body = json!({ "error": { "code": code, "message": self.message } });
            (status, Body::Json(body))
        };
        let (amount, currency, code) = (self.amount, self.currency, &self.code);
        let body = match (self.call, self.state) {
            (Call::CreatePayment, 3) => return error(402, "card_declined"),
            (Call::CreatePayout, 3) => return error(422, "destination_rejected"),
            (Call::Refund, 3) => return error(422, "refund_exceeds_payment"),
            (_, 2) if self.lookup() => return error(404, "not_found"),
            (Call::CreatePayment | Call::PaymentStatus, state) => json!({
                "id": self.pay, "status": PAYMENT_STATUSES[state],
                "amount": amount, "currency": currency, "reference": "dep", "failure_code": code,
            }),
            (Call::CreatePayout | Call::PayoutStatus, state) => json!({
                "id": self.po, "status": PAYOUT_STATUSES[state],
                "amount": amount, "currency": currency, "reference": "po", "failure_code": code,
            }),
            (Call::Refund | Call::RefundStatus, state) => json!({
                "id": self.rf, "status": REFUND_STATUSES[state],
                "payment_id": self.pay, "amount": amount, "failure_code": code,
            }),
        };
        (if self.lookup() { 200 } else { 201 }, Body::Json(body))
    }

    fn soap(self) -> (u16, Body) {
        let wrappers = |element: &str| {
            vec![
                r#"soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp""#.to_owned(),
                "soap:Body".to_owned(),
                element.to_owned(),
            ]
        };
        let field = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let fault = |string: &str| {
            let message = format!("<p:Message>{}</p:Message>", escape(&self.message));
            let fields = vec![
                field("faultcode", "soap:Client"),
                field("faultstring", string),
                field("detail", &message),
            ];
            (
                500,
                Body::Xml(Xml {
                    wrappers: wrappers("soap:Fault"),
                    fields,
                }),
            )
        };
        if self.state == 3 && !self.lookup() {
            return fault("InvalidRequest");
        }
        if self.state == 2 && self.lookup() {
            return fault("NotFound");
        }
        let reason = field("p:ReasonCode", self.code.as_deref().unwrap_or_default());
        let amount = field("p:Amount", &self.amount.to_string());
        let currency = field("p:Currency", self.currency);
        let state = self.state;
        let (element, fields) = match self.call {
            Call::CreatePayment => (
                "p:CreatePaymentResponse",
                vec![
                    field("p:TransactionId", &self.pay),
                    field("p:Status", ["PENDING", "DECLINED", "PENDING", ""][state]),
                    reason,
                ],
            ),
            Call::PaymentStatus => (
                "p:GetPaymentStatusResponse",
                vec![
                    field("p:TransactionId", &self.pay),
                    field("p:Status", ["PENDING", "SUCCEEDED", "", "FAILED"][state]),
                    reason,
                    amount,
                    currency,
                ],
            ),
            Call::CreatePayout => (
                "p:CreatePayoutResponse",
                vec![
                    field("p:PayoutId", &self.po),
                    field("p:Status", ["PENDING", "REJECTED", "PENDING", ""][state]),
                    reason,
                ],
            ),
            Call::PayoutStatus => (
                "p:GetPayoutStatusResponse",
                vec![
                    field("p:PayoutId", &self.po),
                    field("p:Status", ["PENDING", "PAID", "", "REJECTED"][state]),
                    reason,
                    amount,
                    currency,
                ],
            ),
            Call::Refund => (
                "p:RefundResponse",
                vec![field("p:RefundId", &self.rf), field("p:Status", "PENDING")],
            ),
            Call::RefundStatus => (
                "p:GetRefundStatusResponse",
                vec![
                    field("p:RefundId", &self.rf),
                    field("p:Status", ["PENDING", "SUCCEEDED", "", "FAILED"][state]),
                    reason,
                ],
            ),
        };
        (
            200,
            Body::Xml(Xml {
                wrappers: wrappers(element),
                fields,
            }),
        )
    }
}

/// What a documented answer must read as: a success for a success, the PSP's own refusal
/// or "not found" for those.
fn check_documented(read: &Read, status: u16) -> Result<(), TestCaseError> {
    let ok = match read {
        Read::Payment(outcome) => match status {
            200..=299 => matches!(
                outcome,
                PaymentOutcome::Accepted { .. } | PaymentOutcome::Declined { .. }
            ),
            _ => matches!(outcome, PaymentOutcome::Declined { .. }),
        },
        Read::Status(outcome) => match status {
            200..=299 => matches!(outcome, StatusOutcome::Found { .. }),
            _ => matches!(outcome, StatusOutcome::NotFound),
        },
        Read::Refund(outcome) => match status {
            200..=299 => matches!(
                outcome,
                RefundOutcome::Accepted { .. } | RefundOutcome::Rejected { .. }
            ),
            _ => matches!(outcome, RefundOutcome::Rejected { .. }),
        },
        Read::RefundStatus(outcome) => match status {
            200..=299 => matches!(outcome, RefundStatusOutcome::Found { .. }),
            _ => matches!(outcome, RefundStatusOutcome::NotFound),
        },
    };
    prop_assert!(ok, "{:?} for a documented {} answer", read, status);
    Ok(())
}

fn format() -> impl Strategy<Value = WireFormat> {
    select(vec![WireFormat::Json, WireFormat::Soap])
}

fn call() -> impl Strategy<Value = Call> {
    select(CALLS.to_vec())
}

/// A documented answer changed by one to four edits, under its status or any other.
fn mutated_reply() -> impl Strategy<Value = (WireFormat, Call, Reply)> {
    (format(), call(), prop::option::of(status())).prop_flat_map(|(format, call, other)| {
        documented_reply(format, call).prop_flat_map(move |(status, body)| {
            let status = other.unwrap_or(status);
            let body = match body {
                Body::Json(value) => mutated_json(value).boxed(),
                Body::Xml(xml) => mutated_xml(xml).boxed(),
            };
            body.prop_map(move |body| (format, call, Reply { status, body }))
        })
    })
}

/// A documented answer, with the format and call it answers.
fn documented() -> impl Strategy<Value = (WireFormat, Call, u16, Reply)> {
    (format(), call()).prop_flat_map(|(format, call)| {
        documented_reply(format, call).prop_map(move |(status, body)| {
            let reply = Reply {
                status,
                body: body.bytes(),
            };
            (format, call, status, reply)
        })
    })
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_a_notification_within_the_rules_or_refused(
        format in format(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            nasty_text().prop_map(String::into_bytes),
        ],
    ) {
        if let Ok(notification) = parse_notification(format, &body) {
            check_notification(&notification)?;
        }
    }

    #[test]
    fn mutated_notifications_are_read_within_the_rules_or_refused(
        (format, body) in mutated_notification()
    ) {
        match parse_notification(format, &body) {
            Ok(notification) => check_notification(&notification)?,
            Err(NotificationError::UnknownType(_)
                | NotificationError::Malformed(_)
                | NotificationError::MissingRefundId
                | NotificationError::InvalidMoney
                | NotificationError::MissingReference) => {}
        }
    }

    #[test]
    fn documented_notifications_read_as_sent(notification in notification(), json in any::<bool>()) {
        let (format, body) = if json {
            (WireFormat::Json, notification.json().to_string())
        } else {
            (WireFormat::Soap, notification.soap().render())
        };
        prop_assert_eq!(parse_notification(format, body.as_bytes()), Ok(notification.expected()));
    }

    #[test]
    fn any_answer_reads_within_the_rules(
        format in format(),
        call in call(),
        status in status(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            nasty_text().prop_map(String::into_bytes),
        ],
    ) {
        let read = read(format, call, Reply { status, body });
        check_read(format, status, &read)?;
    }

    #[test]
    fn mutated_answers_read_within_the_rules((format, call, reply) in mutated_reply()) {
        let status = reply.status;
        let read = read(format, call, reply);
        check_read(format, status, &read)?;
    }

    #[test]
    fn documented_answers_read_as_what_they_say((format, call, status, reply) in documented()) {
        let read = read(format, call, reply);
        check_read(format, status, &read)?;
        check_documented(&read, status)?;
    }
}
