//! The streaming walk over a HAR document: serde `DeserializeSeed`s for the
//! root, `log`, `log.entries`, one entry and `_webSocketMessages`, each
//! handing what it read to the sink before reading on.
//!
//! Takes a serde_json deserializer over a reader; gives entries, messages and
//! findings to a [`Sink`] as they are read. Holds one entry's small fields at
//! a time (as `serde_json::Value`s), never the document: a message is given
//! as soon as it is read. Never panics; a wrong field is a finding, only JSON
//! that cannot be read or a document that is not a HAR stops it.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::Value;

use super::convert::{clip, Converter, RawEntry};
use super::finding::Finding;
use super::message::{MessageSeed, Messages};
use super::model::{EntryKind, LogHeader};
use super::FindingCode;
use super::{HarLimits, NotHar, Sink};
use crate::finding::Throttle;
use crate::position::Timestamp;

/// Where the walk is, so that a JSON type error names what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Root,
    Log,
    Entries,
    InEntries,
}

/// Everything the walk carries between entries.
pub(crate) struct State<'s> {
    pub(crate) sink: &'s mut dyn Sink,
    pub(crate) limits: &'s HarLimits,
    pub(crate) stage: Stage,
    /// A structural reason set just before a visitor fails.
    pub(crate) not_har: Option<NotHar>,
    pub(crate) entries: usize,
    pub(crate) messages: usize,
    /// The latest start time so far, and its entry.
    latest: Option<(usize, Timestamp)>,
    /// The per-kind cap, `max_findings_per_kind`.
    throttle: Throttle<FindingCode>,
    /// The first size below -1 and how many there were: one finding per file.
    negative_sizes: Option<Finding>,
}

impl<'s> State<'s> {
    pub(crate) fn new(sink: &'s mut dyn Sink, limits: &'s HarLimits) -> Self {
        State {
            sink,
            limits,
            stage: Stage::Root,
            not_har: None,
            entries: 0,
            messages: 0,
            latest: None,
            throttle: Throttle::new(limits.max_findings_per_kind as u64),
            negative_sizes: None,
        }
    }

    /// Gives a finding unless its kind already reached `max_findings_per_kind`.
    pub(crate) fn note(&mut self, finding: Finding) {
        if let Finding::NegativeSizes { .. } = finding {
            match &mut self.negative_sizes {
                Some(Finding::NegativeSizes { count, .. }) => *count += 1,
                _ => self.negative_sizes = Some(finding),
            }
            return;
        }
        if self.throttle.admit(finding.code()) {
            self.sink.on_finding(finding);
        }
    }

    /// Reports the findings held back by the per-kind cap.
    pub(crate) fn finish(&mut self) {
        if let Some(finding) = self.negative_sizes.take() {
            self.sink.on_finding(finding);
        }
        let over: Vec<_> = self.throttle.overflowed().collect();
        for o in over {
            let count = usize::try_from(o.hidden()).unwrap_or(usize::MAX);
            self.sink
                .on_finding(Finding::Suppressed { code: o.key, count });
        }
    }

    fn fail<E: serde::de::Error>(&mut self, what: NotHar) -> E {
        self.not_har = Some(what);
        E::custom(what)
    }
}

/// The document root: an object with `log`.
pub(crate) struct Root<'a, 's>(pub(crate) &'a mut State<'s>);

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.stage = Stage::Root;
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR document (an object with `log`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_log = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" && !saw_log {
                saw_log = true;
                map.next_value_seed(Log(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !saw_log {
            return Err(self.0.fail(NotHar::NoLog));
        }
        Ok(())
    }
}

/// `log`: the header fields, then `entries` streamed.
struct Log<'a, 's>(&'a mut State<'s>);

impl<'de> DeserializeSeed<'de> for Log<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.stage = Stage::Log;
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`log` as an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let mut header = LogHeader::default();
        let mut saw_entries = false;
        let max = state.limits.max_field;
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(|s| clip(s.to_owned(), max))
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => header.version = text(Some(&map.next_value::<Value>()?)),
                "creator" => {
                    let creator = map.next_value::<Value>()?;
                    header.creator = text(creator.get("name"));
                    header.creator_version = text(creator.get("version"));
                }
                "pages" => header.pages = map.next_value::<Value>()?.as_array().map_or(0, Vec::len),
                "entries" if !saw_entries => {
                    saw_entries = true;
                    state.sink.on_log(&header);
                    map.next_value_seed(Entries(&mut *state))?;
                    state.stage = Stage::Log;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_entries {
            return Err(state.fail(NotHar::NoEntries));
        }
        Ok(())
    }
}

/// `log.entries`: one entry at a time.
struct Entries<'a, 's>(&'a mut State<'s>);

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.stage = Stage::Entries;
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`log.entries` as an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        state.stage = Stage::InEntries;
        let mut index = 0usize;
        while seq
            .next_element_seed(EntrySeed {
                state: &mut *state,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        if index == 0 {
            state.note(Finding::NoEntries);
        }
        Ok(())
    }
}

/// One element of `log.entries`.
struct EntrySeed<'a, 's> {
    state: &'a mut State<'s>,
    index: usize,
}

/// What the walk knows of an entry once it was given, for its messages.
pub(crate) struct Given {
    pub(crate) index: usize,
    pub(crate) kind: EntryKind,
    pub(crate) ended: Option<Timestamp>,
    pub(crate) never_sent: bool,
    pub(crate) status: Option<u16>,
    url: String,
}

impl EntrySeed<'_, '_> {
    fn not_object(self) {
        self.state
            .note(Finding::EntryNotObject { entry: self.index });
    }

    /// Converts the entry and gives it, then its findings (and whether it
    /// started before an earlier entry).
    fn give(&mut self, raw: RawEntry) -> Given {
        let state = &mut *self.state;
        let limits = state.limits;
        let mut notes = Vec::new();
        let entry = Converter {
            index: self.index,
            limits,
            note: &mut |f| notes.push(f),
        }
        .entry(raw);
        if let Some(started) = entry.started {
            match state.latest {
                Some((previous_entry, previous_started)) if started < previous_started => {
                    notes.push(Finding::OutOfOrder {
                        entry: self.index,
                        started,
                        previous_entry,
                        previous_started,
                    });
                }
                _ => state.latest = Some((self.index, started)),
            }
        }
        let given = Given {
            index: self.index,
            kind: entry.kind,
            ended: entry.ended(),
            never_sent: entry.kind == EntryKind::WebSocket
                && entry.request.method.is_empty()
                && entry.started.is_none(),
            status: entry.response.status,
            url: entry.request.url.clone(),
        };
        state.entries += 1;
        state.sink.on_entry(entry);
        for finding in notes {
            state.note(finding);
        }
        given
    }
}

/// The entry fields kept, by JSON key.
fn slot<'r>(raw: &'r mut RawEntry, key: &str) -> Option<(&'static str, &'r mut Option<Value>)> {
    Some(match key {
        "request" => ("request", &mut raw.request),
        "response" => ("response", &mut raw.response),
        "startedDateTime" => ("startedDateTime", &mut raw.started),
        "time" => ("time", &mut raw.time),
        "timings" => ("timings", &mut raw.timings),
        "serverIPAddress" => ("serverIPAddress", &mut raw.server_ip),
        "connection" => ("connection", &mut raw.connection),
        "_resourceType" => ("_resourceType", &mut raw.resource_type),
        "_initiator" => ("_initiator", &mut raw.initiator),
        _ => return None,
    })
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Visitor methods for JSON scalars that call `$then` (the wrong-type path).
macro_rules! scalars_call {
    ($then:ident) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(self.$then())
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(self.$then())
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(self.$then())
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(self.$then())
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(self.$then())
        }
    };
}
pub(crate) use scalars_call;

impl<'de> Visitor<'de> for EntrySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry")
    }
    scalars_call!(not_object);
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_object();
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut raw = RawEntry::default();
        let mut given: Option<Given> = None;
        let mut messages = Messages::new(self.index);
        while let Some(key) = map.next_key::<String>()? {
            if key == "_webSocketMessages" {
                if given.is_none() && raw.head_complete() {
                    given = Some(self.give(std::mem::take(&mut raw)));
                }
                let seed = MessageList {
                    state: &mut *self.state,
                    given: given.as_ref(),
                    messages: &mut messages,
                };
                map.next_value_seed(seed)?;
                continue;
            }
            let Some((field, slot)) = slot(&mut raw, &key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = map.next_value::<Value>()?;
            if given.is_some() {
                self.state.note(Finding::LateField {
                    entry: self.index,
                    field,
                });
            } else {
                *slot = Some(value);
            }
        }
        let given = match given {
            Some(given) => given,
            None => {
                let given = self.give(raw);
                messages.release(&mut *self.state, &given);
                given
            }
        };
        messages.finish(&mut *self.state, &given, given.url.clone());
        Ok(())
    }
}

/// `_webSocketMessages`: each message given (or held) as it is read.
struct MessageList<'a, 's, 'g> {
    state: &'a mut State<'s>,
    given: Option<&'g Given>,
    messages: &'a mut Messages,
}

impl<'de> DeserializeSeed<'de> for MessageList<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl MessageList<'_, '_, '_> {
    fn not_array(self) {
        let entry = self.messages.entry();
        self.state.note(Finding::MalformedField {
            entry,
            message: None,
            field: "_webSocketMessages",
            expected: "an array",
        });
    }
}

impl<'de> Visitor<'de> for MessageList<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`_webSocketMessages` as an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let cap = self.state.limits.max_ws_message;
        while let Some(raw) = seq.next_element_seed(MessageSeed::for_cap(cap))? {
            self.messages.on_raw(&mut *self.state, self.given, raw);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.not_array();
        Ok(())
    }
    scalars_call!(not_array);
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}
