//! Lists, the way merchants already know them from Stripe: newest first, at most `limit`
//! items, continued from an object's id (`starting_after`: older than it;
//! `ending_before`: newer than it), and `has_more` to say whether that side has more.

/// What a list call asks for; `K` is how the store orders and finds the cursor object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    pub limit: usize,
    pub cursor: Option<Cursor<K>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor<K> {
    /// Items after this one in the list, i.e. older.
    StartingAfter(K),
    /// Items before this one in the list, i.e. newer.
    EndingBefore(K),
}

impl<K> Cursor<K> {
    /// The object it names.
    pub fn key(&self) -> &K {
        match self {
            Self::StartingAfter(key) | Self::EndingBefore(key) => key,
        }
    }

    /// The same direction from `key` (e.g. the object's sort key instead of its id).
    pub fn to<L>(&self, key: L) -> Cursor<L> {
        match self {
            Self::StartingAfter(_) => Cursor::StartingAfter(key),
            Self::EndingBefore(_) => Cursor::EndingBefore(key),
        }
    }
}

impl<K> PageRequest<K> {
    pub const DEFAULT_LIMIT: usize = 10;
    pub const MAX_LIMIT: usize = 100;

    /// The first page of at most `limit` items.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
}

/// One page, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Whether more items lie beyond this page in the direction it was read.
    pub has_more: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

/// The page `request` asks for out of `items`, newest first by `key` (descending, each
/// key once): what an in-memory store answers, and what a query-based one must agree with.
pub fn paginate<T, K: Ord>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> K,
    request: &PageRequest<K>,
) -> Page<T> {
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let limit = request.limit;
    match &request.cursor {
        None => take_front(items, limit),
        Some(Cursor::StartingAfter(cursor)) => {
            let older: Vec<T> = items.into_iter().filter(|i| key(i) < *cursor).collect();
            take_front(older, limit)
        }
        Some(Cursor::EndingBefore(cursor)) => {
            let mut newer: Vec<T> = items.into_iter().filter(|i| key(i) > *cursor).collect();
            // The `limit` nearest the cursor, still newest first.
            let has_more = newer.len() > limit;
            let data = newer.split_off(newer.len().saturating_sub(limit));
            Page { data, has_more }
        }
    }
}

fn take_front<T>(mut items: Vec<T>, limit: usize) -> Page<T> {
    let has_more = items.len() > limit;
    items.truncate(limit);
    Page {
        data: items,
        has_more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(cursor: Option<Cursor<u32>>, limit: usize) -> Page<u32> {
        paginate((1..=7).collect(), |n| *n, &PageRequest { limit, cursor })
    }

    #[test]
    fn pages_walk_every_item_once_in_both_directions() {
        let walk = [
            (None, 3, vec![7, 6, 5], true),
            (Some(Cursor::StartingAfter(5)), 3, vec![4, 3, 2], true),
            (Some(Cursor::StartingAfter(2)), 3, vec![1], false),
            (Some(Cursor::EndingBefore(2)), 3, vec![5, 4, 3], true),
            (Some(Cursor::EndingBefore(5)), 3, vec![7, 6], false),
            (None, 10, (1..=7).rev().collect(), false),
        ];
        for (cursor, limit, data, has_more) in walk {
            let case = format!("{cursor:?}, limit {limit}");
            assert_eq!(page(cursor, limit), Page { data, has_more }, "{case}");
        }
    }
}
