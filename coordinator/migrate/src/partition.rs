//! Kafka's default partitioner for keyed records, and how a new key schema id moves keys.
//!
//! A keyed record goes to `toPositive(murmur2(keyBytes)) % partitions`, where
//! `murmur2` is Kafka's variant of MurmurHash2 (seed `0x9747b28c`, little-endian
//! 4-byte blocks, Java `int` arithmetic) and `toPositive` clears the sign bit.
//! With Confluent's Avro serializer the key bytes are the magic byte `0`, the
//! schema id as a 4-byte big-endian integer, then the Avro binary data — so the
//! same key under a new schema id hashes differently.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

/// Kafka's murmur2 hash of `data`, as the Java `int` that `Utils.murmur2` returns.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java's int is 32-bit two's complement: the length enters the hash modulo 2^32.
    let mut h = SEED ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (shift, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * shift);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: the value with its sign bit cleared (not `abs`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner picks for `key` among `partitions`.
pub fn partition_for_key(key: &[u8], partitions: NonZeroU32) -> u32 {
    // to_positive is never negative, so the cast is lossless.
    (to_positive(murmur2(key)) as u32) % partitions.get()
}

/// Key bytes in Confluent's wire format: magic byte 0, schema id (big-endian), Avro data.
pub fn confluent_key_bytes(schema_id: u32, avro: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(5 + avro.len());
    bytes.push(0);
    bytes.extend_from_slice(&schema_id.to_be_bytes());
    bytes.extend_from_slice(avro);
    bytes
}

/// How many keys change partition when their key schema id changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyMoves {
    /// Keys examined.
    pub keys: u64,
    /// Keys whose partition changes.
    pub moved: u64,
}

/// Counts the keys (Avro-encoded key data, without the 5-byte header) that move
/// partition when their schema id changes from `old_id` to `new_id`.
pub fn key_moves<I, K>(old_id: u32, new_id: u32, avro_keys: I, partitions: NonZeroU32) -> KeyMoves
where
    I: IntoIterator<Item = K>,
    K: AsRef<[u8]>,
{
    let mut moves = KeyMoves::default();
    for key in avro_keys {
        let key = key.as_ref();
        let before = partition_for_key(&confluent_key_bytes(old_id, key), partitions);
        let after = partition_for_key(&confluent_key_bytes(new_id, key), partitions);
        moves.keys += 1;
        moves.moved += u64::from(before != after);
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitions(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    /// The vectors Kafka's own `UtilsTest.testMurmur2` pins (all tail lengths 0–3 occur).
    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit_rather_than_negating() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    fn partition_is_to_positive_murmur2_modulo_count() {
        // toPositive(murmur2("21")) = 1_173_551_340.
        assert_eq!(partition_for_key(b"21", partitions(7)), 1_173_551_340 % 7);
        assert_eq!(partition_for_key(b"21", partitions(1)), 0);
    }

    #[test]
    fn confluent_header_is_magic_then_big_endian_id() {
        assert_eq!(
            confluent_key_bytes(0x0102_0304, &[9, 8]),
            vec![0, 1, 2, 3, 4, 9, 8]
        );
    }

    #[test]
    fn a_new_schema_id_moves_most_keys_and_the_same_id_moves_none() {
        // Avro long keys 1..=1000 (zig-zag varints), as a table with an `id BIGINT` key.
        let keys: Vec<Vec<u8>> = (1..=1000i64).map(zigzag_varint).collect();
        let same = key_moves(41, 41, &keys, partitions(12));
        assert_eq!(
            same,
            KeyMoves {
                keys: 1000,
                moved: 0
            }
        );
        let moved = key_moves(41, 97, &keys, partitions(12));
        assert_eq!(moved.keys, 1000);
        // Expect about 11/12 to move; require a clear majority.
        assert!(moved.moved > 800, "{moved:?}");
        assert_eq!(key_moves(41, 97, &keys, partitions(1)).moved, 0);
    }

    fn zigzag_varint(n: i64) -> Vec<u8> {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
}
