//! How the terminal renderers lay text out: the width to wrap at (none when
//! the output is not a terminal), colour, the clock, and whether stanzas
//! show their XML.
//!
//! Takes the command line's choices; gives comfy-table tables set up for
//! them, their lines without trailing spaces, and colour around text.
//! Never colours or writes captured bytes itself: callers escape captured
//! text with [`xmppcap::report::terminal`] first, and colour codes are put
//! only around text already escaped.

use std::io::{self, Write};

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};
use xmppcap::finding::Level;
use xmppcap::position::Dir;
use xmppcap::report::text::Clock;

/// The renderers' layout choices. The default is what a pipe gets: one line
/// per row, no colour, UTC with milliseconds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Style {
    /// Columns to wrap at; `None`: never wrap (a pipe, a file).
    pub width: Option<u16>,
    /// ANSI colour for levels, directions and finding codes.
    pub color: bool,
    pub clock: Clock,
    /// Show each stanza's XML (`--raw`; redacted unless `--show-secrets`).
    pub raw: bool,
    /// The filter applied, in words, for the header; empty when none.
    pub filter: String,
}

/// What a piece of text is, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ink {
    Level(Level),
    Dir(Dir),
    Code,
}

impl Ink {
    /// The SGR parameters (ECMA-48 §8.3.117): red, yellow, dim, cyan, magenta, blue.
    fn sgr(self) -> &'static str {
        match self {
            Ink::Level(Level::Error) => "31",
            Ink::Level(Level::Warn) => "33",
            Ink::Level(Level::Info) => "2",
            Ink::Dir(Dir::ClientToServer) => "36",
            Ink::Dir(Dir::ServerToClient) => "35",
            Ink::Code => "34",
        }
    }

    fn cell(self, cell: Cell) -> Cell {
        match self {
            Ink::Level(Level::Error) => cell.fg(Color::Red),
            Ink::Level(Level::Warn) => cell.fg(Color::Yellow),
            Ink::Level(Level::Info) => cell.add_attribute(Attribute::Dim),
            Ink::Dir(Dir::ClientToServer) => cell.fg(Color::Cyan),
            Ink::Dir(Dir::ServerToClient) => cell.fg(Color::Magenta),
            Ink::Code => cell.fg(Color::Blue),
        }
    }
}

impl Style {
    /// A borderless table with `header`, wrapping at the style's width or not at all.
    pub fn table(&self, header: Vec<String>) -> Table {
        let mut table = Table::new();
        table.load_style(presets::NOTHING).set_header(header);
        match self.width {
            Some(width) => table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width),
            None => table.set_content_arrangement(ContentArrangement::Disabled),
        };
        // Styling follows `--color`, never comfy-table's own look at stdout.
        table.force_no_tty().style_text_only();
        if self.color {
            table.enforce_styling();
        }
        table
    }

    /// Writes `table` line by line without the padding after the last column.
    pub fn write_table(&self, table: &Table, out: &mut dyn Write) -> io::Result<()> {
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Writes `head` then `text` (both already escaped) as one line, or,
    /// when the style wraps, as lines of at most the width where words
    /// allow, the later ones indented by `indent` spaces. `head_width` is
    /// what `head` takes on screen (its colour codes take nothing).
    pub fn write_wrapped(
        &self,
        out: &mut dyn Write,
        head: &str,
        head_width: usize,
        text: &str,
        indent: usize,
    ) -> io::Result<()> {
        let Some(width) = self.width.map(usize::from) else {
            return writeln!(out, "{head}{text}");
        };
        let mut line = head.to_owned();
        let (mut used, mut first) = (head_width, true);
        // A word too long for any line stands alone rather than being cut.
        for word in text.split(' ') {
            let len = word.chars().count();
            if !first && used + 1 + len > width {
                writeln!(out, "{line}")?;
                line = " ".repeat(indent);
                used = indent;
            } else if !first {
                line.push(' ');
                used += 1;
            }
            line.push_str(word);
            used += len;
            first = false;
        }
        writeln!(out, "{line}")
    }

    /// `text` (already escaped) in `ink`'s colour when colour is on.
    pub fn paint(&self, text: &str, ink: Ink) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", ink.sgr())
        } else {
            text.to_owned()
        }
    }

    /// A table cell of `text` (already escaped) in `ink`'s colour when colour is on.
    pub fn cell(&self, text: String, ink: Option<Ink>) -> Cell {
        let cell = Cell::new(text);
        match ink {
            Some(ink) if self.color => ink.cell(cell),
            _ => cell,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_adds_codes_only_when_colour_is_on() {
        let plain = Style::default();
        assert_eq!(plain.paint("ERROR", Ink::Level(Level::Error)), "ERROR");
        let colour = Style {
            color: true,
            ..Style::default()
        };
        assert_eq!(
            colour.paint("ERROR", Ink::Level(Level::Error)),
            "\x1b[31mERROR\x1b[0m"
        );
        assert_eq!(colour.paint("", Ink::Code), "");
    }

    #[test]
    fn an_unwrapped_table_has_no_trailing_spaces() {
        let style = Style::default();
        let mut table = style.table(vec!["a".into(), "b".into()]);
        table.add_row(vec!["short", "x"]);
        table.add_row(vec![
            "a much longer cell",
            "a long last cell ".repeat(20).as_str(),
        ]);
        let mut out = Vec::new();
        style
            .write_table(&table, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
    }

    #[test]
    fn wrapped_lines_keep_to_the_width_and_unwrapped_ones_stay_whole() {
        let text = "one two three four five six seven eight nine ten";
        let mut out = Vec::new();
        Style::default()
            .write_wrapped(&mut out, "> ", 2, text, 4)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8_lossy(&out), format!("> {text}\n"));
        let narrow = Style {
            width: Some(16),
            ..Style::default()
        };
        let mut out = Vec::new();
        narrow
            .write_wrapped(&mut out, "> ", 2, text, 4)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "> one two three\n    four five\n    six seven\n    eight nine\n    ten\n"
        );
        // A word longer than the width stays whole on its own line.
        let mut out = Vec::new();
        narrow
            .write_wrapped(
                &mut out,
                "> ",
                2,
                "a https://finesse.example/a/long/path b",
                4,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "> a\n    https://finesse.example/a/long/path\n    b\n"
        );
    }

    #[test]
    fn a_wrapped_table_keeps_to_its_width() {
        let style = Style {
            width: Some(40),
            ..Style::default()
        };
        let mut table = style.table(vec!["a".into(), "b".into()]);
        table.add_row(vec!["x", "word ".repeat(30).as_str()]);
        let mut out = Vec::new();
        style
            .write_table(&table, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.lines().count() > 3, "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }
}
