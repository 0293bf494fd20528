//! The way one connection's bytes travel up its stack, per direction:
//! straight from TCP to the application stage, or through TLS first; and
//! the one request that changes it.
//!
//! Takes nothing; gives the [`Route`] a connection keeps per direction and
//! the [`StartTls`] request the application stage returns when it sees the
//! switch (TLS from the first byte, XMPP's STARTTLS, TLS inside an HTTP
//! CONNECT tunnel). Never holds bytes beyond those a request carries past
//! its switch point.

use crate::position::{Dir, FrameRef};

/// Where one direction's TCP bytes go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Route {
    /// TCP → application stage.
    #[default]
    Plain,
    /// TCP → TLS → application stage (which gets the plaintext).
    Tls,
}

/// Bytes or a gap of one direction, held while the protocol is undecided,
/// or carried by a [`StartTls`] to the TLS stage.
#[derive(Debug)]
pub(crate) enum Held {
    Data(Dir, FrameRef, Vec<u8>),
    Gap(Dir, FrameRef, u64),
    /// Bytes captured but not decrypted (inside TLS only), and why.
    Undecrypted(Dir, FrameRef, u64, String),
}

impl Held {
    pub fn dir(&self) -> Dir {
        match self {
            Held::Data(dir, ..) | Held::Gap(dir, ..) | Held::Undecrypted(dir, ..) => *dir,
        }
    }
}

/// The application stage's request: from here on, the TCP bytes of `dirs`
/// are TLS.
#[derive(Debug, Default)]
pub(crate) struct StartTls {
    /// The directions that switch: one at a STARTTLS handover, both when the
    /// connection (or a CONNECT tunnel) starts with TLS.
    pub dirs: Vec<Dir>,
    /// What the application stage had already received past the switch, in
    /// arrival order: the TLS stage's first input.
    pub replay: Vec<Held>,
}

impl StartTls {
    /// Whether `dir` switches to TLS with this request.
    pub fn switches(&self, dir: Dir) -> bool {
        self.dirs.contains(&dir)
    }

    /// Folds a later request into `earlier` (directions joined, replays in
    /// arrival order).
    pub fn merge(earlier: &mut Option<StartTls>, later: Option<StartTls>) {
        let Some(later) = later else { return };
        match earlier {
            None => *earlier = Some(later),
            Some(first) => {
                for dir in later.dirs {
                    if !first.switches(dir) {
                        first.dirs.push(dir);
                    }
                }
                first.replay.extend(later.replay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_requests_join_directions_and_keep_arrival_order() {
        let at = FrameRef::default();
        let c2s = Dir::ClientToServer;
        let s2c = Dir::ServerToClient;
        let mut request = None;
        StartTls::merge(&mut request, None);
        assert!(request.is_none());
        StartTls::merge(
            &mut request,
            Some(StartTls {
                dirs: vec![s2c],
                replay: vec![Held::Gap(s2c, at, 3)],
            }),
        );
        StartTls::merge(
            &mut request,
            Some(StartTls {
                dirs: vec![c2s, s2c],
                replay: vec![Held::Data(c2s, at, b"\x16".to_vec())],
            }),
        );
        let request = request.unwrap_or_default();
        assert_eq!(request.dirs, vec![s2c, c2s]);
        assert!(request.switches(c2s) && request.switches(s2c));
        let dirs: Vec<Dir> = request.replay.iter().map(Held::dir).collect();
        assert_eq!(dirs, vec![s2c, c2s]);
    }
}
