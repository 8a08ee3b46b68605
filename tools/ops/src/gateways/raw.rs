//! A `put` file as written, before its entries are checked: deserialised by hand so that
//! unknown and repeated fields, and entries that are not objects, become problems of their
//! entry instead of one parse error for the whole file.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The fields of a `put` entry: the devstack seed's, with `base_url` required.
pub const FIELDS: [&str; 8] = [
    "name",
    "format",
    "base_url",
    "countries",
    "currencies",
    "priority",
    "enabled",
    "capabilities",
];

/// One entry as written: the known fields (each kept once, as JSON), and what was wrong
/// with its shape. Deserialised by hand so that unknown and repeated fields, and entries
/// that are not objects, become [`Problem`](super::Problem)s of their entry instead of one parse error.
#[derive(Debug, Default)]
pub(super) struct RawEntry {
    fields: Vec<(&'static str, Value)>,
    pub(super) unknown: Vec<String>,
    pub(super) repeated: Vec<&'static str>,
    /// What the entry was instead of an object (`"a string"`).
    pub(super) not_an_object: Option<&'static str>,
}

impl RawEntry {
    pub(super) fn get(&self, field: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value)
    }

    fn not_an_object(kind: &'static str) -> Self {
        Self {
            not_an_object: Some(kind),
            ..Self::default()
        }
    }

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entry = Self::default();
        while let Some(key) = map.next_key::<String>()? {
            match FIELDS.iter().find(|f| **f == key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                    if !entry.unknown.contains(&key) {
                        entry.unknown.push(key);
                    }
                }
                Some(field) if entry.get(field).is_some() => {
                    map.next_value::<IgnoredAny>()?;
                    if !entry.repeated.contains(field) {
                        entry.repeated.push(field);
                    }
                }
                Some(field) => {
                    let value = map.next_value::<Value>()?;
                    entry.fields.push((field, value));
                }
            }
        }
        Ok(entry)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a gateway object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEntry, A::Error> {
        RawEntry::read(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEntry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawEntry::not_an_object("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("null"))
    }
}

impl<'de> Deserialize<'de> for RawEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// The whole file: an array of entries, or one entry.
pub(super) struct RawFile(pub(super) Vec<RawEntry>);

struct FileVisitor;

pub(super) const FILE_SHAPE: &str =
    "the file must hold a JSON array of gateway objects, or one gateway object";

impl<'de> Visitor<'de> for FileVisitor {
    type Value = RawFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FILE_SHAPE)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawFile, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element::<RawEntry>()? {
            entries.push(entry);
        }
        Ok(RawFile(entries))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFile, A::Error> {
        Ok(RawFile(vec![RawEntry::read(map)?]))
    }

    // Anything else is refused without serde's default message, which quotes the value.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }
}

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FileVisitor)
    }
}
