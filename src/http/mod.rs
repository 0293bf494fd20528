//! Stage `http`: not built yet.
