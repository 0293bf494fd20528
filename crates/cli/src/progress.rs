//! The progress bar: drawn on stderr, by bytes of the capture file read.
//! Never writes to stdout.
//!
//! Takes the library's progress reports ([`xmppcap::pipeline::Progress`]);
//! gives an indicatif bar per capture (a spinner for stdin or pipes). The
//! caller installs it only when stderr is a terminal.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use xmppcap::pipeline::{CaptureProgress, Progress};
use xmppcap::report::terminal;

/// Draws one bar per capture on stderr.
#[derive(Debug, Default)]
pub(crate) struct StderrBar;

impl Progress for StderrBar {
    /// Starts a bar sized by the file's length (a spinner for stdin or pipes).
    fn start(&self, path: &Path) -> Box<dyn CaptureProgress> {
        let len = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        let template = if len.is_some() {
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{prefix} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(
            path.file_name()
                .map(|n| terminal::field(&n.to_string_lossy()).into_owned())
                .unwrap_or_default(),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(CaptureBar(bar))
    }
}

/// The bar of one capture.
struct CaptureBar(ProgressBar);

impl CaptureProgress for CaptureBar {
    fn update(&mut self, bytes_read: u64) {
        self.0.set_position(bytes_read);
    }

    fn finish(&mut self) {
        self.0.finish_and_clear();
    }
}
