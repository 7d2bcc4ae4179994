//! Byte offsets to 1-based line and column numbers.

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Returns the line and column of byte `offset` in `text`.
///
/// An offset past the end is clamped to the end of the text (the position after its
/// last character); one inside a multi-byte character points at that character.
#[must_use]
pub fn line_col(text: &str, offset: usize) -> LineCol {
    LineIndex::new(text).line_col(text, offset)
}

/// Start offsets of every line of a text, for repeated [`line_col`] look-ups.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    pub(crate) fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        LineCol {
            line,
            column: text[start..offset].chars().count() + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> LineCol {
        LineCol { line, column }
    }

    #[test]
    fn empty_input() {
        assert_eq!(line_col("", 0), at(1, 1));
        assert_eq!(line_col("", 5), at(1, 1));
    }

    #[test]
    fn first_line() {
        assert_eq!(line_col("set -g x y", 0), at(1, 1));
        assert_eq!(line_col("set -g x y", 4), at(1, 5));
    }

    #[test]
    fn end_of_input() {
        assert_eq!(line_col("ab", 2), at(1, 3));
        assert_eq!(line_col("ab\n", 3), at(2, 1));
        assert_eq!(line_col("ab\n", 99), at(2, 1));
    }

    #[test]
    fn second_line() {
        let text = "set -g a b\nset -g c d\n";
        assert_eq!(line_col(text, 10), at(1, 11)); // the newline itself
        assert_eq!(line_col(text, 11), at(2, 1));
        assert_eq!(line_col(text, 18), at(2, 8));
    }

    #[test]
    fn columns_count_characters() {
        let text = "é\"x";
        assert_eq!(line_col(text, 2), at(1, 2));
        // Inside the two-byte 'é': points at it.
        assert_eq!(line_col(text, 1), at(1, 1));
    }
}
