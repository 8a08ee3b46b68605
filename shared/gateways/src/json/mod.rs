//! The JSON REST connector (WIRE.md, format `json`).

mod transformers;

use crate::classify::{log_payment, log_refund, log_status};
use crate::connector::ConnectorConfig;
use crate::transport::{Transport, TransportError};
use async_trait::async_trait;
use paygate_domain::ports::gateway::{
    GatewayConnector, HealthOutcome, PaymentOutcome, PaymentRequest, RefundOutcome, RefundRequest,
    RefundStatusOutcome, StatusOutcome,
};
use reqwest::Method;
use transformers::{
    CreatePaymentReply, JsonPaymentRequest, JsonRefundRequest, PaymentStatusReply, RefundReply,
};

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Speaks the JSON REST format. Cheap to share: one HTTP client, built in [`Self::new`].
pub struct JsonConnector {
    transport: Transport,
}

impl JsonConnector {
    pub fn new(config: ConnectorConfig) -> Self {
        Self {
            transport: Transport::new(config),
        }
    }
}

#[async_trait]
impl GatewayConnector for JsonConnector {
    #[tracing::instrument(skip_all, fields(gateway.format = "json", deposit_id = %request.deposit_id))]
    async fn create_payment(&self, request: &PaymentRequest) -> PaymentOutcome {
        let outcome = async {
            let url = self.transport.endpoint("/v1/payments")?;
            let call = self
                .transport
                .request(Method::POST, url)?
                .header(IDEMPOTENCY_KEY, &request.idempotency_key)
                .json(&JsonPaymentRequest::from(request));
            self.transport.send(call).await
        }
        .await
        .map_or_else(PaymentOutcome::from, |reply| {
            CreatePaymentReply(reply).into()
        });
        log_payment(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn payment_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome {
        let outcome = async {
            let mut url = self.transport.endpoint("/v1/payments")?;
            match external_id {
                // One path segment, percent-encoded: an id can never change the route.
                Some(id) => {
                    url.path_segments_mut()
                        .map_err(|()| {
                            TransportError::NotSent("base URL cannot take a path".into())
                        })?
                        .push(id);
                }
                None => {
                    url.query_pairs_mut()
                        .append_pair("idempotency_key", idempotency_key);
                }
            }
            let call = self.transport.request(Method::GET, url)?;
            self.transport.send(call).await
        }
        .await
        .map_or_else(StatusOutcome::from, |reply| {
            PaymentStatusReply(reply).into()
        });
        log_status(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let outcome = async {
            let url = self.transport.endpoint("/v1/refunds")?;
            let call = self
                .transport
                .request(Method::POST, url)?
                .header(IDEMPOTENCY_KEY, &request.idempotency_key)
                .json(&JsonRefundRequest::from(request));
            self.transport.send(call).await
        }
        .await
        .map_or_else(RefundOutcome::from, |reply| RefundReply(reply).into());
        log_refund(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn refund_status(
        &self,
        _idempotency_key: &str,
        _refund_external_id: Option<&str>,
    ) -> RefundStatusOutcome {
        RefundStatusOutcome::Unknown {
            reason: "refund status lookups are not implemented yet".into(),
        }
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "json"))]
    async fn health(&self) -> HealthOutcome {
        self.transport.health("/health").await
    }
}
