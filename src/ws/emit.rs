//! A finished data message handed to the sink: its length and text as
//! far as they can be vouched for, the direction's counters, and the
//! finding for a text message that is not UTF-8.
//!
//! Takes the assembled message's facts (`Open`) and its payload; gives one
//! [`Message`] to the sink. Never inflates or buffers: the assembler has
//! already decided what of the payload is known.

use crate::finding::Level;
use crate::position::Dir;
use crate::ws::assembler::Open;
use crate::ws::connection::Emitter;
use crate::ws::message::{DirSummary, Message, MessageOpcode};
use crate::ws::FindingCode;
use crate::ws::Sink;

pub(super) fn emit<S: Sink>(
    dir: Dir,
    open: &Open,
    payload: &[u8],
    stats: &mut DirSummary,
    cx: &mut Emitter<'_, S>,
) {
    let text = match open.opcode {
        MessageOpcode::Text if open.not_inflated.is_none() && open.known.is_none() => {
            text_of(open, payload, dir, cx)
        }
        _ => None,
    };
    let len = if !open.len_known {
        None
    } else if open.compressed {
        Some(payload.len() as u64)
    } else {
        Some(open.wire_len)
    };
    let message = Message {
        stream: cx.stream,
        dir,
        frame: open.first,
        last_frame: open.last,
        time: open.first.ts,
        opcode: open.opcode,
        compressed: open.compressed,
        frames: open.frames,
        wire_len: open.wire_len,
        len,
        truncated: open.truncated,
        not_inflated: open.not_inflated,
        known_bytes: open.known.map(|k| k as u64),
        inflate_cap: open.capped.map(|c| c as u64),
        text,
        payload,
    };
    stats.messages += 1;
    match open.opcode {
        MessageOpcode::Text => stats.text += 1,
        MessageOpcode::Binary => stats.binary += 1,
    }
    stats.compressed += u64::from(open.compressed);
    stats.not_inflated += u64::from(open.not_inflated.is_some());
    stats.partial += u64::from(open.known.is_some());
    stats.truncated += u64::from(open.truncated);
    stats.inflated_bytes = stats.inflated_bytes.saturating_add(payload.len() as u64);
    if open.opcode == MessageOpcode::Text && !open.truncated {
        cx.note_text(dir, payload);
    }
    cx.sink.on_message(&message);
}

/// The text of a text message; invalid UTF-8 is a finding, except for an
/// incomplete last character of a cut message.
fn text_of<'p, S: Sink>(
    open: &Open,
    payload: &'p [u8],
    dir: Dir,
    cx: &mut Emitter<'_, S>,
) -> Option<&'p str> {
    match std::str::from_utf8(payload) {
        Ok(text) => Some(text),
        Err(e) if open.truncated && e.error_len().is_none() => {
            std::str::from_utf8(payload.get(..e.valid_up_to()).unwrap_or_default()).ok()
        }
        Err(e) => {
            let msg = format!(
                "text message at frame {} is not valid UTF-8 (at byte {})",
                open.first.frame,
                e.valid_up_to()
            );
            cx.report(
                Level::Warn,
                FindingCode::InvalidUtf8,
                dir,
                open.first,
                open.offset,
                msg,
            );
            None
        }
    }
}
