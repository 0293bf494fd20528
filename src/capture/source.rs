//! Opening a capture: a file or stdin, gzip or not, and recognising its
//! format from its first bytes (never from its name).
//!
//! Takes a path or a reader; gives a byte source positioned at the start of
//! the (decompressed) capture, the format it starts with, and shared
//! counters for progress and read errors. Never reads more than a few bytes
//! ahead to decide, and never guesses a format from a file name.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{ByteOrder, CaptureError, Format, Precision};

/// How many leading bytes are looked at to recognise a format or describe a non-capture.
const SNIFF_LEN: usize = 64;

/// The container format a byte stream starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    /// libpcap; `modified` is Kuznetzov's patched format (24-byte record headers).
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
    },
    PcapNg,
    Gzip,
}

/// Recognises a capture or gzip stream by its magic number.
pub(crate) fn parse_magic(prefix: &[u8]) -> Option<Magic> {
    let pcap = |big_endian, nanos, modified| {
        Some(Magic::Pcap {
            big_endian,
            nanos,
            modified,
        })
    };
    match prefix.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] => pcap(false, false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => pcap(true, false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => pcap(false, true, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => pcap(true, true, false),
        // pcap-parser reads the modified format in little-endian only.
        [0x34, 0xcd, 0xb2, 0xa1] => pcap(false, false, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(Magic::PcapNg),
        [0x1f, 0x8b, _, _] => Some(Magic::Gzip),
        _ => None,
    }
}

/// Hex of the first (up to) 8 bytes, for error messages: `"50 4b 03 04 14 00 00 00"`.
pub(crate) fn hex_prefix(prefix: &[u8]) -> String {
    let shown = prefix.get(..8).unwrap_or(prefix);
    let parts: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

/// A human guess at what a non-capture file is, from its first bytes.
pub(crate) fn describe_non_capture(prefix: &[u8]) -> &'static str {
    const KEY_LOG_LABELS: [&[u8]; 10] = [
        b"CLIENT_RANDOM ",
        b"CLIENT_EARLY_TRAFFIC_SECRET ",
        b"CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET ",
        b"CLIENT_TRAFFIC_SECRET_0 ",
        b"SERVER_TRAFFIC_SECRET_0 ",
        b"EARLY_EXPORTER_SECRET ",
        b"EXPORTER_SECRET ",
        b"RSA ",
        b"# SSL/TLS secrets log",
    ];
    const SIGNATURES: [(&[u8], &str); 10] = [
        (b"PK\x03\x04", "zip archive"),
        (b"BZh", "bzip2 archive"),
        (b"\xfd7zXZ\x00", "xz archive"),
        (b"\x28\xb5\x2f\xfd", "zstd archive"),
        (b"7z\xbc\xaf\x27\x1c", "7-zip archive"),
        (b"\x7fELF", "ELF executable"),
        (b"%PDF", "PDF document"),
        (b"-----BEGIN", "looks like a PEM key or certificate"),
        (
            b"snoop\0\0\0",
            "snoop capture (not supported; convert with editcap)",
        ),
        (
            b"GMBU",
            "Network Monitor capture (not supported; convert with editcap)",
        ),
    ];
    if prefix.is_empty() {
        return "empty file";
    }
    let first_line = prefix.split(|&b| b == b'\n').next().unwrap_or(prefix);
    let is_key_log = KEY_LOG_LABELS.iter().any(|label| {
        let n = label.len().min(first_line.len());
        n >= 4 && first_line.get(..n) == label.get(..n)
    });
    if is_key_log {
        return "looks like a TLS key log";
    }
    if let Some((_, what)) = SIGNATURES.iter().find(|(sig, _)| prefix.starts_with(sig)) {
        return what;
    }
    let text = prefix
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b >= 0x80);
    if text {
        "looks like text"
    } else {
        "unknown binary data"
    }
}

/// Counters shared between the byte source (owned by pcap-parser's reader) and the capture reader.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Bytes read from the underlying file (compressed bytes for gzip).
    raw_bytes: AtomicU64,
    /// The first read error; reading stops there.
    error: Mutex<Option<io::Error>>,
}

impl Progress {
    pub(crate) fn raw_bytes(&self) -> u64 {
        self.raw_bytes.load(Ordering::Relaxed)
    }

    /// The read error that ended the input, if any.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    fn set_error(&self, error: io::Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
    }
}

/// Counts the bytes read from the file, below any decompression.
struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress
            .raw_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fills the whole buffer on every read (until end of input), and turns a read
/// error into end of input, remembering it for the capture reader.
///
/// pcap-parser's readers issue one `read` per refill and treat a short first
/// read as an incomplete header, so short reads from pipes and decompressors
/// must not reach them; and they drop the `io::Error`, so it is kept here.
pub(crate) struct Filling {
    inner: Box<dyn Read + Send>,
    progress: Arc<Progress>,
    done: bool,
}

impl Read for Filling {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while !self.done && filled < buf.len() {
            let Some(space) = buf.get_mut(filled..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => self.done = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    self.progress.set_error(e);
                }
            }
        }
        Ok(filled)
    }
}

/// An opened capture: its display name, detected format and byte source.
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) format: Format,
    pub(crate) gzip: bool,
    /// pcapng: total length of the first Section Header Block, which pcap-parser
    /// must find whole in its first read.
    pub(crate) first_block_len: Option<usize>,
    pub(crate) source: Filling,
    pub(crate) progress: Arc<Progress>,
}

/// Opens a path ("-" is stdin) and recognises its format.
pub(crate) fn open_path(path: &Path) -> Result<Opened, CaptureError> {
    if path == Path::new("-") {
        return open_reader(Box::new(io::stdin()), "stdin");
    }
    let file = File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    open_reader(Box::new(file), &path.display().to_string())
}

/// Recognises the format of a byte stream, decompressing gzip first.
pub(crate) fn open_reader(
    reader: Box<dyn Read + Send>,
    name: &str,
) -> Result<Opened, CaptureError> {
    let progress = Arc::new(Progress::default());
    let counted: Box<dyn Read + Send> = Box::new(Counting {
        inner: reader,
        progress: Arc::clone(&progress),
    });
    let read_err = |source| CaptureError::Read {
        name: name.to_string(),
        source,
    };
    let (prefix, rest) = sniff(counted).map_err(read_err)?;
    let (format, prefix, rest, gzip) = match parse_magic(&prefix).and_then(capture_format) {
        Some(format) => (format, prefix, rest, false),
        None if parse_magic(&prefix) == Some(Magic::Gzip) => {
            let joined: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(rest));
            let gunzip: Box<dyn Read + Send> = Box::new(flate2::read::MultiGzDecoder::new(joined));
            let (inner, rest) = sniff(gunzip).map_err(|source| CaptureError::Gzip {
                name: name.to_string(),
                source,
            })?;
            match parse_magic(&inner).and_then(capture_format) {
                Some(format) => (format, inner, rest, true),
                None => return Err(not_capture(name, &inner, "gzip-compressed; inside: ")),
            }
        }
        None => return Err(not_capture(name, &prefix, "")),
    };
    let first_block_len = match format {
        Format::Pcapng => first_section_len(&prefix),
        Format::Pcap { .. } | Format::Har => None,
    };
    let source = Filling {
        inner: Box::new(Cursor::new(prefix).chain(rest)),
        progress: Arc::clone(&progress),
        done: false,
    };
    Ok(Opened {
        name: name.to_string(),
        format,
        gzip,
        first_block_len,
        source,
        progress,
    })
}

/// Total length of a pcapng Section Header Block, read in the byte order its magic gives.
fn first_section_len(prefix: &[u8]) -> Option<usize> {
    let bom: [u8; 4] = prefix.get(8..12)?.try_into().ok()?;
    let len: [u8; 4] = prefix.get(4..8)?.try_into().ok()?;
    let len = match bom {
        [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len),
        [0x1a, 0x2b, 0x3c, 0x4d] => u32::from_be_bytes(len),
        _ => return None,
    };
    usize::try_from(len).ok()
}

/// The capture format a magic number announces (`None` for gzip).
fn capture_format(magic: Magic) -> Option<Format> {
    match magic {
        Magic::Pcap {
            big_endian,
            nanos,
            modified,
        } => Some(Format::Pcap {
            precision: if nanos {
                Precision::Nanoseconds
            } else {
                Precision::Microseconds
            },
            byte_order: if big_endian {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            },
            modified,
        }),
        Magic::PcapNg => Some(Format::Pcapng),
        Magic::Gzip => None,
    }
}

fn not_capture(name: &str, prefix: &[u8], context: &str) -> CaptureError {
    CaptureError::NotCapture {
        name: name.to_string(),
        first_bytes: hex_prefix(prefix),
        guess: format!("{context}{}", describe_non_capture(prefix)),
    }
}

type Sniffed = (Vec<u8>, Box<dyn Read + Send>);

/// Reads up to [`SNIFF_LEN`] bytes (fewer only at end of input) and hands back the rest.
fn sniff(mut reader: Box<dyn Read + Send>) -> io::Result<Sniffed> {
    let mut prefix = vec![0u8; SNIFF_LEN];
    let mut filled = 0;
    while let Some(space) = prefix.get_mut(filled..).filter(|s| !s.is_empty()) {
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    prefix.truncate(filled);
    Ok((prefix, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(bytes: &[u8]) -> Result<Opened, CaptureError> {
        open_reader(Box::new(Cursor::new(bytes.to_vec())), "test")
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn magic_numbers_give_format_and_byte_order() {
        let cases: [(&[u8], Magic); 7] = [
            (
                &[0xd4, 0xc3, 0xb2, 0xa1],
                Magic::Pcap {
                    big_endian: false,
                    nanos: false,
                    modified: false,
                },
            ),
            (
                &[0xa1, 0xb2, 0xc3, 0xd4],
                Magic::Pcap {
                    big_endian: true,
                    nanos: false,
                    modified: false,
                },
            ),
            (
                &[0x4d, 0x3c, 0xb2, 0xa1],
                Magic::Pcap {
                    big_endian: false,
                    nanos: true,
                    modified: false,
                },
            ),
            (
                &[0xa1, 0xb2, 0x3c, 0x4d],
                Magic::Pcap {
                    big_endian: true,
                    nanos: true,
                    modified: false,
                },
            ),
            (
                &[0x34, 0xcd, 0xb2, 0xa1],
                Magic::Pcap {
                    big_endian: false,
                    nanos: false,
                    modified: true,
                },
            ),
            (&[0x0a, 0x0d, 0x0d, 0x0a], Magic::PcapNg),
            (&[0x1f, 0x8b, 0x08, 0x00], Magic::Gzip),
        ];
        for (bytes, magic) in cases {
            assert_eq!(parse_magic(bytes), Some(magic), "{bytes:02x?}");
        }
        assert_eq!(parse_magic(&[0xd4, 0xc3, 0xb2]), None);
        assert_eq!(parse_magic(b"GET / HTTP/1.1"), None);
    }

    #[test]
    fn guesses_what_a_non_capture_is() {
        assert_eq!(describe_non_capture(b""), "empty file");
        assert_eq!(describe_non_capture(b"PK\x03\x04\x14\0"), "zip archive");
        assert_eq!(
            describe_non_capture(b"CLIENT_RANDOM 0123abcd 4567"),
            "looks like a TLS key log"
        );
        assert_eq!(
            describe_non_capture(b"SERVER_HANDSHAKE_TRAFFIC_SECRET ab"),
            "looks like a TLS key log"
        );
        assert_eq!(describe_non_capture(b"hello world\n"), "looks like text");
        assert_eq!(
            describe_non_capture(&[0, 1, 2, 3, 0xff]),
            "unknown binary data"
        );
    }

    #[test]
    fn not_a_capture_names_file_bytes_and_guess() {
        let Err(err) = opened(b"CLIENT_RANDOM aa bb\n") else {
            panic!("key log accepted as capture");
        };
        assert_eq!(
            err.to_string(),
            "test is not a pcap or pcapng capture (first bytes: 43 4c 49 45 4e 54 5f 52; looks like a TLS key log)"
        );
        let Err(err) = opened(b"") else { panic!() };
        assert!(
            err.to_string().contains("(first bytes: ; empty file)"),
            "{err}"
        );
        let Err(err) = opened(&gzip(b"just text")) else {
            panic!()
        };
        assert!(
            err.to_string()
                .contains("gzip-compressed; inside: looks like text"),
            "{err}"
        );
    }

    #[test]
    fn gzip_is_detected_then_format_inside() {
        let pcapng = [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        let Ok(opened) = opened(&gzip(&pcapng)) else {
            panic!()
        };
        assert_eq!((opened.format, opened.gzip), (Format::Pcapng, true));
        let mut all = Vec::new();
        let mut source = opened.source;
        source.read_to_end(&mut all).unwrap();
        assert_eq!(all, pcapng);
    }

    #[test]
    fn missing_file_is_an_open_error_naming_the_path() {
        let Err(err) = open_path(Path::new("/nonexistent/dir/x.pcap")) else {
            panic!()
        };
        let text = err.to_string();
        assert!(
            text.starts_with("cannot open capture file /nonexistent/dir/x.pcap: "),
            "{text}"
        );
    }

    #[test]
    fn read_errors_end_input_and_are_kept() {
        struct Failing(u8);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                buf[0] = 0xd4;
                Ok(1)
            }
        }
        let progress = Arc::new(Progress::default());
        let mut filling = Filling {
            inner: Box::new(Failing(3)),
            progress: Arc::clone(&progress),
            done: false,
        };
        let mut buf = [0u8; 8];
        assert_eq!(filling.read(&mut buf).unwrap(), 3);
        assert_eq!(filling.read(&mut buf).unwrap(), 0);
        assert_eq!(progress.take_error().unwrap().to_string(), "disk on fire");
    }
}
