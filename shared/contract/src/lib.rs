//! The contract every adapter of a port must honour. Each case is a plain async function
//! taking the adapter under test; the `*_contract!` macros stamp them out as tests, so the
//! in-memory crate and the AWS crate run literally the same assertions.

pub mod event_store;
pub mod fixtures;
pub mod merchants;
pub mod queue;

/// Generates one `#[tokio::test]` per event-store case. `$make` is an expression
/// evaluating to a future of `Arc<dyn EventStore>`, evaluated afresh for every test.
#[macro_export]
macro_rules! event_store_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::event_store;
            append_then_load_returns_the_stream_in_order,
            an_unknown_stream_loads_empty,
            appending_at_a_taken_version_conflicts_and_writes_nothing,
            a_taken_idempotency_key_refuses_the_whole_append,
            the_view_follows_the_latest_append,
            idempotency_state_moves_only_from_the_expected_state,
            idempotency_keys_are_scoped_per_merchant,
            concurrent_writers_leave_a_gapless_stream_with_no_lost_event,
            concurrent_claims_of_one_key_create_exactly_one_stream,
        );
    };
}

/// Generates the queue cases; `$make` yields `(Arc<dyn QueueSender>, Arc<dyn QueueProbe>)`.
#[macro_export]
macro_rules! queue_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::queue;
            a_sent_message_arrives_intact,
            a_delayed_message_is_not_delivered_early,
        );
    };
}

/// Generates the merchant-directory cases; `$make` yields `Arc<dyn MerchantRegistry>`.
#[macro_export]
macro_rules! merchants_contract {
    ($make:expr) => {
        $crate::__contract_cases!($make, $crate::merchants;
            a_registered_key_resolves_to_its_merchant,
            an_unknown_key_resolves_to_nobody,
        );
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
