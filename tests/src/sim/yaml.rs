//! A reader for the small YAML subset charm metadata files use.
//!
//! `metadata.yaml`, `config.yaml`, `actions.yaml` and `manifest.yaml` are block mappings of
//! block mappings, block sequences, plain / quoted scalars, flow sequences of plain scalars
//! (`[amd64]`) and block scalars (`|`, `>` with chomping indicators). That is all this
//! reader accepts; anything else is an error naming the line, so a file the simulator cannot
//! read is never silently misread.

use serde_json::{Map, Value};

/// A YAML construct outside the supported subset, or malformed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("yaml line {line}: {message}")]
pub struct YamlError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// Parses a YAML document of the supported subset into a JSON value.
///
/// Plain scalars become numbers, booleans or null where YAML 1.1 core would say so
/// (`10022`, `true`, `null`, `~`), strings otherwise.
///
/// # Errors
///
/// Returns [`YamlError`] for tabs in indentation, flow mappings, anchors, inconsistent
/// indentation or a missing `:`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let raw: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    for (i, line) in raw.iter().enumerate() {
        let stripped = strip_comment(line);
        if stripped.trim().is_empty() || stripped.trim() == "---" {
            continue;
        }
        if line.starts_with('\t') {
            return Err(YamlError {
                line: i + 1,
                message: "tab in indentation".into(),
            });
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        lines.push(Line {
            number: i + 1,
            indent,
            text: stripped.trim_end(),
        });
    }
    if lines.is_empty() {
        return Ok(Value::Null);
    }
    let mut parser = Parser {
        raw: &raw,
        lines: &lines,
        pos: 0,
    };
    let indent = lines[0].indent;
    let value = parser.block(indent)?;
    if let Some(line) = lines.get(parser.pos) {
        return Err(YamlError {
            line: line.number,
            message: "unexpected dedent".into(),
        });
    }
    Ok(value)
}

/// Removes a trailing ` # comment` that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut in_single = false;
    let mut in_double = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && (prev == ' ' || i == 0) => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

struct Parser<'a> {
    raw: &'a [&'a str],
    lines: &'a [Line<'a>],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, line: usize, message: &str) -> YamlError {
        YamlError {
            line,
            message: message.to_owned(),
        }
    }

    /// Parses the block (mapping or sequence) starting at the current line with `indent`.
    fn block(&mut self, indent: usize) -> Result<Value, YamlError> {
        let first = &self.lines[self.pos];
        let body = &first.text[first.indent..];
        if body == "-" || body.starts_with("- ") {
            self.sequence(indent)
        } else {
            self.mapping(indent)
        }
    }

    fn sequence(&mut self, indent: usize) -> Result<Value, YamlError> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent < indent {
                break;
            }
            let body = &line.text[line.indent..];
            if line.indent > indent || !(body == "-" || body.starts_with("- ")) {
                return Err(self.err(line.number, "bad sequence indentation"));
            }
            let rest = body[1..].trim_start();
            if rest.is_empty() {
                self.pos += 1;
                items.push(self.nested(indent, line.number)?);
            } else if looks_like_key(rest) {
                // `- key: value` starts a mapping whose keys align with `key`.
                let item_indent = line.indent + (body.len() - rest.len());
                items.push(self.mapping_from(item_indent, Some(rest), line.number)?);
            } else {
                self.pos += 1;
                items.push(self.scalar_or_block(rest, line.number, indent)?);
            }
        }
        Ok(Value::Array(items))
    }

    fn mapping(&mut self, indent: usize) -> Result<Value, YamlError> {
        self.mapping_from(indent, None, 0)
    }

    /// Parses a mapping; `first` is an inline first entry (from `- key: value`).
    fn mapping_from(
        &mut self,
        indent: usize,
        first: Option<&str>,
        first_line: usize,
    ) -> Result<Value, YamlError> {
        let mut map = Map::new();
        let mut pending_first = first;
        loop {
            let (body, number) = if let Some(text) = pending_first.take() {
                (text, first_line)
            } else {
                let Some(line) = self.lines.get(self.pos) else {
                    break;
                };
                if line.indent < indent {
                    break;
                }
                if line.indent > indent {
                    return Err(self.err(line.number, "bad mapping indentation"));
                }
                let body = &line.text[line.indent..];
                if body.starts_with("- ") || body == "-" {
                    break;
                }
                (body, line.number)
            };
            self.pos += 1;
            let (key, rest) =
                split_key(body).ok_or_else(|| self.err(number, "expected `key: value`"))?;
            let key = unquote(key, number)?;
            let value = if rest.is_empty() {
                self.nested(indent, number)?
            } else {
                self.scalar_or_block(rest, number, indent)?
            };
            if map.insert(key.clone(), value).is_some() {
                return Err(self.err(number, &format!("duplicate key {key:?}")));
            }
        }
        Ok(Value::Object(map))
    }

    /// The value of `key:` with nothing after the colon: a deeper block, a sequence at the
    /// same indent (allowed by YAML for mapping values), or null.
    fn nested(&mut self, indent: usize, _number: usize) -> Result<Value, YamlError> {
        match self.lines.get(self.pos) {
            Some(next) if next.indent > indent => {
                let deeper = next.indent;
                self.block(deeper)
            }
            Some(next)
                if next.indent == indent && {
                    let b = &next.text[next.indent..];
                    b == "-" || b.starts_with("- ")
                } =>
            {
                self.sequence(indent)
            }
            _ => Ok(Value::Null),
        }
    }

    fn scalar_or_block(
        &mut self,
        text: &str,
        number: usize,
        indent: usize,
    ) -> Result<Value, YamlError> {
        let text = text.trim();
        if let Some(indicator) = text
            .strip_prefix('|')
            .map(|r| ('|', r))
            .or_else(|| text.strip_prefix('>').map(|r| ('>', r)))
        {
            return self.block_scalar(indicator.0, indicator.1, number, indent);
        }
        if text.starts_with('[') {
            return flow_sequence(text, number);
        }
        if text == "{}" {
            return Ok(Value::Object(Map::new()));
        }
        if text.starts_with('{')
            || text.starts_with('&')
            || text.starts_with('*')
            || text.starts_with('!')
        {
            return Err(self.err(number, "unsupported yaml construct"));
        }
        scalar(text, number)
    }

    /// Reads a literal (`|`) or folded (`>`) block scalar from the raw lines.
    fn block_scalar(
        &mut self,
        style: char,
        header: &str,
        number: usize,
        indent: usize,
    ) -> Result<Value, YamlError> {
        let chomp = match header.trim() {
            "" => 'c',
            "-" => '-',
            "+" => '+',
            _ => return Err(self.err(number, "unsupported block scalar header")),
        };
        // Consume raw lines (including blank ones) that are more indented than the key.
        let mut collected: Vec<&str> = Vec::new();
        let mut raw_index = number; // index of the line after the header (0-based = number)
        let mut block_indent = None;
        while raw_index < self.raw.len() {
            let line = self.raw[raw_index];
            if line.trim().is_empty() {
                collected.push("");
                raw_index += 1;
                continue;
            }
            let line_indent = line.len() - line.trim_start_matches(' ').len();
            if line_indent <= indent {
                break;
            }
            let bi = *block_indent.get_or_insert(line_indent);
            if line_indent < bi {
                break;
            }
            collected.push(&line[bi..]);
            raw_index += 1;
        }
        // Skip the significant lines we consumed.
        while let Some(line) = self.lines.get(self.pos) {
            if line.number <= raw_index {
                self.pos += 1;
            } else {
                break;
            }
        }
        let trailing_blank = collected.iter().rev().take_while(|l| l.is_empty()).count();
        let content = &collected[..collected.len() - trailing_blank];
        let mut text = if style == '|' {
            content.join("\n")
        } else {
            let mut out = String::new();
            for (i, line) in content.iter().enumerate() {
                if line.is_empty() {
                    out.push('\n');
                } else if i > 0 && !content[i - 1].is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
            out
        };
        match chomp {
            '-' => {}
            '+' => {
                text.push('\n');
                for _ in 0..trailing_blank {
                    text.push('\n');
                }
            }
            _ => {
                if !content.is_empty() {
                    text.push('\n');
                }
            }
        }
        Ok(Value::String(text))
    }
}

fn looks_like_key(text: &str) -> bool {
    !text.starts_with('[') && split_key(text).is_some()
}

/// Splits `key: rest` at the first `: ` (or a trailing `:`) outside quotes.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let mut in_single = false;
    let mut in_double = false;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            ':' if !in_single && !in_double => {
                if i + 1 == bytes.len() {
                    return Some((text[..i].trim(), ""));
                }
                if bytes[i + 1] == b' ' {
                    return Some((text[..i].trim(), text[i + 1..].trim()));
                }
            }
            _ => {}
        }
    }
    None
}

fn unquote(text: &str, number: usize) -> Result<String, YamlError> {
    match scalar(text, number)? {
        Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

fn flow_sequence(text: &str, number: usize) -> Result<Value, YamlError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| YamlError {
            line: number,
            message: "unterminated flow sequence".into(),
        })?;
    if inner.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    inner
        .split(',')
        .map(|item| scalar(item.trim(), number))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Parses one scalar: quoted strings, numbers, booleans, null, or a plain string.
fn scalar(text: &str, number: usize) -> Result<Value, YamlError> {
    let err = |message: &str| YamlError {
        line: number,
        message: message.to_owned(),
    };
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| err("unterminated single-quoted string"))?;
        return Ok(Value::String(inner.replace("''", "'")));
    }
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| err("unterminated double-quoted string"))?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                _ => return Err(err("unsupported escape in double-quoted string")),
            }
        }
        return Ok(Value::String(out));
    }
    Ok(match text {
        "~" | "null" | "Null" | "NULL" | "" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(n) = text.parse::<i64>() {
                Value::from(n)
            } else if text.contains('.') && text.parse::<f64>().is_ok() && !text.ends_with('.') {
                text.parse::<f64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(text.to_owned()))
            } else {
                Value::String(text.to_owned())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_config_yaml_shape() {
        let text = "options:\n  port:\n    type: int\n    default: 10022\n    description: |\n      The port.\n      Second line.\n  image:\n    type: string\n    default: \"ghcr.io/canonical/tmate-ssh-server:0.1.1\"\n  external-address:\n    type: string\n    default: ''\n";
        let value = parse(text).unwrap();
        assert_eq!(value["options"]["port"]["default"], json!(10022));
        assert_eq!(
            value["options"]["port"]["description"],
            json!("The port.\nSecond line.\n")
        );
        assert_eq!(
            value["options"]["image"]["default"],
            json!("ghcr.io/canonical/tmate-ssh-server:0.1.1")
        );
        assert_eq!(value["options"]["external-address"]["default"], json!(""));
    }

    #[test]
    fn parses_manifest_sequences() {
        let text = "bases:\n- name: ubuntu\n  channel: '22.04'\n  architectures: [amd64]\n- name: ubuntu # c\n  channel: '24.04'\n  architectures:\n    - amd64\n";
        let value = parse(text).unwrap();
        assert_eq!(
            value,
            json!({"bases": [
                {"name": "ubuntu", "channel": "22.04", "architectures": ["amd64"]},
                {"name": "ubuntu", "channel": "24.04", "architectures": ["amd64"]}
            ]})
        );
    }

    #[test]
    fn folded_and_stripped_block_scalars() {
        assert_eq!(parse("params: {}\n").unwrap(), json!({"params": {}}));
        let text = "a: >-\n  one\n  two\n\n  three\nb: x\n";
        let value = parse(text).unwrap();
        assert_eq!(value["a"], json!("one two\nthree"));
        assert_eq!(value["b"], json!("x"));
    }

    #[test]
    fn rejects_flow_mapping_with_line() {
        let err = parse("a: 1\nb: {c: d}\n").unwrap_err();
        assert_eq!(err.to_string(), "yaml line 2: unsupported yaml construct");
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("# nothing\n").unwrap(), Value::Null);
    }
}
