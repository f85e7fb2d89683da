//! Cutting a big model at service boundaries, so that several threads read it at once.
//!
//! A cut is a guess made from lines alone; it is only taken where a wrong guess cannot
//! go unnoticed. The text before the first service must read as a model whose last key
//! is `services` with no value, and each piece as a list on its own; a cut inside a
//! quoted value or a flow collection leaves the piece before it unclosed, which is a
//! syntax error there. The caller reads the whole text in one go whenever any part has
//! any problem, so every message is the one-pass reader's.

/// Below this size one thread reads a model faster than several start.
pub(super) const MIN_PIECE_BYTES: usize = 256 << 10;

/// A model cut for reading in parallel.
pub(super) struct Split<'t> {
    /// The text before the first service: a model whose last key is `services`.
    pub head: &'t str,
    /// Runs of whole services, in text order.
    pub pieces: Vec<Piece<'t>>,
}

/// A run of whole items of the services list.
pub(super) struct Piece<'t> {
    pub text: &'t str,
    /// Where `text` starts in the model.
    pub at: usize,
    /// The line (from 1) of the model on which `text` starts.
    pub first_line: u32,
}

/// Readers worth starting on one model.
pub(super) const MAX_PIECES: usize = 4;

/// `text` cut at every service, each a piece; `None` where [`split_into`] cannot cut it.
pub(super) fn split_items(text: &str) -> Option<Split<'_>> {
    split_into(text, usize::MAX, 0)
}

/// [`split_into`] as many pieces as the process has processors for (at most 4).
pub(super) fn split(text: &str) -> Option<Split<'_>> {
    if text.len() < 2 * MIN_PIECE_BYTES {
        return None;
    }
    let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
    split_into(text, processors.min(MAX_PIECES), MIN_PIECE_BYTES)
}

/// Cuts `text` into at most `pieces` runs of services of about the same size, none
/// smaller than `min_piece_bytes` but the last; `None` where it cannot be cut safely:
/// anchors, aliases, directives or document markers anywhere; a line break YAML sees
/// and a line reader would not (a lone CR); no block mapping at the top; a `services`
/// key not alone on its line; or anything after the services list.
pub(super) fn split_into(text: &str, pieces: usize, min_piece_bytes: usize) -> Option<Split<'_>> {
    if pieces < 2 {
        return None;
    }
    let bytes = text.as_bytes();
    // An alias could point from one piece into another; YAML breaks lines at a lone CR.
    let refused = |(at, byte): (usize, &u8)| match byte {
        b'&' | b'*' => true,
        b'\r' => bytes.get(at + 1) != Some(&b'\n'),
        _ => false,
    };
    if bytes.iter().enumerate().any(refused) {
        return None;
    }
    let mut lines = Lines::new(text);
    let mut top_seen = false;
    loop {
        let line = lines.next()?;
        if line.is_marker() {
            return None;
        }
        if line.is_blank_or_comment() {
            continue;
        }
        if !top_seen {
            // A block mapping's key at the left margin, not a flow collection, a
            // directive, a quoted key or a sequence.
            if !line.text.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return None;
            }
            top_seen = true;
        }
        if line.is_services_key() {
            break;
        }
    }
    let (first_item, indent) = loop {
        let line = lines.next()?;
        if line.is_marker() {
            return None;
        }
        if line.is_blank_or_comment() {
            continue;
        }
        let indent = line.indent();
        match line.is_item_at(indent) {
            true => break (line, indent),
            false => return None,
        }
    };
    let items = &text[first_item.start..];
    let target = (items.len() / pieces).max(min_piece_bytes);
    let mut cuts = vec![(first_item.start, first_item.number)];
    for line in lines {
        if line.is_marker() || line.text.starts_with('\t') {
            return None;
        }
        if line.is_blank_or_comment() {
            continue;
        }
        let line_indent = line.indent();
        if line_indent < indent || (line_indent == indent && !line.is_item_at(indent)) {
            // A key after the list, or a list at an odd indentation.
            return None;
        }
        let last_cut = cuts.last().expect("the first item").0;
        if line_indent == indent && line.start - last_cut >= target && cuts.len() < pieces {
            cuts.push((line.start, line.number));
        }
    }
    if cuts.len() < 2 {
        return None;
    }
    let ends = cuts
        .iter()
        .skip(1)
        .map(|&(start, _)| start)
        .chain([text.len()]);
    let pieces = cuts
        .iter()
        .zip(ends)
        .map(|(&(start, number), end)| Piece {
            text: &text[start..end],
            at: start,
            first_line: number,
        })
        .collect();
    Some(Split {
        head: &text[..first_item.start],
        pieces,
    })
}

/// A line of the text, without its line break.
#[derive(Clone, Copy)]
struct Line<'t> {
    text: &'t str,
    /// Where it starts in the whole text.
    start: usize,
    /// Its number, from 1.
    number: u32,
}

impl Line<'_> {
    fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start_matches(' ').len()
    }

    fn content(&self) -> &str {
        self.text.trim_start_matches(' ').trim_end()
    }

    fn is_blank_or_comment(&self) -> bool {
        let content = self.content();
        content.is_empty() || content.starts_with('#')
    }

    /// A document marker or a directive.
    fn is_marker(&self) -> bool {
        ["---", "...", "%"]
            .iter()
            .any(|marker| self.text.starts_with(marker))
    }

    /// `services:` at the left margin, with nothing after it but a comment.
    fn is_services_key(&self) -> bool {
        let Some(rest) = self.text.strip_prefix("services:") else {
            return false;
        };
        let rest = rest.trim_end();
        rest.is_empty() || (rest.starts_with([' ', '\t']) && rest.trim_start().starts_with('#'))
    }

    /// A list item (`- ` or a lone `-`) at exactly `indent`.
    fn is_item_at(&self, indent: usize) -> bool {
        self.indent() == indent && {
            let content = self.content();
            content == "-" || content.starts_with("- ")
        }
    }
}

struct Lines<'t> {
    text: &'t str,
    start: usize,
    number: u32,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        Lines {
            text,
            start: 0,
            number: 0,
        }
    }
}

impl<'t> Iterator for Lines<'t> {
    type Item = Line<'t>;

    fn next(&mut self) -> Option<Line<'t>> {
        if self.start >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.start..];
        let length = rest.find('\n').unwrap_or(rest.len());
        let line = Line {
            text: &rest[..length],
            start: self.start,
            number: self.number + 1,
        };
        self.start += length + 1;
        self.number += 1;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big_model(head: &str, services: usize) -> String {
        let mut text = head.to_owned();
        for i in 0..services {
            text.push_str(&format!(
                "  - address: tcp://10.0.{}.{}:80\n    destinations:\n      - {{ address: 10.1.0.1:80 }}\n",
                i >> 8,
                i & 255
            ));
        }
        text
    }

    #[test]
    fn a_big_model_is_cut_at_items_into_pieces_that_cover_it() {
        let text = big_model(
            "defaults: { port: 80 }\n# the services\nservices:\n\n",
            20_000,
        );
        let split = split_into(&text, 3, MIN_PIECE_BYTES).expect("cut");
        assert_eq!(
            split.head,
            "defaults: { port: 80 }\n# the services\nservices:\n\n"
        );
        assert_eq!(split.pieces.len(), 3);
        let mut joined = split.head.to_owned();
        for piece in &split.pieces {
            assert!(
                piece.text.starts_with("  - address: "),
                "{:?}",
                &piece.text[..20]
            );
            let line_before = text[..text.len() - text[joined.len()..].len()]
                .lines()
                .count();
            assert_eq!(piece.first_line as usize, line_before + 1);
            joined.push_str(piece.text);
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn a_model_that_could_be_cut_wrongly_is_not_cut() {
        let services = big_model("services:\n", 20_000);
        let refused = [
            ("small", big_model("services:\n", 10)),
            ("an anchor", format!("x: &a 1\n{services}")),
            ("a document marker", format!("---\n{services}")),
            ("a directive", format!("%YAML 1.2\n{services}")),
            ("a flow mapping at the top", format!("{{\n{services}")),
            (
                "a quoted key",
                format!("\"services\":\n{}", &services[10..]),
            ),
            (
                "a key after the list",
                format!("{services}defaults: {{}}\n"),
            ),
            (
                "a value on the key's line",
                format!("services: [] # c\n{}", &services[10..]),
            ),
            ("no list", format!("services:\n  a: 1\n{}", &services[10..])),
            ("a tab", format!("{services}\t- x\n")),
            ("a lone CR", format!("{services}#\r- x\n")),
        ];
        for (what, text) in refused {
            assert!(split_into(&text, 2, MIN_PIECE_BYTES).is_none(), "{what}");
        }
        assert!(
            split_into(&services, 1, MIN_PIECE_BYTES).is_none(),
            "one piece"
        );
        assert!(split_into(
            &format!("services: # the list\n{}", &services[10..]),
            2,
            MIN_PIECE_BYTES
        )
        .is_some());
    }
}
