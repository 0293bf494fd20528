//! NDJSON lines rendered before they reach the writer, with the session
//! number left open: `-j N` renders each event's line on the worker that
//! made the event, but the capture's session numbers are the merger's to
//! give.
//!
//! Takes events; gives their lines (the bytes
//! [`NdjsonWriter`](super::ndjson::NdjsonWriter) writes for them, without
//! the newline) one after the other in one buffer, and the place in each of
//! the value of its `session` field, so that the merger can write the
//! capture's number there ([`Renderer::render_open`]). Never reads the
//! rendered text, which carries captured data: the place is where the
//! serializer stood when it wrote that value. Never writes JSON itself:
//! every byte is sonic-rs's.

use std::cell::{Cell, RefCell};
use std::io;
use std::ops::Range;

use serde::ser::{Error as _, Impossible, SerializeMap, Serializer};
use serde::Serialize;
use sonic_rs::writer::{BufferedWriter, WriteExt};

use crate::report::event::Event;

/// The field whose value is left open.
const SESSION: &str = "session";

/// Renders lines at the end of `lines` with `render`, through one
/// [`Renderer`] (its buffers serve every line).
pub fn with_renderer<R>(lines: &mut Vec<u8>, render: impl FnOnce(&mut Renderer<'_>) -> R) -> R {
    let open = Open {
        out: RefCell::new(std::mem::take(lines)),
        found: Cell::new(None),
    };
    let done = render(&mut Renderer {
        serializer: sonic_rs::Serializer::new(BufferedWriter::new(Tap(&open.out))),
        open: &open,
    });
    *lines = open.out.into_inner();
    done
}

/// Writes events' lines one after the other.
pub struct Renderer<'o> {
    /// Hands each piece it writes on to `open.out` at once, so that the
    /// length there is exact between two values.
    serializer: sonic_rs::Serializer<BufferedWriter<Tap<'o>>>,
    open: &'o Open,
}

impl Renderer<'_> {
    /// The lines so far.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether there is no line yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renders `event`'s line; gives where its `session` value went (`None`
    /// when its wire form has no such field).
    pub fn render_open(&mut self, event: &Event) -> io::Result<Option<Range<usize>>> {
        self.open.found.set(None);
        event
            .serialize(Top {
                inner: &mut self.serializer,
                open: self.open,
            })
            .map_err(io::Error::from)?;
        Ok(self.open.found.get().map(|(start, end)| start..end))
    }

    /// Renders `event`'s line, whose session number is its own.
    pub fn render(&mut self, event: &Event) -> io::Result<()> {
        sonic_rs::to_writer(&mut *self.open.out.borrow_mut(), event).map_err(io::Error::from)
    }

    /// Forgets the lines after the first `len` bytes (a line that could
    /// not be rendered whole).
    pub fn truncate(&mut self, len: usize) {
        self.open.out.borrow_mut().truncate(len);
    }
}

/// The lines, and where the last one's session value went.
struct Open {
    out: RefCell<Vec<u8>>,
    /// Start and end of the `session` value, once written.
    found: Cell<Option<(usize, usize)>>,
}

impl Open {
    fn len(&self) -> usize {
        self.out.borrow().len()
    }
}

/// Where sonic-rs's buffered writer hands the line on.
pub struct Tap<'o>(&'o RefCell<Vec<u8>>);

impl io::Write for Tap<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The serializer methods of a kind of value that is not the one expected.
macro_rules! refuse {
    ($error:expr; $($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Self::Error> {
            $error
        })*
    };
}

/// The event's own serializer: an event is one JSON object, whose entries
/// go to sonic-rs one by one, the `session` entry's value marked.
struct Top<'s, 'o, W> {
    inner: &'s mut sonic_rs::Serializer<W>,
    open: &'o Open,
}

/// An event's wire form that is not a map: never, by [`Event`]'s `Serialize`.
fn not_a_map() -> sonic_rs::Error {
    sonic_rs::Error::custom("an event serializes as a map")
}

impl<'s, 'o, W: WriteExt> Serializer for Top<'s, 'o, W> {
    type Ok = ();
    type Error = sonic_rs::Error;
    type SerializeSeq = Impossible<(), sonic_rs::Error>;
    type SerializeTuple = Impossible<(), sonic_rs::Error>;
    type SerializeTupleStruct = Impossible<(), sonic_rs::Error>;
    type SerializeTupleVariant = Impossible<(), sonic_rs::Error>;
    type SerializeMap = Entries<'o, <&'s mut sonic_rs::Serializer<W> as Serializer>::SerializeMap>;
    type SerializeStruct = Impossible<(), sonic_rs::Error>;
    type SerializeStructVariant = Impossible<(), sonic_rs::Error>;

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, sonic_rs::Error> {
        Ok(Entries {
            inner: self.inner.serialize_map(len)?,
            open: self.open,
        })
    }

    refuse! {
        Err(not_a_map());
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, sonic_rs::Error> {
        Err(not_a_map())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, sonic_rs::Error> {
        Err(not_a_map())
    }
}

/// The event's entries, handed to sonic-rs's map; the first `session`
/// entry's value is marked.
struct Entries<'o, M> {
    inner: M,
    open: &'o Open,
}

impl<M: SerializeMap<Ok = (), Error = sonic_rs::Error>> SerializeMap for Entries<'_, M> {
    type Ok = ();
    type Error = sonic_rs::Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), sonic_rs::Error> {
        self.inner.serialize_key(key)
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), sonic_rs::Error> {
        self.inner.serialize_value(value)
    }

    fn serialize_entry<K: ?Sized + Serialize, V: ?Sized + Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), sonic_rs::Error> {
        if self.open.found.get().is_none() && is_named(key, SESSION) {
            let open = self.open;
            self.inner.serialize_entry(key, &Marked { value, open })
        } else {
            self.inner.serialize_entry(key, value)
        }
    }

    fn end(self) -> Result<(), sonic_rs::Error> {
        self.inner.end()
    }
}

/// A value whose place in the line is noted as it is written.
struct Marked<'v, 'o, V: ?Sized> {
    value: &'v V,
    open: &'o Open,
}

impl<V: ?Sized + Serialize> Serialize for Marked<'_, '_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let start = self.open.len();
        let written = self.value.serialize(serializer)?;
        self.open.found.set(Some((start, self.open.len())));
        Ok(written)
    }
}

/// Whether a map key is the string `name`.
fn is_named<K: ?Sized + Serialize>(key: &K, name: &str) -> bool {
    key.serialize(KeyIs(name)).unwrap_or(false)
}

/// Compares a key with a name as serde hands it over (a key that is not a
/// string is not the name).
struct KeyIs<'n>(&'n str);

impl Serializer for KeyIs<'_> {
    type Ok = bool;
    type Error = std::fmt::Error;
    type SerializeSeq = Impossible<bool, std::fmt::Error>;
    type SerializeTuple = Impossible<bool, std::fmt::Error>;
    type SerializeTupleStruct = Impossible<bool, std::fmt::Error>;
    type SerializeTupleVariant = Impossible<bool, std::fmt::Error>;
    type SerializeMap = Impossible<bool, std::fmt::Error>;
    type SerializeStruct = Impossible<bool, std::fmt::Error>;
    type SerializeStructVariant = Impossible<bool, std::fmt::Error>;

    fn serialize_str(self, key: &str) -> Result<bool, std::fmt::Error> {
        Ok(key == self.0)
    }

    refuse! {
        Ok(false);
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<bool, std::fmt::Error> {
        Ok(false)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<bool, std::fmt::Error> {
        Ok(false)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, std::fmt::Error> {
        Ok(false)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, std::fmt::Error> {
        Err(std::fmt::Error)
    }
}

#[cfg(test)]
mod tests;
