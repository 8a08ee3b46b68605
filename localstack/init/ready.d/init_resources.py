"""Create the AWS resources paygate needs on a local emulator (idempotent).

This is the ONE resource-creation script. It is used in two ways:

* by `cargo xtask test` / `cargo xtask emulators`, run as
  `python init_resources.py` against moto (SQS, EventBridge) and DynamoDB Local;
* by LocalStack as a `ready.d` init hook (see ../../docker-compose.yml). LocalStack
  does not start a new process for it: it `exec()`s this file inside its own Python
  interpreter with empty globals, so the bottom of this file must not call
  `sys.exit()` there (a SystemExit would escape LocalStack's error handling).

Configuration (all optional):

  AWS_ENDPOINT_URL           endpoint for every service   (default http://localhost:4566)
  AWS_ENDPOINT_URL_DYNAMODB  endpoint for DynamoDB only   (default: AWS_ENDPOINT_URL)
  AWS_REGION / AWS_DEFAULT_REGION                         (default us-east-1)
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY               (default test / test)
  PAYGATE_*_TABLE, PAYGATE_DEPOSITS_QUEUE, PAYGATE_DEPOSITS_DLQ,
  PAYGATE_MAX_RECEIVE_COUNT, PAYGATE_EVENT_BUS (default paygate-bus),
  PAYGATE_EVENTS_TAP_QUEUE (default paygate-events-tap),
  PAYGATE_LOCAL_FIELD_KEYS_SECRET (default paygate/local/field-keys),
  PAYGATE_LOCAL_WEBHOOK_GATEWAYS_SECRET (default paygate/local/webhook-gateways)
                             resource names / settings, see the specs below; the Rust
                             code reads the same variables.

Every resource prints one line: `<kind> <name>: created|exists|...`. Any real
failure makes the script exit non-zero (or raise, under LocalStack).

To add a resource (e.g. another queue or rule), write an
`ensure_<thing>(ctx)` function below and append it to RESOURCES at the bottom.
"""

import base64
import hashlib
import json
import os
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

DEFAULT_ENDPOINT = "http://localhost:4566"
DEFAULT_REGION = "us-east-1"


def env(name, default):
    value = os.environ.get(name, "").strip()
    return value if value else default


class InitError(Exception):
    """A failure worth stopping for, with a message meant for humans."""


class Context:
    """Endpoints, region, credentials and lazily created boto3 clients."""

    def __init__(self):
        self.endpoint = env("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT)
        self.region = env("AWS_REGION", env("AWS_DEFAULT_REGION", DEFAULT_REGION))
        self.endpoints = {"dynamodb": env("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint)}
        self._clients = {}

    def endpoint_for(self, service):
        return self.endpoints.get(service, self.endpoint)

    def client(self, service):
        if service not in self._clients:
            kwargs = {
                "endpoint_url": self.endpoint_for(service),
                "region_name": self.region,
                "config": botocore.config.Config(
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"mode": "standard", "max_attempts": 3},
                ),
            }
            # Emulators accept any credentials; only fall back to the conventional
            # dummy ones when the environment provides none.
            if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
                kwargs["aws_access_key_id"] = "test"
                kwargs["aws_secret_access_key"] = "test"
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]


def report(kind, name, status):
    print(f"{kind} {name}: {status}", flush=True)


def error_code(err):
    return err.response.get("Error", {}).get("Code", "")


# --- DynamoDB -----------------------------------------------------------------

# (env var, default name, [(attribute, type, key type)], TTL attribute or None)
TABLES = [
    ("PAYGATE_EVENTS_TABLE", "paygate-events",
     [("stream_id", "S", "HASH"), ("version", "N", "RANGE")], None),
    ("PAYGATE_DEPOSITS_TABLE", "paygate-deposits", [("deposit_id", "S", "HASH")], None),
    ("PAYGATE_IDEMPOTENCY_TABLE", "paygate-idempotency",
     [("idempotency_key", "S", "HASH")], "expires_at"),
    ("PAYGATE_MERCHANTS_TABLE", "paygate-merchants", [("api_key_hash", "S", "HASH")], None),
    ("PAYGATE_LOOKUPS_TABLE", "paygate-lookups", [("lookup_key", "S", "HASH")], None),
    ("PAYGATE_GATEWAYS_TABLE", "paygate-gateways", [("name", "S", "HASH")], None),
    ("PAYGATE_LEDGER_TABLE", "paygate-ledger",
     [("merchant_id", "S", "HASH"), ("sequence", "N", "RANGE")], None),
]

# Global secondary indexes per table (env var as in TABLES): (index name,
# [(attribute, type, key type)], projected non-key attributes). Both deposits indexes
# are sparse: an item is in one only while it carries the index's hash key attribute,
# which the event store writes in the same transaction as every append.
#
# * by_sweep_due: `sweep_status` (= the status, only while pending, processing or
#   submitted) and `sweep_at` (fixed-width UTC RFC 3339, sorts as text: the last change,
#   or when the sweeper last looked and left it): the sweeper's "waiting since before T".
# * by_outbox: `outbox` (only while published_version < version) and `updated_at`:
#   deposits with events not on the bus yet.
# * by_merchant: `merchant_id` and `list_key` (fixed-width UTC created_at, `#`, deposit
#   id): a merchant's deposits, newest first, for `GET /v1/deposits`.
# * by_merchant_payouts: the same for payouts (`payout_list_key`, on payouts only), for
#   `GET /v1/payouts`.
TABLE_INDEXES = {
    "PAYGATE_DEPOSITS_TABLE": [
        ("by_sweep_due",
         [("sweep_status", "S", "HASH"), ("sweep_at", "S", "RANGE")], ["doc"]),
        ("by_outbox",
         [("outbox", "S", "HASH"), ("updated_at", "S", "RANGE")],
         ["published_version", "version"]),
        ("by_merchant",
         [("merchant_id", "S", "HASH"), ("list_key", "S", "RANGE")], ["doc", "status"]),
        ("by_merchant_payouts",
         [("merchant_id", "S", "HASH"), ("payout_list_key", "S", "RANGE")],
         ["doc", "status"]),
    ],
}


def ensure_tables(ctx):
    ddb = ctx.client("dynamodb")
    for env_var, default, keys, ttl_attribute in TABLES:
        name = env(env_var, default)
        indexes = TABLE_INDEXES.get(env_var, [])
        status = ensure_table(ddb, name, keys, indexes)
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        report("table", name, status)
        if indexes:
            ensure_indexes(ddb, name, indexes, with_table=status == "created")
        if ttl_attribute:
            ensure_ttl(ddb, name, ttl_attribute)


def key_schema(keys):
    return [{"AttributeName": a, "KeyType": k} for a, _, k in keys]


def attribute_definitions(keys, indexes):
    """Every key attribute of the table and its indexes, once each."""
    types = {}
    for attribute, kind, _ in list(keys) + [k for _, index_keys, _ in indexes for k in index_keys]:
        if types.setdefault(attribute, kind) != kind:
            raise InitError(f"attribute {attribute} is declared as both {types[attribute]} and {kind}")
    return [{"AttributeName": a, "AttributeType": t} for a, t in types.items()]


def index_spec(index):
    name, keys, non_key = index
    return {
        "IndexName": name,
        "KeySchema": key_schema(keys),
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(non_key)},
    }


def ensure_table(ddb, name, keys, indexes=()):
    wanted = key_schema(keys)
    try:
        existing = ddb.describe_table(TableName=name)["Table"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
    else:
        if sorted(existing["KeySchema"], key=lambda k: k["KeyType"]) != wanted:
            raise InitError(
                f"table {name} exists with key schema {existing['KeySchema']}, "
                f"expected {wanted}; delete it (or reset the emulator) and rerun"
            )
        return "exists"
    create = {
        "TableName": name,
        "KeySchema": wanted,
        "AttributeDefinitions": attribute_definitions(keys, indexes),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        create["GlobalSecondaryIndexes"] = [index_spec(index) for index in indexes]
    try:
        ddb.create_table(**create)
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ResourceInUseException":  # created concurrently
            return "exists"
        raise
    return "created"


def ensure_indexes(ddb, table, indexes, with_table=False, timeout=900):
    """Add the global secondary indexes an existing table lacks, one per UpdateTable
    (DynamoDB allows no more), waiting for each to be ACTIVE; refuse a same-named index
    with another key schema."""
    for index in indexes:
        name, keys, _ = index
        label = f"{table}.{name}"
        status = "created with the table" if with_table else "exists"
        for attempt in range(3):
            existing = index_key_schemas(ddb, table)
            if name in existing:
                break
            try:
                ddb.update_table(
                    TableName=table,
                    AttributeDefinitions=attribute_definitions([], [index]),
                    GlobalSecondaryIndexUpdates=[{"Create": index_spec(index)}],
                )
                status = "created"
                break
            except botocore.exceptions.ClientError as err:
                # The table is busy (another index being built, another run adding this
                # one): wait until it settles, then look again.
                if attempt == 2 or error_code(err) not in (
                        "ResourceInUseException", "LimitExceededException",
                        "ValidationException"):
                    raise
                wait_for_index(ddb, table, None, timeout)
        if existing.get(name, key_schema(keys)) != key_schema(keys):
            raise InitError(
                f"index {label} exists with key schema {existing[name]}, expected "
                f"{key_schema(keys)}; delete it (or reset the emulator) and rerun"
            )
        wait_for_index(ddb, table, name, timeout)
        report("index", label, status)


def index_key_schemas(ddb, table):
    described = ddb.describe_table(TableName=table)["Table"]
    return {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}


def wait_for_index(ddb, table, index, timeout):
    """Poll until the table is ACTIVE and `index` exists and is ACTIVE (with `index`
    None: until no index is in transition)."""
    deadline = time.monotonic() + timeout
    while True:
        described = ddb.describe_table(TableName=table)["Table"]
        statuses = {i["IndexName"]: i.get("IndexStatus", "ACTIVE")
                    for i in described.get("GlobalSecondaryIndexes", [])}
        if described.get("TableStatus") == "ACTIVE":
            if index is None and all(s == "ACTIVE" for s in statuses.values()):
                return
            if index is not None and statuses.get(index) == "ACTIVE":
                return
            if index is not None and index not in statuses:
                raise InitError(f"index {table}.{index} is missing after UpdateTable")
        if time.monotonic() > deadline:
            raise InitError(f"index {table}.{index} not ACTIVE after {timeout} s "
                            f"(table {described.get('TableStatus')}, indexes {statuses})")
        time.sleep(1)


def ensure_ttl(ddb, table, attribute):
    """Enable TTL; emulators without TTL support only earn a warning."""
    label = f"{table}.{attribute}"
    try:
        current = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
        if (current.get("AttributeName") == attribute
                and current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")):
            report("ttl", label, "exists")
            return
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )
        report("ttl", label, "enabled")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        report("ttl", label, f"WARNING: not enabled, emulator said: {err}")


# --- SQS ----------------------------------------------------------------------

def ensure_deposit_queues(ctx):
    sqs = ctx.client("sqs")
    dlq_name = env("PAYGATE_DEPOSITS_DLQ", "paygate-deposits-dlq")
    queue_name = env("PAYGATE_DEPOSITS_QUEUE", "paygate-deposits")
    max_receive = env("PAYGATE_MAX_RECEIVE_COUNT", "5")
    if not max_receive.isdigit() or int(max_receive) < 1:
        raise InitError(f"PAYGATE_MAX_RECEIVE_COUNT must be a positive integer, got {max_receive!r}")

    dlq_url = ensure_queue(sqs, dlq_name, {"MessageRetentionPeriod": "1209600"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(int(max_receive))}
    ensure_queue(sqs, queue_name, {
        "VisibilityTimeout": "180",
        "RedrivePolicy": json.dumps(redrive),
    })


def ensure_queue(sqs, name, attributes):
    """Create the queue, or bring an existing one's attributes up to date."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) not in ("AWS.SimpleQueueService.NonExistentQueue",
                                   "QueueDoesNotExist"):
            raise
    else:
        current = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(attributes))["Attributes"]
        stale = {k: v for k, v in attributes.items() if not same_attribute(current.get(k), v)}
        if stale:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=stale)
            report("queue", name, "exists, updated " + ", ".join(sorted(stale)))
        else:
            report("queue", name, "exists")
        return url
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    report("queue", name, "created")
    return url


def same_attribute(current, wanted):
    if current == wanted:
        return True
    try:  # JSON attributes (RedrivePolicy) may differ in spacing or number types
        return normalize(json.loads(current)) == normalize(json.loads(wanted))
    except (TypeError, ValueError):
        return False


def normalize(value):
    if isinstance(value, dict):
        return {k: str(v) for k, v in value.items()}
    return value


# --- EventBridge ----------------------------------------------------------------

# The tap: a rule on the bus copying every paygate event into a queue, so tests and
# operators can watch what is published (`aws sqs receive-message` on the queue).
TAP_RULE = "paygate-all-events"
TAP_PATTERN = {"source": ["paygate"]}
TAP_TARGET_ID = "events-tap"


def ensure_event_bus(ctx):
    """The custom bus domain events go to, and the tap rule → queue on it."""
    events = ctx.client("events")
    sqs = ctx.client("sqs")
    bus = env("PAYGATE_EVENT_BUS", "paygate-bus")
    tap_queue = env("PAYGATE_EVENTS_TAP_QUEUE", "paygate-events-tap")

    try:
        events.describe_event_bus(Name=bus)
        report("bus", bus, "exists")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        try:
            events.create_event_bus(Name=bus)
            report("bus", bus, "created")
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "ResourceAlreadyExistsException":  # created concurrently
                raise
            report("bus", bus, "exists")

    queue_url = ensure_queue(sqs, tap_queue, {"MessageRetentionPeriod": "86400"})
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    rule_arn = ensure_rule(events, bus, TAP_RULE, TAP_PATTERN)
    ensure_queue_policy(sqs, tap_queue, queue_url, queue_arn, rule_arn)
    ensure_target(events, bus, TAP_RULE, TAP_TARGET_ID, queue_arn)


def ensure_rule(events, bus, name, pattern):
    """Create the rule, or bring its pattern and state up to date; returns its ARN."""
    label = f"{bus}/{name}"
    try:
        current = events.describe_rule(Name=name, EventBusName=bus)
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        status = "created"
    else:
        same_pattern = json.loads(current.get("EventPattern") or "null") == pattern
        if same_pattern and current.get("State") == "ENABLED":
            report("rule", label, "exists")
            return current["Arn"]
        status = "exists, updated"
    arn = events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps(pattern),
        State="ENABLED",
        Description="paygate: copies every paygate event to the events tap queue",
    )["RuleArn"]
    report("rule", label, status)
    return arn


def ensure_queue_policy(sqs, name, url, queue_arn, rule_arn):
    """Let EventBridge send to the queue for this rule only."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowPaygateBusRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }],
    }
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get(
        "Attributes", {}).get("Policy")
    try:
        if current and json.loads(current) == policy:
            report("queue-policy", name, "exists")
            return
    except ValueError:
        pass
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    report("queue-policy", name, "updated" if current else "created")


def ensure_target(events, bus, rule, target_id, arn):
    label = f"{bus}/{rule}/{target_id}"
    targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus).get("Targets", [])
    if any(t["Id"] == target_id and t["Arn"] == arn for t in targets):
        report("target", label, "exists")
        return
    answer = events.put_targets(Rule=rule, EventBusName=bus,
                                Targets=[{"Id": target_id, "Arn": arn}])
    if answer.get("FailedEntryCount", 0):
        raise InitError(f"target {label} refused: {answer.get('FailedEntries')}")
    report("target", label, "exists, updated" if targets else "created")


# --- secrets (local only) ---------------------------------------------------------

# What `sam local invoke` (and the functions on an emulator) read by ARN. A deployed stack
# gets its secrets from the operator (README: Deploy); these exist only on emulators.
LOCAL_WEBHOOK_GATEWAYS = {
    # The secrets the signed samples in events/webhook-callback/ were made with.
    "acme_json": {"format": "json", "secrets": ["whsec_sample_acme_json_5b2e9c"]},
    "globex_soap": {"format": "soap", "secrets": ["whsec_sample_globex_soap_8d41f0"]},
}


def ensure_local_secrets(ctx):
    """Field-encryption keys (random, made once) and the webhook configuration."""
    secrets = ctx.client("secretsmanager")
    field_keys = "local1:" + base64.b64encode(os.urandom(32)).decode("ascii")
    ensure_secret(secrets, env("PAYGATE_LOCAL_FIELD_KEYS_SECRET", "paygate/local/field-keys"),
                  field_keys)
    ensure_secret(secrets,
                  env("PAYGATE_LOCAL_WEBHOOK_GATEWAYS_SECRET", "paygate/local/webhook-gateways"),
                  json.dumps(LOCAL_WEBHOOK_GATEWAYS))


def ensure_secret(secrets, name, value):
    """Create the secret unless it exists (an existing value is kept: keys must not change
    under stored data); prints its ARN, which the template's parameters take."""
    try:
        arn = secrets.describe_secret(SecretId=name)["ARN"]
        report("secret", name, f"exists ({arn})")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
        report("secret", name, f"created ({arn})")


# The merchant the sample events in events/deposit-intake/ authenticate as. Only the key's
# SHA-256 is stored, as for every merchant; the key itself is public test data.
SAMPLE_MERCHANT = "mer_samples"
SAMPLE_API_KEY = "sk_test_samples_7d3f9a2c41e8"


def ensure_sample_merchant(ctx):
    ddb = ctx.client("dynamodb")
    table = env("PAYGATE_MERCHANTS_TABLE", "paygate-merchants")
    key_hash = hashlib.sha256(SAMPLE_API_KEY.encode("ascii")).hexdigest()
    try:
        ddb.put_item(
            TableName=table,
            Item={"api_key_hash": {"S": key_hash}, "merchant_id": {"S": SAMPLE_MERCHANT}},
            ConditionExpression="attribute_not_exists(api_key_hash)",
        )
        report("merchant", SAMPLE_MERCHANT, "created (the sample events' key)")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        report("merchant", SAMPLE_MERCHANT, "exists")


# --- entry point ------------------------------------------------------------------

# Resource-creating functions, run in order. Add new ones here.
RESOURCES = [
    ensure_tables,
    ensure_deposit_queues,
    ensure_event_bus,
    ensure_local_secrets,
    ensure_sample_merchant,
]


def main():
    ctx = Context()
    print(f"paygate init: endpoint {ctx.endpoint}, dynamodb {ctx.endpoint_for('dynamodb')}, "
          f"region {ctx.region}", flush=True)
    try:
        for ensure in RESOURCES:
            ensure(ctx)
    except InitError as err:
        print(f"paygate init FAILED: {err}", file=sys.stderr, flush=True)
        return 1
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        print(f"paygate init FAILED: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return 1
    print("paygate init: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
elif "__file__" not in globals():
    # exec()'d by LocalStack's init hook: report failure with an ordinary exception.
    if main() != 0:
        raise RuntimeError("paygate init_resources.py failed; see the messages above")
