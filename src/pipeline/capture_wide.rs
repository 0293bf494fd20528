//! The capture-wide layer: what spans connections, in one place. XMPP
//! session numbering, BOSH sessions by sid (one session, many long-poll
//! connections), the Finesse stage (an Update and the REST request it
//! answers rarely share a connection) and the desktop story (a desktop's
//! connections, reconnects and failovers).
//!
//! Takes, in capture order, what the connection stacks' sinks hand up:
//! session starts and ends, BOSH events, XMPP stanzas with their pubsub
//! items, REST exchanges, connection summaries. Gives session numbers,
//! routed BOSH sessions, Finesse output and, at the end, the desktops. A connection stack
//! holds no piece of it and reaches it only through its sinks, so that
//! connections can be worked on apart and their events merged back in
//! capture order before this layer. Never holds payload bytes.

use crate::finding::Findings;
use crate::limits::Limits;
use crate::pipeline::bosh::BoshState;
use crate::report::model::SessionReport;
use crate::xmpp;
use crate::{conn, desktop, finesse};

pub(crate) struct CaptureWide {
    /// The last XMPP session number given.
    last_session: u32,
    pub bosh: BoshState,
    pub finesse: finesse::Stage,
    desktops: desktop::Story,
    /// TLS connections decrypted or not, for the advice at the end.
    pub tls: crate::tls::DecryptionTally,
}

impl CaptureWide {
    /// `read_notifications`: read the Finesse documents inside notifications
    /// (off for the commands that never show them).
    pub fn new(limits: &Limits, read_notifications: bool) -> CaptureWide {
        CaptureWide {
            last_session: 0,
            bosh: BoshState::new(limits),
            finesse: finesse::Stage::new(limits, read_notifications),
            desktops: desktop::Story::new(limits),
            tls: Default::default(),
        }
    }

    /// The next XMPP session number (1-based, in the order sessions start).
    pub fn number_session(&mut self) -> u32 {
        self.last_session += 1;
        self.last_session
    }

    /// A session is filed: its summary gets what the Finesse stage counted for it.
    pub fn file_session(&mut self, s: &mut SessionReport) {
        s.finesse = self.finesse.take_session_facts(s.id);
    }

    /// A connection ended: the desktop story takes its summary, with the
    /// user of the XMPP session it carried when decryption showed one.
    pub fn on_connection(
        &mut self,
        s: &conn::Summary,
        user: Option<&str>,
        sink: &mut dyn Findings,
    ) {
        self.desktops.on_connection(s, user, sink);
    }

    /// End of capture: the desktops, with the findings across their connections.
    pub fn finish_desktops(
        &mut self,
        limits: &Limits,
        sink: &mut dyn Findings,
    ) -> Vec<desktop::Desktop> {
        std::mem::replace(&mut self.desktops, desktop::Story::new(limits)).finish(sink)
    }

    /// Bytes held now (BOSH XMPP sessions counted by what they hold).
    pub fn held_bytes(&self) -> usize {
        self.bosh.held_bytes(xmpp::Session::held_bytes) + self.finesse.held_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sessions_in_order_and_holds_nothing_at_first() {
        let mut wide = CaptureWide::new(&Limits::default(), true);
        assert_eq!((wide.number_session(), wide.number_session()), (1, 2));
        assert_eq!(wide.held_bytes(), 0);
        let mut findings: Vec<crate::finding::Finding> = Vec::new();
        assert!(wide
            .finish_desktops(&Limits::default(), &mut findings)
            .is_empty());
        assert!(findings.is_empty());
    }
}
