//! The codes of the findings about TCP connections and their reassembly.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing reassembly (and
//! the connection table) can notice. Never reports on what the bytes carry,
//! except that no stage could read them (`stream.not_decoded`).

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What TCP reassembly notices.
    pub enum FindingCode in Tcp {
        /// Bytes of a direction are missing from the capture; everything above TCP resynchronises after them.
        Gap => "tcp.gap", Warn;
        /// The out-of-order buffer of a direction is full (`max_ooo_bytes`); the missing bytes before it are given up as a gap.
        OooLimit => "tcp.ooo_limit", Warn;
        /// Retransmitted bytes differ from the first copy, which is kept (the first few per direction; the rest are counted).
        OverlapMismatch => "tcp.overlap_mismatch", Warn;
        /// A segment lies far outside the window (more than 2^30 bytes ahead); it is ignored (once per direction).
        OutOfWindow => "tcp.out_of_window", Warn;
        /// Data was sent after this direction's FIN; it is not part of the stream.
        DataAfterFin => "tcp.data_after_fin", Warn;
        /// Packets came for streams already closed and released, or released while open by the memory budget (said apart); they count in no stream's statistics.
        LatePackets => "tcp.late_packets", Info;
        /// An open stream was closed to stay under `max_open_flows`; later packets of its 4-tuple start a new stream.
        FlowEvicted => "tcp.flow_evicted", Warn;
        /// More streams than `max_open_flows`: closed streams are forgotten oldest first.
        ClosedFlowsForgotten => "tcp.closed_flows_forgotten", Info;
        /// More connections than `max_summaries`: the rest are in the NDJSON events only.
        SummaryLimit => "tcp.summary_limit", Warn;
        /// A connection carries something other than TLS, HTTP, WebSocket or XMPP; its bytes are counted as unparsed.
        StreamNotDecoded => "stream.not_decoded", Info;
    }
}
