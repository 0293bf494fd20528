//! Payloads follow Cisco's documented formats (Finesse Web Services Developer
//! Guide: User, Dialog, Team, Queue, SystemInfo and asynchronous apiErrors)
//! as Finesse publishes them; they are the text of `<notification>`
//! after the stanza parse.

use super::*;
use crate::finding::{Layer, Level};

pub(crate) const USER_NOT_READY: &str = "<Update><data><user><dialogs>/finesse/api/User/1001/Dialogs</dialogs><extension>1001001</extension><firstName>Ann</firstName><lastName>Agent</lastName><loginId>1001</loginId><loginName>ann</loginName><mediaType>1</mediaType><pendingState></pendingState><reasonCodeId>3</reasonCodeId><ReasonCode><category>NOT_READY</category><code>12</code><label>Lunch</label><forAll>true</forAll><id>3</id><uri>/finesse/api/ReasonCode/3</uri></ReasonCode><roles><role>Agent</role></roles><settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings><state>NOT_READY</state><stateChangeTime>2026-03-02T10:15:01.123Z</stateChangeTime><teamId>3</teamId><teamName>Sales</teamName><uri>/finesse/api/User/1001</uri></user></data><event>PUT</event><requestId>a5b3c1d2-0001</requestId><source>/finesse/api/User/1001</source></Update>";

fn dialog(event: &str, data_open: &str, data_close: &str, state: &str) -> String {
    format!(
        "<Update><data>{data_open}<Dialog><associatedDialogUri></associatedDialogUri><fromAddress>3001</fromAddress><id>16777217</id><mediaProperties><DNIS>1001</DNIS><callType>ACD_IN</callType><dialedNumber>1001</dialedNumber><outboundClassification></outboundClassification><callvariables><CallVariable><name>callVariable1</name><value>AT&amp;T</value></CallVariable><CallVariable><name>user.cust.name</name><value>Smith &amp; Sons &lt;VIP&gt;</value></CallVariable><CallVariable><name>callVariable3</name><value></value></CallVariable></callvariables><queueNumber>5</queueNumber><queueName>Sales</queueName><wrapUpReason></wrapUpReason></mediaProperties><mediaType>Voice</mediaType><participants><Participant><actions><action>ANSWER</action></actions><mediaAddress>1001</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType><startTime>2026-03-02T10:16:00.000Z</startTime><state>{state}</state><stateCause></stateCause><stateChangeTime>2026-03-02T10:16:00.000Z</stateChangeTime></Participant><Participant><actions/><mediaAddress>3001</mediaAddress><state>ACTIVE</state></Participant></participants><state>{state}</state><toAddress>1001</toAddress><uri>/finesse/api/Dialog/16777217</uri></Dialog>{data_close}</data><event>{event}</event><requestId></requestId><source>/finesse/api/Dialog/16777217</source></Update>"
    )
}

const TEAM: &str = "<Update><data><team><id>3</id><name>Sales</name><uri>/finesse/api/Team/3</uri><users><User><extension>1001001</extension><firstName>Ann</firstName><lastName>Agent</lastName><loginId>1001</loginId><pendingState></pendingState><state>READY</state><stateChangeTime>2026-03-02T10:15:01.123Z</stateChangeTime><uri>/finesse/api/User/1001</uri></User><User><loginId>1002</loginId><state>NOT_READY</state><ReasonCode><code>12</code><label>Lunch</label></ReasonCode></User><User><loginId>1003</loginId><state>TALKING</state></User><User><loginId>1004</loginId><state>LOGOUT</state></User></users></team></data><event>PUT</event><requestId></requestId><source>/finesse/api/Team/3/Users</source></Update>";

const QUEUE: &str = "<Update><data><Queue><name>Sales</name><statistics><agentsBusyOther>0</agentsBusyOther><agentsLoggedOn>3</agentsLoggedOn><agentsNotReady>1</agentsNotReady><agentsReady>1</agentsReady><agentsTalkingInbound>1</agentsTalkingInbound><agentsTalkingInternal>-1</agentsTalkingInternal><callsInQueue>2</callsInQueue><startTimeOfLongestCallInQueue>2026-03-02T10:14:00Z</startTimeOfLongestCallInQueue></statistics><uri>/finesse/api/Queue/5</uri></Queue></data><event>PUT</event><requestId></requestId><source>/finesse/api/Queue/5</source></Update>";

const SYSTEM_INFO: &str = "<Update><data><SystemInfo><currentTimestamp>2026-03-02T10:20:00.000Z</currentTimestamp><deploymentType>UCCE</deploymentType><primaryNode><host>finesse1.example.com</host></primaryNode><secondaryNode><host>finesse2.example.com</host></secondaryNode><status>OUT_OF_SERVICE</status><timezoneOffset>0</timezoneOffset><xmppDomain>finesse1.example.com</xmppDomain><xmppPubSubDomain>pubsub.finesse1.example.com</xmppPubSubDomain></SystemInfo></data><event>PUT</event><requestId></requestId><source>/finesse/api/SystemInfo</source></Update>";

const API_ERRORS: &str = "<Update><data><apiErrors><apiError><errorData>34</errorData><errorMessage>CF_RESOURCE_OUT_OF_SERVICE</errorMessage><errorType>Call Operation Failure</errorType><peripheralErrorCode>34</peripheralErrorCode><peripheralErrorMsg>CF_RESOURCE_OUT_OF_SERVICE</peripheralErrorMsg></apiError></apiErrors></data><event>put</event><requestId>req-9</requestId><source>/finesse/api/User/1001</source></Update>";

fn parse(text: &str) -> Update {
    parse_notification(text, &Limits::default()).unwrap()
}

#[test]
fn user_not_ready_with_reason() {
    let u = parse(USER_NOT_READY);
    assert_eq!(u.event.as_deref(), Some("PUT"));
    assert_eq!(u.request_id.as_deref(), Some("a5b3c1d2-0001"));
    assert_eq!(u.source.as_deref(), Some("/finesse/api/User/1001"));
    let Payload::User(user) = &u.payload else {
        panic!("{:?}", u.payload)
    };
    assert_eq!(user.login_id.as_deref(), Some("1001"));
    assert_eq!(user.extension.as_deref(), Some("1001001"));
    assert_eq!(user.pending_state, None);
    assert_eq!(user.reason_code_id.as_deref(), Some("3"));
    let rc = user.reason_code.as_ref().unwrap();
    assert_eq!(
        (rc.code.as_deref(), rc.label.as_deref()),
        (Some("12"), Some("Lunch"))
    );
    assert_eq!(user.team_id.as_deref(), Some("3"));
    assert_eq!(u.summary(), "User 1001 NOT_READY (reason 12 \"Lunch\")");
    assert!(u.findings().is_empty());
}

#[test]
fn dialog_alerting_active_dropped_with_ampersands() {
    let alerting = parse(&dialog("POST", "<dialogs>", "</dialogs>", "ALERTING"));
    let Payload::Dialogs { dialogs } = &alerting.payload else {
        panic!("{:?}", alerting.payload)
    };
    assert_eq!(dialogs.len(), 1);
    let d = &dialogs[0];
    assert_eq!(d.participants.len(), 2);
    assert_eq!(d.participants[0].actions, ["ANSWER"]);
    assert_eq!(d.participants[0].media_address.as_deref(), Some("1001"));
    let mp = d.media_properties.as_ref().unwrap();
    assert_eq!(mp.dnis.as_deref(), Some("1001"));
    assert_eq!(mp.call_type.as_deref(), Some("ACD_IN"));
    assert_eq!(mp.queue_name.as_deref(), Some("Sales"));
    let vars: Vec<(&str, &str)> = mp
        .call_variables
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        vars,
        [
            ("callVariable1", "AT&T"),
            ("user.cust.name", "Smith & Sons <VIP>"),
            ("callVariable3", "")
        ]
    );
    assert_eq!(
        alerting.summary(),
        "Dialog 16777217 ALERTING from 3001 to 1001"
    );

    let active = parse(&dialog("PUT", "", "", "ACTIVE"));
    assert!(matches!(active.payload, Payload::Dialog(_)));
    assert_eq!(active.summary(), "Dialog 16777217 ACTIVE from 3001 to 1001");

    let dropped = parse(&dialog("delete", "", "", "DROPPED"));
    assert_eq!(dropped.event.as_deref(), Some("DELETE"));
    assert_eq!(
        dropped.summary(),
        "Dialog 16777217 DROPPED from 3001 to 1001 (removed)"
    );
}

#[test]
fn double_escaping_from_the_wire_comes_out_once() {
    // On the wire: `AT&amp;amp;T`; the stanza parse leaves `AT&amp;T`.
    let text = "<Update><data><dialog><id>1</id><mediaProperties><callvariables><CallVariable><name>v</name><value>AT&amp;T</value></CallVariable></callvariables></mediaProperties></dialog></data><event>PUT</event></Update>";
    let Payload::Dialog(d) = parse(text).payload else {
        panic!()
    };
    assert_eq!(d.media_properties.unwrap().call_variables[0].value, "AT&T");
    // A publisher that escaped once too often is still read.
    let escaped = quick_xml::escape::escape(text).into_owned();
    assert!(matches!(parse(&escaped).payload, Payload::Dialog(_)));
    // And one that forgot to escape `&` at all.
    let bare = text.replace("AT&amp;T", "AT&T");
    let Payload::Dialog(d) = parse(&bare).payload else {
        panic!()
    };
    assert_eq!(d.media_properties.unwrap().call_variables[0].value, "AT&T");
}

#[test]
fn team_queue_system_info() {
    let t = parse(TEAM);
    let Payload::Team(team) = &t.payload else {
        panic!()
    };
    assert_eq!(team.users.len(), 4);
    assert_eq!(
        team.users[1].reason_code.as_ref().unwrap().label.as_deref(),
        Some("Lunch")
    );
    assert_eq!(t.summary(), "Team 3 \"Sales\": 4 users");

    let q = parse(QUEUE);
    let Payload::Queue(queue) = &q.payload else {
        panic!()
    };
    assert_eq!(queue.id.as_deref(), Some("5"));
    assert_eq!(
        queue
            .statistics
            .get("agentsTalkingInternal")
            .map(String::as_str),
        Some("-1")
    );
    assert_eq!(q.summary(), "Queue 5 \"Sales\": 2 in queue, 1 ready");

    let s = parse(SYSTEM_INFO);
    assert_eq!(s.summary(), "SystemInfo OUT_OF_SERVICE");
    let Payload::SystemInfo(info) = &s.payload else {
        panic!()
    };
    assert_eq!(info.secondary_node.as_deref(), Some("finesse2.example.com"));
    let f = s.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "finesse.out_of_service");
    assert_eq!(f[0].layer(), Layer::Finesse);
}

#[test]
fn api_errors_in_both_cases() {
    let u = parse(API_ERRORS);
    assert_eq!(u.event.as_deref(), Some("PUT"));
    assert_eq!(
        u.summary(),
        "apiError CF_RESOURCE_OUT_OF_SERVICE (Call Operation Failure)"
    );
    let f = u.findings();
    assert_eq!(f[0].code, "finesse.api_error");
    assert!(f[0].message.contains("data 34"), "{}", f[0].message);
    let rest = "<Update><data><ApiErrors><ApiError><ErrorType>Authentication Failure</ErrorType><ErrorMessage>UNAUTHORIZED</ErrorMessage></ApiError></ApiErrors></data><event>PUT</event></Update>";
    assert_eq!(
        parse(rest).summary(),
        "apiError UNAUTHORIZED (Authentication Failure)"
    );
}

#[test]
fn forced_logout_reason_255() {
    let text = "<Update><data><user><loginId>1001</loginId><state>LOGOUT</state><reasonCodeId>255</reasonCodeId></user></data><event>PUT</event><requestId></requestId><source>/finesse/api/User/1001</source></Update>";
    let u = parse(text);
    assert_eq!(u.request_id, None);
    assert_eq!(u.summary(), "User 1001 LOGOUT (reason 255)");
    let f = u.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "finesse.forced_logout");
    assert_eq!(f[0].level, Level::Error);
}

#[test]
fn json_form_maps_the_same_fields() {
    let json = r#"{"Update":{"data":{"user":{"loginId":"1001","state":"NOT_READY","pendingState":"","reasonCodeId":3,"ReasonCode":{"code":12,"label":"Lunch"},"extension":"1001001"}},"event":"put","requestId":"","source":"/finesse/api/User/1001"}}"#;
    let u = parse(json);
    assert_eq!(u.event.as_deref(), Some("PUT"));
    assert_eq!(u.request_id, None);
    assert_eq!(u.summary(), "User 1001 NOT_READY (reason 12 \"Lunch\")");
    let dialogs = r#"{"Update":{"data":{"dialogs":{"Dialog":[{"id":"1","state":"ALERTING","fromAddress":"3001","toAddress":"1001","mediaProperties":{"callvariables":{"CallVariable":[{"name":"v","value":"AT&T"}]}}},{"id":"2","state":"ACTIVE"}]}},"event":"POST"}}"#;
    let u = parse(dialogs);
    let Payload::Dialogs { dialogs } = &u.payload else {
        panic!()
    };
    assert_eq!(
        dialogs[0].media_properties.as_ref().unwrap().call_variables[0].value,
        "AT&T"
    );
    assert_eq!(
        u.summary(),
        "2 dialogs: Dialog 1 ALERTING from 3001 to 1001; Dialog 2 ACTIVE"
    );
}

#[test]
fn unknown_and_empty_payloads() {
    let u = parse("<Update><data><Widget><a>1</a></Widget></data><event>PUT</event></Update>");
    assert_eq!(
        u.payload,
        Payload::Unknown {
            element: "widget".to_owned()
        }
    );
    let u = parse("<Update><data/><event>PUT</event></Update>");
    assert_eq!(u.payload, Payload::Empty);
    assert_eq!(u.summary(), "empty update");
}

#[test]
fn each_malformation_names_its_error() {
    let limits = Limits::default();
    let p = |t: &str| parse_notification(t, &limits).unwrap_err();
    assert!(matches!(p("   "), Error::Empty));
    assert!(matches!(p("<Update><data></Update>"), Error::Xml { .. }));
    assert!(matches!(p("{\"Update\":"), Error::Json { .. }));
    assert!(matches!(p("<Other/>"), Error::NotAnUpdate { found } if found == "Other"));
    let small = Limits {
        max_stanza_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_notification(USER_NOT_READY, &small),
        Err(Error::TooLarge { limit: 10, .. })
    ));
}

#[test]
fn every_prefix_is_an_error_never_a_panic() {
    let limits = Limits::default();
    let text = dialog("POST", "<dialogs>", "</dialogs>", "ALERTING");
    for end in 0..text.len() {
        assert!(
            parse_notification(&text[..end], &limits).is_err(),
            "prefix {end}"
        );
    }
    let json = r#"{"Update":{"data":{"user":{"loginId":"1001"}},"event":"PUT"}}"#;
    for end in 0..json.len() {
        assert!(
            parse_notification(&json[..end], &limits).is_err(),
            "prefix {end}"
        );
    }
    assert!(matches!(
        parse_notification("<Update><data>", &limits),
        Err(Error::Unclosed { name }) if name == "data"
    ));
}

#[test]
fn update_serialises_with_kind_and_snake_case() {
    let v = serde_json::to_value(parse(USER_NOT_READY)).unwrap();
    assert_eq!(v["kind"], "user");
    assert_eq!(v["login_id"], "1001");
    assert_eq!(v["request_id"], "a5b3c1d2-0001");
    assert_eq!(v["reason_code"]["label"], "Lunch");
}

#[test]
fn state_summaries_list_only_the_notes_present() {
    let user = |inner: &str| {
        parse(&format!(
            "<Update><data><user><loginId>7</loginId><state>NOT_READY</state>{inner}</user></data><event>PUT</event></Update>"
        ))
        .summary()
    };
    assert_eq!(user(""), "User 7 NOT_READY");
    assert_eq!(
        user("<pendingState>READY</pendingState>"),
        "User 7 NOT_READY (pending READY)"
    );
    assert_eq!(
        user("<pendingState>READY</pendingState><reasonCodeId>3</reasonCodeId>"),
        "User 7 NOT_READY (pending READY, reason 3)"
    );
    assert_eq!(
        user("<ReasonCode><id>4</id><label>Break</label></ReasonCode>"),
        "User 7 NOT_READY (reason 4 \"Break\")"
    );
    assert_eq!(
        user("<pendingState>LOGOUT</pendingState><ReasonCode><category>x</category></ReasonCode>"),
        "User 7 NOT_READY (pending LOGOUT)"
    );
    assert_eq!(
        user("<ReasonCode><category>x</category></ReasonCode>"),
        "User 7 NOT_READY"
    );
    let media = |inner: &str| {
        parse(&format!(
            "<Update><data><media><mediaId>2</mediaId><state>READY</state>{inner}</media></data><event>DELETE</event></Update>"
        ))
        .summary()
    };
    assert_eq!(media(""), "Media 2 READY (removed)");
    assert_eq!(
        media("<pendingState>X</pendingState><ReasonCode><code>9</code></ReasonCode>"),
        "Media 2 READY (reason 9) (removed)"
    );
}
