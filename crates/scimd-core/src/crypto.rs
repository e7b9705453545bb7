//! Randomness, hashing and the AEAD box that keeps client secrets revealable but never in
//! clear at rest. Secrets and tokens are letters and digits only, so the RFC 6749 §2.3.1
//! form-encoding of Basic credentials is a no-op and every client agrees on them.

use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::CoreError;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Fill `buf` from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    // The system RNG failing means the OS cannot give entropy at all; nothing secure can
    // continue, so this is the one place a panic is the right answer.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(buf)
        .expect("the operating system's random number generator failed");
}

/// A uniformly random string of `len` letters and digits (rejection sampling, no modulo bias).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut buf);
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the first letters.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// A random RFC 4122 version-4 UUID in its hyphenated lowercase form.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    random_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    hyphenated(&b)
}

/// `n` RFC 9562 version-7 UUIDs for time `ms` (milliseconds since the epoch), from one call
/// to the system's random source: unique, and ordered by time, so an index of them grows at
/// its end like one of sequence numbers instead of touching a random page per insert.
pub fn time_ordered_uuids(ms: i64, n: usize) -> Vec<String> {
    let mut random = vec![0u8; 10 * n];
    random_bytes(&mut random);
    random
        .chunks(10)
        .map(|r| {
            let mut b = [0u8; 16];
            b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
            b[6..].copy_from_slice(r);
            b[6] = (b[6] & 0x0f) | 0x70;
            b[8] = (b[8] & 0x3f) | 0x80;
            hyphenated(&b)
        })
        .collect()
}

fn hyphenated(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Equality whose running time does not depend on where the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where the keys come from, when they can change while scimd runs (a key rotation): the
/// keys as they are now, the sealing key first, or `None` when nothing changed since the
/// last call.
pub trait KeySource: Send + Sync {
    fn changed(&self) -> Option<Vec<[u8; KEY_LEN]>>;
}

/// ChaCha20-Poly1305 under the server's key. Sealed values are `nonce || ciphertext || tag`;
/// the associated data binds a ciphertext to the record it belongs to, so a sealed secret
/// copied onto another provider's row does not open. During a key rotation it holds the new
/// key (sealing) and the previous one (opening only), and reads its source again when a value
/// does not open, so every process on the database follows a rotation without a restart.
pub struct SecretBox {
    keys: std::sync::RwLock<Vec<LessSafeKey>>,
    source: Option<Box<dyn KeySource>>,
}

fn aead_key(key: &[u8; KEY_LEN]) -> LessSafeKey {
    // A 32-byte key is always valid for ChaCha20-Poly1305.
    #[allow(clippy::expect_used)]
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte ChaCha20 key");
    LessSafeKey::new(unbound)
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        SecretBox {
            keys: std::sync::RwLock::new(vec![aead_key(key)]),
            source: None,
        }
    }

    /// Keys read from `source` (the sealing key first), read again when it says they changed.
    pub fn from_source(keys: &[[u8; KEY_LEN]], source: Box<dyn KeySource>) -> Self {
        SecretBox {
            keys: std::sync::RwLock::new(keys.iter().map(aead_key).collect()),
            source: Some(source),
        }
    }

    /// Take the source's keys if they changed; whether they did.
    fn refresh(&self) -> bool {
        let Some(keys) = self.source.as_ref().and_then(|s| s.changed()) else {
            return false;
        };
        if keys.is_empty() {
            return false;
        }
        if let Ok(mut current) = self.keys.write() {
            *current = keys.iter().map(aead_key).collect();
        }
        true
    }

    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
        self.refresh();
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce);
        let mut data = plaintext.to_vec();
        // Sealing cannot fail for inputs under ChaCha20's 256 GiB limit.
        #[allow(clippy::expect_used)]
        self.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(associated), &mut data)
            .expect("sealing a short secret");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        out
    }

    fn seal_in_place_append_tag(&self, nonce: Nonce, aad: Aad<&[u8]>, data: &mut Vec<u8>) -> Result<(), ()> {
        let keys = self.keys.read().map_err(|_| ())?;
        let key = keys.first().ok_or(())?;
        key.seal_in_place_append_tag(nonce, aad, data).map_err(|_| ())
    }

    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, CoreError> {
        let broken = || {
            CoreError::Invalid(
                "a stored secret cannot be decrypted: the key file differs from the one it was sealed with".into(),
            )
        };
        if sealed.len() < NONCE_LEN + aead::CHACHA20_POLY1305.tag_len() {
            return Err(broken());
        }
        if let Some(plain) = self.try_open(sealed, associated) {
            return Ok(plain);
        }
        // Sealed under a key this process has not read yet (another process rotated it)?
        if self.refresh()
            && let Some(plain) = self.try_open(sealed, associated)
        {
            return Ok(plain);
        }
        Err(broken())
    }

    fn try_open(&self, sealed: &[u8], associated: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let keys = self.keys.read().ok()?;
        keys.iter().find_map(|key| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut data = body.to_vec();
            key.open_in_place(nonce, Aad::from(associated), &mut data)
                .ok()
                .map(|plain| plain.to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_are_letters_and_digits_of_the_asked_length() {
        let s = random_alphanumeric(100);
        assert_eq!(s.len(), 100);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s, random_alphanumeric(100));
    }

    #[test]
    fn time_ordered_uuids_are_version_7_distinct_and_sort_by_time() {
        let early = time_ordered_uuids(1_796_000_000_000, 3);
        let late = time_ordered_uuids(1_796_000_000_001, 1);
        assert_eq!(early.len(), 3);
        assert!(early.iter().all(|u| u.len() == 36 && &u[14..15] == "7"));
        assert!(early.iter().all(|u| matches!(&u[19..20], "8" | "9" | "a" | "b")));
        assert_ne!(early[0], early[1]);
        assert!(early.iter().all(|u| u < &late[0]));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_record() {
        let b = SecretBox::new(&[7u8; 32]);
        let sealed = b.seal(b"s3cret", b"okta");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(b.open(&sealed, b"okta").ok(), Some(b"s3cret".to_vec()));
        assert!(b.open(&sealed, b"entra").is_err());
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed, b"okta").is_err());
    }

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
