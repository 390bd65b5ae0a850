// cxx_plugin — a C++ library that local_cxx_host loads with RTLD_LOCAL, as python
// loads an extension module: libstdc++ comes in as its dependency and is then not in
// the global scope, where a preload looks up the next operator new.
#include <string>
#include <vector>

extern "C" int cxx_plugin_work(void) {
    std::vector<std::string> *words = new std::vector<std::string>();
    for (int i = 0; i < 100; i++)
        words->push_back(std::string(40, static_cast<char>('a' + i % 26)));
    int n = static_cast<int>(words->size());
    delete words;
    return n;
}
