// containers — C++ allocation through new/delete and the standard containers.
// Leaks exactly one Widget (leak_widget) of sizeof(Widget) = 48 bytes.
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shapes {
struct Widget {
    double x[6];
};

template <typename T> __attribute__((noinline)) T *make_leaked() { return new T(); }
} // namespace shapes

__attribute__((noinline)) void fill_map(std::map<int, std::string> &m) {
    for (int i = 0; i < 1000; i++)
        m[i] = std::string(40, 'x'); // beyond the small-string buffer: heap
}

shapes::Widget *volatile g_leaked;

__attribute__((noinline)) void leak_widget() { g_leaked = shapes::make_leaked<shapes::Widget>(); }

int main() {
    std::map<int, std::string> m;
    fill_map(m);
    std::vector<std::unique_ptr<int>> v;
    for (int i = 0; i < 100; i++)
        v.push_back(std::make_unique<int>(i));
    leak_widget();
    return 0;
}
