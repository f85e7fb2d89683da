//! Line and column of a node given its path from the document root.
//!
//! serde_yaml 0.9 keeps no positions in `Value`, but it stamps the position of the node
//! being deserialized on any error raised there. So we deserialize the text again, walk
//! down the path skipping everything else, and raise an error at the wanted node: its
//! location is the answer. One pass per error, only when a model is invalid.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step from a node to a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The value under this key of a mapping.
    Value(String),
    /// The key node itself (for unknown keys); only last in a path.
    Key(String),
    /// An item of a sequence.
    Index(usize),
}

/// 1-based line and column of the node at `path`; for a path the text does not have,
/// the deepest ancestor found, and at worst the start of the text.
pub(crate) fn locate(text: &str, path: &[Step]) -> (usize, usize) {
    (0..=path.len())
        .rev()
        .find_map(|depth| locate_exact(text, &path[..depth]))
        .unwrap_or((1, 1))
}

fn locate_exact(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let result = Seek(path).deserialize(serde_yaml::Deserializer::from_str(text));
    let location = result.err()?.location()?;
    Some((location.line(), location.column()))
}

/// Walks down `path`; errors at its end (or where the text stops matching it).
struct Seek<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // Any visit that is not overridden errors, which is how a node is marked found.
        f.write_str("the node being located")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Step::Index(wanted), rest)) = self.0.split_first() else {
            return Err(de::Error::custom("found"));
        };
        let mut index = 0;
        loop {
            let more = if index == *wanted {
                seq.next_element_seed(Seek(rest))?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (wanted, at_key, rest) = match self.0.split_first() {
            Some((Step::Value(key), rest)) => (key.as_str(), false, rest),
            Some((Step::Key(key), rest)) => (key.as_str(), true, rest),
            _ => return Err(de::Error::custom("found")),
        };
        while let Some(matched) = map.next_key_seed(KeySeek { wanted, at_key })? {
            if matched {
                map.next_value_seed(Seek(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Reads a mapping key and tells whether it is the wanted one; errors at it if the key
/// itself is the node being located.
struct KeySeek<'k> {
    wanted: &'k str,
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeek<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeek<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.at_key => Err(E::custom("found")),
            matched => Ok(matched),
        }
    }

    // Keys that are not strings are never wanted (the checker rejects them at their map).
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| false)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_map(map).map(|_| false)
    }
}
