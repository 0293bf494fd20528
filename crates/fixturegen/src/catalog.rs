//! The list of committed fixtures: for each, its file name, what it holds,
//! the function that regenerates it, and (through that function) the truth
//! tests compare an analyzer against.
//!
//! Takes nothing; gives [`FixtureSpec`]s and, when built, [`Fixture`]s.
//! [`write_all`] is the only function here that touches the file system.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::frame::{Endian, Frame, FrameSink, LINKTYPE_ETHERNET};
use super::pcap::{PcapFormat, PcapWriter};
use super::pcapng::{Interface, PcapNgWriter};
use super::truth::StreamTruth;
use super::{
    fixtures_conn, fixtures_desktop, fixtures_finesse, fixtures_real, fixtures_tcp, fixtures_tls,
    fixtures_tls12, fixtures_ws, Error,
};

/// One committed fixture.
#[derive(Clone, Copy)]
pub struct FixtureSpec {
    /// File name under `fixtures/` (its extension says the format).
    pub name: &'static str,
    /// One line: what it holds and what it tests.
    pub about: &'static str,
    /// Regenerates it (bytes, key log, truth).
    pub build: fn() -> Result<Fixture, Error>,
}

impl std::fmt::Debug for FixtureSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureSpec")
            .field("name", &self.name)
            .finish()
    }
}

impl FixtureSpec {
    /// The key log file name under `keys/` for a TLS fixture:
    /// the fixture name up to its first dot, plus `.keys`.
    pub fn keys_name(&self) -> String {
        let stem = self.name.split('.').next().unwrap_or(self.name);
        format!("{stem}.keys")
    }
}

/// A built fixture.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The NSS key log of its TLS sessions (written to `keys/`), if any.
    pub keylog: Option<String>,
    /// What a correct analyzer finds, per TCP stream.
    pub streams: Vec<StreamTruth>,
    /// Number of frames a reader gets (a cut last record not counted).
    pub frames: u64,
}

/// Every committed fixture.
pub fn catalog() -> Vec<FixtureSpec> {
    let mut all = Vec::new();
    all.extend_from_slice(fixtures_tcp::SPECS);
    all.extend_from_slice(fixtures_tls::SPECS);
    all.extend_from_slice(fixtures_ws::SPECS);
    all.extend_from_slice(fixtures_finesse::SPECS);
    all.extend_from_slice(fixtures_real::SPECS);
    all.extend_from_slice(fixtures_tls12::SPECS);
    all.extend_from_slice(fixtures_desktop::SPECS);
    all.extend_from_slice(fixtures_conn::SPECS);
    all
}

/// The fixture of that file name.
pub fn find(name: &str) -> Option<FixtureSpec> {
    catalog().into_iter().find(|s| s.name == name)
}

/// Builds every fixture (or only those whose name contains `filter`) and
/// writes it under `fixtures_dir`, key logs under `keys_dir`. Returns the
/// names written.
pub fn write_all(
    fixtures_dir: &Path,
    keys_dir: &Path,
    filter: Option<&str>,
) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for spec in catalog() {
        if filter.is_some_and(|f| !spec.name.contains(f)) {
            continue;
        }
        let fixture = (spec.build)()?;
        std::fs::write(fixtures_dir.join(spec.name), &fixture.bytes)?;
        if let Some(keylog) = &fixture.keylog {
            std::fs::write(keys_dir.join(spec.keys_name()), keylog)?;
        }
        written.push(spec.name.to_string());
    }
    Ok(written)
}

/// A little-endian microsecond pcap of `frames` on one link type.
pub(crate) fn pcap_bytes(frames: &[Frame], format: PcapFormat) -> Result<Vec<u8>, Error> {
    let mut w = PcapWriter::new(Vec::new(), format)?;
    for f in frames {
        w.write_frame(f)?;
    }
    Ok(w.into_inner()?)
}

/// A single-section little-endian pcapng with one Ethernet interface,
/// and a Decryption Secrets Block first when `secrets` is given.
pub(crate) fn pcapng_bytes(frames: &[Frame], secrets: Option<&str>) -> Result<Vec<u8>, Error> {
    let mut w = PcapNgWriter::new(Vec::new(), Endian::Little)?;
    w.interface(Interface::new(LINKTYPE_ETHERNET))?;
    if let Some(keylog) = secrets {
        w.tls_secrets(keylog.as_bytes())?;
    }
    for f in frames {
        w.write_frame(f)?;
    }
    Ok(w.into_inner()?)
}

/// Gzips a whole file.
pub(crate) fn gzip(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readback;
    use std::io::Read;

    /// A path in the repository: `fixtures/` and `keys/` are at the
    /// workspace root, two levels above this crate.
    fn repo(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Every fixture builds, reads back with pcap-parser with the frame count
    /// its truth claims, and its first frames match the truth's stream starts.
    #[test]
    fn every_fixture_reads_back() {
        for spec in catalog() {
            let f = (spec.build)().unwrap();
            let bytes = if spec.name.ends_with(".gz") {
                gunzip(&f.bytes)
            } else {
                f.bytes.clone()
            };
            let back = readback::read(&bytes);
            assert_eq!(back.frames.len() as u64, f.frames, "{}", spec.name);
            assert_eq!(back.cut, spec.name.contains("truncated"), "{}", spec.name);
            assert!(!f.streams.is_empty(), "{}", spec.name);
            for (i, s) in f.streams.iter().enumerate() {
                assert_eq!(s.index as usize, i);
                assert!(s.first_frame >= 1 && s.first_frame <= f.frames);
            }
            assert!(back.frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns
                || w[1].ts_ns == 0
                || spec.name.contains("glitch")));
        }
    }

    /// For fixtures without impairments, concatenating each direction's TCP
    /// payloads in frame order (parsed back with etherparse) gives exactly
    /// the truth's bytes: the truth describes the file, not the model.
    #[test]
    fn clean_fixtures_reassemble_to_their_truth() {
        use etherparse::{SlicedPacket, TransportSlice};
        use std::collections::BTreeMap;
        let clean = |n: &str| {
            !(n.contains("loss")
                || n.contains("midstream")
                || n.contains("reorder")
                || n.contains("snaplen")
                || n.contains("fragments")
                || n.contains("truncated")
                || n.contains("zwp")
                || n.contains("port-reuse")
                || n.contains("sll2")
                || n.contains("two-sections")
                || n.contains("tunnels")
                || n.ends_with(".gz"))
        };
        for spec in catalog().into_iter().filter(|s| clean(s.name)) {
            let f = (spec.build)().unwrap();
            let mut dirs: BTreeMap<(std::net::SocketAddr, u16), Vec<u8>> = BTreeMap::new();
            for frame in readback::read(&f.bytes).frames {
                let p = SlicedPacket::from_ethernet(&frame.data).unwrap();
                let (Some(net), Some(TransportSlice::Tcp(t))) = (p.net, p.transport) else {
                    continue;
                };
                let src = match net {
                    etherparse::NetSlice::Ipv4(v4) => v4.header().source_addr().into(),
                    etherparse::NetSlice::Ipv6(v6) => v6.header().source_addr().into(),
                    _ => continue,
                };
                let key = (
                    std::net::SocketAddr::new(src, t.source_port()),
                    t.destination_port(),
                );
                dirs.entry(key).or_default().extend_from_slice(t.payload());
            }
            for s in &f.streams {
                let c2s = dirs
                    .get(&(s.client, s.server.port()))
                    .cloned()
                    .unwrap_or_default();
                let s2c = dirs
                    .get(&(s.server, s.client.port()))
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    c2s == s.tcp[0].bytes,
                    "{} stream {} c2s",
                    spec.name,
                    s.index
                );
                assert!(
                    s2c == s.tcp[1].bytes,
                    "{} stream {} s2c",
                    spec.name,
                    s.index
                );
            }
        }
    }

    /// Each committed fixture is listed in fixtures/README.md, and each file
    /// in fixtures/ (but README.md and expected goldens) is in the catalog.
    #[test]
    fn committed_fixtures_match_the_catalog() {
        let readme = std::fs::read_to_string(repo("fixtures/README.md")).unwrap();
        let names: Vec<&str> = catalog().iter().map(|s| s.name).collect();
        for name in &names {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} not in README"
            );
            assert!(repo("fixtures").join(name).exists(), "{name} not committed");
        }
        for entry in std::fs::read_dir(repo("fixtures")).unwrap() {
            let entry = entry.unwrap();
            let file = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_file() && file != "README.md" {
                assert!(names.contains(&file.as_str()), "{file} not in the catalog");
            }
        }
    }

    /// The generator is deterministic: a rebuild gives the committed bytes.
    #[test]
    fn rebuilds_equal_committed_files() {
        for spec in catalog() {
            let f = (spec.build)().unwrap();
            let committed = std::fs::read(repo("fixtures").join(spec.name)).unwrap();
            assert!(committed == f.bytes, "{} differs from a rebuild", spec.name);
            if let Some(keylog) = &f.keylog {
                let keys = std::fs::read_to_string(repo("keys").join(spec.keys_name())).unwrap();
                assert_eq!(&keys, keylog, "{}", spec.keys_name());
            }
        }
    }

    #[test]
    fn names_are_unique_and_keys_names_derive() {
        let specs = catalog();
        let mut names: Vec<_> = specs.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), specs.len());
        let spec = FixtureSpec {
            name: "tls13-aes128.pcapng",
            about: "",
            build: || Err(Error::UnknownFixture(String::new())),
        };
        assert_eq!(spec.keys_name(), "tls13-aes128.keys");
    }
}
