//! ipvsctl's changeset (`ipvsrs diff --format yaml`), written as text. The strings are
//! quoted as serde_yaml (libyaml's emitter) quotes them, which ipvsctl's tests compare
//! byte for byte: plain where a plain scalar reads back as the same string, else in
//! single quotes, and in double quotes with escapes when they hold control characters.

use std::borrow::Cow;
use std::io::{self, Write};

use ipvsrs::desired::Change;

/// `items:`, each with its type, description, service and destination; `{}` when there is
/// nothing to do. Timeout and daemon items have neither service nor destination.
pub fn write(out: &mut impl Write, changes: &[Change]) -> io::Result<()> {
    if changes.is_empty() {
        return writeln!(out, "{{}}");
    }
    writeln!(out, "items:")?;
    for change in changes {
        writeln!(out, "- type: {}", scalar(change.action().name()))?;
        writeln!(out, "  description: {}", scalar(&change.to_string()))?;
        if let Some(service) = change.service() {
            writeln!(out, "  service: {}", scalar(&service.key.to_string()))?;
        }
        if let Some(dest) = change.dest() {
            writeln!(out, "  destination: {}", scalar(&dest.key().to_string()))?;
        }
    }
    Ok(())
}

/// `text` as a value of a block mapping.
fn scalar(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| !printable(c) || is_break(c)) {
        Cow::Owned(double_quoted(text))
    } else if reads_as_another_type(text) || !plain_allowed(text) {
        Cow::Owned(format!("'{}'", text.replace('\'', "''")))
    } else {
        Cow::Borrowed(text)
    }
}

/// What libyaml writes unescaped (the byte order mark aside).
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// serde_yaml quotes what its reader would take for null, a boolean or a number.
fn reads_as_another_type(text: &str) -> bool {
    const WORDS: [&str; 10] = [
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
    ];
    text.is_empty()
        || WORDS.contains(&text)
        || zero_led_digits(text)
        || integer(text)
        || float(text)
}

/// `0123`, `-007`: YAML 1.2 reads them as strings, but serde_yaml quotes them anyway.
fn zero_led_digits(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal, `0x`, `0o` or `0b` integer with one optional sign that fits 128 bits.
fn integer(text: &str) -> bool {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match unsigned.get(..2) {
        Some("0x") => (16, &unsigned[2..]),
        Some("0o") => (8, &unsigned[2..]),
        Some("0b") => (2, &unsigned[2..]),
        _ => (10, unsigned),
    };
    // from_str_radix would take a second sign.
    if digits.starts_with(['+', '-']) {
        return false;
    }
    match negative {
        true => i128::from_str_radix(&format!("-{digits}"), radix).is_ok(),
        false => u128::from_str_radix(digits, radix).is_ok(),
    }
}

/// A finite float as Rust reads it, or YAML's `.inf` and `.nan`.
fn float(text: &str) -> bool {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return false,
        Some(rest) => rest,
        None => text,
    };
    matches!(unsigned, ".inf" | ".Inf" | ".INF")
        || matches!(text, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unsigned.parse::<f64>().is_ok_and(f64::is_finite)
}

/// libyaml's test for a plain scalar in block context, for text without control
/// characters or breaks: no indicator where it would start a token, no blank at either end.
fn plain_allowed(text: &str) -> bool {
    if text.starts_with(' ') || text.ends_with(' ') {
        return false;
    }
    if text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = text.chars().collect();
    !chars.iter().enumerate().any(|(i, &c)| {
        // The end of the text counts as a blank.
        let blank_after = chars.get(i + 1).is_none_or(|next| *next == ' ');
        match i {
            0 => "#,[]{}&*!|>'\"%@`".contains(c) || matches!(c, '?' | ':' | '-') && blank_after,
            _ => c == ':' && blank_after || c == '#' && chars[i - 1] == ' ',
        }
    })
}

fn double_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        let escape = match c {
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{B}' => "\\v",
            '\u{C}' => "\\f",
            '\r' => "\\r",
            '\u{1B}' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if printable(c) => {
                out.push(c);
                continue;
            }
            c => {
                let code = u32::from(c);
                out.push_str(&match code {
                    0..=0xFF => format!("\\x{code:02X}"),
                    0x100..=0xFFFF => format!("\\u{code:04X}"),
                    _ => format!("\\U{code:08X}"),
                });
                continue;
            }
        };
        out.push_str(escape);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ipvsrs::desired::Change;
    use ipvsrs::model::{Destination, Forward, Service};

    use super::{scalar, write};

    /// Each expected text is serde_yaml 0.9's, checked while it was a dependency.
    #[test]
    fn strings_are_quoted_as_serde_yaml_quotes_them() {
        for (text, yaml) in [
            ("tcp://10.0.0.1:80", "tcp://10.0.0.1:80"),
            ("fwmark6:7", "fwmark6:7"),
            ("[2001:db8::1]:80", "'[2001:db8::1]:80'"),
            (
                "update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (tunnel { type: gue, port: 6080, checksum: nocsum } -> none)",
                "'update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (tunnel { type: gue, port: 6080, checksum: nocsum } -> none)'",
            ),
            ("it's: x", "'it''s: x'"),
            ("it's", "it's"),
            ("-abc", "-abc"),
            ("- abc", "'- abc'"),
            ("-1", "'-1'"),
            ("true", "'true'"),
            ("null", "'null'"),
            ("123", "'123'"),
            ("0x1F", "'0x1F'"),
            ("1e5", "'1e5'"),
            ("", "''"),
            ("a #b", "'a #b'"),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\a\""),
        ] {
            assert_eq!(scalar(text), yaml, "{text:?}");
        }
    }

    #[test]
    fn a_changeset_in_ipvsctl_form() {
        let service = Arc::new(Service::new(
            "tcp://[2001:db8::1]:443".parse().unwrap(),
            "rr",
        ));
        let dest = Destination::new("2001:db8::10".parse().unwrap(), 8443, Forward::Masq);
        let changes = [
            Change::AddService(service.clone()),
            Change::AddDest { service, dest },
        ];
        let mut text = Vec::new();
        write(&mut text, &changes).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "\
items:
- type: add-service
  description: add service tcp://[2001:db8::1]:443 (rr)
  service: tcp://[2001:db8::1]:443
- type: add-destination
  description: add destination [2001:db8::10]:8443 to tcp://[2001:db8::1]:443 (weight 1)
  service: tcp://[2001:db8::1]:443
  destination: '[2001:db8::10]:8443'
"
        );
        let mut empty = Vec::new();
        write(&mut empty, &[]).unwrap();
        assert_eq!(empty, b"{}\n");
    }
}
