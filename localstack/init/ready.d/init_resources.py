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
  PAYGATE_MAX_RECEIVE_COUNT  resource names / settings, see the specs below; the Rust
                             code reads the same variables.

Every resource prints one line: `<kind> <name>: created|exists|...`. Any real
failure makes the script exit non-zero (or raise, under LocalStack).

To add a resource (e.g. the EventBridge bus and rule), write an
`ensure_<thing>(ctx)` function below and append it to RESOURCES at the bottom.
"""

import json
import os
import sys

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
]


def ensure_tables(ctx):
    ddb = ctx.client("dynamodb")
    for env_var, default, keys, ttl_attribute in TABLES:
        name = env(env_var, default)
        status = ensure_table(ddb, name, keys)
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        report("table", name, status)
        if ttl_attribute:
            ensure_ttl(ddb, name, ttl_attribute)


def ensure_table(ddb, name, keys):
    wanted = [{"AttributeName": a, "KeyType": k} for a, _, k in keys]
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
    try:
        ddb.create_table(
            TableName=name,
            KeySchema=wanted,
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ResourceInUseException":  # created concurrently
            return "exists"
        raise
    return "created"


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


# --- entry point ------------------------------------------------------------------

# Resource-creating functions, run in order. Add new ones (EventBridge bus, rules,
# targets, ...) here.
RESOURCES = [
    ensure_tables,
    ensure_deposit_queues,
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
