//! A sink that keeps everything, for tests.

use super::{PubsubItem, Sink, Stanza, TlsHandover};
use crate::finding::{Finding, Findings};
use crate::position::{Dir, FrameRef, Timestamp};

/// One stanza, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    pub dir: Dir,
    pub first: u64,
    pub last: u64,
    pub name: String,
    pub kind: Option<String>,
    pub id: Option<String>,
    pub summary: String,
    pub raw: String,
}

/// Everything a session emitted, in order.
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub stanzas: Vec<Rec>,
    /// Pubsub item payloads: node, item id, payload name, payload text.
    pub items: Vec<(String, Option<String>, String, String)>,
    pub findings: Vec<Finding>,
    pub handovers: Vec<TlsHandover>,
    /// One line per event, in emission order.
    pub log: Vec<String>,
    /// Every event serialised as JSON, one per line (to look for secrets).
    pub json: String,
}

impl Findings for Collect {
    fn push_finding(&mut self, finding: Finding) {
        self.log
            .push(format!("finding {} {}", finding.code, finding.message));
        self.json
            .push_str(&serde_json::to_string(&finding).unwrap());
        self.json.push('\n');
        self.findings.push(finding);
    }
}

impl Sink for Collect {
    fn on_stanza(&mut self, s: &Stanza<'_>) {
        self.log.push(format!(
            "{} {} {}: {}",
            s.dir, s.first.frame, s.name, s.summary
        ));
        self.json.push_str(&serde_json::to_string(s).unwrap());
        self.json.push('\n');
        self.stanzas.push(Rec {
            dir: s.dir,
            first: s.first.frame,
            last: s.last.frame,
            name: s.name.to_owned(),
            kind: s.kind.as_deref().map(str::to_owned),
            id: s.id.as_deref().map(str::to_owned),
            summary: s.summary.clone(),
            raw: s.raw.clone().into_owned(),
        });
    }

    fn on_pubsub_items(&mut self, stanza: &Stanza<'_>, items: &[PubsubItem<'_>]) {
        for item in items {
            self.log.push(format!(
                "item after {}: {} {} <{}>",
                stanza.name,
                item.node,
                item.item_id.as_deref().unwrap_or("(no id)"),
                item.name
            ));
            self.json.push_str(&serde_json::to_string(item).unwrap());
            self.json.push('\n');
            self.items.push((
                item.node.clone().into_owned(),
                item.item_id.as_deref().map(str::to_owned),
                item.name.to_owned(),
                item.text.to_owned(),
            ));
        }
    }

    fn on_tls_handover(&mut self, h: &TlsHandover) {
        self.log.push(format!("tls {} at byte {}", h.dir, h.offset));
        self.handovers.push(*h);
    }
}

impl Collect {
    pub fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.code.code()).collect()
    }

    pub fn summaries(&self) -> Vec<(String, String)> {
        self.stanzas
            .iter()
            .map(|s| (s.name.clone(), s.summary.clone()))
            .collect()
    }
}

/// Frame `n`, `ms` milliseconds after a fixed start.
pub(crate) fn frame(n: u64, ms: i64) -> FrameRef {
    FrameRef::new(
        n,
        Timestamp::from_secs_nanos(1_772_446_500, (ms * 1_000_000) as u64),
    )
}
