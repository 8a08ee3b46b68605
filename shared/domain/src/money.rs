//! Money: integer minor units, ISO 4217 currencies with their real exponents, ISO 3166 countries.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The largest amount accepted, in minor units. Far below `u64::MAX`, so sums of
/// amounts on one deposit (refunds) are computed with checked arithmetic and never wrap.
pub const MAX_AMOUNT_MINOR: u64 = 1_000_000_000_000_000;

/// A positive amount in the currency's minor unit (`10099` = 100.99 AED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Amount(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount must be a positive integer in minor units")]
    NotPositive,
    #[error("amount exceeds the maximum of {MAX_AMOUNT_MINOR} minor units")]
    TooLarge,
}

impl Amount {
    pub fn new(minor: u64) -> Result<Self, AmountError> {
        match minor {
            0 => Err(AmountError::NotPositive),
            m if m > MAX_AMOUNT_MINOR => Err(AmountError::TooLarge),
            m => Ok(Self(m)),
        }
    }

    pub fn minor(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Amount {
    type Error = AmountError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Amount> for u64 {
    fn from(value: Amount) -> Self {
        value.0
    }
}

/// An ISO 4217 currency that can carry a payment (no funds, metals or retired codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency must be an active ISO 4217 code such as AED, USD or JPY")]
pub struct CurrencyError;

impl Currency {
    /// Parses an upper-case ISO 4217 alphabetic code.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        let currency = iso_currency::Currency::from_code(code).ok_or(CurrencyError)?;
        let payable = currency.exponent().is_some()
            && !currency.is_fund()
            && !currency.is_special()
            && currency.is_superseded().is_none();
        if payable {
            Ok(Self(currency))
        } else {
            Err(CurrencyError)
        }
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point: JPY 0, USD 2, KWD 3.
    pub fn exponent(self) -> u16 {
        // `parse` only admits currencies that have an exponent.
        self.0.exponent().unwrap_or(0)
    }
}

/// By code, so balances list currencies alphabetically.
impl Ord for Currency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Shows, serialises and deserialises a code type as its code (`code()`, `parse`).
macro_rules! as_code {
    ($code:ty) => {
        impl fmt::Display for $code {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl Serialize for $code {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $code {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = String::deserialize(d)?;
                Self::parse(&code).map_err(serde::de::Error::custom)
            }
        }
    };
}

as_code!(Currency);

/// An amount in a currency: what a gateway says it charged or refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: Amount,
    pub currency: Currency,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.minor(), self.currency)
    }
}

/// An ISO 3166-1 alpha-2 country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(isocountry::CountryCode);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("country must be an ISO 3166-1 alpha-2 code such as AE, US or JP")]
pub struct CountryError;

impl Country {
    /// Parses an upper-case alpha-2 code.
    pub fn parse(code: &str) -> Result<Self, CountryError> {
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CountryError);
        }
        isocountry::CountryCode::for_alpha2(code)
            .map(Self)
            .map_err(|_| CountryError)
    }

    pub fn code(self) -> &'static str {
        self.0.alpha2()
    }
}

as_code!(Country);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_carry_their_real_exponents() {
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("USD").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("AED").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
    }

    #[test]
    fn unknown_lowercase_and_non_payable_currencies_are_refused() {
        for code in ["XYZ", "usd", "", "US", "USDD", "XAU", "XDR", "XXX"] {
            assert!(Currency::parse(code).is_err(), "{code} should be refused");
        }
    }

    #[test]
    fn countries_are_alpha2_only() {
        assert_eq!(Country::parse("AE").unwrap().code(), "AE");
        for code in ["ae", "ARE", "ZZ", "", "A"] {
            assert!(Country::parse(code).is_err(), "{code} should be refused");
        }
    }

    #[test]
    fn amount_must_be_positive_and_bounded() {
        assert_eq!(Amount::new(0), Err(AmountError::NotPositive));
        assert_eq!(
            Amount::new(MAX_AMOUNT_MINOR + 1),
            Err(AmountError::TooLarge)
        );
        assert_eq!(Amount::new(10099).unwrap().minor(), 10099);
    }

    #[test]
    fn amount_deserialization_applies_the_same_rules() {
        assert!(serde_json::from_str::<Amount>("0").is_err());
        assert!(serde_json::from_str::<Amount>("-5").is_err());
        assert!(serde_json::from_str::<Amount>("1.5").is_err());
        assert_eq!(serde_json::from_str::<Amount>("7").unwrap().minor(), 7);
    }
}
