//! The macro every stage declares its finding codes with.
//!
//! Takes an enum written as `Variant => "layer.what", Level;` with a one
//! sentence doc comment per variant (optionally `, Layer` after the level when
//! a code is reported by another layer than the enum's); gives the enum with
//! `ALL`, `code()`, `layer()`, `level()`, `meaning()`, `Display` and
//! `Serialize` (as the code string). Never builds a finding itself: the
//! stage does, with [`super::Finding::new`].

/// Declares a stage's finding codes; see the module docs for the shape.
macro_rules! finding_codes {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident in $layer:ident {
            $(
                $(#[doc = $doc:literal])+
                $variant:ident => $code:literal, $level:ident $(, $variant_layer:ident)?;
            )+
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $(
                $(#[doc = $doc])+
                $variant,
            )+
        }

        impl $name {
            /// Every code of this stage, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine code, `layer.what`.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The layer the finding is reported under.
            pub const fn layer(self) -> $crate::finding::Layer {
                match self {
                    $($name::$variant => $crate::finding::codes::finding_codes!(
                        @layer $layer $($variant_layer)?
                    ),)+
                }
            }

            /// The level a finding of this code has unless its stage says otherwise.
            pub const fn level(self) -> $crate::finding::Level {
                match self {
                    $($name::$variant => $crate::finding::Level::$level,)+
                }
            }

            /// One sentence saying what the code means (its doc comment).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $($name::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.code())
            }
        }

        /// Lets tests compare a code with its string.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.code() == *other
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
    };
    (@layer $layer:ident) => { $crate::finding::Layer::$layer };
    (@layer $layer:ident $variant_layer:ident) => { $crate::finding::Layer::$variant_layer };
}

pub(crate) use finding_codes;
