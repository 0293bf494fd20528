//! The `xmppcap` binary: parses the command line, runs the library and
//! renders what it found.
//!
//! Takes `std::env::args`; gives the report on stdout (or `-o FILE`), errors
//! and the progress bar on stderr, and an exit code (0 clean, 1 a finding at
//! or above `--fail-on`, 2 error). Everything it prints comes from the
//! `xmppcap` library's models; the binary derives no fact of its own.

#![forbid(unsafe_code)]

mod cli;
mod progress;
mod render;

// Owned events and parsed trees make about 40 small allocations per
// WebSocket message; mimalloc serves them in a fraction of glibc's
// instructions (BENCHMARKS.md, issue 14: -5.9 % for `report`). Its v2 keeps
// less resident than v3 on every command measured there. Built without
// transparent huge pages (`no_thp`): with them a half-used 2 MiB page
// counts whole in the peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
