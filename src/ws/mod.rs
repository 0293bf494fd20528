//! Stage `ws`: not built yet.
