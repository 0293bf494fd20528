//! Element parser tests: namespaces, unescaping, each malformation, node caps, every prefix.

use super::*;

fn parse_ok(src: &str) -> Element<'_> {
    parse_element(
        src,
        &Namespaces::default(),
        &Limits::default(),
        &mut Scratch::default(),
    )
    .unwrap()
}

fn parse_err(src: &str) -> XmlError {
    parse_element(
        src,
        &Namespaces::default(),
        &Limits::default(),
        &mut Scratch::default(),
    )
    .unwrap_err()
}

#[test]
fn inherits_default_and_stream_prefix() {
    let el = parse_ok("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    let root = el.root();
    assert_eq!(root.name(), "stream:features");
    assert_eq!(root.local(), "features");
    assert_eq!(root.ns(), Ns::Streams);
    let mechs = root.child(Ns::Sasl, "mechanisms").unwrap();
    let m: Vec<_> = mechs.children().map(|c| c.text()).collect();
    assert_eq!(m, ["PLAIN"]);
    let iq = parse_ok("<iq type='get'/>");
    assert_eq!(iq.root().ns(), Ns::Client);
}

#[test]
fn header_bindings_replace_defaults() {
    let limits = Limits::default();
    let h = parse_header(
        "<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams' to='a'>",
        &Namespaces::default(),
        &limits,
        &mut Scratch::default(),
    )
    .unwrap();
    assert_eq!(h.root().name(), "s:stream");
    assert_eq!(h.root().attr("to").as_deref(), Some("a"));
    let ctx = Namespaces::from_header(&h);
    let el = parse_element("<s:features/>", &ctx, &limits, &mut Scratch::default()).unwrap();
    assert_eq!(el.root().ns(), Ns::Streams);
    let el = parse_element("<iq/>", &ctx, &limits, &mut Scratch::default()).unwrap();
    assert_eq!(el.root().ns(), Ns::Server);
}

#[test]
fn text_is_unescaped_and_spanned() {
    let src = "<a><b>x&amp;y&#65;</b><c><![CDATA[<z>]]></c></a>";
    let el = parse_ok(src);
    let kids: Vec<_> = el.root().children().collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].text(), "x&yA");
    let (s, e) = kids[0].text_span().unwrap();
    assert_eq!(&src[s..e], "x&amp;y&#65;");
    assert_eq!(kids[1].text(), "<z>");
}

#[test]
fn attributes_borrow_and_unescape() {
    let el = parse_ok(r#"<message to="a&amp;b" type='chat' xml:lang="en"/>"#);
    let r = el.root();
    assert_eq!(r.attr("to").as_deref(), Some("a&b"));
    assert_eq!(r.attr("type").as_deref(), Some("chat"));
    assert_eq!(r.attr("xml:lang").as_deref(), Some("en"));
    assert_eq!(r.attr("id"), None);
    // Below the root, only the value asked for is unescaped; the first of two counts.
    let el = parse_ok(r#"<iq><items node="a&amp;b" max='5' max='6' bad="&bogus;"/></iq>"#);
    let items = el.root().children().next().unwrap();
    assert_eq!(items.attr("node").as_deref(), Some("a&b"));
    assert_eq!(items.attr("max").as_deref(), Some("5"));
    assert_eq!(items.attr("bad").as_deref(), Some("&bogus;"));
    assert_eq!(items.attr("id"), None);
    let all: Vec<_> = items.attrs().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(all, ["node=a&b", "max=5", "max=6", "bad=&bogus;"]);
}

#[test]
fn children_skip_grandchildren() {
    let el = parse_ok("<a><b><x/><y/></b><c/><d>t</d></a>");
    let names: Vec<_> = el.root().children().map(|c| c.name()).collect();
    assert_eq!(names, ["b", "c", "d"]);
    assert_eq!(el.root().child_text("d"), Some("t"));
    assert_eq!(el.root().descendants().count(), 6);
}

#[test]
fn each_malformation_names_its_error() {
    assert!(matches!(parse_err("<a><b></a>"), XmlError::Syntax { .. }));
    assert!(matches!(parse_err("<a>"), XmlError::Unclosed { name } if name == "a"));
    assert!(matches!(parse_err("  "), XmlError::Empty));
    assert!(matches!(parse_err("<a/><b/>"), XmlError::Trailing { .. }));
    assert!(matches!(parse_err("<a/>junk"), XmlError::Trailing { .. }));
    assert!(
        matches!(parse_err("<a>&nbsp;</a>"), XmlError::UnknownEntity { name } if name == "nbsp")
    );
    assert!(matches!(parse_err("<!DOCTYPE a><a/>"), XmlError::Doctype));
    let limits = Limits {
        max_xml_depth: 3,
        ..Limits::default()
    };
    let r = parse_element(
        "<a><b><c><d/></c></b></a>",
        &Namespaces::default(),
        &limits,
        &mut Scratch::default(),
    );
    assert!(matches!(r, Err(XmlError::TooDeep { limit: 3 })));
    let limits = Limits {
        max_stanza_bytes: 4,
        ..Limits::default()
    };
    let r = parse_element(
        "<abc/>",
        &Namespaces::default(),
        &limits,
        &mut Scratch::default(),
    );
    assert!(matches!(r, Err(XmlError::TooLarge { len: 6, limit: 4 })));
}

#[test]
fn long_escaped_texts_read_in_one_piece_match_the_event_path() {
    let inner = "<Update><data><user><state>READY</state><v>AT&amp;T</v></user></data></Update>";
    let escaped = quick_xml::escape::escape(inner);
    let amps = "&amp;".repeat(20);
    let src = format!(
            "<message a='x&gt;{amps}' b=\"&lt;&gt;\"><n>{escaped}</n><raw>1 &gt; 0 &amp; 2 > 1 {amps}</raw><c><![CDATA[&lt;]]></c></message>"
        );
    assert!(Scratch::default().mask(&src).is_some());
    let el = parse_ok(&src);
    let root = el.root();
    assert_eq!(root.attr("a").unwrap(), format!("x>{}", "&".repeat(20)));
    assert_eq!(root.attr("b").as_deref(), Some("<>"));
    assert_eq!(root.child_text("n"), Some(inner));
    assert_eq!(
        root.child_text("raw").unwrap(),
        format!("1 > 0 & 2 > 1 {}", "&".repeat(20))
    );
    assert_eq!(root.child_text("c"), Some("&lt;"));
    let (s, e) = root.child_named("n").unwrap().text_span().unwrap();
    assert_eq!(&src[s..e], &*escaped);
    let bad = format!("<m><n>{escaped}&bogus;</n></m>");
    assert!(matches!(parse_err(&bad), XmlError::UnknownEntity { name } if name == "bogus"));
}

#[test]
fn node_cap_keeps_parsing_but_drops_elements() {
    let limits = Limits {
        max_xml_nodes: 2,
        ..Limits::default()
    };
    let el = parse_element(
        "<a><b/><c><d/></c></a>",
        &Namespaces::default(),
        &limits,
        &mut Scratch::default(),
    )
    .unwrap();
    assert_eq!(el.dropped, 2);
    assert_eq!(el.root().children().count(), 1);
}

#[test]
fn every_prefix_of_an_element_is_an_error_not_a_panic() {
    let src = "<iq type='set' id='x'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk&amp;top</resource></bind></iq>";
    for end in 0..src.len() {
        assert!(parse_element(
            &src[..end],
            &Namespaces::default(),
            &Limits::default(),
            &mut Scratch::default()
        )
        .is_err());
    }
    assert!(parse_element(
        src,
        &Namespaces::default(),
        &Limits::default(),
        &mut Scratch::default()
    )
    .is_ok());
}

#[test]
fn node_cap_and_duplicate_attributes_become_findings() {
    let limits = Limits {
        max_xml_nodes: 2,
        ..Limits::default()
    };
    let el = parse_element(
        "<a><b x='1' y='2' x='3'/><c><d/></c></a>",
        &Namespaces::default(),
        &limits,
        &mut Scratch::default(),
    )
    .unwrap();
    assert_eq!(el.duplicate_attribute, Some(("b", "x".to_owned())));
    let findings = el.findings(limits.max_xml_nodes);
    let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(
        codes,
        ["xmpp.too_many_elements", "xmpp.duplicate_attribute"]
    );
    assert!(
        findings[0].message.contains("more than 2 elements"),
        "{}",
        findings[0].message
    );
    assert!(
        findings[1]
            .message
            .contains("<b> has the attribute x twice"),
        "{}",
        findings[1].message
    );
    // The first value is the one read.
    let b = el.root().children().next().unwrap();
    assert_eq!(b.attr("x").as_deref(), Some("1"));
}

#[test]
fn distinct_attributes_and_small_elements_give_no_finding() {
    let el = parse_ok("<iq type='get' id='1' xml:lang='en'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(el.findings(Limits::default().max_xml_nodes).is_empty());
}

#[test]
fn a_duplicate_on_the_root_is_found_too() {
    let el = parse_ok("<presence type='a' type='b'/>");
    assert_eq!(
        el.duplicate_attribute,
        Some(("presence", "type".to_owned()))
    );
    assert_eq!(el.root().attr("type").as_deref(), Some("a"));
}

#[test]
fn duplicates_are_found_among_few_and_among_many_attributes() {
    assert_eq!(
        duplicated(r#"a x="1" y="2" x="3""#, 1),
        Some("x".to_owned())
    );
    assert_eq!(duplicated(r#"a x="1" y="2" z="3""#, 1), None);
    let many: String = (0..12).map(|i| format!(r#" k{i}="v""#)).collect();
    assert_eq!(duplicated(&format!("a{many}"), 1), None);
    assert_eq!(
        duplicated(&format!(r#"a{many} k3="again""#), 1),
        Some("k3".to_owned())
    );
    // Past the few compared on the stack, a repeat of an early name too.
    assert_eq!(
        duplicated(&format!(r#"a{many} k0="again""#), 1),
        Some("k0".to_owned())
    );
    assert_eq!(duplicated(r#"a x="1" x"#, 1), None, "malformed tail");
}

#[test]
fn the_lent_resolver_comes_back_as_it_was_lent() {
    // One `Namespaces` for a run of elements (its resolver copy is lent to
    // each and given back), against a fresh one for each element.
    let limits = Limits::default();
    let elements = [
        "<a xmlns:p='urn:p' xmlns='urn:d'><p:b xmlns:p='urn:q'><p:c/></p:b><p:d xmlns:p=''/><e xmlns=''/><stream:f/></a>",
        "<p:x/>",
        "<x><y xmlns='urn:y'/><z/></x>",
        "<bad xmlns:xml='urn:not-xml'/>",
        "<unclosed xmlns='urn:u'><inner>",
        "<mismatch xmlns='urn:m'></other>",
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>",
        "<m note='xmlns only in a value'><n/></m>",
        "<iq type='get'/>",
    ];
    let shared = Namespaces::default();
    for round in 0..2 {
        for src in elements {
            let mut scratch = Scratch::default();
            let fresh = format!(
                "{:?}",
                parse_element(src, &Namespaces::default(), &limits, &mut scratch)
            );
            let mut scratch = Scratch::default();
            let lent = format!("{:?}", parse_element(src, &shared, &limits, &mut scratch));
            assert_eq!(lent, fresh, "round {round}: {src}");
        }
        // A header leaves its start tag open: the copy it used is not given back.
        let header =
            "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>";
        let h = parse_header(header, &shared, &limits, &mut Scratch::default()).unwrap();
        assert_eq!(h.root().ns(), Ns::Streams);
    }
    let ns_of = |src| {
        parse_element(src, &shared, &limits, &mut Scratch::default())
            .unwrap()
            .root()
            .ns()
    };
    assert_eq!(ns_of("<iq/>"), Ns::Client);
    assert_eq!(ns_of("<p:iq/>"), Ns::Other);
}

#[test]
fn recycled_buffers_keep_their_allocation_and_change_no_tree() {
    let (ns, limits) = (Namespaces::default(), Limits::default());
    let mut scratch = Scratch::default();
    let first = "<iq type='result' id='a1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>1001@f/desktop</jid></bind></iq>";
    let el = parse_element(first, &ns, &limits, &mut scratch).unwrap();
    let capacity = el.nodes.capacity();
    el.recycle();
    assert_eq!(NODES.take().capacity(), capacity);
    NODES.set(Vec::with_capacity(capacity));
    let second = "<message to='x'><body>AT&amp;T</body><subject>s</subject></message>";
    let reused = parse_element(second, &ns, &limits, &mut scratch).unwrap();
    assert_eq!(reused.nodes.capacity(), capacity);
    let alone = parse_ok(second);
    let shape = |e: &Element<'_>| -> Vec<(String, String, usize)> {
        e.nodes
            .iter()
            .map(|n| (n.qname.to_owned(), n.text.to_string(), n.end))
            .collect()
    };
    assert_eq!(shape(&reused), shape(&alone));
    assert_eq!(reused.root().attr("to").as_deref(), Some("x"));
    reused.recycle();
    // A failed parse leaves the scratch usable.
    assert!(parse_element("<a><b>", &ns, &limits, &mut scratch).is_err());
    assert_eq!(
        shape(&parse_element(second, &ns, &limits, &mut scratch).unwrap()),
        shape(&alone)
    );
}
