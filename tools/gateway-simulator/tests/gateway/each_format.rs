//! One test per wire format for the scenarios that run on both.

/// Runs each named `async fn(Format)` case as two tests, `json::<case>` and `soap::<case>`.
macro_rules! for_each_format {
    ($($case:ident),* $(,)?) => {
        mod json {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(gateway_simulator::Format::Json).await
                }
            )*
        }
        mod soap {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(gateway_simulator::Format::Soap).await
                }
            )*
        }
    };
}
pub(crate) use for_each_format;
