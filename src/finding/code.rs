//! One code type over every stage's codes, and the catalogue of them all.
//!
//! Takes the per-stage enums (each declared in its stage's `findings.rs`);
//! gives [`Code`], which wraps them, and [`catalogue`], which lists every
//! code of every stage in pipeline order. Never invents a code: a string
//! that is not in a stage's enum has no `Code`.

use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use super::{Layer, Level};
use crate::{
    capture, conn, decode, desktop, finesse, har, http, limits, report, tcp, tls, ws, xmpp,
};

/// Declares `Code` with one variant per stage enum, its `From` impls and the
/// dispatch of `code`/`layer`/`level`/`meaning` to the stage enum.
macro_rules! code_of_stages {
    ($($stage:ident($ty:ty)),+ $(,)?) => {
        /// A finding's code: which stage declared it, and which of its codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($stage($ty),)+
        }

        $(impl From<$ty> for Code {
            fn from(code: $ty) -> Code {
                Code::$stage(code)
            }
        })+

        impl Code {
            /// The stable machine code, `layer.what`.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Code::$stage(c) => c.code(),)+
                }
            }

            /// The layer a finding of this code is reported under.
            pub const fn layer(self) -> Layer {
                match self {
                    $(Code::$stage(c) => c.layer(),)+
                }
            }

            /// The level a finding of this code has unless its stage says otherwise.
            pub const fn level(self) -> Level {
                match self {
                    $(Code::$stage(c) => c.level(),)+
                }
            }

            /// One sentence saying what the code means.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Code::$stage(c) => c.meaning(),)+
                }
            }
        }

        /// Every code of every stage, in pipeline order, each stage's codes in
        /// declaration order.
        pub fn catalogue() -> &'static [Code] {
            static ALL: OnceLock<Vec<Code>> = OnceLock::new();
            ALL.get_or_init(|| {
                let mut all = Vec::new();
                $(all.extend(<$ty>::ALL.iter().map(|&c| Code::$stage(c)));)+
                all
            })
        }
    };
}

code_of_stages! {
    Capture(capture::FindingCode),
    Decode(decode::FindingCode),
    Tcp(tcp::FindingCode),
    Conn(conn::FindingCode),
    Tls(tls::FindingCode),
    Http(http::FindingCode),
    Bosh(http::bosh::FindingCode),
    Ws(ws::FindingCode),
    Har(har::FindingCode),
    Xmpp(xmpp::FindingCode),
    Finesse(finesse::FindingCode),
    Desktop(desktop::FindingCode),
    Limits(limits::FindingCode),
    Report(report::FindingCode),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Lets tests compare a code with its string.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.code() == other
    }
}
