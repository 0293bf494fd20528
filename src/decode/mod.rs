//! Stage `decode`: not built yet.
