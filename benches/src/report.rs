//! Markdown tables for `BENCHMARKS.md`.

use std::fmt;

/// A Markdown table: a header row and rows of cells, rendered with `|` separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells render empty, extra cells are kept.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A cell's text with the characters that would break a Markdown table row escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            f.write_str("|")?;
            for i in 0..width {
                write!(f, " {} |", cell(cells.get(i).map_or("", String::as_str)))?;
            }
            f.write_str("\n")
        };
        line(f, &self.header)?;
        f.write_str("|")?;
        for _ in 0..width {
            f.write_str("---|")?;
        }
        f.write_str("\n")?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_with_escaped_cells() {
        let mut t = Table::new(["what", "median"]);
        t.row(["a | b", "1 ms"]).row(["short"]);
        assert_eq!(
            t.to_string(),
            "| what | median |\n|---|---|\n| a \\| b | 1 ms |\n| short |  |\n"
        );
        assert!(!t.is_empty());
        assert!(Table::new(["x"]).is_empty());
    }
}
