//! `paygate-ops merchants …`: merchants' API keys.
//!
//! * `add <merchant-id>`: generates a new API key from the operating system's CSPRNG,
//!   registers its SHA-256 hash for the merchant in the merchants table and prints the key
//!   once. Only the hash is stored, so the key can never be shown again. A merchant may
//!   hold several keys: running `add` again gives it another one, which is how a key is
//!   rotated (the old one keeps working until its item is removed from the table).
//! * `check`: reads one key from stdin (never from the command line, where shell history
//!   would keep it) and says which merchant it belongs to; exit code 1 when none.
//! * `revoke <key-hash> <merchant-id>`: removes the key with that hash (as `add` printed
//!   it) if it belongs to that merchant; requests with it are refused from then on. The
//!   merchant id guards against removing another merchant's key by a mistyped hash.
//!
//! A key is printed by `add` on a line of its own, and nowhere else: no error message,
//! `Debug` output or report of this module holds one. Keys are hashed exactly as the
//! intake hashes the bearer key it receives ([`ApiKey::hash`]).

use crate::OpsError;
use async_trait::async_trait;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::{DynamoMerchantDirectory, Resources};
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKey, ApiKeyHash, MerchantDirectory, StoreError};
use rand::TryCryptoRng;
use rand::rngs::OsRng;
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;

/// A `merchants` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerchantCommand {
    /// Issue a new key for the merchant.
    Add { merchant: MerchantId },
    /// Look up the merchant of the key on stdin.
    Check,
    /// Remove the key with this hash, if it belongs to the merchant.
    Revoke {
        hash: ApiKeyHash,
        merchant: MerchantId,
    },
}

/// What every generated key starts with.
pub const KEY_PREFIX: &str = "sk_live_";
/// Random bytes per key: 256 bits from the operating system's CSPRNG.
pub const KEY_BYTES: usize = 32;
/// A generated key's length: the prefix, then the random bytes as lowercase hex.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 2 * KEY_BYTES;
/// The longest bearer key the intake accepts (`paygate_api::request::bearer_key`).
pub const MAX_KEY_LEN: usize = 256;
/// The longest merchant id `add` accepts.
pub const MAX_MERCHANT_ID_LEN: usize = 64;
// A generated key is one the intake accepts.
const _: () = assert!(KEY_LEN <= MAX_KEY_LEN);
/// How much of stdin `check` reads at most.
const MAX_INPUT: u64 = 4096;

/// Said after every new key.
pub const SHOWN_ONCE: &str = "this key cannot be shown again: only its SHA-256 hash is stored. \
Give it to the merchant now, over a secure channel; they send it as `Authorization: Bearer <key>`.";

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

/// A key just generated: shown once by `add`, only its hash ever stored.
pub struct NewKey {
    key: SecretString,
    hash: ApiKeyHash,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &"***")
            .field("hash", &self.hash)
            .finish()
    }
}

impl NewKey {
    /// A key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, OpsError> {
        Self::from_rng(&mut OsRng)
    }

    /// A key from `rng`: [`KEY_PREFIX`] and [`KEY_BYTES`] random bytes in lowercase hex.
    pub fn from_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, OpsError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        rng.try_fill_bytes(bytes.as_mut())
            .map_err(|e| OpsError::Entropy(e.to_string()))?;
        let mut digits = hex::encode(bytes.as_ref());
        let key = SecretString::from(format!("{KEY_PREFIX}{digits}"));
        digits.zeroize();
        let hash = ApiKey::new(key.expose_secret()).hash();
        Ok(Self { key, hash })
    }

    /// The key itself: for the one line that shows it.
    pub fn expose(&self) -> &str {
        self.key.expose_secret()
    }

    /// What is stored: the hash the intake computes from the key.
    pub fn hash(&self) -> &ApiKeyHash {
        &self.hash
    }
}

/// Where `check` reads its key: stdin, and whether it is a terminal (then a prompt is
/// written to stderr).
pub struct Input<'a> {
    pub reader: &'a mut dyn BufRead,
    pub terminal: bool,
}

/// Reads the key `check` looks up: the first line of `reader` (at most [`MAX_INPUT`]
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

/// The merchants table as `merchants` needs it: lookups, and registering a hash.
#[async_trait]
pub trait KeyDirectory: MerchantDirectory {
    /// Maps `hash` to `merchant`; a hash mapped to another merchant is refused.
    async fn register(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<(), StoreError>;

    /// Removes `hash` if it is mapped to `merchant`; whether it did.
    async fn revoke(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<bool, StoreError>;
}

#[async_trait]
impl KeyDirectory for DynamoMerchantDirectory {
    async fn register(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<(), StoreError> {
        DynamoMerchantDirectory::register(self, hash, merchant).await
    }

    async fn revoke(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<bool, StoreError> {
        DynamoMerchantDirectory::revoke(self, hash, merchant).await
    }
}

/// The merchants table the `merchants` commands work on.
pub struct MerchantOps {
    pub directory: Arc<dyn KeyDirectory>,
    /// The table's name, for messages.
    pub table: String,
}

impl MerchantOps {
    /// The DynamoDB merchants table in `PAYGATE_MERCHANTS_TABLE` (from `resources`).
    pub fn connect(dynamodb: DynamoClient, resources: &Resources) -> Self {
        Self {
            directory: Arc::new(DynamoMerchantDirectory::new(dynamodb, resources)),
            table: resources.merchants_table.clone(),
        }
    }

    /// Runs one command: `add` writes its report to `out`; `check` reads the key from
    /// `input` (prompting on `err` when it is a terminal) and writes the merchant to `out`.
    pub async fn run(
        &self,
        command: &MerchantCommand,
        input: Input<'_>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), OpsError> {
        match command {
            MerchantCommand::Add { merchant } => self.add(merchant, NewKey::generate()?, out).await,
            MerchantCommand::Check => {
                if input.terminal {
                    let _ = write!(
                        err,
                        "API key (one line; it is read from stdin so that it stays out of \
                         shell history): "
                    );
                    let _ = err.flush();
                }
                let key = read_key(input.reader)?;
                self.check(&key, out).await
            }
            MerchantCommand::Revoke { hash, merchant } => self.revoke(hash, merchant, out).await,
        }
    }

    /// Removes the key `hash` of `merchant`, or fails with [`OpsError::KeyNotRevoked`].
    pub async fn revoke(
        &self,
        hash: &ApiKeyHash,
        merchant: &MerchantId,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        let revoked = self
            .directory
            .revoke(hash, merchant)
            .await
            .map_err(|error| self.table_error(error))?;
        if !revoked {
            return Err(OpsError::KeyNotRevoked {
                table: self.table.clone(),
                hash: hash.clone(),
                merchant: merchant.clone(),
            });
        }
        writeln!(
            out,
            "revoked the key with hash {} of merchant {merchant} in {}: requests with it are \
             refused (401) from now on",
            hash.0, self.table
        )?;
        Ok(())
    }

    /// Registers `key`'s hash for `merchant`, then shows the key, once.
    pub async fn add(
        &self,
        merchant: &MerchantId,
        key: NewKey,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        self.directory
            .register(key.hash(), merchant)
            .await
            .map_err(|error| self.table_error(error))?;
        let shown = writeln!(
            out,
            "added a new API key for merchant {merchant} in {} (key hash {})\n{}\n{SHOWN_ONCE}\n\
             Keys the merchant already has keep working: to rotate, have them switch to this \
             one, then run `paygate-ops merchants revoke <old key hash> {merchant}`.",
            self.table,
            key.hash().0,
            key.expose(),
        )
        .and_then(|()| out.flush());
        shown.map_err(|error| OpsError::KeyNotShown {
            merchant: merchant.clone(),
            table: self.table.clone(),
            hash: key.hash().clone(),
            error,
        })
    }

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

    fn table_error(&self, error: StoreError) -> OpsError {
        OpsError::MerchantsTable {
            table: self.table.clone(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_memory::MemoryMerchantDirectory;
    use rand::TryRngCore;
    use std::collections::HashSet;
    use std::convert::Infallible;
    use std::sync::Mutex;

    /// The in-memory directory, refusing a hash mapped to another merchant as the
    /// DynamoDB one does, and remembering what was registered.
    #[derive(Default)]
    struct Directory {
        inner: MemoryMerchantDirectory,
        registered: Mutex<Vec<(ApiKeyHash, MerchantId)>>,
        fail: Option<&'static str>,
    }

    #[async_trait]
    impl MerchantDirectory for Directory {
        async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
            match self.fail {
                Some(message) => Err(StoreError(message.into())),
                None => self.inner.merchant_for(key).await,
            }
        }
    }

    #[async_trait]
    impl KeyDirectory for Directory {
        async fn register(
            &self,
            hash: &ApiKeyHash,
            merchant: &MerchantId,
        ) -> Result<(), StoreError> {
            if let Some(message) = self.fail {
                return Err(StoreError(message.into()));
            }
            match self.inner.merchant_for(hash).await? {
                Some(other) if &other != merchant => Err(StoreError("taken".into())),
                _ => {
                    self.inner.register(hash.clone(), merchant.clone());
                    self.registered
                        .lock()
                        .unwrap()
                        .push((hash.clone(), merchant.clone()));
                    Ok(())
                }
            }
        }

        async fn revoke(
            &self,
            hash: &ApiKeyHash,
            merchant: &MerchantId,
        ) -> Result<bool, StoreError> {
            if let Some(message) = self.fail {
                return Err(StoreError(message.into()));
            }
            Ok(self.inner.revoke(hash, merchant))
        }
    }

    fn merchant_ops(directory: Directory) -> (MerchantOps, Arc<Directory>) {
        let directory = Arc::new(directory);
        let ops = MerchantOps {
            directory: directory.clone(),
            table: "paygate-merchants".into(),
        };
        (ops, directory)
    }

    fn mer(id: &str) -> MerchantId {
        MerchantId(id.into())
    }

    fn is_generated_key(key: &str) -> bool {
        key.len() == KEY_LEN
            && key.strip_prefix(KEY_PREFIX).is_some_and(|hex| {
                hex.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    }

    /// Gives the same byte over and over.
    struct Constant(u8);

    impl TryRngCore for Constant {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(u32::from_ne_bytes([self.0; 4]))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(u64::from_ne_bytes([self.0; 8]))
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
            dest.fill(self.0);
            Ok(())
        }
    }

    impl TryCryptoRng for Constant {}

    /// An operating system without entropy.
    struct Broken;

    #[derive(Debug)]
    struct NoEntropy;

    impl fmt::Display for NoEntropy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("getrandom: unavailable")
        }
    }

    impl std::error::Error for NoEntropy {}

    impl TryRngCore for Broken {
        type Error = NoEntropy;
        fn try_next_u32(&mut self) -> Result<u32, NoEntropy> {
            Err(NoEntropy)
        }
        fn try_next_u64(&mut self) -> Result<u64, NoEntropy> {
            Err(NoEntropy)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), NoEntropy> {
            Err(NoEntropy)
        }
    }

    impl TryCryptoRng for Broken {}

    // ------------------------------------------------------------ merchant ids

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

    // ------------------------------------------------------------ keys

    #[test]
    fn a_key_is_the_prefix_and_32_bytes_in_hex() {
        let key = NewKey::from_rng(&mut Constant(0xab)).unwrap();
        assert_eq!(key.expose(), format!("sk_live_{}", "ab".repeat(32)));
        assert_eq!(KEY_LEN, 72);
        // The hash is the domain's: what the intake computes from the bearer key.
        assert_eq!(key.hash(), &ApiKey::new(key.expose()).hash());
        // SHA-256 in hex.
        assert_eq!(key.hash().0.len(), 64);
        assert!(!format!("{key:?}").contains("abab"), "{key:?}");
    }

    #[test]
    fn generated_keys_have_the_format_and_never_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let key = NewKey::generate().unwrap();
            assert!(is_generated_key(key.expose()), "bad format");
            assert_eq!(key.hash(), &ApiKey::new(key.expose()).hash());
            assert!(seen.insert(key.expose().to_owned()), "a key repeated");
        }
        // Every hex digit shows up in every position often enough to rule out a stuck
        // generator (for 10,000 uniform draws each of the 16 digits is expected 625 times
        // per position; fewer than 400 is astronomically unlikely).
        for position in KEY_PREFIX.len()..KEY_LEN {
            let mut counts = [0usize; 16];
            for key in &seen {
                let digit = key.as_bytes()[position] as char;
                counts[digit.to_digit(16).unwrap() as usize] += 1;
            }
            assert!(
                counts.iter().all(|&n| n > 400),
                "position {position}: {counts:?}"
            );
        }
    }

    #[test]
    fn no_entropy_means_no_key() {
        let err = NewKey::from_rng(&mut Broken).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not get random bytes from the operating system (getrandom: unavailable); no \
             key was made"
        );
    }

    // ------------------------------------------------------------ add

    #[tokio::test]
    async fn add_registers_the_hash_of_the_key_it_prints_once() {
        let (ops, directory) = merchant_ops(Directory::default());
        let mut out = Vec::new();
        ops.add(&mer("mer_acme"), NewKey::generate().unwrap(), &mut out)
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();

        // Exactly one line holds the key, alone.
        let keys: Vec<&str> = out.lines().filter(|l| l.contains("sk_live_")).collect();
        assert_eq!(keys.len(), 1, "{out}");
        let key = keys[0];
        assert!(is_generated_key(key), "{key}");
        assert_eq!(out.matches(key).count(), 1, "{out}");
        assert_eq!(out.lines().nth(1), Some(key));

        // What was registered is the domain hash of the printed key, for the merchant.
        let hash = ApiKey::new(key).hash();
        assert_eq!(
            *directory.registered.lock().unwrap(),
            [(hash.clone(), mer("mer_acme"))]
        );
        assert_eq!(
            directory.merchant_for(&hash).await.unwrap(),
            Some(mer("mer_acme"))
        );
        assert_eq!(
            out.lines().next().unwrap(),
            format!(
                "added a new API key for merchant mer_acme in paygate-merchants (key hash {})",
                hash.0
            )
        );
        assert!(out.contains(SHOWN_ONCE), "{out}");
        assert!(out.contains("cannot be shown again"), "{out}");
    }

    #[tokio::test]
    async fn adding_again_gives_the_merchant_a_second_key_and_keeps_the_first() {
        let (ops, directory) = merchant_ops(Directory::default());
        let mut keys = Vec::new();
        for _ in 0..2 {
            let mut out = Vec::new();
            ops.add(&mer("mer_acme"), NewKey::generate().unwrap(), &mut out)
                .await
                .unwrap();
            keys.push(
                String::from_utf8(out)
                    .unwrap()
                    .lines()
                    .nth(1)
                    .unwrap()
                    .to_owned(),
            );
        }
        assert_ne!(keys[0], keys[1]);
        for key in &keys {
            assert_eq!(
                directory
                    .merchant_for(&ApiKey::new(key.as_str()).hash())
                    .await
                    .unwrap(),
                Some(mer("mer_acme"))
            );
        }
        assert_eq!(directory.registered.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_refused_registration_prints_no_key() {
        // The same bytes twice make the same key: the second merchant is refused.
        let (ops, directory) = merchant_ops(Directory::default());
        let mut out = Vec::new();
        ops.add(
            &mer("mer_a"),
            NewKey::from_rng(&mut Constant(7)).unwrap(),
            &mut out,
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        let err = ops
            .add(
                &mer("mer_b"),
                NewKey::from_rng(&mut Constant(7)).unwrap(),
                &mut out,
            )
            .await
            .unwrap_err();
        assert!(out.is_empty());
        assert_eq!(
            err.to_string(),
            "merchants table paygate-merchants: store unavailable: taken"
        );
        assert_eq!(directory.registered.lock().unwrap().len(), 1);

        // A table that cannot be reached: nothing registered, nothing shown.
        let (ops, directory) = merchant_ops(Directory {
            fail: Some("timeout"),
            ..Directory::default()
        });
        let mut out = Vec::new();
        let err = ops
            .add(&mer("mer_a"), NewKey::generate().unwrap(), &mut out)
            .await
            .unwrap_err();
        assert!(out.is_empty());
        assert!(matches!(err, OpsError::MerchantsTable { .. }), "{err:?}");
        assert!(directory.registered.lock().unwrap().is_empty());
    }

    /// Output that is gone (a closed pipe).
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_key_that_could_not_be_shown_is_reported_by_its_hash() {
        let (ops, directory) = merchant_ops(Directory::default());
        let key = NewKey::from_rng(&mut Constant(1)).unwrap();
        let hash = key.hash().clone();
        let err = ops.add(&mer("mer_a"), key, &mut Closed).await.unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "registered a new key for merchant mer_a in paygate-merchants (key hash {}) but \
                 could not show it:",
                hash.0
            )),
            "{message}"
        );
        assert!(!message.contains(&"01".repeat(32)), "{message}");
        assert_eq!(directory.registered.lock().unwrap().len(), 1);
    }

    // ------------------------------------------------------------ check

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

    #[tokio::test]
    async fn check_names_the_merchant_or_fails_without_quoting_the_key() {
        let (ops, directory) = merchant_ops(Directory::default());
        let key = NewKey::from_rng(&mut Constant(0x5a)).unwrap();
        directory
            .register(key.hash(), &mer("mer_acme"))
            .await
            .unwrap();

        let mut out = Vec::new();
        let input = format!("{}\n", key.expose());
        let mut reader = input.as_bytes();
        let mut err = Vec::new();
        ops.run(
            &MerchantCommand::Check,
            Input {
                reader: &mut reader,
                terminal: false,
            },
            &mut out,
            &mut err,
        )
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "the key belongs to merchant mer_acme (key hash {}, table paygate-merchants)\n",
                key.hash().0
            )
        );
        assert!(err.is_empty(), "no prompt when stdin is not a terminal");

        let unknown = ApiKey::new("sk_live_unknown");
        let mut out = Vec::new();
        let err = ops.check(&unknown, &mut out).await.unwrap_err();
        assert!(out.is_empty());
        let message = err.to_string();
        assert_eq!(
            message,
            format!(
                "no merchant has this API key in paygate-merchants (key hash {}): it was never \
                 registered there, or its item was removed",
                unknown.hash().0
            )
        );
        assert!(!message.contains("sk_live"), "{message}");
    }

    #[tokio::test]
    async fn check_prompts_on_a_terminal() {
        let (ops, _) = merchant_ops(Directory::default());
        let mut reader: &[u8] = b"sk_live_nobody\n";
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = ops
            .run(
                &MerchantCommand::Check,
                Input {
                    reader: &mut reader,
                    terminal: true,
                },
                &mut out,
                &mut err,
            )
            .await;
        assert!(matches!(result, Err(OpsError::UnknownKey { .. })));
        let err = String::from_utf8(err).unwrap();
        assert!(err.starts_with("API key (one line;"), "{err}");
        assert!(!err.contains("sk_live"), "{err}");
    }

    #[tokio::test]
    async fn a_table_that_cannot_be_read_is_not_an_unknown_key() {
        let (ops, _) = merchant_ops(Directory {
            fail: Some("timeout"),
            ..Directory::default()
        });
        let err = ops
            .check(&ApiKey::new("sk_live_x"), &mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "merchants table paygate-merchants: store unavailable: timeout"
        );
    }

    // ------------------------------------------------------------ revoke

    #[tokio::test]
    async fn revoke_removes_only_the_merchants_own_key() {
        let (ops, directory) = merchant_ops(Directory::default());
        let (acme, other) = (mer("mer_acme"), mer("mer_other"));
        let key = NewKey::generate().unwrap();
        ops.add(&acme, key, &mut Vec::new()).await.unwrap();
        let hash = directory.registered.lock().unwrap()[0].0.clone();

        // Another merchant's id: refused, and the key still works.
        let err = ops
            .revoke(&hash, &other, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, OpsError::KeyNotRevoked { .. }), "{err}");
        assert_eq!(
            directory.merchant_for(&hash).await.unwrap(),
            Some(acme.clone())
        );

        // Its own: removed, and said so.
        let mut out = Vec::new();
        ops.revoke(&hash, &acme, &mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!(
                "revoked the key with hash {} of merchant mer_acme",
                hash.0
            )),
            "{out}"
        );
        assert_eq!(directory.merchant_for(&hash).await.unwrap(), None);

        // Again: nothing left to remove.
        let err = ops.revoke(&hash, &acme, &mut Vec::new()).await.unwrap_err();
        assert!(matches!(err, OpsError::KeyNotRevoked { .. }), "{err}");
    }
}
