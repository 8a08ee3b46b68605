//! What every `QueueSender` must do, observed through a probe that reads the queue back.

use async_trait::async_trait;
use paygate_domain::ports::{DepositMessage, QueueSender};
use paygate_domain::{CorrelationId, DepositId, MerchantId};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Reads back what was sent (and removes it), for the contract only.
#[async_trait]
pub trait QueueProbe: Send + Sync {
    /// Messages that are visible now, waiting up to `wait` for at least one.
    async fn drain(&self, wait: Duration) -> Vec<DepositMessage>;
}

fn message() -> DepositMessage {
    DepositMessage {
        deposit_id: DepositId(Uuid::now_v7()),
        merchant_id: MerchantId("mer_contract".into()),
        correlation_id: CorrelationId(format!("corr-{}", Uuid::new_v4())),
    }
}

pub async fn a_sent_message_arrives_intact(
    (sender, probe): (Arc<dyn QueueSender>, Arc<dyn QueueProbe>),
) {
    let sent = message();
    sender.send(&sent, Duration::ZERO).await.unwrap();
    let mut received = Vec::new();
    for _ in 0..10 {
        received.extend(probe.drain(Duration::from_secs(1)).await);
        if received.contains(&sent) {
            break;
        }
    }
    assert!(received.contains(&sent), "{received:?}");
}

pub async fn a_delayed_message_is_not_delivered_early(
    (sender, probe): (Arc<dyn QueueSender>, Arc<dyn QueueProbe>),
) {
    let delayed = message();
    sender.send(&delayed, Duration::from_secs(3)).await.unwrap();
    let early = probe.drain(Duration::ZERO).await;
    assert!(!early.contains(&delayed), "delivered before its delay");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = Vec::new();
    for _ in 0..10 {
        received.extend(probe.drain(Duration::from_secs(1)).await);
        if received.contains(&delayed) {
            break;
        }
    }
    assert!(
        received.contains(&delayed),
        "never delivered after its delay"
    );
}
