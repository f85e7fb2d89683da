//! Reading a model again, as a long-lived caller does (a daemon that applies the same
//! file every few seconds): each service whose text, and the values of the parameters it
//! used, are as in the last model read is taken from that reading; only the others are
//! read. The result is the one [`parse`](super::parse) gives, errors included: a model
//! with any problem is read again whole, so every message is the one-pass reader's.

use std::collections::HashMap;

use super::check::{self, ReadService};
use super::{check_size, read, split, Limits, ModelErrors, ParamSource};
use crate::desired::{DesiredTable, ScopeRule};

/// What a caller read of its last model: each service's text and its reading. Empty at
/// first; [`parse_cached`] refreshes it, keeping the services of the model it read.
#[derive(Default)]
pub struct ModelCache {
    services: HashMap<Box<str>, ReadService>,
    /// Services the last [`parse_cached`] read rather than took from here.
    read: usize,
}

impl ModelCache {
    pub fn new() -> ModelCache {
        ModelCache::default()
    }

    /// How many services it holds.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// How many services the last [`parse_cached`] read, rather than took from the
    /// cache: all of the table's when it read the model whole, none when that found
    /// errors.
    pub fn services_read(&self) -> usize {
        self.read
    }
}

/// [`parse_in_scope`](super::parse_in_scope), reusing what `cache` kept of the last model:
/// the same table, or the same errors. A model that cannot be cut at its services
/// (anchors, aliases, a single service; see `split.rs`) is read whole and empties the
/// cache.
pub fn parse_cached(
    text: &str,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
    cache: &mut ModelCache,
) -> Result<DesiredTable, ModelErrors> {
    let limits = Limits::default();
    check_size(text, &limits)?;
    let mut last = std::mem::take(&mut cache.services);
    if let Some(items) = split::split_items(text) {
        let (keys, known): (Vec<Box<str>>, Vec<Option<ReadService>>) = (items.pieces.iter())
            .map(|piece| match last.remove_entry(piece.text) {
                Some((key, read)) if read.resolves_alike(params) => (key, Some(read)),
                _ => (piece.text.into(), None),
            })
            .unzip();
        drop(last);
        let unknown = known.iter().filter(|read| read.is_none()).count();
        if let Some((table, readings)) =
            check::check_items(text, &items, params, scope, &limits, known)
        {
            cache.services = keys.into_iter().zip(readings).collect();
            cache.read = unknown;
            return Ok(table);
        }
    }
    let whole = read(text, params, scope, &limits);
    cache.read = whole.as_ref().map_or(0, |table| table.services.len());
    whole
}
