//! The codes of the findings the HTTP stage reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the HTTP/1.1
//! stage (heads, bodies, request/response pairing, WebSocket upgrade) can
//! notice, and Finesse's REST errors, which are shown beside their exchange.
//! BOSH's own codes are in [`super::bosh::FindingCode`].

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the HTTP stage notices.
    pub enum FindingCode in Http {
        /// A request or status line cannot be parsed, and the message is skipped; or a request target holds a control byte, read as `?` (the request goes on).
        BadStartLine => "http.bad_start_line", Warn;
        /// A header line cannot be parsed; the message (or the header) is skipped.
        BadHeader => "http.bad_header", Warn;
        /// A head has more header lines than `max_http_headers`; the message is skipped.
        TooManyHeaders => "http.too_many_headers", Warn;
        /// A head is larger than `max_http_head`; the message is skipped.
        HeadTooLarge => "http.head_too_large", Warn;
        /// A `Content-Length` is not a number or is over the cap; the body cannot be framed.
        BadContentLength => "http.bad_content_length", Warn;
        /// Several `Content-Length` values disagree; the body cannot be framed.
        ConflictingLengths => "http.conflicting_lengths", Warn;
        /// A request's `Transfer-Encoding` does not end in `chunked`; the body cannot be framed.
        BadTransferEncoding => "http.bad_transfer_encoding", Warn;
        /// Both `Content-Length` and `Transfer-Encoding` were sent; chunked framing is used.
        LengthConflict => "http.length_conflict", Warn;
        /// A chunk size line is not hexadecimal; the rest of the body is not read.
        BadChunkSize => "http.bad_chunk_size", Warn;
        /// A chunk size line is too long; the rest of the body is not read.
        ChunkLineTooLong => "http.chunk_line_too_long", Warn;
        /// A chunk does not end with CRLF; the rest of the body is not read.
        BadChunkEnd => "http.bad_chunk_end", Warn;
        /// A compressed body inflates past its cap; the body is kept only up to the cap.
        InflateLimit => "http.inflate_limit", Warn;
        /// A compressed body is not valid gzip or DEFLATE; it is kept compressed.
        InflateError => "http.inflate_error", Warn;
        /// A body is larger than `max_http_body`; only its start is kept.
        BodyTruncated => "http.body_truncated", Warn;
        /// Bytes were lost by the capture; HTTP resynchronises at the next message start.
        Gap => "http.gap", Warn;
        /// Bytes were captured but the TLS stage could not decrypt them (a
        /// partial key log, say); HTTP resynchronises at the next message start.
        NotDecrypted => "http.not_decrypted", Info;
        /// A request's response may be in bytes that were captured but not decrypted.
        ResponseNotDecrypted => "http.response_not_decrypted", Info;
        /// The connection ended inside a body.
        BodyCut => "http.body_cut", Warn;
        /// The connection ended inside a head.
        HeadCut => "http.head_cut", Warn;
        /// A message start was found again after lost or unparsable bytes.
        Resync => "http.resync", Info;
        /// More requests waiting for their response than the cap; the oldest are given up.
        PendingLimit => "http.pending_limit", Warn;
        /// A response came with no request waiting (the capture started after it was sent).
        ResponseWithoutRequest => "http.response_without_request", Info;
        /// A response was lost (a gap), so requests and responses were paired again from there.
        ResponseLost => "http.response_lost", Warn;
        /// A request got no response before the connection or the capture ended.
        Unanswered => "http.unanswered", Warn;
        /// A WebSocket upgrade request or answer is not a valid handshake.
        WsHandshake => "http.ws_handshake", Warn;
        /// The server's `Sec-WebSocket-Accept` is missing or does not match the client's key.
        WsBadAccept => "http.ws_bad_accept", Error;
        /// The server did not accept the `xmpp` subprotocol the client offered, or chose another.
        WsSubprotocol => "http.ws_subprotocol", Warn;
        /// The server refused the WebSocket upgrade (no 101); Finesse's desktop cannot connect.
        WsRefused => "http.ws_refused", Error;
        /// A Finesse REST call failed (4xx, or 5xx at `error`), with Finesse's `ApiErrors` when the body has them.
        RestError => "http.rest_error", Warn;
    }
}
