//! The TCP table's index: 4-tuple to slot number.
//!
//! Takes slot numbers with a way to read a slot's 4-tuple back; gives the
//! slot of a 4-tuple. Holds 4 bytes and a control byte per entry (the
//! 4-tuple stays in the slot only), against 68 for a map from the 64-byte
//! pair of socket addresses: 65,536 remembered streams cost 0.6 MB of index
//! instead of 9 to 13 MB. Never reads a slot it was not given.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use hashbrown::HashTable;

/// A connection's two ends, the lower first (the table's key).
pub(super) type Key = (SocketAddr, SocketAddr);

/// See the module docs. `key_of` is the table's: the 4-tuple of a slot in the index.
#[derive(Debug, Default)]
pub(super) struct FlowIndex {
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl FlowIndex {
    fn hash(&self, key: &Key) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn clear(&mut self) {
        self.table.clear();
    }

    pub(super) fn get(&self, key: &Key, key_of: impl Fn(u32) -> Option<Key>) -> Option<u32> {
        self.table
            .find(self.hash(key), |&slot| key_of(slot).as_ref() == Some(key))
            .copied()
    }

    /// Adds `slot` for `key` (not in the index: the table looks it up first).
    pub(super) fn insert(&mut self, key: &Key, slot: u32, key_of: impl Fn(u32) -> Option<Key>) {
        let hasher = &self.hasher;
        self.table.insert_unique(hasher.hash_one(key), slot, |&s| {
            // Every slot in the index has its key: 0 is never used.
            key_of(s).map_or(0, |k| hasher.hash_one(k))
        });
    }

    pub(super) fn remove(&mut self, key: &Key, key_of: impl Fn(u32) -> Option<Key>) {
        if let Ok(entry) = self
            .table
            .find_entry(self.hash(key), |&slot| key_of(slot).as_ref() == Some(key))
        {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn key(i: u32) -> Key {
        let a: SocketAddr = format!(
            "10.{}.{}.{}:{}",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255,
            1024 + i % 60000
        )
        .parse()
        .unwrap();
        let b: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        (a, b)
    }

    /// The same inserts, lookups and removals as a map from key to slot, with
    /// slots reused after removal the way the table reuses them.
    #[test]
    fn lookups_match_a_map_through_inserts_and_removals() {
        let mut index = FlowIndex::default();
        let mut model: BTreeMap<Key, u32> = BTreeMap::new();
        let mut slots: Vec<Option<Key>> = Vec::new();
        let mut free: Vec<u32> = Vec::new();
        for step in 0..20_000u32 {
            let k = key(step % 5_000 * 7 + step / 5_000);
            let found = index.get(&k, |s| slots.get(s as usize).copied().flatten());
            assert_eq!(found, model.get(&k).copied(), "step {step}");
            match found {
                Some(slot) if step % 3 == 0 => {
                    index.remove(&k, |s| slots.get(s as usize).copied().flatten());
                    model.remove(&k);
                    slots[slot as usize] = None;
                    free.push(slot);
                }
                Some(_) => {}
                None => {
                    let slot = free.pop().unwrap_or(slots.len() as u32);
                    if slot as usize == slots.len() {
                        slots.push(None);
                    }
                    slots[slot as usize] = Some(k);
                    index.insert(&k, slot, |s| slots.get(s as usize).copied().flatten());
                    model.insert(k, slot);
                }
            }
            assert_eq!(index.len(), model.len());
        }
        let key_of = |s: u32| slots.get(s as usize).copied().flatten();
        for (k, slot) in &model {
            assert_eq!(index.get(k, key_of), Some(*slot));
        }
        index.clear();
        assert_eq!((index.len(), index.get(&key(1), key_of)), (0, None));
    }
}
