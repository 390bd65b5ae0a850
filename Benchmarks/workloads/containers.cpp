// containers — C++ churn through std::string, std::map and std::vector.
//   containers [ROUNDS=200]
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
    std::size_t total = 0;
    for (int r = 0; r < rounds; r++) {
        std::map<std::string, std::vector<int>> m;
        for (int i = 0; i < 2000; i++) {
            std::string key = "key-with-a-long-prefix-" + std::to_string(i * 7919 % 10007);
            auto &v = m[key];
            for (int k = 0; k < (i % 13); k++)
                v.push_back(k);
        }
        for (auto &entry : m)
            total += entry.first.size() + entry.second.size();
    }
    return total == 42 ? 1 : 0;
}
