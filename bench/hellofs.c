/*
 * hellofs: the C baseline of the metadata benchmark, the ceiling of FUSE on
 * this machine. A libfuse2 high-level (path based) file system, run by
 * fuse_main's multi-threaded loop as fuse-native runs its own, serving one
 * constant file /status. The benchmark mounts it with the options taskfs
 * uses (direct_io, attr_timeout=0, entry_timeout=0 ...).
 *
 *   gcc -O2 -o hellofs hellofs.c $(pkg-config fuse --cflags --libs)
 *   hellofs MOUNTPOINT -f -o OPTIONS
 */
#define FUSE_USE_VERSION 26
#include <errno.h>
#include <fuse.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char name[] = "/status";
static const char text[] = "4 Linux x86_64\n";

static int hello_getattr(const char *path, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, name) == 0) {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = 0; /* like taskfs' synthetic files: length 0, direct I/O */
        return 0;
    }
    return -ENOENT;
}

static int hello_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi)
{
    (void)off;
    (void)fi;
    if (strcmp(path, "/") != 0)
        return -ENOENT;
    fill(buf, ".", NULL, 0);
    fill(buf, "..", NULL, 0);
    fill(buf, name + 1, NULL, 0);
    return 0;
}

static int hello_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, name) != 0)
        return -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EACCES;
    return 0;
}

static int hello_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    if (strcmp(path, name) != 0)
        return -ENOENT;
    const size_t len = sizeof text - 1;
    if ((size_t)off >= len)
        return 0;
    if (size > len - off)
        size = len - off;
    memcpy(buf, text + off, size);
    return size;
}

static struct fuse_operations ops = {
    .getattr = hello_getattr,
    .readdir = hello_readdir,
    .open = hello_open,
    .read = hello_read,
};

int main(int argc, char *argv[])
{
    return fuse_main(argc, argv, &ops, NULL);
}
