//! A deterministic rustls crypto provider for fixtures: ring's ciphers and
//! signatures, but randoms, session ids, ticket ids and ephemeral key
//! shares drawn from one seeded RNG, and a fixed clock. Same seed, same
//! call order: byte-identical TLS sessions.
//!
//! Takes a seed; gives a `CryptoProvider` and a `TimeProvider`. Never use
//! outside test tooling: the randomness is predictable by design.

use std::sync::{Arc, Mutex};

use fastrand::Rng;
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use rustls::{Error, NamedGroup, PeerMisbehaved};

use super::frame::START_NS;

/// The shared seeded generator.
#[derive(Debug, Clone)]
pub struct Seeded(Arc<Mutex<Rng>>);

impl Seeded {
    /// A generator with this seed.
    pub fn new(seed: u64) -> Seeded {
        Seeded(Arc::new(Mutex::new(Rng::with_seed(seed))))
    }

    fn fill_bytes(&self, buf: &mut [u8]) {
        // A poisoned lock only means another fill panicked; the RNG state
        // is still a valid RNG state.
        let mut rng = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rng.fill(buf);
    }
}

impl SecureRandom for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.fill_bytes(buf);
        Ok(())
    }
}

/// A key-exchange group whose private keys come from [`Seeded`].
#[derive(Debug)]
struct Kx {
    name: NamedGroup,
    alg: &'static agreement::Algorithm,
    key_len: usize,
    rng: Seeded,
}

impl SupportedKxGroup for Kx {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut seed = vec![0u8; self.key_len];
        self.rng.fill_bytes(&mut seed);
        #[allow(deprecated)]
        // ring only accepts its own sealed RNGs; its fixed-slice test RNG is
        // the one way to derive a private key from our seed.
        let fixed = ring::test::rand::FixedSliceRandom { bytes: &seed };
        let priv_key =
            EphemeralPrivateKey::generate(self.alg, &fixed).map_err(|_| GetRandomFailed)?;
        let pub_key = priv_key.compute_public_key().map_err(|_| GetRandomFailed)?;
        Ok(Box::new(Active {
            name: self.name,
            alg: self.alg,
            priv_key,
            pub_key: pub_key.as_ref().to_vec(),
        }))
    }

    fn name(&self) -> NamedGroup {
        self.name
    }
}

struct Active {
    name: NamedGroup,
    alg: &'static agreement::Algorithm,
    priv_key: EphemeralPrivateKey,
    pub_key: Vec<u8>,
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer = UnparsedPublicKey::new(self.alg, peer);
        agreement::agree_ephemeral(self.priv_key, &peer, |secret| SharedSecret::from(secret))
            .map_err(|_| PeerMisbehaved::InvalidKeyShare.into())
    }

    fn pub_key(&self) -> &[u8] {
        &self.pub_key
    }

    fn group(&self) -> NamedGroup {
        self.name
    }
}

/// Which key-exchange groups a side offers, in preference order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// X25519.
    X25519,
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
}

fn kx(group: Group, rng: &Seeded) -> &'static dyn SupportedKxGroup {
    let (name, alg, key_len) = match group {
        Group::X25519 => (NamedGroup::X25519, &agreement::X25519, 32),
        Group::P256 => (NamedGroup::secp256r1, &agreement::ECDH_P256, 32),
        Group::P384 => (NamedGroup::secp384r1, &agreement::ECDH_P384, 48),
    };
    // rustls wants `&'static` groups; a few bytes leak per provider built.
    Box::leak(Box::new(Kx {
        name,
        alg,
        key_len,
        rng: rng.clone(),
    }))
}

/// ring's provider with seeded randomness and the given groups.
pub fn provider(rng: &Seeded, groups: &[Group]) -> CryptoProvider {
    let secure_random: &'static dyn SecureRandom = Box::leak(Box::new(rng.clone()));
    CryptoProvider {
        kx_groups: groups.iter().map(|g| kx(*g, rng)).collect(),
        secure_random,
        ..rustls::crypto::ring::default_provider()
    }
}

/// A clock stopped at the fixtures' start time.
#[derive(Debug)]
pub struct FixedTime;

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            (START_NS / 1_000_000_000) as u64,
        )))
    }
}
