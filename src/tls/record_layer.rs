//! Record protection for one direction (after rustls
//! `crypto/cipher/record_layer.rs`): which records are encrypted, the key
//! that opens them and its sequence number, or why there is none.
//!
//! Takes record headers and bodies; opens records in place with the
//! installed [`Key`], counts sequence numbers (records lost to a gap
//! included), searches nearby sequence numbers after a gap, and moves a TLS
//! 1.3 key to its next generation at a KeyUpdate. Never chooses a key itself:
//! the session installs one when the handshake says so.

use super::crypto::{DecryptError, Plain};
use super::keys::{Key, KeyError};
use super::midstream::Stopped;
use super::record::{ContentType, Header};
use super::summary::KeyPhase;

/// How a direction's encrypted records are opened.
#[derive(Debug)]
pub(super) enum ReadState {
    /// Nothing encrypted yet.
    Clear,
    /// Records open with this key; `seq` is the next record's sequence number.
    Open { key: Key, seq: u64 },
    /// Encrypted, but no key (yet): records are counted so that a key arriving
    /// later (a pcapng DSB) starts at the right sequence number.
    Waiting(Waiting),
    /// Joined after the ClientHello: the key log is searched at the first
    /// record; `tried` is the key log generation searched last, `stopped`
    /// how far that search got when its work cap ended it.
    Midstream {
        tried: Option<u64>,
        stopped: Option<Stopped>,
    },
}

/// An encrypted direction without a key.
#[derive(Clone, Debug)]
pub(super) struct Waiting {
    pub(super) phase: KeyPhase,
    /// Sequence number of the next record.
    pub(super) seq: u64,
    /// Key log generation last tried (`u64::MAX`: several candidates, try each record).
    pub(super) tried: u64,
    pub(super) error: KeyError,
}

/// One direction's record protection.
#[derive(Debug)]
pub(super) struct RecordLayer {
    state: ReadState,
}

impl RecordLayer {
    pub(super) fn new() -> RecordLayer {
        RecordLayer {
            state: ReadState::Clear,
        }
    }

    pub(super) fn state(&self) -> &ReadState {
        &self.state
    }

    pub(super) fn is_clear(&self) -> bool {
        matches!(self.state, ReadState::Clear)
    }

    /// Takes the state out to work on it (leaving `Clear`); put one back with [`RecordLayer::set`].
    pub(super) fn take(&mut self) -> ReadState {
        std::mem::replace(&mut self.state, ReadState::Clear)
    }

    pub(super) fn set(&mut self, state: ReadState) {
        self.state = state;
    }

    /// Installs `key`; the next record has sequence number `seq`.
    pub(super) fn install(&mut self, key: Key, seq: u64) {
        self.state = ReadState::Open { key, seq };
    }

    /// Whether this record is protected: everything after ChangeCipherSpec in
    /// TLS ≤ 1.2, application_data records in TLS 1.3 (and before the version is known).
    pub(super) fn is_encrypted(&self, h: &Header) -> bool {
        let tls12 = match &self.state {
            ReadState::Clear => false,
            ReadState::Open { key, .. } => key.phase == KeyPhase::Tls12,
            ReadState::Waiting(w) => w.phase == KeyPhase::Tls12,
            // Unknown version: a 2-byte alert is in clear, anything else is not.
            ReadState::Midstream { .. } => !(h.typ == ContentType::Alert && h.len == 2),
        };
        match h.typ {
            ContentType::ApplicationData => true,
            ContentType::Sslv2ClientHello => false,
            _ => tls12,
        }
    }

    /// Whether a candidate header after a gap can only be trusted once its
    /// record authenticates (`tls13`: the negotiated version).
    pub(super) fn needs_trial(&self, h: &Header, tls13: bool) -> bool {
        matches!(self.state, ReadState::Open { .. })
            && (h.typ == ContentType::ApplicationData || !tls13)
    }

    /// After a gap: whether the installed key opens `body` at one of the next
    /// `search` sequence numbers; if so, continues from there.
    pub(super) fn find_seq(
        &mut self,
        h: &Header,
        body: &[u8],
        search: u64,
        scratch: &mut Vec<u8>,
    ) -> bool {
        let ReadState::Open { key, seq } = &mut self.state else {
            return true;
        };
        match key.try_seqs(h, body, *seq..seq.saturating_add(search), scratch) {
            Some(found) => {
                *seq = found;
                true
            }
            None => false,
        }
    }

    /// A record lost to a gap still used up a sequence number.
    pub(super) fn lost_record(&mut self) {
        match &mut self.state {
            ReadState::Open { seq, .. } | ReadState::Waiting(Waiting { seq, .. }) => *seq += 1,
            ReadState::Clear | ReadState::Midstream { .. } => {}
        }
    }

    /// Bytes of this direction were lost: a compressed stream is out of step.
    pub(super) fn lose_context(&mut self) {
        if let ReadState::Open { key, .. } = &mut self.state {
            if let Some(inflater) = key.inflate.as_mut() {
                inflater.lose_context();
            }
        }
    }

    /// A KeyUpdate of this direction (RFC 8446 §4.6.3): the next generation
    /// of the traffic secret, from sequence number 0. Returns the generation
    /// (0 when no TLS 1.3 key is installed).
    pub(super) fn key_update(&mut self) -> u32 {
        let ReadState::Open { key, seq } = &mut self.state else {
            return 0;
        };
        match key.next_generation() {
            Some(next) => {
                *key = next;
                *seq = 0;
                key.generation
            }
            None => 0,
        }
    }
}

/// Opens one record with `key` at `seq`, in place.
pub(super) fn open(
    key: &mut Key,
    h: &Header,
    body: &mut [u8],
    seq: u64,
) -> Result<Plain, DecryptError> {
    key.dec.decrypt(h.typ.to_u8(), h.version, body, seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::crypto::hkdf_expand_label;
    use crate::tls::keylog::{KeySource, Secret};
    use crate::tls::keys::tls13_key;
    use crate::tls::suites::{Aead, Hash};

    const SECRET: [u8; 32] = [0x5a; 32];

    fn key(phase: KeyPhase) -> Key {
        let source = KeySource::Named("t".into());
        tls13_key(
            Aead::Aes128Gcm,
            Secret::new(&SECRET),
            phase,
            source,
            0,
            false,
        )
        .unwrap()
    }

    fn header(typ: ContentType, len: usize) -> Header {
        Header {
            typ,
            version: 0x0303,
            len,
            header_len: 5,
        }
    }

    /// A TLS 1.3 application record sealed at `seq` under SECRET (RFC 8446 §5.2).
    fn sealed(seq: u64, text: &[u8]) -> (Header, Vec<u8>) {
        use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
        let (mut k, mut iv) = ([0u8; 16], [0u8; 12]);
        hkdf_expand_label(Hash::Sha256, &SECRET, b"key", &[], &mut k);
        hkdf_expand_label(Hash::Sha256, &SECRET, b"iv", &[], &mut iv);
        for (b, s) in iv[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        let mut body = text.to_vec();
        body.push(23);
        let len = body.len() + 16;
        let aad = [23, 3, 3, (len >> 8) as u8, len as u8];
        LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &k).unwrap())
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut body)
            .unwrap();
        (header(ContentType::ApplicationData, len), body)
    }

    #[test]
    fn what_is_encrypted_depends_on_the_state() {
        let mut layer = RecordLayer::new();
        let hs = header(ContentType::Handshake, 40);
        assert!(layer.is_clear());
        assert!(layer.is_encrypted(&header(ContentType::ApplicationData, 40)));
        assert!(!layer.is_encrypted(&hs));
        assert!(!layer.is_encrypted(&header(ContentType::Sslv2ClientHello, 40)));
        layer.set(ReadState::Midstream {
            tried: None,
            stopped: None,
        });
        assert!(!layer.is_encrypted(&header(ContentType::Alert, 2)));
        assert!(layer.is_encrypted(&header(ContentType::Alert, 26)));
        layer.install(key(KeyPhase::Handshake), 0);
        // TLS 1.3 hides everything in application_data records.
        assert!(!layer.is_encrypted(&hs));
        layer.set(ReadState::Waiting(Waiting {
            phase: KeyPhase::Tls12,
            seq: 0,
            tried: 0,
            error: KeyError::NoServerHello,
        }));
        assert!(layer.is_encrypted(&hs));
    }

    #[test]
    fn lost_records_use_up_sequence_numbers() {
        let mut layer = RecordLayer::new();
        layer.install(key(KeyPhase::Application), 4);
        layer.lost_record();
        assert!(matches!(layer.state(), ReadState::Open { seq: 5, .. }));
        layer.set(ReadState::Waiting(Waiting {
            phase: KeyPhase::Tls12,
            seq: 9,
            tried: 0,
            error: KeyError::NoServerHello,
        }));
        layer.lost_record();
        assert!(matches!(
            layer.state(),
            ReadState::Waiting(Waiting { seq: 10, .. })
        ));
    }

    #[test]
    fn after_a_gap_the_next_sequence_numbers_are_searched() {
        let (h, body) = sealed(5, b"<presence/>");
        let mut scratch = Vec::new();
        let mut layer = RecordLayer::new();
        layer.install(key(KeyPhase::Application), 3);
        assert!(layer.needs_trial(&h, true));
        assert!(
            !layer.find_seq(&h, &body, 2, &mut scratch),
            "5 is not in 3..5"
        );
        assert!(layer.find_seq(&h, &body, 3, &mut scratch));
        let ReadState::Open { mut key, seq } = layer.take() else {
            panic!("still open");
        };
        assert_eq!(seq, 5);
        let mut body = body;
        let plain = open(&mut key, &h, &mut body, seq).unwrap();
        assert_eq!(&body[plain.range], b"<presence/>");
    }

    #[test]
    fn a_key_update_moves_to_the_next_generation_at_sequence_zero() {
        let mut layer = RecordLayer::new();
        assert_eq!(layer.key_update(), 0);
        layer.install(key(KeyPhase::Application), 7);
        assert_eq!(layer.key_update(), 1);
        assert!(matches!(layer.state(), ReadState::Open { seq: 0, key } if key.generation == 1));
    }
}
