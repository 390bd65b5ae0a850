/// Small charts of memory over time for a terminal, drawn with the eighth-block
/// characters `▁▂▃▄▅▆▇█` (readable in 80 columns, no color needed).
enum TerminalChart {
    /// The eight partial blocks, from an eighth to a full cell.
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One value per column: the largest of the `points` whose time falls in the
    /// column's share of `start...end`; a column without a point repeats the one before.
    static func columns(_ points: [(time: UInt64, value: UInt64)], start: UInt64, end: UInt64, width: Int) -> [UInt64] {
        guard width > 0, !points.isEmpty else { return [] }
        let span = max(end - min(start, end), 1)
        var values = [UInt64?](repeating: nil, count: width)
        for point in points {
            let offset = point.time > start ? point.time - start : 0
            let column = min(Int(Double(offset) / Double(span) * Double(width)), width - 1)
            values[column] = max(values[column] ?? 0, point.value)
        }
        var previous: UInt64 = points[0].value
        return values.map { value in
            if let value { previous = value }
            return previous
        }
    }

    /// `rows` lines of bars, top first, scaled so that `maximum` fills the top row.
    /// A value above zero shows at least an eighth.
    static func bars(_ values: [UInt64], maximum: UInt64, rows: Int) -> [String] {
        let eighths = values.map { value -> Int in
            guard maximum > 0, value > 0 else { return 0 }
            return max(Int((Double(value) / Double(maximum) * Double(rows * 8)).rounded()), 1)
        }
        return (0..<rows).map { row in
            let floor = (rows - 1 - row) * 8
            return String(
                eighths.map { height -> Character in
                    let fill = min(max(height - floor, 0), 8)
                    return fill == 0 ? " " : blocks[fill - 1]
                })
        }
    }

    /// A one-line sparkline of `values`, scaled from 0 to their largest.
    static func sparkline(_ values: [UInt64], width: Int) -> String {
        guard !values.isEmpty else { return "" }
        // Resample to `width` by taking each column's last value (the state at its end).
        let resampled =
            values.count <= width
            ? values
            : (0..<width).map { column in values[min((column + 1) * values.count / width, values.count) - 1] }
        let maximum = resampled.max() ?? 0
        return String(
            resampled.map { value -> Character in
                guard maximum > 0 else { return blocks[0] }
                return blocks[min(Int(Double(value) / Double(maximum) * 7.999), 7)]
            })
    }
}
