//! Identifiers. Newtypes so a merchant id can never be passed where a deposit id belongs.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The length of a hyphenated UUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
const HYPHENATED_LEN: usize = 36;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The id written as it is shown: hyphenated (`8-4-4-4-12` hex digits, either
            /// case). The simple, braced and URN forms `uuid` also reads name nothing, so
            /// one object has one path and one cursor.
            pub fn parse(text: &str) -> Option<Self> {
                // Of the forms `uuid` reads, only the hyphenated one is 36 bytes long.
                (text.len() == HYPHENATED_LEN)
                    .then(|| Uuid::parse_str(text).ok().map(Self))
                    .flatten()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One deposit, and so one event stream.
    DepositId
);
uuid_id!(
    /// One refund inside a deposit's stream.
    RefundId
);
uuid_id!(
    /// One stored event, so consumers can deduplicate.
    EventId
);
uuid_id!(
    /// The delivery (one run of the processor on one message) that owns an attempt:
    /// only it calls the gateway for that attempt or closes it.
    AttemptOwner
);

/// A merchant (tenant). Everything a merchant reads or writes is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MerchantId(pub String);

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Ties together everything caused by one request across functions and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CorrelationId(pub String);

impl CorrelationId {
    /// Accepts a caller-supplied id only if it is short and plain, so it is safe in logs.
    pub fn from_header(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        ok.then(|| Self(value.to_owned()))
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `tests/fuzz_parsers.rs`: `uuid` also reads `0195…` without hyphens, in
    /// braces and as a URN, so one deposit had several paths and cursors.
    #[test]
    fn ids_are_read_only_hyphenated() {
        let id = DepositId(Uuid::from_u128(0x0195_f0a2_7c1e_7d43_9a51_3c2b_8e4f_6a10));
        let hyphenated = "0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10";
        assert_eq!(DepositId::parse(hyphenated), Some(id));
        assert_eq!(DepositId::parse(&hyphenated.to_ascii_uppercase()), Some(id));
        for other in [
            "0195f0a27c1e7d439a513c2b8e4f6a10".to_owned(),
            format!("{{{hyphenated}}}"),
            format!("urn:uuid:{hyphenated}"),
            "00000000000000000000000000000000".to_owned(),
        ] {
            assert_eq!(DepositId::parse(&other), None, "{other}");
            assert_eq!(RefundId::parse(&other), None, "{other}");
        }
    }
}
