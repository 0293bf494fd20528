//! A bounds-checked reader over one hand-parsed header.
//!
//! Takes the bytes that start with the header; gives big-endian fields and
//! sub-slices in order, or [`DecodeError::Truncated`] naming the header, the
//! bytes it needed and the bytes captured. Never indexes: every read goes
//! through `split_at_checked`.

use super::{DecodeError, Header};

pub(crate) struct Cursor<'a> {
    header: Header,
    bytes: &'a [u8],
    /// Bytes already read (for the "needs N bytes" of a truncation).
    read: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(header: Header, bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            header,
            bytes,
            read: 0,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let Some((taken, rest)) = self.bytes.split_at_checked(n) else {
            return Err(DecodeError::Truncated {
                header: self.header,
                need: self.read.saturating_add(n),
                have: self.read.saturating_add(self.bytes.len()),
            });
        };
        self.bytes = rest;
        self.read = self.read.saturating_add(n);
        Ok(taken)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let taken = self.take(N)?;
        // `take` returned exactly N bytes.
        Ok(taken.try_into().unwrap_or([0; N]))
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes not read yet (the header's payload).
    pub(crate) fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_names_what_was_missing() {
        let mut c = Cursor::new(Header::Gre, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(c.u8(), Ok(1));
        assert_eq!(c.u16(), Ok(0x0203));
        assert_eq!(
            c.u32(),
            Err(DecodeError::Truncated {
                header: Header::Gre,
                need: 7,
                have: 6
            })
        );
        assert_eq!(c.take(2), Ok(&[4u8, 5][..]));
        assert!(!c.is_empty());
        assert_eq!(c.rest(), &[6]);
    }

    #[test]
    fn huge_lengths_do_not_overflow() {
        let mut c = Cursor::new(Header::Mpls, &[0; 3]);
        c.take(2).unwrap();
        assert_eq!(
            c.take(usize::MAX),
            Err(DecodeError::Truncated {
                header: Header::Mpls,
                need: usize::MAX,
                have: 3
            })
        );
    }
}
