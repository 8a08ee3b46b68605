//! The merchant's lists and balance: `GET /v1/deposits`, `GET /v1/payouts`,
//! `GET /v1/balance` and `GET /v1/balance/transactions`. `paygate_api::list` reads the query; the store alone
//! says whether a cursor is one of the merchant's objects.

use crate::Intake;
use crate::response::{Answer, json, store_failed};
use http::StatusCode;
use paygate_api::list::{self, ListQuery};
use paygate_api::models::{
    BalanceResponse, BalanceTransactionResponse, DepositResponse, ListResponse, PayoutResponse,
};
use paygate_domain::deposit::Direction;
use paygate_domain::ledger::parse_entry_id;
use paygate_domain::service::{balance_transactions, balances};
use paygate_domain::{DepositId, MerchantId};

pub async fn list(
    app: &Intake,
    merchant: &MerchantId,
    direction: Direction,
    query: Option<&str>,
) -> Answer {
    let kind = match direction {
        Direction::Deposit => list::DEPOSITS,
        Direction::Payout => list::PAYOUTS,
    };
    let query = ListQuery::parse(kind, query)?;
    let status = query.status(direction)?;
    let page = query.page(DepositId::parse)?;
    let found = app
        .deposits
        .deposits(merchant, direction, status, &page)
        .await;
    let page = found
        .map_err(store_failed)?
        .ok_or_else(|| query.cursor_not_found())?;
    Ok(match direction {
        Direction::Deposit => json(
            StatusCode::OK,
            &ListResponse::new(page, |view| DepositResponse::from(&view)),
        ),
        Direction::Payout => json(
            StatusCode::OK,
            &ListResponse::new(page, |view| PayoutResponse::from(&view)),
        ),
    })
}

pub async fn get_balance(app: &Intake, merchant: &MerchantId) -> Answer {
    let balances = balances(app.ledger.as_ref(), merchant).await;
    Ok(json(
        StatusCode::OK,
        &BalanceResponse::from(&balances.map_err(store_failed)?),
    ))
}

pub async fn list_balance_transactions(
    app: &Intake,
    merchant: &MerchantId,
    query: Option<&str>,
) -> Answer {
    let query = ListQuery::parse(list::BALANCE_TRANSACTIONS, query)?;
    let page = query.page(parse_entry_id)?;
    let found = balance_transactions(app.ledger.as_ref(), merchant, &page).await;
    let page = found
        .map_err(store_failed)?
        .ok_or_else(|| query.cursor_not_found())?;
    let list = ListResponse::new(page, BalanceTransactionResponse::from);
    Ok(json(StatusCode::OK, &list))
}
