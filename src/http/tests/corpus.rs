//! Corpus smoke.
