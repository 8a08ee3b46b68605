//! One span per request; authentication, then routing by method and path.

use crate::response::Answer;
use crate::{Intake, create, gateways, lists, read, refund};
use http::Method;
use lambda_http::{Body, Request, Response};
use paygate_api::request::{bearer_key, correlation_id};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::deposit::Direction;
use paygate_domain::{DepositId, MerchantId};
use tracing::{Instrument, field};

pub(crate) enum Route {
    /// `/v1/deposits` or `/v1/payouts`.
    List(Direction),
    One(Direction, DepositId),
    Events(Direction, DepositId),
    DepositRefunds(DepositId),
    /// A malformed id under `/v1/deposits/` or `/v1/payouts/`.
    Unknown(Direction),
    Balance,
    BalanceTransactions,
    Gateways,
}

impl Route {
    /// The route as API Gateway names it, for the span's `path`.
    pub(crate) fn template(&self) -> &'static str {
        use Direction::{Deposit, Payout};
        match self {
            Route::List(Deposit) => "/v1/deposits",
            Route::One(Deposit, _) | Route::Unknown(Deposit) => "/v1/deposits/{id}",
            Route::Events(Deposit, _) => "/v1/deposits/{id}/events",
            Route::List(Payout) => "/v1/payouts",
            Route::One(Payout, _) | Route::Unknown(Payout) => "/v1/payouts/{id}",
            Route::Events(Payout, _) => "/v1/payouts/{id}/events",
            Route::DepositRefunds(_) => "/v1/deposits/{id}/refunds",
            Route::Balance => "/v1/balance",
            Route::BalanceTransactions => "/v1/balance/transactions",
            Route::Gateways => "/v1/gateways",
        }
    }
}

/// The route `path` names exactly: a trailing slash or an empty segment names none, as
/// the spec's paths are written.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    let direction = |name: &str| match name {
        "deposits" => Some(Direction::Deposit),
        "payouts" => Some(Direction::Payout),
        _ => None,
    };
    // A malformed id names nothing, whatever follows it.
    let by_id = |direction, id: &str, route: fn(Direction, DepositId) -> Route| {
        DepositId::parse(id).map_or(Route::Unknown(direction), |id| route(direction, id))
    };
    match segments.as_slice() {
        ["v1", "gateways"] => Some(Route::Gateways),
        ["v1", "balance"] => Some(Route::Balance),
        ["v1", "balance", "transactions"] => Some(Route::BalanceTransactions),
        ["v1", objects] => direction(objects).map(Route::List),
        ["v1", objects, id] => direction(objects).map(|d| by_id(d, id, Route::One)),
        ["v1", objects, id, "events"] => direction(objects).map(|d| by_id(d, id, Route::Events)),
        ["v1", "deposits", id, "refunds"] => Some(by_id(Direction::Deposit, id, |_, id| {
            Route::DepositRefunds(id)
        })),
        _ => None,
    }
}

/// Serves one API request. Never fails: every error becomes the API's error shape.
pub async fn handle(app: &Intake, request: Request) -> Response<Body> {
    let correlation = correlation_id(request.headers(), || uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = field::Empty,
        correlation_id = %correlation,
        merchant_id = field::Empty,
        deposit_id = field::Empty,
        replayed = field::Empty,
        status = field::Empty,
    );
    async move {
        let route = route(request.uri().path());
        let path = route.as_ref().map_or("unknown", Route::template);
        tracing::Span::current().record("path", path);
        let response = match dispatch(app, request, route, &correlation).await {
            Ok(response) => response,
            Err(error) => error.response(),
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!("request handled");
        response
    }
    .instrument(span)
    .await
}

async fn dispatch(
    app: &Intake,
    request: Request,
    route: Option<Route>,
    correlation: &paygate_domain::CorrelationId,
) -> Answer {
    let route = route.ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, "no such route"))?;
    let merchant = authenticate(app, &request).await?;
    tracing::Span::current().record("merchant_id", field::display(&merchant));
    let query = request.uri().query();
    match (request.method().clone(), route) {
        (Method::POST, Route::List(direction)) => {
            create::create(app, &merchant, correlation, direction, request).await
        }
        (Method::GET, Route::List(direction)) => {
            lists::list(app, &merchant, direction, query).await
        }
        (Method::GET, Route::One(direction, id)) => read::get(app, &merchant, direction, id).await,
        (Method::GET, Route::Events(direction, id)) => {
            read::get_events(app, &merchant, direction, id).await
        }
        (Method::POST, Route::DepositRefunds(id)) => {
            refund::create_refund(app, &merchant, id, correlation, request).await
        }
        (Method::GET, Route::Balance) => lists::get_balance(app, &merchant).await,
        (Method::GET, Route::BalanceTransactions) => {
            lists::list_balance_transactions(app, &merchant, query).await
        }
        (Method::GET, Route::Gateways) => gateways::list_gateways(app).await,
        // A malformed id names nothing, whatever the method: the same 404 as unknown.
        (_, Route::Unknown(direction)) => Err(read::not_found(direction)),
        (_, Route::List(_)) => Err(ApiError::method_not_allowed("GET, POST")),
        (_, Route::DepositRefunds(_)) => Err(ApiError::method_not_allowed("POST")),
        (_, _) => Err(ApiError::method_not_allowed("GET")),
    }
}

async fn authenticate(app: &Intake, request: &Request) -> Result<MerchantId, ApiError> {
    let key = bearer_key(request.headers()).ok_or_else(ApiError::unauthenticated)?;
    match app.merchants.merchant_for(&key.hash()).await {
        Ok(Some(merchant)) => Ok(merchant),
        Ok(None) => Err(ApiError::unauthenticated()),
        Err(error) => {
            tracing::error!(%error, "merchant directory unavailable");
            Err(ApiError::unavailable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_endpoints() {
        let id = DepositId(uuid::Uuid::now_v7());
        use Direction::{Deposit, Payout};
        assert!(matches!(route("/v1/deposits"), Some(Route::List(Deposit))));
        assert!(matches!(route("/v1/payouts"), Some(Route::List(Payout))));
        assert!(
            matches!(route(&format!("/v1/deposits/{id}")), Some(Route::One(Deposit, d)) if d == id)
        );
        assert!(
            matches!(route(&format!("/v1/payouts/{id}")), Some(Route::One(Payout, d)) if d == id)
        );
        assert!(
            matches!(route(&format!("/v1/deposits/{id}/events")), Some(Route::Events(Deposit, d)) if d == id)
        );
        assert!(
            matches!(route(&format!("/v1/payouts/{id}/events")), Some(Route::Events(Payout, d)) if d == id)
        );
        assert!(matches!(
            route(&format!("/v1/deposits/{id}/refunds")),
            Some(Route::DepositRefunds(d)) if d == id
        ));
        assert!(route(&format!("/v1/payouts/{id}/refunds")).is_none());
        assert!(matches!(
            route("/v1/deposits/not-a-uuid"),
            Some(Route::Unknown(Deposit))
        ));
        assert!(matches!(
            route("/v1/payouts/not-a-uuid/events"),
            Some(Route::Unknown(Payout))
        ));
        assert!(matches!(route("/v1/gateways"), Some(Route::Gateways)));
        assert!(matches!(route("/v1/balance"), Some(Route::Balance)));
        assert!(matches!(
            route("/v1/balance/transactions"),
            Some(Route::BalanceTransactions)
        ));
        assert!(route("/v1/balance/transactions/txn_1").is_none());
        assert!(route("/v2/deposits").is_none());
        assert!(route("/").is_none());
    }

    #[test]
    fn a_trailing_slash_or_an_empty_segment_names_no_route() {
        let id = DepositId(uuid::Uuid::now_v7());
        for path in [
            "/v1/deposits/".to_owned(),
            "/v1/payouts/".to_owned(),
            "/v1/gateways/".to_owned(),
            "/v1/balance/".to_owned(),
            "/v1/balance/transactions/".to_owned(),
            format!("/v1/deposits/{id}/"),
            format!("/v1/deposits/{id}/events/"),
            format!("/v1/deposits/{id}/refunds/"),
            format!("/v1/payouts/{id}/events/"),
            format!("/v1/deposits//{id}"),
            "//v1/gateways".to_owned(),
            "v1/gateways".to_owned(),
            String::new(),
        ] {
            assert!(route(&path).is_none(), "{path:?}");
        }
    }

    /// Found by the fuzzer (`src/fuzz.rs`): the simple, braced and URN forms of an id
    /// named the same deposit as its hyphenated form.
    #[test]
    fn only_the_hyphenated_id_names_a_deposit() {
        let id = DepositId(uuid::Uuid::now_v7());
        for other in [
            id.0.simple().to_string(),
            id.0.braced().to_string(),
            id.0.urn().to_string(),
        ] {
            assert!(
                matches!(
                    route(&format!("/v1/deposits/{other}")),
                    Some(Route::Unknown(_))
                ),
                "{other}"
            );
        }
        let upper = id.to_string().to_ascii_uppercase();
        assert!(
            matches!(route(&format!("/v1/payouts/{upper}")), Some(Route::One(_, d)) if d == id)
        );
    }

    #[test]
    fn spans_name_the_route_not_the_path() {
        let id = DepositId(uuid::Uuid::now_v7());
        for (path, template) in [
            ("/v1/deposits".to_owned(), "/v1/deposits"),
            (format!("/v1/deposits/{id}"), "/v1/deposits/{id}"),
            ("/v1/deposits/not-a-uuid".to_owned(), "/v1/deposits/{id}"),
            (
                format!("/v1/deposits/{id}/events"),
                "/v1/deposits/{id}/events",
            ),
            (
                format!("/v1/deposits/{id}/refunds"),
                "/v1/deposits/{id}/refunds",
            ),
            ("/v1/payouts".to_owned(), "/v1/payouts"),
            (format!("/v1/payouts/{id}"), "/v1/payouts/{id}"),
            (
                format!("/v1/payouts/{id}/events"),
                "/v1/payouts/{id}/events",
            ),
            ("/v1/gateways".to_owned(), "/v1/gateways"),
            ("/v1/balance".to_owned(), "/v1/balance"),
            (
                "/v1/balance/transactions".to_owned(),
                "/v1/balance/transactions",
            ),
        ] {
            assert_eq!(route(&path).map(|r| r.template()), Some(template), "{path}");
        }
    }
}
