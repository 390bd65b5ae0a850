import MemprofSymbolize
import Testing

@testable import MemprofReport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("LeakSuppression")
struct LeakSuppressionTests {
    private func matches(_ pattern: String, _ name: String) -> Bool {
        LeakSuppression(pattern: pattern).matches(name)
    }

    // MARK: Parsing

    @Test("leak lines are read in order; comments, blank lines and surrounding blanks are ignored")
    func parsing() throws {
        let text = """
            # third-party caches
            leak:libfontconfig.so

              leak:^OpenSSL_*init$\t
            \t# indented comment
            leak:  vendor/json.c
            leak:#not a comment
            """
        let suppressions = try LeakSuppression.parse(text, file: "app.supp")
        #expect(
            suppressions.map(\.pattern) == ["libfontconfig.so", "^OpenSSL_*init$", "vendor/json.c", "#not a comment"])
        #expect(suppressions.map(\.line) == [2, 4, 6, 7])
        #expect(suppressions.allSatisfy { $0.file == "app.supp" })
        #expect(suppressions[1].description == "leak:^OpenSSL_*init$")
    }

    @Test("CRLF line endings and a missing final newline are fine; an empty file has no suppressions")
    func lineEndings() throws {
        let suppressions = try LeakSuppression.parse("# windows\r\nleak:a\r\n\r\nleak:b", file: "w.supp")
        #expect(suppressions.map(\.pattern) == ["a", "b"])
        #expect(suppressions.map(\.line) == [2, 4])
        #expect(try LeakSuppression.parse("", file: "empty.supp").isEmpty)
        #expect(try LeakSuppression.parse("# only\n\n", file: "c.supp").isEmpty)
    }

    @Test(
        "a bad line is an error naming the file and the line",
        arguments: [
            ("leak:a\nrace:foo\n", 2, "unsupported suppression type 'race'"),
            ("interceptor_via_fun:bar", 1, "unsupported suppression type 'interceptor_via_fun'"),
            ("\n\nmy_function\n", 3, "expected leak:PATTERN, got 'my_function'"),
            ("# c\nLeak:x", 2, "unsupported suppression type 'Leak'"),
            ("leak x:y", 1, "expected leak:PATTERN, got 'leak x:y'"),
            (":pattern", 1, "expected leak:PATTERN"),
            ("leak:a\nleak:   \n", 2, "empty pattern after 'leak:'"),
        ])
    func badLines(text: String, line: Int, message: String) {
        #expect {
            try LeakSuppression.parse(text, file: "bad.supp")
        } throws: { error in
            guard case .invalidLine(let path, let badLine, let reason) = error as? LeakSuppressionError else {
                return false
            }
            let description = "\(error)"
            return path == "bad.supp" && badLine == line && reason.contains(message)
                && description.hasPrefix("bad.supp:\(line): ") && !description.contains("\n")
        }
    }

    @Test("a file is read whole; a missing file or a directory is an error naming the path")
    func load() throws {
        let path = "/tmp/memprof-suppressions-\(getpid()).supp"
        let text = "# test\nleak:make_buffer\nleak:*parser.cpp$\n"
        let file = try #require(fopen(path, "w"))
        fputs(text, file)
        fclose(file)
        defer { unlink(path) }
        #expect(try LeakSuppression.load(path: path).map(\.pattern) == ["make_buffer", "*parser.cpp$"])

        #expect(
            throws: LeakSuppressionError.unreadable(path: "/nonexistent/x.supp", reason: "No such file or directory")
        ) {
            try LeakSuppression.load(path: "/nonexistent/x.supp")
        }
        #expect(
            LeakSuppressionError.unreadable(path: "/nonexistent/x.supp", reason: "No such file or directory")
                .description == "cannot read suppression file /nonexistent/x.supp: No such file or directory")
        #expect(throws: LeakSuppressionError.unreadable(path: "/tmp", reason: "Is a directory")) {
            try LeakSuppression.load(path: "/tmp")
        }
    }

    // MARK: Matching

    @Test("without wildcards or anchors a pattern matches anywhere")
    func substring() {
        #expect(matches("buffer", "make_buffer"))
        #expect(matches("make_buffer", "make_buffer"))
        #expect(matches("ke_bu", "make_buffer"))
        #expect(!matches("make_buffers", "make_buffer"))
        #expect(!matches("Make", "make_buffer"))  // case matters
    }

    @Test("^ and $ anchor at the start and the end")
    func anchors() {
        #expect(matches("^make", "make_buffer"))
        #expect(!matches("^buffer", "make_buffer"))
        #expect(matches("buffer$", "make_buffer"))
        #expect(!matches("make$", "make_buffer"))
        #expect(matches("^make_buffer$", "make_buffer"))
        #expect(!matches("^make_buffer$", "make_buffer2"))
        #expect(!matches("^make_buffer$", "xmake_buffer"))
        #expect(matches("^libc.so.6$", "libc.so.6"))
    }

    @Test("* matches any run of characters, also an empty one")
    func wildcards() {
        #expect(matches("make*buffer", "make_buffer"))
        #expect(matches("make*buffer", "makebuffer"))
        #expect(matches("^std::*::allocate$", "std::vector<int>::allocate"))
        #expect(!matches("^std::*::allocate$", "std::vector<int>::allocate_more"))
        #expect(matches("*", "anything"))
        #expect(matches("^*$", "anything"))
        #expect(matches("a*b*c", "xxaYYbZZcxx"))
        #expect(!matches("a*b*c", "xxaYYcZZbxx"))
        #expect(matches("^a*", "abc"))
        #expect(!matches("^a*", "bac"))
        #expect(matches("*c$", "abc"))
        // Pieces cannot overlap.
        #expect(!matches("^ab*ba$", "aba"))
        #expect(matches("^ab*ba$", "abba"))
        // LeakSanitizer's left-to-right search gives up here; memprof finds the match.
        #expect(matches("a*b$", "abxb"))
    }

    @Test("a $ inside a pattern is an ordinary character (Swift mangled names); an empty name never matches")
    func literalDollar() {
        #expect(matches("$s4main", "$s4main6Parser5parseyyF"))
        #expect(matches("^$s4main*F$", "$s4main6Parser5parseyyF"))
        #expect(!matches("*", ""))
        #expect(!matches("^", ""))
    }

    @Test("a frame matches by function, source file (path or name) or module (path or name)")
    func frames() {
        let frame = SymbolizedFrame(
            address: 0x10, function: "Parser::parse()",
            location: SourceLocation(file: "/work/src/parser.cpp", line: 88), module: "/usr/lib/libparse.so.1",
            isInlined: false)
        for pattern in [
            "Parser::parse", "^Parser::*()$", "parser.cpp", "^parser.cpp$", "^/work/src/", "libparse",
            "^libparse.so.1$", "^/usr/lib/libparse.so.1$",
        ] {
            #expect(LeakSuppression(pattern: pattern).matches(frame), "\(pattern)")
        }
        for pattern in ["^Parser$", "main", "^src/parser.cpp", "libparse.so$"] {
            #expect(!LeakSuppression(pattern: pattern).matches(frame), "\(pattern)")
        }
        let bare = SymbolizedFrame(address: 0x20, function: nil, location: nil, module: nil, isInlined: false)
        #expect(!LeakSuppression(pattern: "*").matches(bare))
        #expect(LeakSuppression(pattern: "parse").matches(anyOf: [bare, frame]))
        #expect(!LeakSuppression(pattern: "parse").matches(anyOf: [bare]))
    }
}
