//! XMPP over BOSH (XEP-0124/0206) the way a browser does it with
//! `hold="1"` and `requests="2"`: two HTTP/1.1 keep-alive connections,
//! `POST /http-bind/` with increasing `rid`, one empty request always held
//! by the server (answered when an event comes, when the client sends a new
//! request on the other connection, or empty after `wait` seconds),
//! session creation, restart and terminate.
//!
//! Takes stanzas through [`Transport`]; gives HTTP exchanges on the two
//! channels. Never pipelines on one connection.

use super::capture::Capture;
use super::channel::{Channel, Transport, MS};
use super::content::DOMAIN;
use super::Error;
use crate::Dir;

const HTTPBIND: &str = "http://jabber.org/protocol/httpbind";
const WAIT_S: i64 = 30;

/// A BOSH session over two connections.
#[derive(Debug)]
pub struct BoshTransport {
    chans: [Channel; 2],
    now: i64,
    rid: u64,
    sid: String,
    held: Option<usize>,
    pending: Vec<String>,
    created: bool,
    reply_attrs: Option<String>,
}

impl BoshTransport {
    /// A session on two connected channels; `rid` is the first RID.
    pub fn new(chans: [Channel; 2], rid: u64, sid: &str) -> BoshTransport {
        let now = chans[0].conv.now().max(chans[1].conv.now());
        BoshTransport {
            chans,
            now,
            rid,
            sid: sid.to_string(),
            held: None,
            pending: Vec::new(),
            created: false,
            reply_attrs: None,
        }
    }

    fn send(&mut self, ch: usize, dir: Dir, bytes: &[u8]) -> Result<(), Error> {
        let chan = &mut self.chans[ch];
        chan.conv.set_now(self.now);
        chan.send(dir, bytes)?;
        self.now = chan.conv.now();
        Ok(())
    }

    /// A request; the server first answers the request it held, if any.
    fn post(&mut self, attrs: &str, payload: &str) -> Result<(), Error> {
        let ch = self.held.map_or(0, |h| 1 - h);
        let rid = self.rid;
        self.rid += 1;
        let sid = if self.created {
            format!(" sid=\"{}\"", self.sid)
        } else {
            String::new()
        };
        let body = if payload.is_empty() {
            format!("<body rid=\"{rid}\"{sid}{attrs} xmlns=\"{HTTPBIND}\"/>")
        } else {
            format!("<body rid=\"{rid}\"{sid}{attrs} xmlns=\"{HTTPBIND}\">{payload}</body>")
        };
        let req = format!(
            "POST /http-bind/ HTTP/1.1\r\nHost: {DOMAIN}:7443\r\nConnection: keep-alive\r\n\
             Content-Type: text/xml; charset=UTF-8\r\nContent-Length: {}\r\n\
             Origin: https://{DOMAIN}:8445\r\nCookie: JSESSIONID=6C1F0A3B9D2E4F5A7B8C9D0E1F2A3B4C\r\n\r\n{body}",
            body.len()
        );
        self.now += MS / 2;
        self.send(ch, Dir::ClientToServer, req.as_bytes())?;
        if let Some(h) = self.held {
            self.answer(h, "")?;
        }
        self.held = Some(ch);
        Ok(())
    }

    /// Answers the request on `ch` with the pending server stanzas.
    fn answer(&mut self, ch: usize, attrs: &str) -> Result<(), Error> {
        let attrs = self.reply_attrs.take().unwrap_or_else(|| attrs.to_string());
        let payload: String = self.pending.drain(..).collect();
        let body = if payload.is_empty() {
            format!("<body{attrs} xmlns=\"{HTTPBIND}\"/>")
        } else {
            format!("<body{attrs} xmlns=\"{HTTPBIND}\">{payload}</body>")
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Length: {}\r\n\
             Access-Control-Allow-Origin: *\r\n\r\n{body}",
            body.len()
        );
        self.now += MS;
        self.send(ch, Dir::ServerToClient, resp.as_bytes())?;
        self.held = None;
        Ok(())
    }

    /// Answers the held request and, once the session exists, re-polls.
    fn flush(&mut self) -> Result<(), Error> {
        if let Some(h) = self.held {
            self.answer(h, "")?;
            if self.created {
                self.post("", "")?;
            }
        }
        Ok(())
    }

    /// Terminates the session (with unavailable presence), closes both
    /// connections and adds them to `cap`.
    pub fn terminate(mut self, cap: &mut Capture) -> Result<(), Error> {
        self.flush()?;
        let presence = super::xmpp::presence(false);
        self.post(" type=\"terminate\"", &presence)?;
        if let Some(h) = self.held {
            self.answer(h, " type=\"terminate\"")?;
        }
        for mut ch in self.chans {
            ch.conv.set_now(self.now);
            ch.close()?;
            ch.add_to(cap, Vec::new());
        }
        Ok(())
    }
}

impl Transport for BoshTransport {
    fn client(&mut self, stanza: &str) -> Result<(), Error> {
        self.flush_if_pending()?;
        self.post("", stanza)
    }

    fn server(&mut self, stanza: &str) -> Result<(), Error> {
        if self.held.is_none() {
            self.post("", "")?;
        }
        self.pending.push(stanza.to_string());
        Ok(())
    }

    fn open_stream(&mut self, _id: &str) -> Result<(), Error> {
        if !self.created {
            let attrs = format!(
                " content=\"text/xml; charset=utf-8\" hold=\"1\" to=\"{DOMAIN}\" ver=\"1.6\" \
                 wait=\"{WAIT_S}\" xml:lang=\"en\" xmpp:version=\"1.0\" xmlns:xmpp=\"urn:xmpp:xbosh\""
            );
            self.post(&attrs, "")?;
            self.created = true;
            // The creation response carries the features that follow.
            self.reply_attrs = Some(format!(
                " sid=\"{}\" wait=\"{WAIT_S}\" requests=\"2\" inactivity=\"30\" polling=\"5\" \
                 hold=\"1\" from=\"{DOMAIN}\" ver=\"1.6\" secure=\"true\" authid=\"{}\" \
                 xmpp:version=\"1.0\" xmlns:xmpp=\"urn:xmpp:xbosh\" \
                 xmlns:stream=\"http://etherx.jabber.org/streams\"",
                self.sid, self.sid
            ));
            return Ok(());
        }
        self.flush_if_pending()?;
        let attrs = format!(
            " to=\"{DOMAIN}\" xml:lang=\"en\" xmpp:restart=\"true\" xmlns:xmpp=\"urn:xmpp:xbosh\""
        );
        self.post(&attrs, "")
    }

    fn wait(&mut self, ms: i64) -> Result<(), Error> {
        self.flush()?;
        let mut left = ms;
        while left >= WAIT_S * 1000 {
            // The held long poll expires empty; the client polls again.
            self.now += WAIT_S * 1000 * MS;
            self.flush()?;
            left -= WAIT_S * 1000;
        }
        self.now += left * MS;
        Ok(())
    }

    fn keepalive(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn now(&self) -> i64 {
        self.now
    }
}

impl BoshTransport {
    /// Server stanzas waiting: answer them before the client's next request.
    fn flush_if_pending(&mut self) -> Result<(), Error> {
        if !self.pending.is_empty() || self.reply_attrs.is_some() {
            self.flush()?;
        }
        Ok(())
    }
}
