//! The merchant API handler: `POST /v1/deposits`, `GET /v1/deposits`,
//! `GET /v1/deposits/{id}`, `GET /v1/deposits/{id}/events`, `POST /v1/deposits/{id}/refunds`,
//! `GET /v1/balance`, `GET /v1/balance/transactions`, `GET /v1/gateways`.
//! It takes its ports as arguments, so the same code runs under Lambda, in the local
//! stack and in tests.

mod body;
mod config;
mod create;
mod gateways;
pub mod key_cache;
mod lists;
mod read;
mod refund;
mod response;
mod routes;

pub use config::IntakeConfig;
pub use routes::handle;

use paygate_domain::crypto::FieldCipher;
use paygate_domain::ports::{
    Clock, DepositList, EventStore, GatewayRegistry, IdGenerator, Ledger, MerchantDirectory,
    QueueSender,
};
use paygate_domain::service::intake::IntakePorts;
use std::sync::Arc;

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct Intake {
    pub store: Arc<dyn EventStore>,
    pub queue: Arc<dyn QueueSender>,
    pub merchants: Arc<dyn MerchantDirectory>,
    /// Read only: `GET /v1/balance` and `GET /v1/balance/transactions`.
    pub ledger: Arc<dyn Ledger>,
    /// Read only: `GET /v1/deposits`.
    pub deposits: Arc<dyn DepositList>,
    /// Read only: `GET /v1/gateways`.
    pub registry: Arc<dyn GatewayRegistry>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub cipher: Arc<FieldCipher>,
    pub config: IntakeConfig,
}

impl Intake {
    /// The ports the write use cases (deposits and refunds) run on.
    fn ports(&self) -> IntakePorts<'_> {
        IntakePorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            cipher: &self.cipher,
            policy: self.config.idempotency,
        }
    }
}
