//! How PutEvents entries are measured and split into requests.
//!
//! EventBridge takes at most [`MAX_ENTRIES_PER_REQUEST`] entries per `PutEvents`, and at
//! most [`MAX_REQUEST_BYTES`] in total, an entry counted as AWS counts it ("Calculating
//! PutEvents event entry size"): the UTF-8 bytes of its `Source`, `DetailType` and
//! `Detail` (plus 14 for a `Time` and its `Resources`, which paygate never sets).

use std::ops::Range;

/// EventBridge's limit on entries per `PutEvents` request.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;

/// EventBridge's limit on a `PutEvents` request's total entry size (256 KB), which is
/// also the largest single event.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An entry's size as EventBridge counts it.
pub fn put_events_entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    source.len() + detail_type.len() + detail.len()
}

/// One entry larger than a whole request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Oversized {
    pub index: usize,
    pub size: usize,
}

/// Splits entries of the given sizes, in order, into the fewest consecutive requests
/// that respect both limits (greedy: each request takes as many as fit). Fails, before
/// anything is sent, if one entry alone is over the size limit.
pub(crate) fn batches(sizes: &[usize]) -> Result<Vec<Range<usize>>, Oversized> {
    if let Some((index, &size)) = sizes
        .iter()
        .enumerate()
        .find(|&(_, &size)| size > MAX_REQUEST_BYTES)
    {
        return Err(Oversized { index, size });
    }
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, &size) in sizes.iter().enumerate() {
        let count = index - start;
        if count > 0 && (count == MAX_ENTRIES_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES) {
            batches.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_makes_no_request() {
        assert_eq!(batches(&[]), Ok(vec![]));
    }

    #[test]
    fn at_most_ten_entries_per_request() {
        let ten = batches(&[100; 10]).unwrap();
        assert_eq!((ten.len(), ten[0].clone()), (1, 0..10));
        assert_eq!(batches(&[100; 23]), Ok(vec![0..10, 10..20, 20..23]));
    }

    #[test]
    fn at_most_256_kb_per_request() {
        let third = 100 * 1024;
        assert_eq!(
            batches(&[third, third, third, 10]),
            Ok(vec![0..2, 2..4]),
            "two 100 KB entries fit, a third does not"
        );
        assert_eq!(
            batches(&[MAX_REQUEST_BYTES, 1, MAX_REQUEST_BYTES - 1, 1]),
            Ok(vec![0..1, 1..3, 3..4]),
            "exactly 256 KB is allowed"
        );
    }

    #[test]
    fn an_entry_over_the_limit_refuses_the_whole_publish() {
        assert_eq!(
            batches(&[10, MAX_REQUEST_BYTES + 1, 10]),
            Err(Oversized {
                index: 1,
                size: MAX_REQUEST_BYTES + 1
            })
        );
    }

    #[test]
    fn sizes_count_utf8_bytes() {
        assert_eq!(
            put_events_entry_size("paygate", "X", "{\"a\":\"é\"}"),
            7 + 1 + 10
        );
    }
}
