//! What an operator types to name a merchant or one of its keys. Messages never quote it:
//! it may be an API key typed in the wrong place.

use paygate_domain::ports::ApiKeyHash;

/// The longest merchant id `add` accepts.
pub const MAX_MERCHANT_ID_LEN: usize = 64;

/// Checks a merchant id. The domain puts no rule on one, so this is conservative: 1 to
/// [`MAX_MERCHANT_ID_LEN`] ASCII letters, digits, `_` and `-` (`mer_acme`), starting with a
/// letter or digit (so never an option), and nothing that looks like an API key, so that a
/// key pasted in the wrong place is not turned into a merchant. Messages never quote the id.
pub fn check_merchant_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > MAX_MERCHANT_ID_LEN {
        return Err(format!(
            "must be at most {MAX_MERCHANT_ID_LEN} characters long"
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("may only hold ASCII letters, digits, '_' and '-'".into());
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit".into());
    }
    if id.starts_with("sk_") {
        return Err("looks like an API key (sk_…), not a merchant id".into());
    }
    Ok(())
}

/// A key hash as `add` printed it: 64 lowercase hex digits (a SHA-256), never a key.
pub fn parse_key_hash(text: &str) -> Option<ApiKeyHash> {
    let is_hash = text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    is_hash.then(|| ApiKeyHash(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_ids_are_short_plain_and_not_keys() {
        for ok in ["mer_acme", "m", "ACME-2", "mer_0123456789", &"a".repeat(64)] {
            assert_eq!(check_merchant_id(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_merchant_id(""), Err("must not be empty".into()));
        assert_eq!(
            check_merchant_id(&"a".repeat(65)),
            Err("must be at most 64 characters long".into())
        );
        for bad in [
            "mer acme", "mer/acme", "mer.acme", "mer:1", "mér", "mer#1", "a\n",
        ] {
            assert_eq!(
                check_merchant_id(bad),
                Err("may only hold ASCII letters, digits, '_' and '-'".into()),
                "{bad:?}"
            );
        }
        for bad in ["-mer", "_mer", "--force"] {
            assert_eq!(
                check_merchant_id(bad),
                Err("must start with a letter or a digit".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_merchant_id("sk_dev_0123abcd"),
            Err("looks like an API key (sk_…), not a merchant id".into())
        );
    }
}
