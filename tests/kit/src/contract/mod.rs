//! The contract every adapter of a port must honour. Each case is a plain async function
//! taking the adapter under test; the `*_contract!` macros stamp them out as tests (all of
//! them at once: [`adapter_contract!`](crate::adapter_contract)), so the in-memory crate
//! and the AWS crate run literally the same assertions.

pub mod event_store;
pub mod fixtures;
pub mod ledger;
pub mod merchants;
pub mod publisher;
pub mod queue;
pub mod registry;
pub mod sweep;

/// Generates one `#[tokio::test]` per event-store case. `$make` is an expression
/// evaluating to a future of `Arc<dyn EventStore>`, evaluated afresh for every test.
#[macro_export]
macro_rules! event_store_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::event_store;
            append_then_load_returns_the_stream_in_order,
            an_unknown_stream_loads_empty,
            appending_at_a_taken_version_conflicts_and_writes_nothing,
            a_taken_idempotency_key_refuses_the_whole_append,
            the_view_follows_the_latest_append,
            idempotency_state_moves_only_from_the_expected_state,
            idempotency_keys_are_scoped_per_merchant,
            concurrent_writers_leave_a_gapless_stream_with_no_lost_event,
            concurrent_claims_of_one_key_create_exactly_one_stream,
            a_recorded_lookup_finds_its_deposit,
            recording_the_same_lookup_again_for_the_same_deposit_is_fine,
            an_external_id_of_another_deposit_refuses_the_whole_append,
            an_unknown_external_id_finds_nothing,
        );
    };
}

/// Generates the ledger and deposit-list cases; `$make` yields
/// [`ledger::Stores`](crate::contract::ledger::Stores), one adapter through three ports.
#[macro_export]
macro_rules! ledger_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::ledger;
            a_capture_credits_available_and_a_refund_moves_it_through_reserved,
            a_batch_that_would_overdraw_writes_nothing,
            concurrent_debits_never_overdraw_and_entries_stay_gapless,
            concurrent_payouts_reserve_exactly_what_is_there,
            concurrent_captures_are_all_accepted_and_numbered_once,
            payouts_and_deposits_are_listed_apart,
            ledger_pages_list_every_entry_once_newest_first,
            deposits_list_the_merchants_own_newest_first_by_status,
            deposit_pages_stay_exact_while_new_deposits_arrive,
        );
    };
}

/// Generates the sweep-index cases; `$make` yields `(Arc<dyn EventStore>,
/// Arc<dyn SweepIndex>)`, both the same adapter (the index reads what the store wrote).
#[macro_export]
macro_rules! sweep_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::sweep;
            a_new_pending_deposit_is_stale_only_once_its_last_change_is_before_the_cut_off,
            a_deposit_moves_between_status_indexes_with_its_status,
            final_deposits_are_in_no_status_index,
            a_final_deposit_is_refunding_while_a_refund_is_in_flight,
            the_status_index_returns_the_oldest_first_within_the_limit,
            only_appends_with_bus_events_leave_the_deposit_unpublished,
            marking_the_latest_version_takes_the_deposit_out_of_the_unpublished_index,
            marking_an_older_version_moves_the_mark_and_keeps_the_deposit_unpublished,
            the_mark_never_moves_backwards_over_a_gap_or_past_the_stream,
            an_append_with_bus_events_after_marking_makes_the_deposit_unpublished_again,
            publishing_an_appends_outbox_marks_it_in_one_step_when_nothing_older_is_pending,
            the_unpublished_index_returns_the_oldest_first_within_the_limit,
            an_unknown_deposit_has_no_publish_state_and_cannot_be_marked,
            a_deferred_deposit_waits_behind_those_not_looked_at_since,
            a_change_restarts_the_wait_and_a_stale_deferral_is_ignored,
            every_indexed_deposit_is_found_whatever_partition_holds_it,
        );
    };
}

/// Generates the queue cases; `$make` yields `(Arc<dyn QueueSender>, Arc<dyn QueueProbe>)`.
#[macro_export]
macro_rules! queue_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::queue;
            a_sent_message_arrives_intact,
            a_delayed_message_is_not_delivered_early,
        );
    };
}

/// Generates the event-publisher cases; `$make` yields
/// `(Arc<dyn EventPublisher>, Arc<dyn BusProbe>)`.
#[macro_export]
macro_rules! publisher_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::publisher;
            published_events_arrive_with_detail_type_and_detail_intact,
            every_event_of_a_publish_larger_than_one_request_arrives,
            events_too_large_together_for_one_request_all_arrive,
            publishing_nothing_succeeds,
            a_detail_that_is_not_a_json_object_refuses_the_whole_publish,
            an_event_over_256_kb_refuses_the_whole_publish,
        );
    };
}

/// Generates the merchant-directory cases; `$make` yields `Arc<dyn MerchantRegistry>`.
#[macro_export]
macro_rules! merchants_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::merchants;
            a_registered_key_resolves_to_its_merchant,
            an_unknown_key_resolves_to_nobody,
        );
    };
}

/// Generates the gateway-registry cases; `$make` yields `Arc<dyn GatewayRegistry>`.
#[macro_export]
macro_rules! registry_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::contract::registry;
            an_upserted_gateway_is_listed_with_the_default_status,
            upserting_again_replaces_the_config_and_keeps_the_learnt_status,
            failures_at_the_threshold_open_the_breaker_and_a_success_closes_it,
            concurrent_failures_are_all_counted,
            recording_a_call_on_an_unknown_gateway_fails,
            changing_a_config_keeps_a_concurrent_upsert_and_the_learnt_status,
            changing_the_config_of_an_unknown_gateway_writes_nothing,
        );
    };
}

/// Every port's cases for one adapter crate, so each adapter runs the whole suite. Expects
/// in scope the async factories each port's macro takes, by these names: `store`,
/// `sweep_stores`, `ledger_stores`, `queue`, `merchants`, `bus` and `gateways`.
#[macro_export]
macro_rules! adapter_contract {
    () => {
        $crate::event_store_contract!(store());
        $crate::sweep_contract!(sweep_stores());
        $crate::ledger_contract!(ledger_stores());
        $crate::queue_contract!(queue());
        $crate::merchants_contract!(merchants());
        $crate::publisher_contract!(bus());
        $crate::registry_contract!(gateways());
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    ($make:expr, $module:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                use $module as cases;
                cases::$case($make.await).await;
            }
        )+
    };
}
