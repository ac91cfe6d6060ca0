/*
 * taskfs-spawnd: the node's process server. One per node, started by the daemon.
 *
 *   taskfs-spawnd
 *
 * It starts the leaves, spools their output, feeds their input and reaps
 * them, so that none of this runs in the daemon's one thread:
 *   - forking the large Node process costs about 2 ms per leaf, this small
 *     process a fraction of that;
 *   - a leaf's stdout and stderr are pipes that we splice(2) into its spool
 *     files: output goes from the leaf to the page cache without passing
 *     through the daemon, which reads the files to answer readers, and
 *     learns only how long they are;
 *   - wait4() gives each leaf's user and system time, which Node cannot.
 *
 * Requests arrive on stdin, one frame each: u32 length (little endian), then
 * NUL-terminated fields, the first naming the request:
 *   spawn ID NICE DIR OUT ERR ARGC ARG... ENVC ENV...
 *                       start a leaf (NICE and DIR may be empty; a DIR written
 *                       +PATH is made, mode 0700, if missing: the leaf's own
 *                       directory, made in the child, not by the daemon); its stdout
 *                       and stderr are spooled to the files OUT and ERR,
 *                       made when the first byte comes (most streams of
 *                       most tasks stay empty, and making files is what
 *                       costs most here: ext4's inode allocator)
 *   stdin IDS DATA      queue DATA (the rest of the frame, any bytes) for the stdin
 *                       of each leaf in IDS (one ID, or several joined by commas:
 *                       a fan-out sends its bytes here once, not once per leaf;
 *                       each leaf keeps its own place in them)
 *   eof ID              close its stdin once the queued bytes are written
 *   drop ID             stop spooling its output (held by a process that escaped)
 *   limit BYTES         a leaf may spool this much (stdout + stderr) before
 *                       its output pipes are left full: the leaf blocks in
 *                       write(2), nothing is lost. 0: no limit
 *
 * Reports go to stdout, one line each:
 *   ok ID PID           exec succeeded; PID is also the process group id
 *   fail ID ERRNO STAGE mkdir/chdir or exec failed (STAGE names which)
 *   out ID K LEN        stream K (1 stdout, 2 stderr) has LEN bytes in its file
 *   end ID K LEN        and no more will come
 *   stall ID K ERRNO    writing the spool failed (ENOSPC...); retried each second,
 *                       the leaf blocked meanwhile
 *   took ID N           N bytes of stdin, in all, are in the leaf's pipe (per leaf,
 *                       also when the bytes came in a frame for several)
 *   shut ID             its stdin is closed; bytes not taken are dropped
 *   exit ID PID CODE SIGNAL USER_US SYS_US   the leader ended (CODE -1 when signalled)
 *   gone ID             no process of the group is left; the pgid is free
 *
 * After a leader ends, what it left in its group gets SIGTERM, and SIGKILL
 * two seconds later: a task's leftovers do not outlive it. We are subreaper
 * of the leaves' orphans, so we reap them too. When the daemon dies (stdin
 * EOF, or PR_SET_PDEATHSIG's SIGTERM) every live group is killed.
 */

/*
 * spawnd.h: what the parts of taskfs-spawnd share. One file a part, each
 * named for its job: spawnd-main.c (requests, event loop), spawnd-reports.c
 * (reports, bookkeeping), spawnd-output.c, spawnd-input.c, spawnd-leaf.c
 * (starting, reaping, sweeping).
 */
#ifndef SPAWND_H
#define SPAWND_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { STARTING, RUNNING, CLEANING, FAILED };
enum { W_CONTROL, W_SIGNAL, W_EXEC, W_OUT, W_IN };

/* What an epoll event points at: every watched thing starts with one. */
struct watch {
    int kind;
};

/* One output pipe of a leaf, spooled to a file. */
struct stream {
    struct watch w;
    struct leaf *leaf;
    int k;              /* 1 stdout, 2 stderr */
    int pipe;           /* our read end; -1 once ended */
    int file;           /* the spool file; -1 until the first byte, and once ended */
    char *path;         /* where it goes */
    long long len;      /* bytes in the file */
    long long told;     /* len last reported */
    int watched;
    int grown;          /* the pipe was enlarged (or we tried) */
    int stalled;        /* a write failed; retry at `retry` */
    struct timespec retry;
    char *held;         /* when splice cannot: bytes read from the pipe, not yet written */
    size_t held_len;
};

/* Bytes of one stdin frame, shared by the leaves it names: freed with the last reference. */
struct chunk {
    size_t refs, len;
    char data[];
};

/* A leaf's place in a chunk: what of it this leaf's pipe has not taken yet. */
struct piece {
    struct piece *next;
    struct chunk *c;
    size_t off;
};

/* The leaf's stdin: bytes from the daemon, queued until the pipe takes them. */
struct input {
    struct watch w;
    struct leaf *leaf;
    int fd;             /* our write end; -1 once shut */
    struct piece *head, *tail;
    long long took, told;
    int eof;
    int watched;
    int grown;          /* the pipe was enlarged (or we tried) */
    int resting;        /* the full pipe has room again: refill it at `due` */
    struct timespec due;
};

struct leaf {
    struct watch w;     /* the exec-status pipe */
    unsigned long id;
    pid_t pid;
    int errfd;          /* exec-status pipe while STARTING, else -1 */
    int state;
    int killed;         /* SIGKILL sent while CLEANING */
    int gone;           /* reported gone */
    int forgotten;      /* in the graveyard */
    int dirty;          /* on the dirty list: has something to report */
    struct timespec since;
    struct stream out[2];
    struct input in;
    struct leaf *next, *prev;   /* all leaves */
    struct leaf *hnext, *pnext; /* hash chains by id and by pid */
};

/* The state of the process server (defined in spawnd-main.c). */
#define BUCKETS 4096
extern struct leaf *leaves, *by_id_table[BUCKETS], *by_pid_table[BUCKETS], *graveyard;
extern struct leaf **dirty;
extern size_t ndirty, dirty_cap;
extern int epfd, sigpipe_fds[2];
extern int stalled_count, cleaning_count, resting_count;
extern long long spool_limit;
extern volatile sig_atomic_t dying;
extern struct watch control_watch, signal_watch;

/* spawnd-reports.c */
void flush_reports(void);
void report(const char *fmt, ...);
void mark_dirty(struct leaf *l);
void report_progress(void);
void on_signal(int sig);
long long usec(struct timeval tv);
struct timespec now(void);
long long ms_until(struct timespec t);
long long us_until(struct timespec t);
struct leaf *by_id(unsigned long id);
struct leaf *by_pid(pid_t pid);
void watch_fd(int fd, struct watch *w, uint32_t events, int *watched, int on);
void rewatch(struct stream *s);
void close_fd(int *fd);
void end_stream(struct stream *s, int say);
void shut_input(struct input *in, int say);
void maybe_forget(struct leaf *l);

/* spawnd-output.c */
void pump_out(struct stream *s, uint32_t events);

/* spawnd-input.c */
void pump_in(struct input *in);
void rest_input(struct input *in);
int wake_input(struct input *in);
void on_stdin(char *ids, const char *data, size_t n);
void drop_pieces(struct input *in);

/* spawnd-leaf.c */
void start_leaf(unsigned long id, const char *nice, const char *dir, char *const paths[2],
                char **argv, char **envp);
void on_exec_status(struct leaf *l);
void reap(void);
int sweep(void);

#endif
