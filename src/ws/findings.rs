//! The codes of the findings the WebSocket stage reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the WebSocket
//! stage (frames, messages, permessage-deflate, close and ping, mid-stream
//! proof) can notice. Never reports on what the messages say: that is XMPP's.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the WebSocket stage notices.
    pub enum FindingCode in Ws {
        /// A `Sec-WebSocket-Extensions` header cannot be parsed; its extensions are ignored.
        ExtensionMalformed => "ws.extension_malformed", Warn;
        /// A permessage-deflate parameter is unknown, repeated or out of range.
        DeflateParameter => "ws.deflate_parameter", Warn;
        /// The server's permessage-deflate answer does not fit the client's offer.
        DeflateNegotiation => "ws.deflate_negotiation", Warn;
        /// A frame uses a reserved opcode.
        ReservedOpcode => "ws.reserved_opcode", Warn;
        /// A frame length is not written in its shortest form.
        NonMinimalLength => "ws.non_minimal_length", Warn;
        /// A control frame carries more than 125 bytes.
        ControlTooLong => "ws.control_too_long", Warn;
        /// A control frame is fragmented (FIN not set).
        ControlFragmented => "ws.control_fragmented", Warn;
        /// A frame sets RSV bits no negotiated extension allows.
        RsvWithoutExtension => "ws.rsv_without_extension", Warn;
        /// A continuation frame sets RSV1 (compression is marked on the first frame only).
        Rsv1OnContinuation => "ws.rsv1_on_continuation", Warn;
        /// A control frame sets RSV1 (control frames are never compressed).
        Rsv1OnControl => "ws.rsv1_on_control", Warn;
        /// The client sent an unmasked frame.
        UnmaskedClientFrame => "ws.unmasked_client_frame", Warn;
        /// The server sent a masked frame.
        MaskedServerFrame => "ws.masked_server_frame", Warn;
        /// A frame header cannot be read; xmppcap hunts for the next frame boundary.
        BadHeader => "ws.bad_header", Warn;
        /// Data frames came after this side's Close frame.
        DataAfterClose => "ws.data_after_close", Warn;
        /// A continuation frame came with no message open.
        OrphanContinuation => "ws.orphan_continuation", Warn;
        /// A new message started before the previous fragmented message ended; `info` when the connection or capture ended inside it.
        UnfinishedMessage => "ws.unfinished_message", Warn;
        /// The connection ended inside a frame; `info` when the capture itself ended there.
        TruncatedFrame => "ws.truncated_frame", Warn;
        /// A message is longer than `max_ws_message`; the rest is counted, not kept.
        MessageTooLarge => "ws.message_too_large", Warn;
        /// A compressed message inflates past its cap or ratio; the rest is not inflated.
        InflateLimit => "ws.inflate_limit", Warn;
        /// A compressed message is not valid DEFLATE; `warn` when the history it needed was already uncertain.
        InvalidDeflate => "ws.invalid_deflate", Error;
        /// A compressed binary message needs history from before the capture (or a gap); it is not shown.
        NoDeflateContext => "ws.no_deflate_context", Info;
        /// Compressed text needs history from before the capture (or a gap); messages are given with their known bytes only.
        PartlyInflated => "ws.partly_inflated", Info;
        /// A gap took the compression history with it; later compressed messages may not be readable.
        DeflateContextLost => "ws.deflate_context_lost", Warn;
        /// A text message is not valid UTF-8.
        InvalidUtf8 => "ws.invalid_utf8", Warn;
        /// A Close frame carries a one-byte payload (a code needs two).
        ClosePayloadOneByte => "ws.close_payload_one_byte", Warn;
        /// A Close frame carries a code reserved for reporting only (1005, 1006, 1015).
        ReservedCloseCode => "ws.reserved_close_code", Warn;
        /// A Close frame carries a code outside the ranges RFC 6455 allows.
        InvalidCloseCode => "ws.invalid_close_code", Warn;
        /// A Close frame's reason is not valid UTF-8.
        InvalidCloseReason => "ws.invalid_close_reason", Warn;
        /// The connection ended without a Close frame (1006): TCP RST or FIN, the desktop shows "reconnecting".
        AbnormalClosure => "ws.abnormal_closure", Warn;
        /// Pings were not answered by a pong; `info` when the capture ended first, `warn` when the other side kept sending.
        PingUnanswered => "ws.ping_unanswered", Info;
        /// Bytes were skipped while looking for a frame boundary; `info` before the first boundary of a mid-stream capture.
        Unparsed => "ws.unparsed", Warn;
        /// Bytes were lost inside a frame; the frame is given with its known bytes.
        GapInFrame => "ws.gap_in_frame", Warn;
        /// Bytes were lost between frames; xmppcap hunts for the next frame boundary.
        Gap => "ws.gap", Warn;
        /// Bytes were captured but the TLS stage could not decrypt them (a
        /// partial key log, say): they are not lost, only unread.
        NotDecrypted => "ws.not_decrypted", Info;
        /// The capture starts inside a WebSocket connection: frames were found without the upgrade, with the evidence for it.
        Midstream => "ws.midstream", Info;
    }
}
