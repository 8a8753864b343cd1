/*
 * smoke_init: PID 1 of a system-mode smoke run (builder/initramfs.py puts it at
 * /.smoke/init and boots with rdinit=/.smoke/init).
 *
 * Mounts proc, sysfs and devtmpfs, runs the command stored in /.smoke/argv
 * (NUL-separated) with the environment in /.smoke/env and the working directory in
 * /.smoke/workdir, prints marker lines around its output with the exit code, and
 * powers the machine off. The markers are what builder/smoke.py looks for on the
 * serial console:
 *     @@SMOKE-BEGIN@@
 *     ...command output...
 *     @@SMOKE-EXIT=<code>@@          (128+N when killed by signal N)
 * An exec failure is reported as "smoke-init: cannot execute PATH: REASON" and
 * exit code 127, like a shell does.
 *
 * Static build: gcc -static -Os -o init smoke_init.c (and aarch64-linux-gnu-gcc).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 256

extern char **environ;

static char argv_buf[65536];
static char env_buf[65536];

/* Read a file of NUL-separated strings into buf and point vec at them. */
static int read_vector(const char *path, char *buf, size_t size, char **vec, int max)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t len = read(fd, buf, size - 1);
    close(fd);
    if (len < 0)
        return -1;
    buf[len] = '\0';
    int n = 0;
    for (char *p = buf; p < buf + len && n < max - 1; p += strlen(p) + 1)
        vec[n++] = p;
    vec[n] = NULL;
    return n;
}

static void try_mount(const char *source, const char *target, const char *type)
{
    mkdir(target, 0755);
    /* A rootfs without /proc or /dev still runs; the command may not need them. */
    if (mount(source, target, type, 0, NULL) != 0 && errno != EBUSY)
        fprintf(stderr, "smoke-init: mount %s on %s: %s\n", type, target, strerror(errno));
}

static void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    /* Only reached when power-off is impossible; panic=-1 and -no-reboot end QEMU. */
    _exit(1);
}

int main(void)
{
    char *args[MAX_ARGS];
    char *envs[MAX_ARGS];
    char workdir[4096] = "/";

    try_mount("proc", "/proc", "proc");
    try_mount("sysfs", "/sys", "sysfs");
    try_mount("devtmpfs", "/dev", "devtmpfs");
    /* The kernel opened /dev/console from the initramfs; reopen it from devtmpfs so
     * the command's stdio works even when the rootfs had no /dev/console. */
    int console = open("/dev/console", O_RDWR);
    if (console >= 0) {
        dup2(console, 0);
        dup2(console, 1);
        dup2(console, 2);
        if (console > 2)
            close(console);
    }

    int nargs = read_vector("/.smoke/argv", argv_buf, sizeof argv_buf, args, MAX_ARGS);
    if (read_vector("/.smoke/env", env_buf, sizeof env_buf, envs, MAX_ARGS) < 0)
        envs[0] = NULL;
    int wfd = open("/.smoke/workdir", O_RDONLY);
    if (wfd >= 0) {
        ssize_t len = read(wfd, workdir, sizeof workdir - 1);
        workdir[len > 0 ? len : 0] = '\0';
        if (len <= 0)
            strcpy(workdir, "/");
        close(wfd);
    }

    printf("\n@@SMOKE-BEGIN@@\n");
    fflush(stdout);
    int code;
    if (nargs <= 0) {
        fprintf(stderr, "smoke-init: no command in /.smoke/argv\n");
        code = 127;
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            if (chdir(workdir) != 0) {
                fprintf(stderr, "smoke-init: cannot chdir to %s: %s\n", workdir, strerror(errno));
                _exit(126);
            }
            /* execvp searches the PATH of the command's own environment. */
            environ = envs;
            execvp(args[0], args);
            int err = errno;
            fprintf(stderr, "smoke-init: cannot execute %s: %s\n", args[0], strerror(err));
            _exit(err == ENOENT ? 127 : 126);
        }
        int status = 0;
        if (pid < 0) {
            fprintf(stderr, "smoke-init: fork: %s\n", strerror(errno));
            code = 126;
        } else {
            /* As PID 1 we also reap orphans; stop when the command itself is done. */
            pid_t done;
            while ((done = wait(&status)) != pid && !(done < 0 && errno != EINTR))
                ;
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    printf("\n@@SMOKE-EXIT=%d@@\n", code);
    fflush(stdout);
    fflush(stderr);
    power_off();
    return 0;
}
