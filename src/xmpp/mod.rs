//! Stage `xmpp`: stanzas and sessions (under construction).

mod element;
mod ns;
mod scan;
