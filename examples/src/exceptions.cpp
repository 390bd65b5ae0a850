// exceptions — C++ with exceptions thrown through frames that own containers, and the
// standard containers (vector, map, unordered_map, string, list, shared_ptr). Every
// exception is caught; one vector of 100 ints (400 bytes) is leaked through a raw
// pointer that is then overwritten (definitely lost), and a map kept in a global is
// still reachable at exit. The output is a checksum, the same every run.
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

static std::map<std::string, int> *g_kept;
static std::vector<int> *volatile g_lost;

__attribute__((noinline)) static int parse(const std::string &s) {
    std::vector<std::string> parts;
    std::string part;
    for (char c : s) {
        if (c == ',') {
            parts.push_back(part);
            part.clear();
        } else {
            part += c;
        }
    }
    parts.push_back(part);
    int sum = 0;
    for (auto &p : parts) {
        if (p.empty() || p[0] == 'x')
            throw std::invalid_argument("bad field '" + p + "' in a long enough input line: " + s);
        sum += std::stoi(p);
    }
    return sum;
}

__attribute__((noinline)) static long work(int rounds) {
    long total = 0;
    std::unordered_map<int, std::list<std::shared_ptr<std::string>>> table;
    for (int i = 0; i < rounds; i++) {
        std::string line = std::to_string(i) + "," + std::to_string(i * 3) + (i % 7 == 0 ? ",x" : ",5");
        try {
            total += parse(line);
        } catch (const std::invalid_argument &e) {
            table[i % 13].push_back(std::make_shared<std::string>(e.what()));
            total -= 1;
        }
    }
    for (auto &entry : table)
        total += (long)entry.second.size();
    return total;
}

int main() {
    long total = work(3000);
    g_kept = new std::map<std::string, int>;
    for (int i = 0; i < 50; i++)
        (*g_kept)["key number " + std::to_string(i)] = i;
    g_lost = new std::vector<int>(100, 1);
    g_lost = nullptr;
    std::printf("total %ld, kept %zu\n", total, g_kept->size());
    return 0;
}
