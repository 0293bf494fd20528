//! The WebSocket application of one connection: the WebSocket stage and
//! the XMPP session over it (RFC 7395), once `pipeline::app_stage` decided
//! the bytes are WebSocket frames.
//!
//! Takes the connection's in-order bytes, gaps, undecrypted runs, TCP ends
//! and whether the memory budget cut it; gives the WebSocket and XMPP
//! events through [`WsOut`], its holdings for the budget, and at the end
//! its summary and the XMPP session it carried. Never decides what the
//! bytes are, and holds nothing beyond the two stages.

use crate::pipeline::app_stage::FinishedSession;
use crate::pipeline::budget::{Holder, Holdings};
use crate::pipeline::context::Wiring;
use crate::pipeline::stage_sinks::{WsOut, XmppOut, XmppOverWs};
use crate::position::{Dir, FrameRef};
use crate::{ws, xmpp};

pub(crate) struct WsApp {
    ws: ws::Connection,
    xmpp: Option<Box<XmppOverWs>>,
    /// The handshake negotiated the `xmpp` subprotocol.
    wants_xmpp: bool,
    /// The memory budget cut the connection ([`WsApp::not_followed`]).
    not_followed: bool,
}

impl WsApp {
    pub fn new(ws: ws::Connection, wants_xmpp: bool) -> WsApp {
        WsApp {
            ws,
            xmpp: None,
            wants_xmpp,
            not_followed: false,
        }
    }

    /// The XMPP session's report number, once one started.
    pub fn session(&self) -> Option<u32> {
        self.xmpp.as_ref().map(|x| x.id)
    }

    /// What the two stages hold now, by holder (the boxed stage itself is
    /// fixed state, charged as the connection's).
    pub fn add_holdings(&self, held: &mut Holdings) {
        use std::mem::size_of;
        held.add(Holder::ConnectionState, size_of::<WsApp>());
        held.add(Holder::WebSocketMessage, self.ws.held_bytes());
        held.add(Holder::Inflater, self.ws.inflater_bytes());
        if let Some(x) = &self.xmpp {
            held.add(Holder::ConnectionState, size_of::<XmppOverWs>());
            held.add(Holder::XmppStanza, x.session.held_bytes());
        }
    }

    /// The WebSocket stage and the sink its events go to, borrowed apart.
    fn parts<'a, 'c, 's>(
        &'a mut self,
        ctx: &'c mut Wiring<'s>,
        stream: u64,
    ) -> (&'a mut ws::Connection, WsOut<'a, 'c, 's>) {
        let out = WsOut {
            ctx,
            stream,
            xmpp: &mut self.xmpp,
            wants_xmpp: self.wants_xmpp,
            not_followed: self.not_followed,
        };
        (&mut self.ws, out)
    }

    pub fn on_data(&mut self, ctx: &mut Wiring, stream: u64, dir: Dir, at: FrameRef, bytes: &[u8]) {
        let (ws, mut out) = self.parts(ctx, stream);
        ws.on_data(dir, at, bytes, &mut out);
    }

    pub fn on_gap(&mut self, ctx: &mut Wiring, stream: u64, dir: Dir, at: FrameRef, len: u64) {
        let (ws, mut out) = self.parts(ctx, stream);
        ws.on_gap(dir, at, len, &mut out);
    }

    /// `len` bytes the TLS stage could not decrypt (`why`).
    pub fn on_undecrypted(
        &mut self,
        ctx: &mut Wiring,
        stream: u64,
        (dir, at, len): (Dir, FrameRef, u64),
        why: &str,
    ) {
        let (ws, mut out) = self.parts(ctx, stream);
        ws.on_undecrypted(dir, at, len, why, &mut out);
    }

    /// A FIN or RST from the side sending `dir`.
    pub fn on_tcp_end(&mut self, ctx: &mut Wiring, stream: u64, dir: Dir, at: FrameRef, rst: bool) {
        let (ws, mut out) = self.parts(ctx, stream);
        ws.on_tcp_end(dir, at, rst, &mut out);
    }

    /// The memory budget cut the connection: its XMPP session (now, or one
    /// the finish starts from a partial message) ends "not followed", and
    /// its WebSocket is not said to be open at the end of the capture.
    pub fn not_followed(&mut self, ctx: &mut Wiring, stream: u64) {
        self.not_followed = true;
        if let Some(over) = self.xmpp.as_deref_mut() {
            let mut out = XmppOut::new(ctx, stream, Some(over.id));
            over.session
                .on_transport_end(None, xmpp::Ending::NotFollowed, &mut out);
            out.flush();
        }
    }

    /// The connection is over: flushes both stages. Gives the WebSocket
    /// summary and the XMPP session it carried.
    pub fn finish(
        mut self,
        ctx: &mut Wiring,
        stream: u64,
    ) -> (ws::Summary, Option<FinishedSession>) {
        let (ws, mut out) = self.parts(ctx, stream);
        ws.finish(&mut out);
        let summary = self.ws.summary();
        let Some(mut over) = self.xmpp.take() else {
            return (summary, None);
        };
        let websocket = crate::report::from_stages::websocket_detail(&summary, self.not_followed);
        let mut out = XmppOut::new(ctx, stream, Some(over.id));
        over.session.finish(&mut out);
        out.flush();
        let session = FinishedSession {
            id: over.id,
            summary: over.session.summary().clone(),
            websocket: Some(websocket),
        };
        (summary, Some(session))
    }
}
