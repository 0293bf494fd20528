//! Stage `report`: the models the commands render and the renderers that
//! need nothing beyond the library (JSON, NDJSON, HTML), plus the words the
//! human-readable renderers share ([`text`]). The terminal tables are drawn
//! by the `xmppcap` binary from these same models.
//!
//! Takes finished models from `pipeline`; gives text on a writer. Renderers
//! never derive facts of their own: every number they print is in the model.

pub mod event;
pub mod findings;
pub mod follow;
pub mod from_stages;
pub mod html;
pub mod json;
pub mod model;
pub mod ndjson;
pub mod sink;
pub mod streams;
pub mod text;
