//! Stage `capture`: not built yet.
