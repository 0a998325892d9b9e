//! Comparing environment values without sending them: a Swarm manager's agent answers each
//! value of a service's environment as HMAC-SHA256 keyed with a nonce the coordinator chose for
//! that request, and the coordinator computes the same over the stack file's value. Equal MACs,
//! equal values; the value itself never leaves the node, and a MAC is worthless with another
//! nonce.

use std::ops::RangeInclusive;

/// How long a nonce must be, bytes.
pub const NONCE_BYTES: RangeInclusive<usize> = 16..=64;

/// HMAC-SHA256 of `value` keyed with `nonce`.
pub fn env_value_mac(nonce: &[u8], value: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, nonce);
    ring::hmac::sign(&key, value.as_bytes()).as_ref().to_vec()
}

/// A fresh random nonce of 32 bytes.
pub fn fresh_nonce() -> Result<Vec<u8>, String> {
    use ring::rand::SecureRandom as _;
    let mut nonce = vec![0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| "the system's random source failed".to_owned())?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_equal_macs_under_one_nonce_only() {
        let (a, b) = (fresh_nonce().expect("nonce"), fresh_nonce().expect("nonce"));
        assert_ne!(a, b);
        assert_eq!(env_value_mac(&a, "s3cret"), env_value_mac(&a, "s3cret"));
        assert_ne!(env_value_mac(&a, "s3cret"), env_value_mac(&a, "s3cret "));
        assert_ne!(env_value_mac(&a, "s3cret"), env_value_mac(&b, "s3cret"));
        assert_eq!(env_value_mac(&a, "").len(), 32);
        // RFC 4231, test case 2.
        let mac = env_value_mac(b"Jefe", "what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
