/* hello: a dynamically linked C program for smoke runs; prints one line and exits 0.
 * Built by samples/apps/build.sh for x86_64 (gcc) and aarch64 (aarch64-linux-gnu-gcc). */
#include <stdio.h>
#include <sys/utsname.h>

int main(int argc, char **argv)
{
    struct utsname u;
    if (uname(&u) != 0)
        return 1;
    printf("hello from C on %s (%d args)\n", u.machine, argc - 1);
    for (int i = 1; i < argc; i++)
        printf("arg %d: %s\n", i, argv[i]);
    return 0;
}
