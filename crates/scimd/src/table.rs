//! The command line's tables: each column as wide as its widest value. On a terminal the
//! table fits the terminal's width (long values wrap); into a pipe or a file no value is ever
//! cut or wrapped, so that `grep` and `awk` see whole lines.

use std::io::IsTerminal;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

/// A table with these column titles, no borders, two spaces between columns.
pub fn new(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_header(header.iter().copied());
    match terminal_size::terminal_size().filter(|_| std::io::stdout().is_terminal()) {
        Some((terminal_size::Width(w), _)) => {
            t.set_width(w).set_content_arrangement(ContentArrangement::Dynamic);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
    }
    t
}

/// Numbers read best right-aligned.
pub fn align_right(t: &mut Table, column: usize) {
    if let Some(c) = t.column_mut(column) {
        c.set_cell_alignment(CellAlignment::Right);
    }
}

/// Print the table, without the padding that would trail each line.
pub fn print(t: &Table) {
    for line in t.lines() {
        println!("{}", line.trim_end());
    }
}
