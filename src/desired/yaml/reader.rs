//! The one door to the YAML parser (granit-parser): its events as positioned nodes,
//! checked against [`Limits`] as they arrive, with aliases expanded. Nothing else in the
//! crate names the parser, so changing it means changing this file.
//!
//! Nodes are pulled one at a time and never kept in a tree: a collection's [`Node`] only
//! says that it starts; its items follow from [`Reader::next`] until [`Item::End`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{ErrorKind, Event, Marker, Parser, ScalarStyle, ScanError, StrInput, Tag};

use super::Limits;

/// A position in the text: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Mark {
    pub line: u32,
    pub column: u32,
}

impl Mark {
    pub const START: Mark = Mark { line: 1, column: 1 };

    fn of(marker: &Marker) -> Mark {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Mark {
            line: clamp(marker.line()),
            column: clamp(marker.col().saturating_add(1)),
        }
    }
}

/// Why reading stopped: a syntax error or an exceeded limit, at its position.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub at: Mark,
    pub message: String,
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Resolved<'s> {
    Null,
    Bool(bool),
    Int(i128),
    Float,
    Str(&'s str),
}

#[derive(Debug)]
pub(crate) struct Scalar<'t> {
    pub text: Cow<'t, str>,
    /// Plain scalars are typed by their text (`80` is a number); quoted ones are text.
    plain: bool,
    /// A core-schema tag (`!!str`, `!!int`, ...) by its suffix.
    core_tag: Option<&'static str>,
}

impl Scalar<'_> {
    pub fn resolve(&self) -> Resolved<'_> {
        let text = self.text.as_ref();
        match self.core_tag {
            Some("str") => return Resolved::Str(text),
            Some(_) => return resolve_plain(text),
            None => {}
        }
        if self.plain {
            resolve_plain(text)
        } else {
            Resolved::Str(text)
        }
    }

    /// The text if the scalar is a string (a key, an address, a name).
    pub fn as_str(&self) -> Option<&str> {
        match self.resolve() {
            Resolved::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The YAML 1.2 core schema's resolution of a plain scalar.
fn resolve_plain(text: &str) -> Resolved<'_> {
    // Most scalars are names and addresses: only these first characters can start
    // anything but a string.
    let maybe_typed = text
        .bytes()
        .next()
        .is_none_or(|b| b.is_ascii_digit() || b"-+.~nNtTfF".contains(&b));
    if !maybe_typed {
        return Resolved::Str(text);
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Resolved::Float,
        _ if text.starts_with(|c: char| c.is_ascii_alphabetic()) => return Resolved::Str(text),
        _ => {}
    }
    let radix = |prefix: &str, radix: u32| {
        let digits = text.strip_prefix(prefix)?;
        let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
        // Too many digits for i128 is still a number, just out of every range.
        valid.then(|| i128::from_str_radix(digits, radix).unwrap_or(i128::MAX))
    };
    if let Some(n) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Resolved::Int(n);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        let n = text.parse::<i128>().unwrap_or(match text.starts_with('-') {
            true => i128::MIN,
            false => i128::MAX,
        });
        return Resolved::Int(n);
    }
    if is_float(unsigned) {
        return Resolved::Float;
    }
    Resolved::Str(text)
}

/// `1.5`, `.5`, `2.`, `1e3`, `1.5E-3` (after the sign).
fn is_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && (mantissa.contains('.') || exponent.is_some()) && exponent_ok
}

#[derive(Debug)]
pub(crate) enum Kind<'t> {
    Scalar(Scalar<'t>),
    /// A sequence starts; its items follow.
    Seq,
    /// A mapping starts; its keys and values follow, alternating.
    Map,
}

#[derive(Debug)]
pub(crate) struct Node<'t> {
    pub at: Mark,
    pub kind: Kind<'t>,
    /// A tag outside the core schema (`!foo`), as written.
    pub tag: Option<String>,
}

impl Node<'_> {
    pub fn is_collection(&self) -> bool {
        matches!(self.kind, Kind::Seq | Kind::Map)
    }

    pub fn is_null(&self) -> bool {
        self.tag.is_none() && matches!(&self.kind, Kind::Scalar(s) if s.resolve() == Resolved::Null)
    }
}

/// What comes next inside a collection.
pub(crate) enum Item<'t> {
    Node(Node<'t>),
    /// The innermost open collection ends.
    End,
}

/// An anchored node's events in the log: where they start and, once the node is read,
/// where they end.
struct Anchor {
    start: usize,
    end: Option<usize>,
}

pub(crate) struct Reader<'t> {
    parser: Parser<'t, StrInput<'t>>,
    limits: Limits,
    /// Open collections.
    depth: usize,
    /// The events of anchored nodes (as given out, aliases expanded), for their aliases
    /// to replay. Written only while an anchored node is being read.
    log: Vec<(Event<'t>, Mark)>,
    anchors: HashMap<usize, Anchor>,
    /// Anchored collections being read: their id and the depth inside them.
    open_anchors: Vec<(usize, usize)>,
    /// Aliases being expanded: the parts of `log` still to give out, innermost last.
    replays: Vec<Range<usize>>,
    text_events: usize,
    replayed_events: usize,
    /// The parser gave the end of the text.
    ended: bool,
    /// Lines of the model before the text (see `starting_at_line`).
    lines_before: u32,
}

impl<'t> Reader<'t> {
    pub fn new(text: &'t str, limits: &Limits) -> Reader<'t> {
        // The parser counts nesting as it scans, ahead of the events (see `syntax`).
        let nesting = limits.max_depth;
        let options = granit_parser::options! {
            flow_nesting_limit: nesting,
            block_nesting_limit: nesting,
        };
        Reader {
            parser: Parser::new_from_str_with_options(text, options),
            limits: limits.clone(),
            depth: 0,
            log: Vec::new(),
            anchors: HashMap::new(),
            open_anchors: Vec::new(),
            replays: Vec::new(),
            text_events: 0,
            replayed_events: 0,
            ended: false,
            lines_before: 0,
        }
    }

    /// A reader of a piece of a model that starts on line `first_line` of it, so that
    /// positions are the model's.
    pub fn starting_at_line(mut self, first_line: u32) -> Reader<'t> {
        self.lines_before = first_line.saturating_sub(1);
        self
    }

    fn syntax(&self, error: &ScanError) -> Fatal {
        let message = match error.kind() {
            ErrorKind::RecursionLimitExceeded => nested_too_deep(&self.limits),
            _ => format!("YAML syntax: {}", error.info()),
        };
        Fatal {
            at: self.mark(error.marker()),
            message,
        }
    }

    fn mark(&self, marker: &Marker) -> Mark {
        let mark = Mark::of(marker);
        Mark {
            line: mark.line.saturating_add(self.lines_before),
            ..mark
        }
    }

    /// The root node of the only document, or `None` for a text with no document.
    pub fn document(&mut self) -> Result<Option<Node<'t>>, Fatal> {
        loop {
            let (event, at) = self.text_event()?;
            match event {
                Event::StreamStart => {}
                Event::StreamEnd => {
                    self.ended = true;
                    return Ok(None);
                }
                Event::DocumentStart(..) => break,
                other => return Err(unexpected(&other, at)),
            }
        }
        match self.next()? {
            Item::Node(node) => Ok(Some(node)),
            Item::End => Err(Fatal {
                at: Mark::START,
                message: "the document has no content".to_owned(),
            }),
        }
    }

    /// Checks that the text ends after the first document (once its root is read).
    pub fn finish(&mut self) -> Result<(), Fatal> {
        while !self.ended {
            let (event, at) = self.text_event()?;
            match event {
                Event::DocumentEnd => {}
                Event::StreamEnd => self.ended = true,
                Event::DocumentStart(..) => {
                    return Err(Fatal {
                        at,
                        message: "a model is one YAML document; another one starts here".to_owned(),
                    })
                }
                other => return Err(unexpected(&other, at)),
            }
        }
        Ok(())
    }

    /// The next node, or the end of the innermost open collection.
    pub fn next(&mut self) -> Result<Item<'t>, Fatal> {
        loop {
            let (event, at, replayed) = self.event()?;
            let anchor = match &event {
                Event::Alias(id) => {
                    self.replay(*id, at)?;
                    continue;
                }
                Event::Scalar(text, ..) if text.len() > self.limits.max_scalar_bytes => {
                    return Err(Fatal {
                        at,
                        message: format!(
                            "a value of {} bytes is longer than the limit of {} bytes",
                            text.len(),
                            self.limits.max_scalar_bytes
                        ),
                    });
                }
                Event::Scalar(_, _, anchor, _)
                | Event::SequenceStart(_, anchor, _)
                | Event::MappingStart(_, anchor, _) => *anchor,
                Event::SequenceEnd | Event::MappingEnd => 0,
                other => return Err(unexpected(other, at)),
            };
            let item = self.open_or_close(&event, at, if replayed { 0 } else { anchor })?;
            return Ok(item);
        }
    }

    /// Reads past the rest of the innermost open collection.
    pub fn skip_rest(&mut self) -> Result<(), Fatal> {
        let mut open = 1usize;
        while open > 0 {
            match self.next()? {
                Item::End => open -= 1,
                Item::Node(node) if node.is_collection() => open += 1,
                Item::Node(_) => {}
            }
        }
        Ok(())
    }

    /// Tracks depth and anchors for `event`, logs it while an anchored node is being read,
    /// and turns it into an item. `anchor` is the id of a node the text anchors here.
    fn open_or_close(
        &mut self,
        event: &Event<'t>,
        at: Mark,
        anchor: usize,
    ) -> Result<Item<'t>, Fatal> {
        let item = match event {
            Event::Scalar(text, style, _, tag) => {
                if anchor != 0 {
                    let start = self.log.len();
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            start,
                            end: Some(start + 1),
                        },
                    );
                }
                let (core_tag, tag) = tag_parts(tag.as_deref());
                Item::Node(Node {
                    at,
                    kind: Kind::Scalar(Scalar {
                        text: text.clone(),
                        plain: *style == ScalarStyle::Plain,
                        core_tag,
                    }),
                    tag,
                })
            }
            Event::SequenceStart(_, _, tag) | Event::MappingStart(_, _, tag) => {
                self.depth += 1;
                if self.depth > self.limits.max_depth {
                    return Err(Fatal {
                        at,
                        message: nested_too_deep(&self.limits),
                    });
                }
                if anchor != 0 {
                    let start = self.log.len();
                    self.anchors.insert(anchor, Anchor { start, end: None });
                    self.open_anchors.push((anchor, self.depth));
                }
                let kind = match event {
                    Event::SequenceStart(..) => Kind::Seq,
                    _ => Kind::Map,
                };
                let (_, tag) = tag_parts(tag.as_deref());
                Item::Node(Node { at, kind, tag })
            }
            _ => Item::End,
        };
        let logging =
            !self.open_anchors.is_empty() || (anchor != 0 && matches!(event, Event::Scalar(..)));
        if logging {
            self.log.push((event.clone(), at));
        }
        if matches!(item, Item::End) {
            while let Some(&(id, depth)) = self.open_anchors.last() {
                if depth != self.depth {
                    break;
                }
                self.open_anchors.pop();
                if let Some(anchor) = self.anchors.get_mut(&id) {
                    anchor.end = Some(self.log.len());
                }
            }
            self.depth = self.depth.saturating_sub(1);
        }
        Ok(item)
    }

    /// Starts giving out the events of the node anchored as `id` again.
    fn replay(&mut self, id: usize, at: Mark) -> Result<(), Fatal> {
        match self.anchors.get(&id) {
            Some(Anchor {
                start,
                end: Some(end),
            }) => {
                self.replays.push(*start..*end);
                Ok(())
            }
            _ => Err(Fatal {
                at,
                message: "an alias inside the node it refers to".to_owned(),
            }),
        }
    }

    /// The next event, replayed for an alias or from the text, and whether it is replayed.
    fn event(&mut self) -> Result<(Event<'t>, Mark, bool), Fatal> {
        while let Some(range) = self.replays.last_mut() {
            let Some(index) = range.next() else {
                self.replays.pop();
                continue;
            };
            self.replayed_events += 1;
            // Aliases may expand to as much as the text itself holds, or the minimum.
            let allowed = self.limits.max_alias_events.max(self.text_events);
            if self.replayed_events > allowed {
                let at = self.log[index].1;
                return Err(Fatal {
                    at,
                    message: format!("aliases expand to more than {allowed} nodes"),
                });
            }
            let (event, at) = self.log[index].clone();
            return Ok((event, at, true));
        }
        let (event, at) = self.text_event()?;
        Ok((event, at, false))
    }

    fn text_event(&mut self) -> Result<(Event<'t>, Mark), Fatal> {
        self.text_events += 1;
        match self.parser.next() {
            Some(Ok((event, span))) => Ok((event, self.mark(&span.start))),
            Some(Err(error)) => Err(self.syntax(&error)),
            None => Err(Fatal {
                at: Mark::START,
                message: "YAML syntax: the text ended early".to_owned(),
            }),
        }
    }
}

/// A core-schema tag's suffix, or another tag as written.
fn tag_parts(tag: Option<&Tag>) -> (Option<&'static str>, Option<String>) {
    let Some(tag) = tag else {
        return (None, None);
    };
    const CORE: [&str; 7] = ["str", "int", "float", "bool", "null", "seq", "map"];
    match CORE
        .into_iter()
        .find(|suffix| tag.is_yaml_core_schema_tag(suffix))
    {
        Some(suffix) => (Some(suffix), None),
        None => (
            None,
            Some(format!("{}{}", tag.original_handle(), tag.suffix())),
        ),
    }
}

fn nested_too_deep(limits: &Limits) -> String {
    format!("nested deeper than {} levels", limits.max_depth)
}

fn unexpected(event: &Event, at: Mark) -> Fatal {
    Fatal {
        at,
        message: format!("YAML syntax: unexpected {event:?}"),
    }
}
