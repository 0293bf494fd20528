//! xmppcap's one integration test binary: the command line, golden reports
//! of the shipped fixtures, and conformance against the public corpus.

mod cli;
mod corpus;
mod corpus_app;
mod corpus_tcp;
mod corpus_tls;
mod depth;
mod fixtures_app;
mod fixtures_tcp;
mod golden;
mod summaries;
