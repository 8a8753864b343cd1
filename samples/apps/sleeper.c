/* sleeper: sleeps for its argument in seconds (default 3600), to test smoke-run timeouts. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 3600);
    return 0;
}
