use super::*;
use crate::tcp::FindingCode as Tcp;

#[test]
fn long_messages_are_clipped_on_a_character() {
    let f = Finding::new(Tcp::Gap, "é".repeat(2000)).clipped();
    assert_eq!(f.message.len(), MAX_MESSAGE + '…'.len_utf8());
    assert!(f.message.ends_with('…'));
    let short = Finding::new(Tcp::Gap, "short").clipped();
    assert_eq!(short.message, "short");
}

#[test]
fn levels_order_for_fail_on() {
    assert!(Level::Info < Level::Warn && Level::Warn < Level::Error);
}

#[test]
fn builder_locates_finding() {
    let f = Finding::new(Tcp::Gap, "12 bytes missing")
        .at(FrameRef::new(7, Timestamp::default()))
        .in_stream(3, Some(Dir::ServerToClient))
        .at_offset(100);
    assert_eq!(
        (f.frame, f.stream, f.dir, f.offset),
        (Some(7), Some(3), Some(Dir::ServerToClient), Some(100))
    );
    assert_eq!(f.to_string(), "warn tcp.gap: 12 bytes missing (frame 7)");
}
