//! The library's one integration test binary: conformance against the
//! public corpus, the committed fixtures against the generator's truth
//! (`xmppcap-fixturegen`), and the summaries. The tests that run the
//! `xmppcap` binary are in `crates/cli/tests/`.

mod conn_story;
mod corpus;
mod corpus_app;
mod corpus_tcp;
mod corpus_tls;
mod fixtures_app;
mod fixtures_tcp;
mod fixtures_xmpp;
mod fuzz_smoke;
mod limits;
mod partial;
mod summaries;
