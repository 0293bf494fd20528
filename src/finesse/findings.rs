//! The codes of the findings about Finesse notifications and REST calls.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing Finesse's
//! payloads can show. Finesse's REST errors are reported beside their HTTP
//! exchange, as [`crate::http::FindingCode::RestError`].

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What Finesse's notifications show.
    pub enum FindingCode in Finesse {
        /// A notification's payload could not be read.
        MalformedNotification => "finesse.malformed_notification", Warn;
        /// Finesse reports OUT_OF_SERVICE: desktops fail over to the other node.
        OutOfService => "finesse.out_of_service", Error;
        /// An agent was logged out by the server with reason code 255: its desktop session vanished.
        ForcedLogout => "finesse.forced_logout", Error;
        /// An agent was made NOT_READY by the server with reason code 255: its desktop session vanished.
        ForcedNotReady => "finesse.forced_not_ready", Warn;
        /// A notification carries Finesse `ApiErrors` (a failed request).
        ApiError => "finesse.api_error", Error;
        /// A dialog reached state FAILED.
        DialogFailed => "finesse.dialog_failed", Warn;
        /// The Update echoing a REST `requestId` came more than 5 s after the request: the desktop showed the old state until then.
        SlowUpdate => "finesse.slow_update", Warn;
        /// A REST `requestId` longer than xmppcap keeps is cut; Updates are matched on its start (said once per capture).
        RequestIdCut => "finesse.request_id_cut", Warn;
        /// More dialogs than xmppcap keeps for the agents' stories: the later ones are counted, not kept (said once per capture).
        DialogsCut => "finesse.dialogs_cut", Warn;
    }
}
