//! What the init script makes for local runs of the real functions (`sam local invoke` on
//! LocalStack, `cargo lambda watch` on the emulators): secrets read by ARN exactly as the
//! functions read them at start-up, holding values the functions accept, and the merchant
//! the sample events authenticate as.

use paygate_aws::aws_sdk_secretsmanager::Client;
use paygate_aws::secrecy::ExposeSecret;
use paygate_aws::secret_setting;
use paygate_domain::MerchantId;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::ports::{ApiKey, MerchantDirectory};
use paygate_gateways::WireFormat;
use paygate_integration::require_emulators;
use paygate_kit::samples::fixed;
use webhook_callback::WebhookGateways;

async fn client() -> Client {
    require_emulators();
    Client::new(&paygate_aws::sdk_config())
}

/// The function-side read: `<name>_SECRET_ARN` set to the secret's ARN, nothing else.
async fn read_by_arn(client: &Client, setting: &str, secret_name: &str) -> String {
    let arn = client
        .describe_secret()
        .secret_id(secret_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the init script should have created {secret_name}: {e:?}"))
        .arn
        .expect("a secret has an ARN");
    let variable = format!("{setting}_SECRET_ARN");
    let secret = secret_setting(client, setting, |name| {
        (name == variable).then(|| arn.clone())
    })
    .await
    .expect("secret readable by ARN");
    secret.expose_secret().to_owned()
}

#[tokio::test]
async fn the_local_field_keys_encrypt_and_decrypt() {
    let client = client().await;
    let spec = read_by_arn(&client, "PAYGATE_FIELD_KEYS", "paygate/local/field-keys").await;
    let cipher = FieldCipher::from_spec(&spec).expect("a valid key set");
    let sealed = cipher.encrypt(b"tok_visa", b"deposit-1").expect("encrypt");
    assert_eq!(
        cipher.decrypt(&sealed, b"deposit-1").expect("decrypt"),
        b"tok_visa"
    );
}

#[tokio::test]
async fn the_local_webhook_configuration_matches_the_signed_samples() {
    let client = client().await;
    let json = read_by_arn(
        &client,
        "PAYGATE_WEBHOOK_GATEWAYS",
        "paygate/local/webhook-gateways",
    )
    .await;
    let gateways = WebhookGateways::from_json(&json).expect("valid webhook configuration");
    let acme = gateways.get("acme_json").expect("acme_json configured");
    assert_eq!(acme.format, WireFormat::Json);
    assert_eq!(acme.secrets[0].expose_secret(), fixed::ACME_JSON_SECRET);
    let globex = gateways.get("globex_soap").expect("globex_soap configured");
    assert_eq!(globex.format, WireFormat::Soap);
}

#[tokio::test]
async fn the_sample_events_api_key_belongs_to_the_sample_merchant() {
    require_emulators();
    let directory = paygate_aws::DynamoMerchantDirectory::new(
        paygate_aws::aws_sdk_dynamodb::Client::new(&paygate_aws::sdk_config()),
        &paygate_aws::Resources::from_env(),
    );
    let merchant = directory
        .merchant_for(&ApiKey::new(fixed::API_KEY).hash())
        .await
        .expect("merchants table readable");
    assert_eq!(merchant, Some(MerchantId(fixed::MERCHANT.into())));
}
