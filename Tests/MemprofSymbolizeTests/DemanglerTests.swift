import MemprofSymbolize
import Testing

@Suite("Demangler")
struct DemanglerTests {
    @Test(
        "C++ names demangle through __cxa_demangle",
        arguments: [
            ("_ZN2ns6WidgetIiE4makeEm", "ns::Widget<int>::make(unsigned long)"),
            ("_Z3fooi", "foo(int)"),
            ("_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"),
            // GCC clone suffixes stay visible: a cold part is not the hot function.
            ("_Z3fooi.cold", "foo(int) [clone .cold]"),
        ])
    func cxx(mangled: String, demangled: String) {
        #expect(Demangler.demangle(mangled) == demangled)
    }

    @Test(
        "Swift names demangle through the runtime's swift_demangle",
        arguments: [
            ("$s4main3fooyyF", "main.foo() -> ()"),
            ("$sSa6appendyyxnF", "Swift.Array.append(__owned A) -> ()"),
        ])
    func swift(mangled: String, demangled: String) {
        #expect(Demangler.demangle(mangled) == demangled)
    }

    @Test(
        "C names and names that fail to demangle come back unchanged",
        arguments: ["malloc", "main", "__libc_start_main", "_Znot_a_valid_name", "$snotswift", "", "_"])
    func unchanged(symbol: String) {
        #expect(Demangler.demangle(symbol) == symbol)
    }
}
