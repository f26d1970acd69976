//! Random identifiers (request ids, message ids) without an extra dependency: the standard
//! library's randomly keyed hasher, fed a process-wide counter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// 16 hex digits.
pub fn short_id() -> String {
    format!("{:016x}", random_u64())
}

/// 32 hex digits: unique enough for ids that are stored.
pub fn long_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// A random id in UUID form (`8-4-4-4-12` hex digits), as Spinnaker's pipeline ids are.
pub fn uuid_like() -> String {
    let h = long_id();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A UUID-form id derived from `parts`, the same for the same parts in every process and
/// version (FNV-1a), so something created twice for the same cause gets one id.
pub fn derived_id(parts: &[&str]) -> String {
    let hash = |seed: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for part in parts {
            for b in part.bytes().chain(std::iter::once(0)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    };
    let h = format!("{:016x}{:016x}", hash(1), hash(2));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_differ() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| long_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(short_id().len(), 16);
        let u = uuid_like();
        assert_eq!(
            u.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["a", "b"]), derived_id(&["ab", ""]));
        assert_eq!(derived_id(&["x"]).len(), 36);
    }
}
