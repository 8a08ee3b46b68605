//! `POST /v1/deposits/{id}/refunds`: `{ "amount": 500 }`, or `{}` for all that is left.

use crate::Intake;
use crate::body::keyed_json;
use crate::read::not_found;
use crate::response::{Answer, accepted, intake_error};
use lambda_http::Request;
use paygate_api::json::canonical_bytes;
use paygate_api::models::RefundResponse;
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::deposit::Direction;
use paygate_domain::deposit::TransitionError;
use paygate_domain::service::intake::KeyContext;
use paygate_domain::service::refund::{
    CREATE_REFUND, RefundCreated, RefundError, RefundInput, request_refund,
};
use paygate_domain::validation::parse_amount;
use paygate_domain::{Amount, CorrelationId, DepositId, MerchantId};
use serde_json::Value;

pub async fn create_refund(
    app: &Intake,
    merchant: &MerchantId,
    deposit_id: DepositId,
    correlation: &CorrelationId,
    request: Request,
) -> Answer {
    tracing::Span::current().record("deposit_id", tracing::field::display(deposit_id));
    let (key, body) = keyed_json(app, &request, true)?;
    let amount = refund_amount(&body)?;
    // The deposit is part of what is asked: the same key on another deposit is a new request.
    let mut fingerprinted = body.clone();
    if let Some(object) = fingerprinted.as_object_mut() {
        object.insert("deposit_id".into(), deposit_id.to_string().into());
    }
    let fingerprint = app
        .cipher
        .fingerprint(CREATE_REFUND, &canonical_bytes(&fingerprinted));
    let input = RefundInput {
        keyed: KeyContext {
            merchant,
            key: &key,
            fingerprint: &fingerprint,
            correlation,
        },
        deposit_id,
        amount,
    };
    let created = request_refund(&app.ports(), input)
        .await
        .map_err(refund_error)?;
    let (refund, deposit, replayed) = match &created {
        RefundCreated::New { refund, deposit } => (refund, deposit, false),
        RefundCreated::Replayed { refund, deposit } => (refund, deposit, true),
    };
    tracing::info!(refund_id = %refund.refund_id, replayed, "refund accepted");
    Ok(accepted(&RefundResponse::new(refund, deposit), replayed))
}

/// The body's `amount`: `None` (absent or `null`) for all that is left. Nothing else
/// may be in it.
pub(crate) fn refund_amount(body: &Value) -> Result<Option<Amount>, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::new(ErrorCode::BodyInvalid, "the body must be a JSON object"))?;
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "amount") {
        return Err(ApiError::new(
            ErrorCode::ParameterUnknown,
            format!("{unknown} is not a known parameter"),
        )
        .with_param(unknown.clone()));
    }
    Ok(match object.get("amount") {
        None | Some(Value::Null) => None,
        value => Some(parse_amount(value, "amount")?),
    })
}

fn refund_error(error: RefundError) -> ApiError {
    match error {
        RefundError::NotFound => not_found(Direction::Deposit),
        RefundError::NothingLeft => ApiError::new(
            ErrorCode::RefundExceedsRemaining,
            "nothing is left to refund on this deposit",
        )
        .with_param("amount"),
        RefundError::Refused(TransitionError::RefundExceedsRemaining {
            requested,
            remaining,
        }) => ApiError::new(
            ErrorCode::RefundExceedsRemaining,
            format!("a refund of {requested} exceeds the {remaining} left to refund"),
        )
        .with_param("amount"),
        RefundError::Refused(TransitionError::TooManyRefunds { max }) => ApiError::new(
            ErrorCode::RefundLimitReached,
            format!("a deposit takes at most {max} refunds; this one has them all"),
        ),
        // Payouts draw on the balance refunds come out of: a refund may no longer fit.
        RefundError::BalanceInsufficient(short) => ApiError::new(
            ErrorCode::BalanceInsufficient,
            format!(
                "the available balance in {} cannot cover this refund",
                short.currency
            ),
        )
        .with_param("amount"),
        RefundError::Refused(TransitionError::IllegalTransition { status, .. }) => ApiError::new(
            ErrorCode::DepositNotRefundable,
            format!("only a succeeded deposit can be refunded; this one is {status}"),
        ),
        RefundError::Refused(other) => {
            tracing::warn!(error = %other, "refund refused");
            ApiError::new(ErrorCode::RefundRefused, "this refund cannot be made")
        }
        RefundError::Contended(_) => ApiError::new(
            ErrorCode::DepositBusy,
            "the deposit is changing right now; retry",
        ),
        RefundError::Intake(error) => intake_error(error),
    }
}
