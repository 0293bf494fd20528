//! Finesse notifications that vary like a contact centre's: each desktop
//! takes calls (a new dialog id, caller number, call variables and ECC
//! values per call), goes through RESERVED → TALKING → WORK → READY or
//! NOT_READY with changing reason codes and millisecond timestamps, sees
//! team and queue statistics move, and gets request ids on the changes it
//! asked for. So deflate's context takeover compresses them as much as
//! real traffic allows, not as much as a repeated document would.
//!
//! Takes a transport, the round and the desktop; sends one round of
//! notifications. Never sends the same document twice in a row.

use fastrand::Rng;

use super::channel::Transport;
use super::content::{AGENT, DOMAIN};
use super::finesse::{self, Notifier};
use super::Error;

const REASONS: [(u32, &str); 5] = [
    (12, "Lunch"),
    (14, "Break"),
    (21, "Meeting"),
    (22, "Training"),
    (31, "Outbound campaign"),
];
const CARRIERS: [&str; 6] = [
    "AT&amp;T",
    "Verizon",
    "T-Mobile",
    "Smith &amp; Sons",
    "O2",
    "Vodafone",
];
const QUEUES: [(&str, u32); 3] = [("Support_Q", 3), ("Billing_Q", 4), ("Sales_Q", 5)];
const STATES: [&str; 5] = ["READY", "NOT_READY", "TALKING", "WORK_READY", "RESERVED"];

/// One round for desktop `i`: a quarter of a call's life per round.
pub(super) fn round(t: &mut dyn Transport, round: u64, i: usize, seed: u64) -> Result<(), Error> {
    let call = round / 4;
    // The call's facts stay the same for its four rounds; the rest changes every round.
    let mut call_rng = Rng::with_seed(seed ^ (i as u64) << 32 ^ call);
    let mut rng = Rng::with_seed(seed ^ (i as u64) << 40 ^ round.wrapping_mul(0x9e37_79b9));
    let facts = Call::new(&mut call_rng, call, i);
    let mut n = Notifier::new(DOMAIN);
    let user_node = format!("/finesse/api/User/{AGENT}");
    let dialogs_node = format!("/finesse/api/User/{AGENT}/Dialogs");
    let (user_state, reason, dialog_state, event) = phase(round, &mut rng);
    let stamp = stamp(&mut rng, round);
    let rid = request_id(&mut rng);
    let user = super::xmpp::user(user_state, reason, &stamp);
    n.send(t, &user_node, "PUT", &rid, &user_node, &user)?;
    if !dialog_state.is_empty() {
        let source = format!("/finesse/api/Dialog/{}", facts.id);
        let dialog = facts.dialog(dialog_state, &stamp);
        n.send(
            t,
            &dialogs_node,
            event,
            &request_id(&mut rng),
            &source,
            &dialog,
        )?;
    } else {
        let team = team(&mut rng, user_state, &stamp);
        n.send(
            t,
            "/finesse/api/Team/7/Users",
            "PUT",
            "",
            "/finesse/api/Team/7",
            &team,
        )?;
    }
    let (queue, number) = QUEUES[rng.usize(..QUEUES.len())];
    let node = format!("/finesse/api/Queue/{number}");
    n.send(
        t,
        &node,
        "PUT",
        "",
        &node,
        &queue_stats(&mut rng, queue, number, &stamp),
    )?;
    let ping = format!("{:08x}-{}", rng.u32(..), round);
    finesse::ping(t, DOMAIN, &ping)?;
    if rng.u8(..6) == 0 {
        t.keepalive()?;
    }
    t.wait(800 + rng.i64(0..400))
}

/// The agent's state, its reason, the dialog's state and the dialog event
/// for this quarter of a call (no dialog in the last quarter).
fn phase(
    round: u64,
    rng: &mut Rng,
) -> (
    &'static str,
    Option<(u32, &'static str)>,
    &'static str,
    &'static str,
) {
    match round % 4 {
        0 => ("RESERVED", None, "ALERTING", "POST"),
        1 => ("TALKING", None, "ACTIVE", "PUT"),
        2 => ("WORK_READY", None, "DROPPED", "DELETE"),
        _ => {
            let r = REASONS[rng.usize(..REASONS.len())];
            let (s, r) = if rng.u8(..4) == 0 {
                ("NOT_READY", Some(r))
            } else {
                ("READY", None)
            };
            (s, r, "", "")
        }
    }
}

/// A request id on half the updates (the changes the desktop asked for).
fn request_id(rng: &mut Rng) -> String {
    if rng.bool() {
        format!("{:016x}{:016x}", rng.u64(..), rng.u64(..))
    } else {
        String::new()
    }
}

fn stamp(rng: &mut Rng, round: u64) -> String {
    format!(
        "2026-03-02T{:02}:{:02}:{:02}.{:03}Z",
        9 + (round / 3600) % 12,
        (round / 60) % 60,
        round % 60,
        rng.u16(..1000)
    )
}

/// What stays the same during one call.
struct Call {
    id: u64,
    caller: String,
    dnis: u32,
    carrier: &'static str,
    order: u32,
    account: String,
    queue: (&'static str, u32),
    ecc: Vec<(String, String)>,
}

impl Call {
    fn new(rng: &mut Rng, call: u64, i: usize) -> Call {
        let ecc = (0..rng.usize(2..6))
            .map(|k| {
                let name = format!("user.ecc.var{k}");
                let value = format!("{:x}", rng.u64(..1 << 40));
                (name, value)
            })
            .collect();
        Call {
            id: 16_777_216 + call * 1000 + i as u64,
            caller: format!("{}555{:04}", rng.u32(200..999), rng.u32(..10_000)),
            dnis: rng.u32(4000..4100),
            carrier: CARRIERS[rng.usize(..CARRIERS.len())],
            order: rng.u32(1000..99_999),
            account: format!("ACC-{:06}", rng.u32(..1_000_000)),
            queue: QUEUES[rng.usize(..QUEUES.len())],
            ecc,
        }
    }

    fn dialog(&self, state: &str, stamp: &str) -> String {
        let mut vars = format!(
            "<CallVariable><name>callVariable1</name><value>{}</value></CallVariable>\
             <CallVariable><name>callVariable2</name><value>Order #{} &lt;priority&gt;</value></CallVariable>\
             <CallVariable><name>callVariable3</name><value>{}</value></CallVariable>",
            self.carrier, self.order, self.account
        );
        for (name, value) in &self.ecc {
            vars.push_str(&format!(
                "<CallVariable><name>{name}</name><value>{value}</value></CallVariable>"
            ));
        }
        let element = if state == "ALERTING" {
            "Dialog"
        } else {
            "dialog"
        };
        let (queue, number) = self.queue;
        format!(
            "<{element}><associatedDialogUri></associatedDialogUri><fromAddress>{caller}</fromAddress>\
             <id>{id}</id><mediaProperties><DNIS>{dnis}</DNIS><callType>ACD_IN</callType>\
             <dialedNumber>800555{dnis}</dialedNumber><outboundClassification></outboundClassification>\
             <callvariables>{vars}</callvariables><queueName>{queue}</queueName>\
             <queueNumber>{number}</queueNumber></mediaProperties><mediaType>Voice</mediaType>\
             <participants><Participant><actions><action>ANSWER</action></actions>\
             <mediaAddress>4001</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType>\
             <startTime>{stamp}</startTime><state>{state}</state></Participant><Participant>\
             <actions/><mediaAddress>{caller}</mediaAddress><mediaAddressType>PSTN</mediaAddressType>\
             <startTime>{stamp}</startTime><state>ACTIVE</state></Participant></participants>\
             <state>{state}</state><toAddress>{dnis}</toAddress><uri>/finesse/api/Dialog/{id}</uri></{element}>",
            caller = self.caller,
            id = self.id,
            dnis = self.dnis,
        )
    }
}

fn team(rng: &mut Rng, agent_state: &str, stamp: &str) -> String {
    let mut users = String::new();
    for id in 1001..1001 + rng.u32(3..8) {
        let state = if id == 1001 {
            agent_state
        } else {
            STATES[rng.usize(..STATES.len())]
        };
        users.push_str(&format!(
            "<User><extension>{}</extension><firstName>Agent</firstName><lastName>{id}</lastName>\
             <loginId>{id}</loginId><state>{state}</state><stateChangeTime>{stamp}</stateChangeTime>\
             <uri>/finesse/api/User/{id}</uri></User>",
            id + 3000
        ));
    }
    format!("<team><id>7</id><name>Support</name><uri>/finesse/api/Team/7</uri><users>{users}</users></team>")
}

fn queue_stats(rng: &mut Rng, name: &str, number: u32, stamp: &str) -> String {
    format!(
        "<Queue><name>{name}</name><statistics><agentsBusyOther>{}</agentsBusyOther>\
         <agentsLoggedOn>{}</agentsLoggedOn><agentsNotReady>{}</agentsNotReady>\
         <agentsReady>{}</agentsReady><agentsTalkingInbound>{}</agentsTalkingInbound>\
         <agentsTalkingInternal>-1</agentsTalkingInternal><agentsWrapUpNotReady>{}</agentsWrapUpNotReady>\
         <callsInQueue>{}</callsInQueue><startTimeOfLongestCallInQueue>{stamp}\
         </startTimeOfLongestCallInQueue></statistics><uri>/finesse/api/Queue/{number}</uri></Queue>",
        rng.u8(..5),
        rng.u8(10..60),
        rng.u8(..20),
        rng.u8(..20),
        rng.u8(..30),
        rng.u8(..10),
        rng.u8(..40),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_and_every_round_differs() {
        let mut seen = std::collections::BTreeSet::new();
        for call in 0..200 {
            let facts = Call::new(&mut Rng::with_seed(call), call, 3);
            let mut rng = Rng::with_seed(call + 1000);
            let stamp = stamp(&mut rng, call);
            assert!(seen.insert(facts.dialog("ACTIVE", &stamp)), "call {call}");
            assert!(seen.insert(queue_stats(&mut rng, "Support_Q", 3, &stamp)));
        }
        let d = Call::new(&mut Rng::with_seed(1), 0, 0).dialog("ALERTING", "t");
        assert!(d.starts_with("<Dialog>") && d.contains("<callvariables><CallVariable>"));
    }
}
