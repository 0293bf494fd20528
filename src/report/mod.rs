//! Stage `report`: the models the commands render and their renderers
//! (table, JSON; NDJSON and HTML as the stages above TCP land).
//!
//! Takes finished models from `pipeline`; gives text on a writer. Renderers
//! never derive facts of their own: every number they print is in the model.

pub mod findings;
pub mod streams;
pub(crate) mod text;
