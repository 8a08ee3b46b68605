//! Counting what the adapters ask of AWS: every request (each attempt, retries included)
//! by service, operation and target (table, queue or bus), and the DynamoDB capacity
//! units AWS reports for them. An SDK interceptor, so the counts come from the SDK
//! itself; the request-budget tests and `cargo xtask bench` read them.
//!
//! Metering asks DynamoDB to report consumed capacity (`ReturnConsumedCapacity=TOTAL`) on
//! every call, which changes nothing else in the request: the deployed functions do not
//! meter.

use aws_sdk_dynamodb::operation as dynamodb;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{SharedInterceptor, context::Input};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// One kind of request: `DynamoDB Query paygate-events`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    pub service: String,
    pub operation: String,
    /// The table (tables, `+`-joined, for a transaction), queue or bus; empty for calls
    /// about none.
    pub target: String,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.operation)?;
        if !self.target.is_empty() {
            write!(f, " {}", self.target)?;
        }
        Ok(())
    }
}

/// What a meter counted since it was made or last [taken](RequestMeter::take).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub requests: BTreeMap<Call, u32>,
    /// DynamoDB read capacity units reported (0 where the endpoint reports none).
    pub read_units: f64,
    /// DynamoDB write capacity units reported.
    pub write_units: f64,
}

impl Tally {
    /// Every request counted.
    pub fn total(&self) -> u32 {
        self.requests.values().sum()
    }

    /// Requests to `service` (e.g. `DynamoDB`, `SQS`, `EventBridge`).
    pub fn of_service(&self, service: &str) -> u32 {
        self.matching(|call| call.service == service)
    }

    /// Requests of `operation` (e.g. `Query`) on any target.
    pub fn of_operation(&self, operation: &str) -> u32 {
        self.matching(|call| call.operation == operation)
    }

    /// Requests whose call `pick` selects.
    pub fn matching(&self, pick: impl Fn(&Call) -> bool) -> u32 {
        self.requests
            .iter()
            .filter(|(call, _)| pick(call))
            .map(|(_, n)| n)
            .sum()
    }

    /// One line per kind of request, most frequent first: `3× DynamoDB Query paygate-events`.
    pub fn lines(&self) -> Vec<String> {
        let mut calls: Vec<_> = self.requests.iter().collect();
        calls.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        calls
            .iter()
            .map(|(call, n)| format!("{n}× {call}"))
            .collect()
    }

    /// Adds `other`'s counts to this one.
    pub fn add(&mut self, other: &Tally) {
        for (call, n) in &other.requests {
            *self.requests.entry(call.clone()).or_default() += n;
        }
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests", self.total())?;
        for line in self.lines() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

/// Counts the requests of every client it is [attached](RequestMeter::interceptor) to.
/// Clones share one tally.
#[derive(Debug, Clone, Default)]
pub struct RequestMeter {
    tally: Arc<Mutex<Tally>>,
}

impl RequestMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor to add to a client's configuration.
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(MeterInterceptor {
            tally: self.tally.clone(),
        })
    }

    /// What was counted so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().expect("meter lock").clone()
    }

    /// What was counted so far, starting the count again from zero.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().expect("meter lock"))
    }
}

#[derive(Debug)]
struct MeterInterceptor {
    tally: Arc<Mutex<Tally>>,
}

/// The call being made, carried from serialization to every attempt's transmission.
#[derive(Debug, Clone)]
struct Pending(Call);

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

impl Intercept for MeterInterceptor {
    fn name(&self) -> &'static str {
        "paygate-request-meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_default();
        let input = context.input_mut();
        ask_for_capacity(input);
        let target = target_of(input);
        cfg.interceptor_state().store_put(Pending(Call {
            service,
            operation,
            target,
        }));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Pending(call)) = cfg.load::<Pending>() {
            let mut tally = self.tally.lock().expect("meter lock");
            *tally.requests.entry(call.clone()).or_default() += 1;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let (units, writes) = capacity_of(output);
        if units > 0.0 {
            let mut tally = self.tally.lock().expect("meter lock");
            if writes {
                tally.write_units += units;
            } else {
                tally.read_units += units;
            }
        }
        Ok(())
    }
}

/// Sets `ReturnConsumedCapacity=TOTAL` on the DynamoDB inputs the adapters send.
fn ask_for_capacity(input: &mut Input) {
    macro_rules! ask {
        ($($input:ty),*) => {$(
            if let Some(input) = input.downcast_mut::<$input>() {
                input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
                return;
            }
        )*};
    }
    ask!(
        dynamodb::put_item::PutItemInput,
        dynamodb::get_item::GetItemInput,
        dynamodb::update_item::UpdateItemInput,
        dynamodb::delete_item::DeleteItemInput,
        dynamodb::query::QueryInput,
        dynamodb::scan::ScanInput,
        dynamodb::transact_write_items::TransactWriteItemsInput,
        dynamodb::transact_get_items::TransactGetItemsInput
    );
}

/// The table, queue or bus a request is about.
fn target_of(input: &Input) -> String {
    macro_rules! table {
        ($($input:ty),*) => {$(
            if let Some(input) = input.downcast_ref::<$input>() {
                return input.table_name.clone().unwrap_or_default();
            }
        )*};
    }
    table!(
        dynamodb::put_item::PutItemInput,
        dynamodb::get_item::GetItemInput,
        dynamodb::update_item::UpdateItemInput,
        dynamodb::delete_item::DeleteItemInput,
        dynamodb::query::QueryInput,
        dynamodb::scan::ScanInput
    );
    if let Some(input) =
        input.downcast_ref::<dynamodb::transact_write_items::TransactWriteItemsInput>()
    {
        return transaction_tables(input);
    }
    macro_rules! queue {
        ($($input:ty),*) => {$(
            if let Some(input) = input.downcast_ref::<$input>() {
                return queue_name(input.queue_url.as_deref().unwrap_or_default());
            }
        )*};
    }
    use aws_sdk_sqs::operation as sqs;
    queue!(
        sqs::send_message::SendMessageInput,
        sqs::send_message_batch::SendMessageBatchInput,
        sqs::receive_message::ReceiveMessageInput,
        sqs::delete_message::DeleteMessageInput,
        sqs::delete_message_batch::DeleteMessageBatchInput,
        sqs::change_message_visibility::ChangeMessageVisibilityInput,
        sqs::get_queue_attributes::GetQueueAttributesInput
    );
    if let Some(input) = input.downcast_ref::<sqs::get_queue_url::GetQueueUrlInput>() {
        return input.queue_name.clone().unwrap_or_default();
    }
    use aws_sdk_eventbridge::operation::put_events::PutEventsInput;
    if let Some(input) = input.downcast_ref::<PutEventsInput>() {
        return input
            .entries
            .iter()
            .flatten()
            .find_map(|entry| entry.event_bus_name.clone())
            .map(|bus| bus.rsplit('/').next().unwrap_or_default().to_owned())
            .unwrap_or_default();
    }
    String::new()
}

/// The distinct tables a transaction writes, in order, `+`-joined.
fn transaction_tables(input: &dynamodb::transact_write_items::TransactWriteItemsInput) -> String {
    let mut tables: Vec<&str> = Vec::new();
    for item in input.transact_items.iter().flatten() {
        let table = [
            item.put.as_ref().map(|x| x.table_name.as_str()),
            item.update.as_ref().map(|x| x.table_name.as_str()),
            item.delete.as_ref().map(|x| x.table_name.as_str()),
            item.condition_check.as_ref().map(|x| x.table_name.as_str()),
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(table) = table
            && !tables.contains(&table)
        {
            tables.push(table);
        }
    }
    tables.join("+")
}

/// A queue URL's last segment: its name.
fn queue_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or_default().to_owned()
}

/// The capacity units a DynamoDB answer reports, and whether they were spent writing.
fn capacity_of(
    output: &aws_smithy_runtime_api::client::interceptors::context::Output,
) -> (f64, bool) {
    fn units(capacity: Option<&ConsumedCapacity>) -> f64 {
        capacity.and_then(|c| c.capacity_units).unwrap_or(0.0)
    }
    /// A transaction reports the capacity of each table it touched.
    fn total(capacities: &[ConsumedCapacity]) -> f64 {
        capacities.iter().map(|c| units(Some(c))).sum()
    }
    macro_rules! one {
        ($writes:expr; $($output:ty),*) => {$(
            if let Some(output) = output.downcast_ref::<$output>() {
                return (units(output.consumed_capacity()), $writes);
            }
        )*};
    }
    one!(false; dynamodb::get_item::GetItemOutput, dynamodb::query::QueryOutput, dynamodb::scan::ScanOutput);
    one!(true; dynamodb::put_item::PutItemOutput, dynamodb::update_item::UpdateItemOutput, dynamodb::delete_item::DeleteItemOutput);
    if let Some(output) =
        output.downcast_ref::<dynamodb::transact_write_items::TransactWriteItemsOutput>()
    {
        return (total(output.consumed_capacity()), true);
    }
    if let Some(output) =
        output.downcast_ref::<dynamodb::transact_get_items::TransactGetItemsOutput>()
    {
        return (total(output.consumed_capacity()), false);
    }
    (0.0, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(service: &str, operation: &str, target: &str) -> Call {
        Call {
            service: service.into(),
            operation: operation.into(),
            target: target.into(),
        }
    }

    #[test]
    fn a_tally_sums_by_service_and_operation_and_lists_the_most_frequent_first() {
        let mut tally = Tally::default();
        tally
            .requests
            .insert(call("DynamoDB", "Query", "events"), 3);
        tally
            .requests
            .insert(call("DynamoDB", "GetItem", "gateways"), 1);
        tally
            .requests
            .insert(call("SQS", "SendMessage", "deposits"), 2);
        assert_eq!(tally.total(), 6);
        assert_eq!(tally.of_service("DynamoDB"), 4);
        assert_eq!(tally.of_operation("SendMessage"), 2);
        assert_eq!(
            tally.lines(),
            [
                "3× DynamoDB Query events",
                "2× SQS SendMessage deposits",
                "1× DynamoDB GetItem gateways"
            ]
        );
        let mut sum = tally.clone();
        sum.add(&tally);
        assert_eq!(sum.total(), 12);
    }

    #[test]
    fn a_queue_is_named_by_its_urls_last_segment() {
        assert_eq!(
            queue_name("http://localhost:4566/000000000000/paygate-deposits"),
            "paygate-deposits"
        );
        assert_eq!(queue_name(""), "");
    }
}
