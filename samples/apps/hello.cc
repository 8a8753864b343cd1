// hello-cxx: a dynamically linked C++ program (needs libstdc++ and libgcc_s) for smoke runs.
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    std::cout << "hello from C++ with " << args.size() << " args" << std::endl;
    return 0;
}
