//! XMPP stanzas of a Finesse desktop session (DOMAIN.md §2–3): framing
//! opens and closes (RFC 7395) or stream headers (TCP/BOSH), SASL PLAIN,
//! bind `desktop`, session, presence, pubsub subscriptions, XEP-0199 pings,
//! stream errors, and pubsub notifications whose `<Update>` payload is one
//! escaped text node.
//!
//! Takes identities and event parameters; gives stanza strings. Never
//! sends anything.

use super::content::{sasl_plain, AGENT};

/// The framing namespace of XMPP over WebSocket.
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const PUBSUB: &str = "http://jabber.org/protocol/pubsub";

/// Escapes text for an XML text node (`&`, `<`, `>`).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The agent's full JID.
pub fn full_jid(domain: &str) -> String {
    format!("{AGENT}@{domain}/desktop")
}

/// Client `<open/>`.
pub fn ws_open(domain: &str) -> String {
    format!("<open xmlns=\"{FRAMING}\" to=\"{domain}\" version=\"1.0\"/>")
}

/// Server `<open/>`.
pub fn ws_open_reply(domain: &str, id: &str) -> String {
    format!(
        "<open xmlns=\"{FRAMING}\" from=\"{domain}\" id=\"{id}\" xml:lang=\"en\" version=\"1.0\"/>"
    )
}

/// `<close/>`.
pub fn ws_close() -> String {
    format!("<close xmlns=\"{FRAMING}\"/>")
}

/// Features before authentication (`stream_ns`: declare the `stream`
/// prefix, as every WebSocket message must).
pub fn features_sasl(stream_ns: bool) -> String {
    format!(
        "<stream:features{}><mechanisms xmlns=\"{SASL}\"><mechanism>PLAIN</mechanism>\
         </mechanisms></stream:features>",
        ns_decl(stream_ns)
    )
}

/// Features after authentication: bind and (optional) session.
pub fn features_bind(stream_ns: bool) -> String {
    format!(
        "<stream:features{}><bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"/>\
         <session xmlns=\"urn:ietf:params:xml:ns:xmpp-session\"><optional/></session>\
         </stream:features>",
        ns_decl(stream_ns)
    )
}

fn ns_decl(on: bool) -> &'static str {
    if on {
        " xmlns:stream=\"http://etherx.jabber.org/streams\""
    } else {
        ""
    }
}

/// SASL PLAIN auth.
pub fn auth(password: &str) -> String {
    format!(
        "<auth xmlns=\"{SASL}\" mechanism=\"PLAIN\">{}</auth>",
        sasl_plain(password)
    )
}

/// SASL success.
pub fn success() -> String {
    format!("<success xmlns=\"{SASL}\"/>")
}

/// SASL failure.
pub fn failure() -> String {
    format!("<failure xmlns=\"{SASL}\"><not-authorized/></failure>")
}

/// Bind request for resource `desktop` (Strophe's id).
pub fn bind() -> String {
    "<iq type=\"set\" id=\"_bind_auth_2\" xmlns=\"jabber:client\"><bind \
     xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><resource>desktop</resource></bind></iq>"
        .to_string()
}

/// Bind result.
pub fn bind_result(domain: &str) -> String {
    format!(
        "<iq xmlns=\"jabber:client\" type=\"result\" id=\"_bind_auth_2\" to=\"{}\"><bind \
         xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><jid>{}</jid></bind></iq>",
        full_jid(domain),
        full_jid(domain)
    )
}

/// Session request.
pub fn session() -> String {
    "<iq type=\"set\" id=\"_session_auth_2\" xmlns=\"jabber:client\"><session \
     xmlns=\"urn:ietf:params:xml:ns:xmpp-session\"/></iq>"
        .to_string()
}

/// Session result.
pub fn session_result(domain: &str) -> String {
    format!(
        "<iq xmlns=\"jabber:client\" type=\"result\" id=\"_session_auth_2\" to=\"{}\"/>",
        full_jid(domain)
    )
}

/// Initial presence (priority 0) or unavailable presence.
pub fn presence(available: bool) -> String {
    if available {
        "<presence xmlns=\"jabber:client\"><priority>0</priority></presence>".to_string()
    } else {
        "<presence xmlns=\"jabber:client\" type=\"unavailable\"/>".to_string()
    }
}

/// Pubsub subscribe to `node`.
pub fn subscribe(domain: &str, id: &str, node: &str) -> String {
    format!(
        "<iq type=\"set\" to=\"pubsub.{domain}\" id=\"{id}\" xmlns=\"jabber:client\"><pubsub \
         xmlns=\"{PUBSUB}\"><subscribe node=\"{node}\" jid=\"{}\"/></pubsub></iq>",
        full_jid(domain)
    )
}

/// Subscription result.
pub fn subscribed(domain: &str, id: &str, node: &str, subid: &str) -> String {
    format!(
        "<iq xmlns=\"jabber:client\" type=\"result\" from=\"pubsub.{domain}\" to=\"{}\" \
         id=\"{id}\"><pubsub xmlns=\"{PUBSUB}\"><subscription node=\"{node}\" jid=\"{}\" \
         subid=\"{subid}\" subscription=\"subscribed\"/></pubsub></iq>",
        full_jid(domain),
        full_jid(domain)
    )
}

/// XEP-0199 ping from the client.
pub fn ping(domain: &str, id: &str) -> String {
    format!(
        "<iq type=\"get\" to=\"{domain}\" id=\"{id}\" xmlns=\"jabber:client\"><ping \
         xmlns=\"urn:xmpp:ping\"/></iq>"
    )
}

/// The server's ping result.
pub fn pong(domain: &str, id: &str) -> String {
    format!(
        "<iq xmlns=\"jabber:client\" type=\"result\" from=\"{domain}\" to=\"{}\" id=\"{id}\"/>",
        full_jid(domain)
    )
}

/// A stream error (standalone message over WebSocket).
pub fn stream_error(condition: &str, text: &str) -> String {
    format!(
        "<stream:error xmlns:stream=\"http://etherx.jabber.org/streams\"><{condition} \
         xmlns=\"urn:ietf:params:xml:ns:xmpp-streams\"/><text \
         xmlns=\"urn:ietf:params:xml:ns:xmpp-streams\" xml:lang=\"en\">{text}</text></stream:error>"
    )
}

/// A pubsub event message carrying `update` (an `<Update>` document) as
/// one escaped text node.
pub fn notification(domain: &str, id: &str, node: &str, item: &str, update: &str) -> String {
    format!(
        "<message xmlns=\"jabber:client\" from=\"pubsub.{domain}\" to=\"{}\" id=\"{id}\"><event \
         xmlns=\"{PUBSUB}#event\"><items node=\"{node}\"><item id=\"{item}\"><notification \
         xmlns=\"{PUBSUB}\">{}</notification></item></items></event></message>",
        full_jid(domain),
        escape(update)
    )
}

/// An `<Update>` document.
pub fn update(event: &str, request_id: &str, source: &str, data: &str) -> String {
    format!(
        "<Update><data>{data}</data><event>{event}</event><requestId>{request_id}</requestId>\
         <source>{source}</source></Update>"
    )
}

/// A user document's `<reasonCodeId>` text and `<ReasonCode>` element for
/// an optional NOT_READY reason (code, label); both empty without one.
pub fn reason_code(reason: Option<(u32, &str)>) -> (String, String) {
    match reason {
        Some((code, label)) => (
            code.to_string(),
            format!(
                "<ReasonCode><category>NOT_READY</category><code>{code}</code>\
                 <label>{label}</label><id>{code}</id></ReasonCode>"
            ),
        ),
        None => (String::new(), String::new()),
    }
}

/// A `<user>` payload with a state and an optional reason code.
pub fn user(state: &str, reason: Option<(u32, &str)>, changed: &str) -> String {
    let (id, rc) = reason_code(reason);
    format!(
        "<user><dialogs>/finesse/api/User/{AGENT}/Dialogs</dialogs><extension>4001</extension>\
         <firstName>Ada</firstName><lastName>Agent</lastName><loginId>{AGENT}</loginId>\
         <loginName>agent1001</loginName><pendingState></pendingState><reasonCodeId>{id}</reasonCodeId>\
         {rc}<roles><role>Agent</role></roles><state>{state}</state>\
         <stateChangeTime>{changed}</stateChangeTime><teamId>7</teamId><teamName>Support</teamName>\
         <uri>/finesse/api/User/{AGENT}</uri></user>"
    )
}

/// A `<Dialog>` payload (root element `element`: `Dialog` inside
/// `<dialogs>` for POST, `dialog` for PUT/DELETE).
pub fn dialog(element: &str, id: &str, state: &str, participant: &str) -> String {
    format!(
        "<{element}><associatedDialogUri></associatedDialogUri><fromAddress>6125551234</fromAddress>\
         <id>{id}</id><mediaProperties><DNIS>4001</DNIS><callType>ACD_IN</callType>\
         <dialedNumber>8005551000</dialedNumber><outboundClassification></outboundClassification>\
         <callvariables><CallVariable><name>callVariable1</name><value>AT&amp;T</value></CallVariable>\
         <CallVariable><name>callVariable2</name><value>Order #4471 &lt;priority&gt;</value></CallVariable>\
         <CallVariable><name>user.Carrier</name><value>Smith &amp; Sons</value></CallVariable>\
         </callvariables><queueName>Support_Q</queueName><queueNumber>3</queueNumber></mediaProperties>\
         <mediaType>Voice</mediaType><participants><Participant><actions><action>ANSWER</action></actions>\
         <mediaAddress>4001</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType>\
         <state>{participant}</state></Participant></participants><state>{state}</state>\
         <toAddress>4001</toAddress><uri>/finesse/api/Dialog/{id}</uri></{element}>"
    )
}

/// A `<team>` payload with the agent and two colleagues.
pub fn team(agent_state: &str) -> String {
    let member = |id: &str, state: &str| {
        format!(
            "<User><extension>4{id}</extension><firstName>Agent</firstName><lastName>{id}</lastName>\
             <loginId>{id}</loginId><state>{state}</state><stateChangeTime>2026-03-02T09:00:10.000Z\
             </stateChangeTime><uri>/finesse/api/User/{id}</uri></User>"
        )
    };
    format!(
        "<team><id>7</id><name>Support</name><uri>/finesse/api/Team/7</uri><users>{}{}{}</users></team>",
        member(AGENT, agent_state),
        member("1002", "READY"),
        member("1003", "NOT_READY")
    )
}

/// A `<Queue>` statistics payload.
pub fn queue(in_queue: u32, ready: u32) -> String {
    format!(
        "<Queue><name>Support_Q</name><statistics><agentsBusyOther>0</agentsBusyOther>\
         <agentsLoggedOn>3</agentsLoggedOn><agentsNotReady>1</agentsNotReady>\
         <agentsReady>{ready}</agentsReady><agentsTalkingInbound>1</agentsTalkingInbound>\
         <agentsTalkingInternal>-1</agentsTalkingInternal><agentsWrapUpNotReady>0</agentsWrapUpNotReady>\
         <callsInQueue>{in_queue}</callsInQueue><startTimeOfLongestCallInQueue>\
         2026-03-02T09:00:20.000Z</startTimeOfLongestCallInQueue></statistics>\
         <uri>/finesse/api/Queue/3</uri></Queue>"
    )
}

/// An asynchronous `apiErrors` payload.
pub fn api_errors() -> String {
    "<apiErrors><apiError><errorData>34</errorData><errorMessage>CF_RESOURCE_OUT_OF_SERVICE\
     </errorMessage><errorType>Call Operation Failure</errorType></apiError></apiErrors>"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersand_is_double_escaped_in_notifications() {
        let u = update(
            "POST",
            "",
            "/finesse/api/Dialog/1",
            &dialog("Dialog", "1", "ALERTING", "ALERTING"),
        );
        let n = notification("d", "m1", "/finesse/api/User/1001/Dialogs", "i1", &u);
        assert!(n.contains("AT&amp;amp;T"));
        assert!(n.contains("&lt;Update&gt;"));
        assert!(!n.contains("<Update>"));
    }
}
