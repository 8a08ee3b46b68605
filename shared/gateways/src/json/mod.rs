//! The JSON REST connector (WIRE.md, format `json`).

pub(crate) mod transformers;

use crate::classify::{
    CREATE_PAYMENT, CREATE_PAYOUT, PAYMENT_STATUS, PAYOUT_STATUS, log_payment, log_refund,
    log_refund_status, log_status,
};
use crate::connector::Connector;
use crate::transport::{Reply, TransportError};
use async_trait::async_trait;
use paygate_domain::ports::gateway::{
    GatewayConnector, HealthOutcome, PaymentOutcome, PaymentRequest, RefundOutcome, RefundRequest,
    RefundStatusOutcome, StatusOutcome,
};
use reqwest::{Method, Url};
use transformers::{
    CreatePaymentReply, CreatePayoutReply, JsonPaymentRequest, JsonPayoutRequest,
    JsonRefundRequest, PaymentStatusReply, PayoutStatusReply, RefundReply, RefundStatusReply,
};

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const CONTENT_TYPE: &str = "Content-Type";
const JSON: &str = "application/json";

/// The JSON REST format, as the type parameter of [`Connector`].
pub enum Json {}

/// Speaks the JSON REST format.
pub type JsonConnector = Connector<Json>;

impl JsonConnector {
    async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        body: Result<Vec<u8>, serde_json::Error>,
    ) -> Result<Reply, TransportError> {
        let url = self.transport.endpoint(path)?;
        let body = body.map_err(|e| TransportError::NotSent(format!("unencodable body: {e}")))?;
        let headers = [(IDEMPOTENCY_KEY, idempotency_key), (CONTENT_TYPE, JSON)];
        self.transport.send(Method::POST, url, &headers, body).await
    }

    /// By the PSP's id when known (one path segment), else by the idempotency key.
    async fn lookup(
        &self,
        path: &str,
        idempotency_key: &str,
        id: Option<&str>,
    ) -> Result<Reply, TransportError> {
        let url: Url = match id {
            Some(id) => self.transport.endpoint_with_segment(path, id)?,
            None => self
                .transport
                .endpoint_with_query(path, "idempotency_key", idempotency_key)?,
        };
        self.transport.send(Method::GET, url, &[], Vec::new()).await
    }
}

#[async_trait]
impl GatewayConnector for JsonConnector {
    #[tracing::instrument(skip_all, fields(gateway.format = "json", deposit_id = %request.deposit_id))]
    async fn create_payment(&self, request: &PaymentRequest) -> PaymentOutcome {
        let body = serde_json::to_vec(&JsonPaymentRequest::from(request));
        let outcome = self
            .post("/v1/payments", &request.idempotency_key, body)
            .await
            .map_or_else(PaymentOutcome::from, |reply| {
                CreatePaymentReply(reply).into()
            });
        log_payment(CREATE_PAYMENT, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn payment_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome {
        let outcome = self
            .lookup("/v1/payments", idempotency_key, external_id)
            .await
            .map_or_else(StatusOutcome::from, |reply| {
                PaymentStatusReply(reply).into()
            });
        log_status(PAYMENT_STATUS, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json", payout_id = %request.deposit_id))]
    async fn create_payout(&self, request: &PaymentRequest) -> PaymentOutcome {
        let body = serde_json::to_vec(&JsonPayoutRequest::from(request));
        let outcome = self
            .post("/v1/payouts", &request.idempotency_key, body)
            .await
            .map_or_else(PaymentOutcome::from, |reply| {
                CreatePayoutReply(reply).into()
            });
        log_payment(CREATE_PAYOUT, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn payout_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome {
        let outcome = self
            .lookup("/v1/payouts", idempotency_key, external_id)
            .await
            .map_or_else(StatusOutcome::from, |reply| PayoutStatusReply(reply).into());
        log_status(PAYOUT_STATUS, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let body = serde_json::to_vec(&JsonRefundRequest::from(request));
        let outcome = self
            .post("/v1/refunds", &request.idempotency_key, body)
            .await
            .map_or_else(RefundOutcome::from, |reply| RefundReply(reply).into());
        log_refund(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn refund_status(
        &self,
        idempotency_key: &str,
        refund_external_id: Option<&str>,
    ) -> RefundStatusOutcome {
        let outcome = self
            .lookup("/v1/refunds", idempotency_key, refund_external_id)
            .await
            .map_or_else(RefundStatusOutcome::from, |reply| {
                RefundStatusReply(reply).into()
            });
        log_refund_status(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn health(&self) -> HealthOutcome {
        self.transport.health("/health").await
    }
}
