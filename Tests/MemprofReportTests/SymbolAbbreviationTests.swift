import Testing

@testable import MemprofReport

@Suite("SymbolAbbreviation")
struct SymbolAbbreviationTests {
    @Test(
        "long template and parameter lists are elided, short ones kept",
        arguments: [
            (
                "std::_Rb_tree<int, std::pair<int const, std::__cxx11::basic_string<char, std::char_traits<char>, "
                    + "std::allocator<char> > >, std::less<int> >::_M_get_node() (stl_tree.h:561)",
                "std::_Rb_tree<...>::_M_get_node() (stl_tree.h:561)"
            ),
            (
                "fill_map(std::map<int, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > >&)",
                "fill_map(std::map<...>&)"
            ),
            ("std::vector<int>::push_back(int const&)", "std::vector<int>::push_back(int const&)"),
            ("operator<<(std::ostream&, Foo const&)", "operator<<(std::ostream&, Foo const&)"),
            ("Foo::operator<=>(Foo const&) const", "Foo::operator<=>(Foo const&) const"),
            ("Foo::operator->()", "Foo::operator->()"),
            (
                "bool std::operator< <int>(X<int> const&, X<int> const&)",
                "bool std::operator< <int>(X<int> const&, X<int> const&)"
            ),
            ("<stack 4 not recorded>", "<stack 4 not recorded>"),
            ("<no frames>", "<no frames>"),
            ("main (leak.c:30)", "main (leak.c:30)"),
            ("0x7f00 (libc.so.6)", "0x7f00 (libc.so.6)"),
            ("unbalanced<int", "unbalanced<int"),
        ])
    func abbreviate(name: String, expected: String) {
        #expect(SymbolAbbreviation.abbreviate(name) == expected)
    }
}
