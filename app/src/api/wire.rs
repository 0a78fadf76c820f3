//! [`wire_enum!`]: an enum for a closed set of words of the wire format.

/// Declares an enum whose variants are words of the wire format: `as_str` gives the word,
/// `parse` reads it back (`None` for a word this build does not know), `ALL` lists them in
/// order, and serde uses the same words, so a field may later hold the enum itself without
/// changing the JSON. With `words mod NAME { CONST = Variant, … }` after it, a module of
/// string constants too (the server writes the words into its `String` fields), with `ALL`
/// and the items written after the constants and a `;`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
        }
        $(
            $(#[$mmeta:meta])*
            words mod $words:ident {
                $( $(#[$cmeta:meta])* $const:ident = $cvariant:ident, )+
                $( ; $( $extra:item )* )?
            }
        )?
    ) => {
        $(#[$meta])*
        #[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $word)] $variant, )+
        }

        impl $name {
            /// Every value, in the order the product presents them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// Reads a word of the wire; `None` when this build does not know it.
            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $(
            $(#[$mmeta])*
            pub mod $words {
                $( $(#[$cmeta])* pub const $const: &str = super::$name::$cvariant.as_str(); )+

                /// Every word, in order.
                pub const ALL: &[&str] = &[$($const),+];

                $( $( $extra )* )?
            }
        )?
    };
}
