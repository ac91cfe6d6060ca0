/*
 * metaclient: the client side of the metadata benchmark, in C so that the
 * client's own cost is a few system calls, not a runtime's.
 *
 *   metaclient stat|read PATH SECONDS
 *
 * Loops stat(PATH), or open(PATH) + read until EOF + close, for SECONDS of
 * wall time and prints one line: "OPS SECONDS OPS_PER_SECOND". Any failing
 * call ends it with exit 1 and the errno text on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "stat") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: metaclient stat|read PATH SECONDS\n");
        return 2;
    }
    const int do_read = strcmp(argv[1], "read") == 0;
    const char *path = argv[2];
    const double secs = atof(argv[3]);
    char buf[65536];
    struct stat st;
    long ops = 0;
    const double start = now();
    double end = start;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            if (do_read) {
                int fd = open(path, O_RDONLY);
                if (fd < 0) {
                    fprintf(stderr, "metaclient: open %s: %s\n", path, strerror(errno));
                    return 1;
                }
                ssize_t n;
                while ((n = read(fd, buf, sizeof buf)) > 0)
                    ;
                if (n < 0) {
                    fprintf(stderr, "metaclient: read %s: %s\n", path, strerror(errno));
                    return 1;
                }
                close(fd);
            } else if (stat(path, &st) != 0) {
                fprintf(stderr, "metaclient: stat %s: %s\n", path, strerror(errno));
                return 1;
            }
            ops++;
        }
        end = now();
        if (end - start >= secs)
            break;
    }
    printf("%ld %.6f %.1f\n", ops, end - start, ops / (end - start));
    return 0;
}
