//! The `merchants` commands on a directory in memory.

use super::fixtures::{Constant, Directory, is_generated_key, mer, merchant_ops};
use super::*;
use paygate_domain::ports::{ApiKey, MerchantDirectory};

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
            progress: false,
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
                progress: false,
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
