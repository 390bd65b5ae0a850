/// Shortens demangled C++ names for text output: a template argument list or parameter
/// list still longer than a limit once its own inner lists are shortened becomes `<...>`
/// or `(...)`, so
/// `std::_Rb_tree<int, std::pair<int const, std::string>, …>::_M_get_node()` reads
/// `std::_Rb_tree<...>::_M_get_node()`. Short lists (`std::vector<int>`) stay.
/// `operator<`, `operator<<`, `operator<=>`, `operator->` and the like are left alone,
/// and so are placeholders such as `<no frames>`.
enum SymbolAbbreviation {
    /// `name` with every bracketed list whose content exceeds `limit` characters elided.
    static func abbreviate(_ name: String, limit: Int = 30) -> String {
        let characters = Array(name)
        var output = ""
        output.reserveCapacity(characters.count)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if isOperatorSymbol(characters, at: index) {
                // Copy the operator's symbol characters verbatim.
                while index < characters.count, "<>=-".contains(characters[index]) {
                    output.append(characters[index])
                    index += 1
                }
                continue
            }
            if character == "<" || character == "(", index > 0, opensList(characters, at: index),
                let close = matchingClose(characters, from: index)
            {
                // Shorten the inside first: `(std::map<...>&)` is short enough to keep.
                let inner = abbreviate(String(characters[(index + 1)..<close]), limit: limit)
                if inner.count > limit {
                    output += character == "<" ? "<...>" : "(...)"
                } else {
                    output += String(character) + inner + String(characters[close])
                }
                index = close + 1
                continue
            }
            output.append(character)
            index += 1
        }
        return output
    }

    /// Whether a `<` or `(` at `index` opens an argument list: it follows part of a name
    /// (a letter, digit, `_`, `>`, `]` or `)` — not a space or the start of the text).
    private static func opensList(_ characters: [Character], at index: Int) -> Bool {
        let previous = characters[index - 1]
        return previous.isLetter || previous.isNumber || previous == "_" || previous == ">" || previous == "]"
            || previous == ")"
    }

    /// Whether `index` is just past the word `operator` (the symbol of an operator).
    private static func isOperatorSymbol(_ characters: [Character], at index: Int) -> Bool {
        guard "<>=-".contains(characters[index]), index >= 8 else { return false }
        return String(characters[(index - 8)..<index]) == "operator"
    }

    /// Index of the bracket that closes the one at `start`, nil when unbalanced.
    private static func matchingClose(_ characters: [Character], from start: Int) -> Int? {
        var depth = 0
        var index = start
        while index < characters.count {
            if isOperatorSymbol(characters, at: index) {
                while index < characters.count, "<>=-".contains(characters[index]) { index += 1 }
                continue
            }
            switch characters[index] {
            case "<", "(": depth += 1
            case ">", ")":
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
            index += 1
        }
        return nil
    }
}
