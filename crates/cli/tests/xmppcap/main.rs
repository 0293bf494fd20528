//! The `xmppcap` binary's one integration test binary: the command line as a
//! user runs it, golden reports of the shipped fixtures, and the layer
//! commands against the full report. The binary runs with the workspace
//! root as its current directory, so fixture paths read `fixtures/...` as
//! in README. The library's own integration tests are in the root `tests/`.

use std::path::{Path, PathBuf};

mod agents;
mod cli;
mod depth;
mod fleet;
mod golden;
mod har;
mod html_browser;
mod jobs;
mod real;
mod schema;
mod table;
mod terminal;

/// The workspace root (two levels above this crate): where `fixtures/`,
/// `keys/` and `docs/` are.
pub fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| crate_dir.join("../.."), Path::to_path_buf)
}
