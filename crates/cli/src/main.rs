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

// Owned events and parsed trees make a few million small allocations per
// 10 MB of capture; mimalloc serves them in a fraction of glibc's
// instructions and returns freed pages sooner (BENCHMARKS.md, issue 14:
// -5.9 % instructions, peak RSS 150 -> 101 MB on 10,000 sessions).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
