//! Stage `report`: the models the commands render, the words of the
//! timeline ([`from_stages`]), and the renderers that need nothing beyond
//! the library (JSON, NDJSON, HTML, `follow`'s output), plus the words the
//! human-readable renderers share ([`text`]). The terminal tables are drawn
//! by the `xmppcap` binary from these same models.
//!
//! Its one finding, [`FindingCode`], says what the timeline left out.
//!
//! Takes the stages' public types: events through the [`sink::EventSink`]
//! the pipeline feeds, a followed stream's [`follow::Chunk`]s, and finished
//! models; gives text on a writer. Depends on no `pipeline` item.
//! Renderers never derive facts of their own: every number they print is
//! in the model.

pub mod agents;
mod codes;
pub mod desktops;
pub mod event;
pub mod filter;
pub mod findings;
pub mod follow;
pub mod from_stages;
pub mod html;
pub mod json;
pub mod model;
pub mod ndjson;
pub mod ndjson_lines;
pub mod retention;
pub mod sink;
pub mod story;
pub mod streams;
pub mod terminal;
pub mod text;

pub use codes::FindingCode;
