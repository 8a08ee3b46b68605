//! `merchants check`: which merchant the key on stdin belongs to.

use super::{MAX_KEY_LEN, MerchantOps};
use crate::OpsError;
use paygate_domain::ports::ApiKey;
use secrecy::zeroize::Zeroizing;
use std::io::{BufRead, Read, Write};

/// How much of stdin `check` reads at most.
const MAX_INPUT: u64 = 4096;

/// Reads the key `check` looks up: the first line of `reader` (at most `MAX_INPUT`
/// bytes), surrounding whitespace trimmed; `Bearer <key>` is taken as the intake takes
/// it. Messages never quote what was read.
pub fn read_key(reader: &mut dyn BufRead) -> Result<ApiKey, OpsError> {
    let bad = |message: &str| OpsError::KeyInput(message.to_owned());
    let mut line = Zeroizing::new(Vec::new());
    reader
        .take(MAX_INPUT)
        .read_until(b'\n', &mut line)
        .map_err(|e| OpsError::KeyInput(format!("could not read the API key from stdin: {e}")))?;
    let text = std::str::from_utf8(&line).map_err(|_| bad("the API key on stdin is not text"))?;
    let mut key = text.trim();
    if let Some((scheme, rest)) = key.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        key = rest.trim();
    } else if key.eq_ignore_ascii_case("bearer") {
        key = "";
    }
    if key.is_empty() {
        return Err(bad(
            "no API key on stdin: pipe it in (`paygate-ops merchants check < key.txt`) or paste \
             it and press Enter",
        ));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "the API key on stdin holds spaces or control characters: give one key, on one line",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(OpsError::KeyInput(format!(
            "the API key on stdin is longer than {MAX_KEY_LEN} bytes: the intake refuses it \
             without a lookup"
        )));
    }
    Ok(ApiKey::new(key))
}

impl MerchantOps {
    /// Says which merchant `key` belongs to, or fails with [`OpsError::UnknownKey`].
    pub async fn check(&self, key: &ApiKey, out: &mut dyn Write) -> Result<(), OpsError> {
        let hash = key.hash();
        match self
            .directory
            .merchant_for(&hash)
            .await
            .map_err(|error| self.table_error(error))?
        {
            Some(merchant) => {
                writeln!(
                    out,
                    "the key belongs to merchant {merchant} (key hash {}, table {})",
                    hash.0, self.table
                )?;
                Ok(())
            }
            None => Err(OpsError::UnknownKey {
                table: self.table.clone(),
                hash,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_from(input: &str) -> Result<ApiKey, String> {
        read_key(&mut input.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn check_reads_one_key_from_the_first_line() {
        let expected = ApiKey::new("sk_live_abc").hash();
        for input in [
            "sk_live_abc",
            "sk_live_abc\n",
            "  sk_live_abc \r\n",
            "sk_live_abc\nsomething else\n",
            "Bearer sk_live_abc\n",
            "bearer   sk_live_abc",
        ] {
            assert_eq!(key_from(input).unwrap().hash(), expected, "{input:?}");
        }
        for input in ["", "\n", "   \n", "Bearer \n"] {
            assert!(
                key_from(input)
                    .unwrap_err()
                    .starts_with("no API key on stdin"),
                "{input:?}"
            );
        }
        let err = key_from("sk_live_abc sk_live_def\n").unwrap_err();
        assert!(err.contains("spaces"), "{err}");
        assert!(!err.contains("sk_live"), "{err}");
        let long = format!("sk_live_{}", "a".repeat(300));
        let err = key_from(&long).unwrap_err();
        assert_eq!(
            err,
            "the API key on stdin is longer than 256 bytes: the intake refuses it without a lookup"
        );
        assert!(key_from(&format!("sk_{}", "a".repeat(253))).is_ok());
        let err = read_key(&mut &b"sk_\xff\n"[..]).unwrap_err().to_string();
        assert_eq!(err, "the API key on stdin is not text");
    }
}
