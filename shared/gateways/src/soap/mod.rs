//! The SOAP 1.1 / XML connector (WIRE.md, format `soap`): one endpoint, `POST /soap`,
//! the operation named by the `SOAPAction` header and the body element.

pub(crate) mod transformers;

use crate::classify::{
    CREATE_PAYMENT, CREATE_PAYOUT, PAYMENT_STATUS, PAYOUT_STATUS, REJECTED_REQUEST, log_payment,
    log_refund, log_refund_status, log_status,
};
use crate::connector::Connector;
use crate::transport::{Reply, TransportError};
use async_trait::async_trait;
use paygate_domain::ports::gateway::{
    GatewayConnector, HealthOutcome, PaymentOutcome, PaymentRequest, RefundOutcome, RefundRequest,
    RefundStatusOutcome, StatusOutcome,
};
use reqwest::Method;
use transformers::{
    CreatePayment, CreatePaymentReply, CreatePayout, CreatePayoutReply, EncodeError,
    GetPaymentStatus, GetPayoutStatus, GetRefundStatus, Operation, PaymentLookup,
    PaymentStatusReply, PayoutLookup, PayoutStatusReply, Refund, RefundLookup, RefundReply,
    RefundStatusReply, SoapRequest,
};

const SOAP_PATH: &str = "/soap";
const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The SOAP 1.1 / XML format, as the type parameter of [`Connector`].
pub enum Soap {}

/// Speaks the SOAP format.
pub type SoapConnector = Connector<Soap>;

impl SoapConnector {
    async fn call(&self, request: SoapRequest) -> Result<Reply, TransportError> {
        let url = self.transport.endpoint(SOAP_PATH)?;
        let headers = [
            ("Content-Type", XML_CONTENT_TYPE),
            ("SOAPAction", request.action),
        ];
        self.transport
            .send(Method::POST, url, &headers, request.xml.into_bytes())
            .await
    }

    /// A create (payment or payout) read by `read`. A request that cannot be encoded is
    /// never sent, and no SOAP gateway could take it either: final.
    async fn create(
        &self,
        soap: Result<SoapRequest, EncodeError>,
        read: fn(Reply) -> PaymentOutcome,
    ) -> PaymentOutcome {
        match soap {
            Ok(soap) => self
                .call(soap)
                .await
                .map_or_else(PaymentOutcome::from, read),
            Err(err) => PaymentOutcome::Declined {
                code: REJECTED_REQUEST.to_owned(),
                message: err.to_string(),
            },
        }
    }

    /// A status lookup (payment or payout) read by `read`.
    async fn look_up(
        &self,
        soap: Result<SoapRequest, EncodeError>,
        read: fn(Reply) -> StatusOutcome,
    ) -> StatusOutcome {
        match soap {
            Ok(soap) => self.call(soap).await.map_or_else(StatusOutcome::from, read),
            Err(err) => StatusOutcome::Unknown {
                reason: err.to_string(),
            },
        }
    }
}

#[async_trait]
impl GatewayConnector for SoapConnector {
    #[tracing::instrument(skip_all, fields(gateway.format = "soap", deposit_id = %request.deposit_id))]
    async fn create_payment(&self, request: &PaymentRequest) -> PaymentOutcome {
        let soap = CreatePayment::try_from(request)
            .and_then(|op| SoapRequest::try_from(&Operation::CreatePayment(op)));
        let outcome = self
            .create(soap, |reply| CreatePaymentReply(reply).into())
            .await;
        log_payment(CREATE_PAYMENT, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap"))]
    async fn payment_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome {
        let lookup = match external_id {
            Some(id) => PaymentLookup::TransactionId(id),
            None => PaymentLookup::IdempotencyKey(idempotency_key),
        };
        let soap = GetPaymentStatus::try_from(lookup)
            .and_then(|op| SoapRequest::try_from(&Operation::GetPaymentStatus(op)));
        let outcome = self
            .look_up(soap, |reply| PaymentStatusReply(reply).into())
            .await;
        log_status(PAYMENT_STATUS, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap", payout_id = %request.deposit_id))]
    async fn create_payout(&self, request: &PaymentRequest) -> PaymentOutcome {
        let soap = CreatePayout::try_from(request)
            .and_then(|op| SoapRequest::try_from(&Operation::CreatePayout(op)));
        let outcome = self
            .create(soap, |reply| CreatePayoutReply(reply).into())
            .await;
        log_payment(CREATE_PAYOUT, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap"))]
    async fn payout_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome {
        let lookup = match external_id {
            Some(id) => PayoutLookup::PayoutId(id),
            None => PayoutLookup::IdempotencyKey(idempotency_key),
        };
        let soap = GetPayoutStatus::try_from(lookup)
            .and_then(|op| SoapRequest::try_from(&Operation::GetPayoutStatus(op)));
        let outcome = self
            .look_up(soap, |reply| PayoutStatusReply(reply).into())
            .await;
        log_status(PAYOUT_STATUS, &outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap"))]
    async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let soap =
            Refund::try_from(request).and_then(|op| SoapRequest::try_from(&Operation::Refund(op)));
        let outcome = match soap {
            Ok(soap) => self
                .call(soap)
                .await
                .map_or_else(RefundOutcome::from, |reply| RefundReply(reply).into()),
            Err(err) => rejected(err),
        };
        log_refund(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap"))]
    async fn refund_status(
        &self,
        idempotency_key: &str,
        refund_external_id: Option<&str>,
    ) -> RefundStatusOutcome {
        let lookup = match refund_external_id {
            Some(id) => RefundLookup::RefundId(id),
            None => RefundLookup::IdempotencyKey(idempotency_key),
        };
        let soap = GetRefundStatus::try_from(lookup)
            .and_then(|op| SoapRequest::try_from(&Operation::GetRefundStatus(op)));
        let outcome = match soap {
            Ok(soap) => self
                .call(soap)
                .await
                .map_or_else(RefundStatusOutcome::from, |reply| {
                    RefundStatusReply(reply).into()
                }),
            Err(err) => RefundStatusOutcome::Unknown {
                reason: err.to_string(),
            },
        };
        log_refund_status(&outcome);
        outcome
    }

    #[tracing::instrument(skip_all, fields(gateway.format = "soap"))]
    async fn health(&self) -> HealthOutcome {
        self.transport.health("/health").await
    }
}

fn rejected(err: EncodeError) -> RefundOutcome {
    RefundOutcome::Rejected {
        code: REJECTED_REQUEST.to_owned(),
        message: err.to_string(),
    }
}
