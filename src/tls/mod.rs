//! Stage `tls`: not built yet.
