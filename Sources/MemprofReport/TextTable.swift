/// A plain-text table: right-aligned figures, a left-aligned last column, and optional
/// detail lines (a stack) under each row.
struct TextTable {
    enum Alignment {
        case left, right
    }

    struct Row {
        var cells: [String]
        var details: [String]
    }

    var headers: [String]
    var alignments: [Alignment]
    var rows: [Row] = []

    init(columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    mutating func append(_ cells: [String], details: [String] = []) {
        precondition(cells.count == headers.count, "one cell per column")
        rows.append(Row(cells: cells, details: details))
    }

    /// The table's lines, each indented by `indent` spaces; `style` decorates a header
    /// or detail line after layout (so escape codes never disturb the alignment).
    func lines(indent: Int = 2, headerStyle: (String) -> String = { $0 }, detailStyle: (String) -> String = { $0 })
        -> [String]
    {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.cells.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        let margin = String(repeating: " ", count: indent)
        func layout(_ cells: [String]) -> String {
            var line = margin
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                switch alignments[index] {
                case .right: line += padding + cell
                case .left: line += isLast ? cell : cell + padding
                }
                if !isLast { line += "  " }
            }
            return line
        }
        // Detail lines start under the second column, past the rank.
        let detailIndent = margin + String(repeating: " ", count: (widths.first ?? 0) + 2)
        var lines = [headerStyle(layout(headers))]
        for row in rows {
            lines.append(layout(row.cells))
            lines += row.details.map { detailStyle(detailIndent + $0) }
        }
        return lines
    }
}
