//! Stage `xmpp`: not built yet.
