// leaks_std — the standard containers, and one real leak: a heap-allocated Registry
// (a vector, a map, a list, an unordered_map and strings, each holding heap blocks)
// whose only pointer is dropped. Everything else is freed at exit or still reachable
// from a global. valgrind's figures on this program are the oracle
// (Tests/IntegrationTests/RealLeakOracleTests.swift): the Registry block is
// definitely lost, every block it reaches is indirectly lost, nothing possibly lost.
#include <cstdio>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Registry {
    std::vector<std::string> names;
    std::map<int, std::vector<int>> groups;
    std::list<std::string> history;
    std::unordered_map<std::string, std::vector<double>> series;
    std::vector<int> ids; // 100 ints: one 400-byte block
};

__attribute__((noinline)) Registry *build(int n) {
    auto *r = new Registry;
    for (int i = 0; i < n; i++) {
        r->names.push_back("name-with-a-long-tail-" + std::to_string(i)); // beyond the SSO buffer
        r->groups[i] = std::vector<int>(i % 7 + 1, i);
        r->history.push_back(std::string(48, char('a' + i % 26)));
        r->series["key-long-enough-for-the-heap-" + std::to_string(i)] = std::vector<double>(3, i);
    }
    r->ids.reserve(100);
    for (int i = 0; i < 100; i++)
        r->ids.push_back(i);
    return r;
}

} // namespace

// Still reachable from a global at exit, as valgrind calls it.
std::vector<std::string> *volatile g_kept;

int main() {
    // Built and freed: temporary churn through every container.
    for (int round = 0; round < 3; round++) {
        Registry *r = build(40);
        delete r;
    }
    g_kept = new std::vector<std::string>{std::string(64, 'k'), std::string(80, 'q')};
    Registry *leaked = build(30);
    std::printf("%zu names\n", leaked->names.size());
    leaked = nullptr; // the only pointer is gone
    return 0;
}
