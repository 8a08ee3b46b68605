//! Turning an untrusted JSON body into a validated deposit or payout request, with an
//! error that names the offending parameter.

use crate::deposit::Direction;
use crate::money::{Amount, AmountError, Country, Currency, MAX_AMOUNT_MINOR};
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a request was refused: what kind of problem, a message, and the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct ValidationError {
    pub code: ValidationCode,
    pub message: String,
    pub param: String,
}

/// The kinds of problem a request can have. The edge gives each its stable code
/// (`paygate_api::ErrorCode`), so the wire strings live in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationCode {
    /// The body is not a JSON object.
    BodyInvalid,
    ParameterMissing,
    ParameterInvalidType,
    ParameterUnknown,
    AmountInvalid,
    AmountTooLarge,
    CurrencyInvalid,
    CountryInvalid,
    CustomerIdInvalid,
    PaymentMethodInvalid,
    PaymentMethodTypeInvalid,
    PaymentMethodTokenInvalid,
    DestinationInvalid,
    DestinationTypeInvalid,
    DestinationTokenInvalid,
    MetadataInvalid,
}

impl ValidationError {
    fn new(code: ValidationCode, param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: param.into(),
        }
    }
}

pub const MAX_CUSTOMER_ID_LEN: usize = 255;
pub const MAX_TOKEN_LEN: usize = 255;
pub const MAX_METADATA_KEYS: usize = 20;
pub const MAX_METADATA_KEY_LEN: usize = 40;
pub const MAX_METADATA_VALUE_LEN: usize = 500;
pub const PAYMENT_METHOD_TYPES: [&str; 1] = ["card"];
pub const DESTINATION_TYPES: [&str; 1] = ["bank_account"];

/// A payment method as the merchant sent it; the token is secret until encrypted.
#[derive(Debug, Clone)]
pub struct PaymentMethodInput {
    pub kind: String,
    pub token: SecretString,
}

/// A deposit (or payout) request that passed every check, before its secrets are
/// encrypted. A payout has no customer (`customer_id` is empty) and its destination in
/// `payment_method`.
#[derive(Debug, Clone)]
pub struct DepositRequest {
    pub direction: Direction,
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    pub customer_id: String,
    pub payment_method: Option<PaymentMethodInput>,
    pub metadata: BTreeMap<String, String>,
}

const DEPOSIT_FIELDS: [&str; 6] = [
    "amount",
    "currency",
    "country",
    "customer_id",
    "payment_method",
    "metadata",
];

pub fn parse_deposit_request(body: &Value) -> Result<DepositRequest, ValidationError> {
    let object = body_fields(body, &DEPOSIT_FIELDS)?;
    Ok(DepositRequest {
        direction: Direction::Deposit,
        amount: parse_amount(object.get("amount"), "amount")?,
        currency: parse_currency(object.get("currency"))?,
        country: parse_country(object.get("country"))?,
        customer_id: parse_customer_id(object.get("customer_id"))?,
        payment_method: parse_instrument(object.get("payment_method"), &PAYMENT_METHOD)?,
        metadata: parse_metadata(object.get("metadata"))?,
    })
}

const PAYOUT_FIELDS: [&str; 5] = ["amount", "currency", "country", "destination", "metadata"];

/// A payout: `amount`, `currency`, `country`, a required `destination`
/// (`{"type": "bank_account", "token": "ba_..."}`) and optional `metadata`.
pub fn parse_payout_request(body: &Value) -> Result<DepositRequest, ValidationError> {
    let object = body_fields(body, &PAYOUT_FIELDS)?;
    let amount = parse_amount(object.get("amount"), "amount")?;
    let currency = parse_currency(object.get("currency"))?;
    let country = parse_country(object.get("country"))?;
    let destination = parse_instrument(object.get("destination"), &DESTINATION)?
        .ok_or_else(|| missing("destination"))?;
    Ok(DepositRequest {
        direction: Direction::Payout,
        amount,
        currency,
        country,
        customer_id: String::new(),
        payment_method: Some(destination),
        metadata: parse_metadata(object.get("metadata"))?,
    })
}

/// A payment method or a payout destination: an object with a `type` and a `token`.
struct Instrument {
    param: &'static str,
    types: &'static [&'static str],
    invalid: ValidationCode,
    type_invalid: ValidationCode,
    token_invalid: ValidationCode,
}

const PAYMENT_METHOD: Instrument = Instrument {
    param: "payment_method",
    types: &PAYMENT_METHOD_TYPES,
    invalid: ValidationCode::PaymentMethodInvalid,
    type_invalid: ValidationCode::PaymentMethodTypeInvalid,
    token_invalid: ValidationCode::PaymentMethodTokenInvalid,
};

const DESTINATION: Instrument = Instrument {
    param: "destination",
    types: &DESTINATION_TYPES,
    invalid: ValidationCode::DestinationInvalid,
    type_invalid: ValidationCode::DestinationTypeInvalid,
    token_invalid: ValidationCode::DestinationTokenInvalid,
};

/// An amount in minor units: a positive JSON number with no fraction, within
/// [`crate::money::MAX_AMOUNT_MINOR`]. `null` is the same as absent. `38.0` and `1e3` are
/// integers in JSON's number model (and JSON Schema's), so they are taken as `38` and
/// `1000`; integers beyond `u64` arrive as floats and are too large, not invalid.
pub fn parse_amount(value: Option<&Value>, param: &str) -> Result<Amount, ValidationError> {
    let number = match value {
        None | Some(Value::Null) => return Err(missing(param)),
        Some(Value::Number(number)) => number,
        Some(_) => return Err(amount_invalid(param)),
    };
    let minor = match (number.as_u64(), number.as_f64()) {
        (Some(minor), _) => minor,
        (None, Some(float)) if float.fract() == 0.0 && float >= 1.0 => {
            if float > MAX_AMOUNT_MINOR as f64 {
                return Err(amount_too_large(param));
            }
            // Exact: below the maximum, far below 2^53.
            float as u64
        }
        _ => return Err(amount_invalid(param)),
    };
    match Amount::new(minor) {
        Ok(amount) => Ok(amount),
        Err(AmountError::TooLarge) => Err(amount_too_large(param)),
        Err(_) => Err(amount_invalid(param)),
    }
}

fn amount_invalid(param: &str) -> ValidationError {
    ValidationError::new(
        ValidationCode::AmountInvalid,
        param,
        "amount must be a positive integer in minor units",
    )
}

fn amount_too_large(param: &str) -> ValidationError {
    ValidationError::new(
        ValidationCode::AmountTooLarge,
        param,
        AmountError::TooLarge.to_string(),
    )
}

fn parse_currency(value: Option<&Value>) -> Result<Currency, ValidationError> {
    let text = required_str(value, "currency")?;
    Currency::parse(text).map_err(|e| {
        ValidationError::new(ValidationCode::CurrencyInvalid, "currency", e.to_string())
    })
}

fn parse_country(value: Option<&Value>) -> Result<Country, ValidationError> {
    let text = required_str(value, "country")?;
    Country::parse(text)
        .map_err(|e| ValidationError::new(ValidationCode::CountryInvalid, "country", e.to_string()))
}

fn parse_customer_id(value: Option<&Value>) -> Result<String, ValidationError> {
    let text = required_str(value, "customer_id")?;
    if !(1..=MAX_CUSTOMER_ID_LEN).contains(&text.chars().count())
        || text.chars().any(char::is_control)
    {
        return Err(ValidationError::new(
            ValidationCode::CustomerIdInvalid,
            "customer_id",
            format!(
                "customer_id must be 1 to {MAX_CUSTOMER_ID_LEN} characters without control characters"
            ),
        ));
    }
    Ok(text.to_owned())
}

fn parse_instrument(
    value: Option<&Value>,
    spec: &Instrument,
) -> Result<Option<PaymentMethodInput>, ValidationError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let param = spec.param;
    let object = value.as_object().ok_or_else(|| {
        ValidationError::new(spec.invalid, param, format!("{param} must be an object"))
    })?;
    reject_unknown(object, &["type", "token"], &format!("{param}."))?;
    let type_param = format!("{param}.type");
    let kind = required_str(object.get("type"), &type_param)?;
    if !spec.types.contains(&kind) {
        return Err(ValidationError::new(
            spec.type_invalid,
            &type_param,
            format!("{type_param} must be one of {}", spec.types.join(", ")),
        ));
    }
    let token_param = format!("{param}.token");
    let token = required_str(object.get("token"), &token_param)?;
    if !(1..=MAX_TOKEN_LEN).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            spec.token_invalid,
            &token_param,
            format!("{token_param} must be 1 to {MAX_TOKEN_LEN} printable characters"),
        ));
    }
    Ok(Some(PaymentMethodInput {
        kind: kind.to_owned(),
        token: SecretString::from(token.to_owned()),
    }))
}

fn parse_metadata(value: Option<&Value>) -> Result<BTreeMap<String, String>, ValidationError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let invalid = || {
        ValidationError::new(
            ValidationCode::MetadataInvalid,
            "metadata",
            format!(
                "metadata must be an object of at most {MAX_METADATA_KEYS} string values, keys up to \
                 {MAX_METADATA_KEY_LEN} and values up to {MAX_METADATA_VALUE_LEN} characters"
            ),
        )
    };
    let object = value.as_object().ok_or_else(invalid)?;
    if object.len() > MAX_METADATA_KEYS {
        return Err(invalid());
    }
    object
        .iter()
        .map(|(key, value)| match value.as_str() {
            Some(text)
                if (1..=MAX_METADATA_KEY_LEN).contains(&key.chars().count())
                    && text.chars().count() <= MAX_METADATA_VALUE_LEN =>
            {
                Ok((key.clone(), text.to_owned()))
            }
            _ => Err(invalid()),
        })
        .collect()
}

fn required_str<'a>(value: Option<&'a Value>, param: &str) -> Result<&'a str, ValidationError> {
    match value {
        None | Some(Value::Null) => Err(missing(param)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(ValidationError::new(
            ValidationCode::ParameterInvalidType,
            param,
            format!("{param} must be a string"),
        )),
    }
}

fn missing(param: &str) -> ValidationError {
    ValidationError::new(
        ValidationCode::ParameterMissing,
        param,
        format!("{param} is required"),
    )
}

/// The body's members, if it is a JSON object naming only `known` fields.
fn body_fields<'a>(
    body: &'a Value,
    known: &[&str],
) -> Result<&'a Map<String, Value>, ValidationError> {
    let object = body.as_object().ok_or_else(|| {
        ValidationError::new(
            ValidationCode::BodyInvalid,
            "",
            "the body must be a JSON object",
        )
    })?;
    reject_unknown(object, known, "")?;
    Ok(object)
}

fn reject_unknown(
    object: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ValidationError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ValidationError::new(
            ValidationCode::ParameterUnknown,
            format!("{prefix}{unknown}"),
            format!("{prefix}{unknown} is not a known parameter"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({ "amount": 10099, "currency": "AED", "country": "AE", "customer_id": "cus_42",
                "payment_method": { "type": "card", "token": "tok_visa" },
                "metadata": { "order": "A-1" } })
    }

    fn error_for(patch: impl FnOnce(&mut Map<String, Value>)) -> ValidationError {
        let mut body = valid();
        patch(body.as_object_mut().unwrap());
        parse_deposit_request(&body).unwrap_err()
    }

    /// Like metadata, `customer_id` is limited in characters, not UTF-8 bytes.
    #[test]
    fn customer_id_length_counts_characters() {
        let mut body = valid();
        body["customer_id"] = json!("é".repeat(MAX_CUSTOMER_ID_LEN));
        let request = parse_deposit_request(&body).unwrap();
        assert_eq!(request.customer_id.chars().count(), MAX_CUSTOMER_ID_LEN);
        let err = error_for(|b| {
            b.insert(
                "customer_id".into(),
                json!("é".repeat(MAX_CUSTOMER_ID_LEN + 1)),
            );
        });
        assert_eq!(err.code, ValidationCode::CustomerIdInvalid);
    }

    #[test]
    fn a_complete_request_is_accepted() {
        let request = parse_deposit_request(&valid()).unwrap();
        assert_eq!(request.amount.minor(), 10099);
        assert_eq!(request.currency.code(), "AED");
        assert_eq!(request.metadata["order"], "A-1");
        assert!(
            !format!("{request:?}").contains("tok_visa"),
            "the token must not be printable"
        );
    }

    #[test]
    fn bad_amounts_name_the_amount_parameter() {
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("100"),
            json!(0.0),
            json!(-3.0),
        ] {
            let error = error_for(|b| {
                b.insert("amount".into(), bad.clone());
            });
            assert_eq!(
                (error.code, error.param.as_str()),
                (ValidationCode::AmountInvalid, "amount"),
                "{bad}"
            );
        }
        for absent in [None, Some(Value::Null)] {
            let error = error_for(|b| {
                b.remove("amount");
                if let Some(value) = absent.clone() {
                    b.insert("amount".into(), value);
                }
            });
            assert_eq!(error.code, ValidationCode::ParameterMissing, "{absent:?}");
        }
    }

    #[test]
    fn amounts_beyond_the_maximum_are_too_large_even_beyond_u64() {
        let beyond_u64: Value = serde_json::from_str("18446744073709551616").unwrap();
        for large in [
            json!(MAX_AMOUNT_MINOR + 1),
            json!(u64::MAX),
            beyond_u64,
            json!(1e300),
        ] {
            let error = error_for(|b| {
                b.insert("amount".into(), large.clone());
            });
            assert_eq!(error.code, ValidationCode::AmountTooLarge, "{large}");
        }
    }

    #[test]
    fn integral_floats_are_the_integers_they_equal() {
        for (written, minor) in [
            ("38.0", 38),
            ("1e3", 1000),
            ("1000000000000000.0", 1_000_000_000_000_000),
        ] {
            let value: Value = serde_json::from_str(written).unwrap();
            let amount = parse_amount(Some(&value), "amount").unwrap();
            assert_eq!(amount.minor(), minor, "{written}");
        }
    }

    #[test]
    fn unknown_currency_country_and_fields_are_refused() {
        let error = error_for(|b| {
            b.insert("currency".into(), json!("ABC"));
        });
        assert_eq!(error.code, ValidationCode::CurrencyInvalid);
        let error = error_for(|b| {
            b.insert("country".into(), json!("XX"));
        });
        assert_eq!(error.code, ValidationCode::CountryInvalid);
        let error = error_for(|b| {
            b.insert("gateway".into(), json!("psp_a"));
        });
        assert_eq!(
            (error.code, error.param.as_str()),
            (ValidationCode::ParameterUnknown, "gateway")
        );
    }

    fn payout() -> Value {
        json!({ "amount": 5000, "currency": "EUR", "country": "DE",
                "destination": { "type": "bank_account", "token": "ba_success" },
                "metadata": { "ref": "p-1" } })
    }

    #[test]
    fn a_payout_needs_a_bank_account_destination() {
        let request = parse_payout_request(&payout()).unwrap();
        assert_eq!(request.direction, Direction::Payout);
        assert_eq!(request.payment_method.unwrap().kind, "bank_account");
        assert!(request.customer_id.is_empty());
        let refused = |patch: &dyn Fn(&mut Map<String, Value>)| {
            let mut body = payout();
            patch(body.as_object_mut().unwrap());
            let error = parse_payout_request(&body).unwrap_err();
            (error.code, error.param)
        };
        assert_eq!(
            refused(&|b| {
                b.remove("destination");
            }),
            (ValidationCode::ParameterMissing, "destination".into())
        );
        assert_eq!(
            refused(&|b| {
                b.insert(
                    "destination".into(),
                    json!({ "type": "card", "token": "t" }),
                );
            }),
            (
                ValidationCode::DestinationTypeInvalid,
                "destination.type".into()
            )
        );
        assert_eq!(
            refused(&|b| {
                b.insert("destination".into(), json!("ba_success"));
            }),
            (ValidationCode::DestinationInvalid, "destination".into())
        );
        assert_eq!(
            refused(&|b| {
                b.insert("customer_id".into(), json!("cus_1"));
            }),
            (ValidationCode::ParameterUnknown, "customer_id".into())
        );
    }

    #[test]
    fn oversized_metadata_is_refused() {
        let many: Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
        let error = error_for(|b| {
            b.insert("metadata".into(), Value::Object(many));
        });
        assert_eq!(error.code, ValidationCode::MetadataInvalid);
    }
}
