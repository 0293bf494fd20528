//! Stage `tcp`: not built yet.
