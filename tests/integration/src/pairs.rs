//! The country/currency pair each test's gateways serve. The gateways table is shared by
//! every test, so two tests serving one pair would route each other's deposits: every
//! pair is here, where a clash shows (and a test below refuses it).

/// `(country, currency)`.
pub type Pair = (&'static str, &'static str);

// processing
pub const TOP_PRIORITY: Pair = ("IS", "ISK");
pub const FALLBACK: Pair = ("GE", "GEL");
pub const BREAKER: Pair = ("KZ", "KZT");
pub const HALF_OPEN: Pair = ("MN", "MNT");
pub const DECLINE: Pair = ("UZ", "UZS");
pub const DUPLICATE_MESSAGE: Pair = ("AM", "AMD");
pub const DEAD_PROCESSOR: Pair = ("RS", "RSD");
// webhooks
pub const WEBHOOK_SUCCESS: Pair = ("CH", "CHF");
pub const WEBHOOK_FAILURE: Pair = ("SE", "SEK");
pub const EARLY_WEBHOOK: Pair = ("NO", "NOK");
pub const REPLAYED_WEBHOOK: Pair = ("DK", "DKK");
pub const UNRECORDED_SUBMISSION: Pair = ("CZ", "CZK");
// recovery
pub const UNHEALTHY: Pair = ("TH", "THB");
pub const LOST_MESSAGE: Pair = ("VN", "VND");
pub const SILENT_GATEWAY: Pair = ("PH", "PHP");
pub const BUS: Pair = ("MY", "MYR");
pub const LOST_REFUND: Pair = ("ID", "IDR");
pub const AMOUNT_MISMATCH: Pair = ("KE", "KES");
// request budgets
pub const METERED: Pair = ("PE", "PEN");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_tests_serve_the_same_country_or_currency() {
        let all = [
            TOP_PRIORITY,
            FALLBACK,
            BREAKER,
            HALF_OPEN,
            DECLINE,
            DUPLICATE_MESSAGE,
            DEAD_PROCESSOR,
            WEBHOOK_SUCCESS,
            WEBHOOK_FAILURE,
            EARLY_WEBHOOK,
            REPLAYED_WEBHOOK,
            UNRECORDED_SUBMISSION,
            UNHEALTHY,
            LOST_MESSAGE,
            SILENT_GATEWAY,
            BUS,
            LOST_REFUND,
            AMOUNT_MISMATCH,
            METERED,
        ];
        let countries: std::collections::BTreeSet<_> = all.iter().map(|p| p.0).collect();
        let currencies: std::collections::BTreeSet<_> = all.iter().map(|p| p.1).collect();
        assert_eq!((countries.len(), currencies.len()), (all.len(), all.len()));
    }
}
