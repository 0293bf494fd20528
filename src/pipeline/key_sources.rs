//! The key sources as the report names them: one entry each up to
//! `Limits::max_key_sources`, then one entry for all later ones.
//!
//! Takes each key source (a `--keylog` file, `SSLKEYLOGFILE`, a pcapng
//! Decryption Secrets Block) with the secrets it gave; gives the report's
//! list. Never holds more than the cap plus one entry, and never formats the
//! name of a source it will not show: millions of DSBs must cost neither
//! millions of entries nor a `keys:` line of hundreds of megabytes.

use crate::report::model::KeySourceReport;

pub(crate) struct KeySources {
    list: Vec<KeySourceReport>,
    cap: usize,
}

impl KeySources {
    pub(crate) fn new(cap: usize) -> KeySources {
        KeySources {
            list: Vec::new(),
            cap,
        }
    }

    /// One more source; `source` gives its name, asked for only when it will be shown.
    pub(crate) fn note(&mut self, source: impl FnOnce() -> String, secrets: usize) {
        if self.list.len() < self.cap {
            self.list.push(KeySourceReport {
                source: source(),
                secrets,
                merged: 0,
            });
        } else if let Some(rest) = self.list.get_mut(self.cap) {
            rest.secrets = rest.secrets.saturating_add(secrets);
            rest.merged += 1;
        } else {
            // Named in `into_list`, once all are counted.
            self.list.push(KeySourceReport {
                source: String::new(),
                secrets,
                merged: 1,
            });
        }
    }

    /// The list for the report, the merged entry named with its count.
    pub(crate) fn into_list(mut self) -> Vec<KeySourceReport> {
        let cap = self.cap;
        if let Some(rest) = self.list.get_mut(cap) {
            rest.source = format!("{} key sources after the first {cap}", rest.merged);
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_past_the_cap_share_one_named_entry() {
        let mut sources = KeySources::new(2);
        for i in 0..5 {
            sources.note(|| format!("dsb {i}"), i);
        }
        let list = sources.into_list();
        let names: Vec<&str> = list.iter().map(|k| k.source.as_str()).collect();
        assert_eq!(names, ["dsb 0", "dsb 1", "3 key sources after the first 2"]);
        assert_eq!(list[2].secrets, 2 + 3 + 4);
        assert_eq!(list[2].merged, 3);
    }

    #[test]
    fn names_past_the_cap_are_never_formatted() {
        let mut sources = KeySources::new(1);
        sources.note(|| "kept".to_owned(), 0);
        sources.note(|| unreachable!("not shown, so not named"), 0);
        assert_eq!(sources.into_list().len(), 2);
    }
}
