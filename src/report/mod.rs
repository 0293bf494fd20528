//! Stage `report`: the models the commands render and their renderers
//! (table, JSON; NDJSON and HTML as the stages above TCP land).
//!
//! Takes finished models from `pipeline`; gives text on a writer. Renderers
//! never derive facts of their own: every number they print is in the model.

pub mod event;
pub mod findings;
pub mod html;
pub mod json;
pub mod listing;
pub mod model;
pub mod ndjson;
pub mod streams;
pub mod table;
pub(crate) mod text;
