//! Test support: a part of the core with the seeded dice it rolls.

use std::ops::{Deref, DerefMut};

use super::dice::SplitMix64;

/// A part under test (the books, a whole PSP) with the seeded dice it rolls, so a test
/// step names only what it does; the part's own API shows through.
pub(crate) struct Seeded<T> {
    pub inner: T,
    pub dice: SplitMix64,
}

impl<T> Deref for Seeded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for Seeded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
