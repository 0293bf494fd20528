//! Stage `finesse`: not built yet.
