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
 *                       start a leaf (NICE and DIR may be empty); its stdout
 *                       and stderr are spooled to the files OUT and ERR,
 *                       made when the first byte comes (most streams of
 *                       most tasks stay empty, and making files is what
 *                       costs most here: ext4's inode allocator)
 *   stdin ID DATA       queue DATA (the rest of the frame, any bytes) for its stdin
 *   eof ID              close its stdin once the queued bytes are written
 *   drop ID             stop spooling its output (held by a process that escaped)
 *   limit BYTES         a leaf may spool this much (stdout + stderr) before
 *                       its output pipes are left full: the leaf blocks in
 *                       write(2), nothing is lost. 0: no limit
 *
 * Reports go to stdout, one line each:
 *   ok ID PID           exec succeeded; PID is also the process group id
 *   fail ID ERRNO STAGE chdir or exec failed (STAGE names which)
 *   out ID K LEN        stream K (1 stdout, 2 stderr) has LEN bytes in its file
 *   end ID K LEN        and no more will come
 *   stall ID K ERRNO    writing the spool failed (ENOSPC...); retried each second,
 *                       the leaf blocked meanwhile
 *   took ID N           N bytes of stdin, in all, are in the leaf's pipe
 *   shut ID             its stdin is closed; bytes not taken are dropped
 *   exit ID PID CODE SIGNAL USER_US SYS_US   the leader ended (CODE -1 when signalled)
 *   gone ID             no process of the group is left; the pgid is free
 *
 * After a leader ends, what it left in its group gets SIGTERM, and SIGKILL
 * two seconds later: a task's leftovers do not outlive it. We are subreaper
 * of the leaves' orphans, so we reap them too. When the daemon dies (stdin
 * EOF, or PR_SET_PDEATHSIG's SIGTERM) every live group is killed.
 */
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

struct chunk {
    struct chunk *next;
    size_t len, off;
    char data[];
};

/* The leaf's stdin: bytes from the daemon, queued until the pipe takes them. */
struct input {
    struct watch w;
    struct leaf *leaf;
    int fd;             /* our write end; -1 once shut */
    struct chunk *head, *tail;
    long long took, told;
    int eof;
    int watched;
    int grown;          /* the pipe was enlarged (or we tried) */
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

#define BUCKETS 4096
static struct leaf *leaves, *by_id_table[BUCKETS], *by_pid_table[BUCKETS], *graveyard;
static struct leaf **dirty;
static size_t ndirty, dirty_cap;
static int epfd, sigpipe_fds[2];
static int stalled_count, cleaning_count;   /* what sweep() has to look at */
static long long spool_limit;
static volatile sig_atomic_t dying;
static struct watch control_watch = { W_CONTROL }, signal_watch = { W_SIGNAL };

/* ---- reports: buffered, written once per loop turn ---- */

static char *rbuf;
static size_t rlen, rcap;

static void flush_reports(void)
{
    size_t off = 0;
    while (off < rlen) {
        ssize_t w = write(1, rbuf + off, rlen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;   /* the daemon is gone: stdin EOF will tell us */
        off += w;
    }
    rlen = 0;
}

static void report(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n >= (int)sizeof line)
        n = sizeof line - 1;
    if (rlen + n > rcap) {
        size_t cap = rcap ? rcap * 2 : 1 << 16;
        while (cap < rlen + n)
            cap *= 2;
        char *grown = realloc(rbuf, cap);
        if (!grown) {
            flush_reports();
            (void)!write(1, line, n);
            return;
        }
        rbuf = grown;
        rcap = cap;
    }
    memcpy(rbuf + rlen, line, n);
    rlen += n;
    if (rlen >= 1 << 20)
        flush_reports();
}

/* Remember to report the leaf's progress at the end of this loop turn. */
static void mark_dirty(struct leaf *l)
{
    if (l->dirty)
        return;
    if (ndirty == dirty_cap) {
        size_t cap = dirty_cap ? dirty_cap * 2 : 256;
        struct leaf **grown = realloc(dirty, cap * sizeof *grown);
        if (!grown)
            return;   /* reported at its next change */
        dirty = grown;
        dirty_cap = cap;
    }
    l->dirty = 1;
    dirty[ndirty++] = l;
}

static void report_progress(void)
{
    for (size_t i = 0; i < ndirty; i++) {
        struct leaf *l = dirty[i];
        l->dirty = 0;
        for (int k = 0; k < 2; k++) {
            struct stream *s = &l->out[k];
            if (s->len != s->told && s->pipe >= 0) {
                report("out %lu %d %lld\n", l->id, s->k, s->len);
                s->told = s->len;
            }
        }
        if (l->in.took != l->in.told) {
            report("took %lu %lld\n", l->id, l->in.took);
            l->in.told = l->in.took;
        }
    }
    ndirty = 0;
}

/* ---- bookkeeping ---- */

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGHUP)
        dying = 1;
    char c = (char)sig;
    (void)!write(sigpipe_fds[1], &c, 1);
    errno = saved;
}

static long long usec(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static struct timespec now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static long long ms_until(struct timespec t)
{
    struct timespec n = now();
    return (t.tv_sec - n.tv_sec) * 1000LL + (t.tv_nsec - n.tv_nsec) / 1000000;
}

static struct leaf *by_id(unsigned long id)
{
    for (struct leaf *l = by_id_table[id % BUCKETS]; l; l = l->hnext)
        if (l->id == id)
            return l;
    return NULL;
}

static struct leaf *by_pid(pid_t pid)
{
    for (struct leaf *l = by_pid_table[pid % BUCKETS]; l; l = l->pnext)
        if (l->pid == pid)
            return l;
    return NULL;
}

static void watch_fd(int fd, struct watch *w, uint32_t events, int *watched, int on)
{
    if (fd < 0 || *watched == on)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = w };
    if (epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) == 0 || !on)
        *watched = on;
}

static int over_limit(struct leaf *l)
{
    return spool_limit > 0 && l->out[0].len + l->out[1].len >= spool_limit;
}

/* Watch the stream's pipe unless it is ended, stalled or over the limit. */
static void rewatch(struct stream *s)
{
    int want = s->pipe >= 0 && !s->stalled && !over_limit(s->leaf);
    watch_fd(s->pipe, &s->w, EPOLLIN, &s->watched, want);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void end_stream(struct stream *s, int say)
{
    if (s->pipe < 0)
        return;
    watch_fd(s->pipe, &s->w, 0, &s->watched, 0);
    close_fd(&s->pipe);
    close_fd(&s->file);
    free(s->path);
    s->path = NULL;
    if (s->stalled)
        stalled_count--;
    s->stalled = 0;
    free(s->held);
    s->held = NULL;
    s->held_len = 0;
    if (say)
        report("end %lu %d %lld\n", s->leaf->id, s->k, s->len);
    s->told = s->len;
}

static void shut_input(struct input *in, int say)
{
    if (in->fd < 0)
        return;
    watch_fd(in->fd, &in->w, 0, &in->watched, 0);
    close_fd(&in->fd);
    for (struct chunk *c = in->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    in->head = in->tail = NULL;
    if (in->took != in->told) {
        report("took %lu %lld\n", in->leaf->id, in->took);
        in->told = in->took;
    }
    if (say)
        report("shut %lu\n", in->leaf->id);
}

/* Done with a leaf once its group is gone and nothing of it is open. Freed
 * after the loop turn: events already fetched may still point into it. */
static void maybe_forget(struct leaf *l)
{
    if (l->forgotten || !l->gone || l->out[0].pipe >= 0 || l->out[1].pipe >= 0 || l->in.fd >= 0 || l->errfd >= 0)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        leaves = l->next;
    if (l->next)
        l->next->prev = l->prev;
    for (struct leaf **p = &by_id_table[l->id % BUCKETS]; *p; p = &(*p)->hnext)
        if (*p == l) {
            *p = l->hnext;
            break;
        }
    for (struct leaf **p = &by_pid_table[l->pid % BUCKETS]; *p; p = &(*p)->pnext)
        if (*p == l) {
            *p = l->pnext;
            break;
        }
    if (l->dirty)
        for (size_t i = 0; i < ndirty; i++)
            if (dirty[i] == l)
                dirty[i] = dirty[--ndirty];
    l->forgotten = 1;
    l->next = graveyard;
    graveyard = l;
}

/* ---- output: pipe to spool file ---- */

static void stall(struct stream *s, int err)
{
    report("stall %lu %d %d\n", s->leaf->id, s->k, err);
    if (!s->stalled)
        stalled_count++;
    s->stalled = 1;
    s->retry = now();
    s->retry.tv_sec += 1;
    rewatch(s);
}

/* Where splice cannot write (EINVAL: a file system without it), copy. */
static int copy_some(struct stream *s, size_t want)
{
    enum { HOLD = 1 << 16 };
    if (!s->held && !(s->held = malloc(HOLD)))
        return -1;
    if (s->held_len == 0) {
        ssize_t n = read(s->pipe, s->held, want < HOLD ? want : HOLD);
        if (n <= 0)
            return (int)n;
        s->held_len = n;
    }
    ssize_t w = pwrite(s->file, s->held, s->held_len, s->len);
    if (w < 0)
        return -1;
    memmove(s->held, s->held + w, s->held_len - w);
    s->held_len -= w;
    s->len += w;
    return 1;
}

/* Make the spool file once there is something to put in it; 0 when the pipe is
 * empty (at EOF when `events` says hang-up), -1 with errno when it cannot be made. */
static int ensure_file(struct stream *s, uint32_t events)
{
    if (s->file >= 0)
        return 1;
    int avail = 0;
    if (ioctl(s->pipe, FIONREAD, &avail) == 0 && avail == 0) {
        if (events & EPOLLHUP)
            end_stream(s, 1);   /* EOF, and never a byte: no file at all */
        return 0;
    }
    s->file = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return s->file >= 0 ? 1 : -1;
}

/* Move what the pipe holds into the file, a bounded amount per turn. */
static void pump_out(struct stream *s, uint32_t events)
{
    for (int turn = 0; turn < 16 && s->pipe >= 0 && !s->stalled; turn++) {
        int made = ensure_file(s, events);
        if (made == 0)
            break;
        if (made < 0) {
            stall(s, errno);
            break;
        }
        size_t want = 1 << 20;
        if (spool_limit > 0) {
            long long room = spool_limit - s->leaf->out[0].len - s->leaf->out[1].len;
            if (room <= 0)
                break;
            if ((long long)want > room)
                want = room;
        }
        int r;
        if (s->held) {
            r = copy_some(s, want);
        } else {
            loff_t off = s->len;
            ssize_t n = splice(s->pipe, NULL, s->file, &off, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n > 0)
                s->len += n;
            if (n >= 1 << 16 && !s->grown) {
                /* It filled the default 64 KiB pipe: a busy writer gets a 1 MiB
                 * one, so it and we wake 16 times less often (1.0-1.7 s for 2 GiB
                 * became 0.95-1.07). Only busy ones: the kernel limits how much
                 * pipe memory a user may have beyond the default size. */
                s->grown = 1;
                (void)fcntl(s->pipe, F_SETPIPE_SZ, 1 << 20);
            } else if (n < 0 && errno == EINVAL)
                n = copy_some(s, want);
            r = n > 0 ? 1 : (int)n;
        }
        if (r > 0) {
            mark_dirty(s->leaf);
            continue;
        }
        if (r == 0) {
            end_stream(s, 1);   /* EOF: every writer has closed it */
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            stall(s, errno);
        break;
    }
    if (s->pipe < 0)
        maybe_forget(s->leaf);
    else
        rewatch(s);
}

/* ---- input: queued bytes to the stdin pipe ---- */

static void pump_in(struct input *in)
{
    while (in->fd >= 0 && in->head) {
        struct chunk *c = in->head;
        ssize_t n = write(in->fd, c->data + c->off, c->len - c->off);
        if (n > 0) {
            c->off += n;
            in->took += n;
            mark_dirty(in->leaf);
            if (c->off == c->len) {
                in->head = c->next;
                if (!in->head)
                    in->tail = NULL;
                free(c);
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            /* Full: a leaf fed faster than it reads gets a 1 MiB pipe, as busy output does. */
            if (!in->grown) {
                in->grown = 1;
                if (fcntl(in->fd, F_SETPIPE_SZ, 1 << 20) > 0)
                    continue;
            }
            watch_fd(in->fd, &in->w, EPOLLOUT, &in->watched, 1);
            return;
        }
        shut_input(in, 1);   /* EPIPE: nobody reads it any more */
        maybe_forget(in->leaf);
        return;
    }
    watch_fd(in->fd, &in->w, 0, &in->watched, 0);
    if (in->eof && in->fd >= 0) {
        shut_input(in, 1);
        maybe_forget(in->leaf);
    }
}

static void queue_input(struct leaf *l, const char *data, size_t n)
{
    struct input *in = &l->in;
    if (in->fd < 0 || in->eof || n == 0)
        return;   /* shut already said so; the daemon fails the write */
    struct chunk *c = malloc(sizeof *c + n);
    if (!c) {
        shut_input(in, 1);
        return;
    }
    c->next = NULL;
    c->len = n;
    c->off = 0;
    memcpy(c->data, data, n);
    if (in->tail)
        in->tail->next = c;
    else
        in->head = c;
    in->tail = c;
    if (!in->watched)
        pump_in(in);
}

/* ---- starting a leaf ---- */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= w;
    }
    return 0;
}

/* In the child: report errno at STAGE to the server, then die. */
static void child_fail(int errfd, int stage)
{
    int msg[2] = { errno, stage };
    (void)!write_all(errfd, msg, sizeof msg);
    _exit(127);
}

static const char *stages[] = { "chdir", "exec" };

static int nonblocking(int fd)
{
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void start_leaf(unsigned long id, const char *nice, const char *dir, char *const paths[2],
                       char **argv, char **envp)
{
    if (by_id(id)) {
        report("fail %lu %d exec\n", id, EEXIST);
        return;
    }
    struct leaf *l = calloc(1, sizeof *l);
    int ep[2] = { -1, -1 }, in[2] = { -1, -1 }, out[2][2] = { { -1, -1 }, { -1, -1 } };
    char *path[2] = { strdup(paths[0]), strdup(paths[1]) };
    if (!l || !path[0] || !path[1]) {
        errno = ENOMEM;
        goto fail;
    }
    /* Every end we keep is close-on-exec: a leaf holding another's pipe would keep it from EOF. */
    if (pipe2(ep, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out[0], O_CLOEXEC) < 0 || pipe2(out[1], O_CLOEXEC) < 0)
        goto fail;
    if (nonblocking(in[1]) < 0 || nonblocking(out[0][0]) < 0 || nonblocking(out[1][0]) < 0)
        goto fail;
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the leader dies with us; its group is the daemon's to end */
        if (dup2(in[0], 0) < 0 || dup2(out[0][1], 1) < 0 || dup2(out[1][1], 2) < 0)
            child_fail(ep[1], 1);
        if (dir[0] && chdir(dir) < 0)
            child_fail(ep[1], 0);
        if (nice[0])
            (void)!setpriority(PRIO_PROCESS, 0, atoi(nice));
        /* Dispositions we set survive exec as "ignored" or handled: restore all. */
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        for (int sig = 1; sig < NSIG; sig++)
            sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        environ = envp;   /* so execvp searches the leaf's own PATH */
        execvp(argv[0], argv);
        child_fail(ep[1], 1);
    }
    setpgid(pid, pid);   /* also in the child: whichever runs first wins the race */
    close(ep[1]);
    close(in[0]);
    close(out[0][1]);
    close(out[1][1]);
    l->w.kind = W_EXEC;
    l->id = id;
    l->pid = pid;
    l->errfd = ep[0];
    l->state = STARTING;
    for (int k = 0; k < 2; k++) {
        struct stream *s = &l->out[k];
        s->w.kind = W_OUT;
        s->leaf = l;
        s->k = k + 1;
        s->pipe = out[k][0];
        s->file = -1;
        s->path = path[k];
        rewatch(s);
    }
    l->in.w.kind = W_IN;
    l->in.leaf = l;
    l->in.fd = in[1];
    int ignored = 0;
    watch_fd(l->errfd, &l->w, EPOLLIN, &ignored, 1);
    l->next = leaves;
    if (leaves)
        leaves->prev = l;
    leaves = l;
    l->hnext = by_id_table[id % BUCKETS];
    by_id_table[id % BUCKETS] = l;
    l->pnext = by_pid_table[pid % BUCKETS];
    by_pid_table[pid % BUCKETS] = l;
    return;
fail:
    report("fail %lu %d exec\ngone %lu\n", id, errno, id);
    int fds[] = { ep[0], ep[1], in[0], in[1], out[0][0], out[0][1], out[1][0], out[1][1] };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(path[0]);
    free(path[1]);
    free(l);
}

/* The exec-status pipe spoke: EOF means exec happened, data means it failed. */
static void on_exec_status(struct leaf *l)
{
    int msg[2];
    ssize_t n;
    do
        n = read(l->errfd, msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    /* Out of the epoll set first: a child forked meanwhile may hold a copy
     * of the fd until it execs, and would keep the registration alive. */
    epoll_ctl(epfd, EPOLL_CTL_DEL, l->errfd, NULL);
    close_fd(&l->errfd);
    if (n == sizeof msg) {
        l->state = FAILED;
        report("fail %lu %d %s\n", l->id, msg[0], stages[msg[1] == 0 ? 0 : 1]);
        /* The daemon ends a failed leaf's spools itself. */
        end_stream(&l->out[0], 0);
        end_stream(&l->out[1], 0);
        shut_input(&l->in, 0);
    } else {
        l->state = RUNNING;
        report("ok %lu %d\n", l->id, (int)l->pid);
    }
}

static void reap(void)
{
    for (;;) {
        int st;
        struct rusage ru;
        pid_t pid = wait4(-1, &st, WNOHANG, &ru);
        if (pid <= 0)
            return;
        struct leaf *l = by_pid(pid);
        if (!l || l->state == CLEANING)
            continue;   /* an orphan of some leaf: reaped, nothing to say */
        if (l->errfd >= 0)
            on_exec_status(l);   /* read the verdict before saying it ended */
        if (l->state == RUNNING) {
            report("exit %lu %d %d %d %lld %lld\n", l->id, (int)pid,
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
                   usec(ru.ru_utime), usec(ru.ru_stime));
            /* Nobody may write to it any more: what was queued is dropped. */
            shut_input(&l->in, 1);
        }
        l->state = CLEANING;
        cleaning_count++;
        killpg(pid, SIGTERM);
        killpg(pid, SIGCONT);   /* a stopped member could not act on SIGTERM */
        l->since = now();
    }
}

/* Groups whose leader ended: gone yet? Late enough for SIGKILL? Stalled spools: retry? */
static int sweep(void)
{
    int wait_ms = -1;
    if (stalled_count == 0 && cleaning_count == 0)
        return wait_ms;
    for (struct leaf *l = leaves, *next; l; l = next) {
        next = l->next;
        if (stalled_count > 0)
            for (int k = 0; k < 2; k++) {
                struct stream *s = &l->out[k];
                if (!s->stalled)
                    continue;
                long long left = ms_until(s->retry);
                if (left <= 0) {
                    s->stalled = 0;
                    stalled_count--;
                    pump_out(s, 0);
                    if (!s->stalled)
                        continue;
                    left = ms_until(s->retry);  /* stalled again: its next retry must wake us too */
                }
                if (wait_ms < 0 || left < wait_ms)
                    wait_ms = (int)left;
            }
        if (l->state != CLEANING || l->gone)
            continue;
        if (kill(-l->pid, 0) < 0 && errno == ESRCH) {
            report("gone %lu\n", l->id);
            l->gone = 1;
            cleaning_count--;
            maybe_forget(l);
            continue;
        }
        if (!l->killed && ms_until(l->since) <= -2000) {
            killpg(l->pid, SIGKILL);
            l->killed = 1;
        }
        if (wait_ms < 0 || wait_ms > 200)
            wait_ms = 200;
    }
    return wait_ms;
}

/* ---- requests ---- */

/* The next NUL-terminated field of [*p, end), or NULL. */
static char *field(char **p, char *end)
{
    char *z = memchr(*p, 0, end - *p);
    if (!z)
        return NULL;
    char *f = *p;
    *p = z + 1;
    return f;
}

static char **fields(char **p, char *end, long *count)
{
    char *n = field(p, end);
    *count = n ? strtol(n, NULL, 10) : -1;
    if (*count < 0 || *count > 65536)
        return NULL;
    char **v = calloc(*count + 1, sizeof *v);
    for (long i = 0; v && i < *count; i++)
        if (!(v[i] = field(p, end))) {
            free(v);
            return NULL;
        }
    return v;
}

static void on_spawn(char *p, char *end)
{
    char *id = field(&p, end), *nice = field(&p, end), *dir = field(&p, end);
    char *paths[2] = { field(&p, end), field(&p, end) };
    if (!paths[1])
        return;
    long argc, envc;
    char **argv = fields(&p, end, &argc);
    char **envp = argv && argc > 0 ? fields(&p, end, &envc) : NULL;
    if (envp)
        start_leaf(strtoul(id, NULL, 10), nice, dir, paths, argv, envp);
    free(argv);
    free(envp);
}

static void on_request(char *p, size_t n)
{
    char *end = p + n;
    char *verb = field(&p, end);
    if (!verb)
        return;
    if (strcmp(verb, "spawn") == 0) {
        on_spawn(p, end);
        return;
    }
    if (strcmp(verb, "limit") == 0) {
        char *v = field(&p, end);
        spool_limit = v ? strtoll(v, NULL, 10) : 0;
        for (struct leaf *l = leaves; l; l = l->next)
            for (int k = 0; k < 2; k++) {
                rewatch(&l->out[k]);
                if (l->out[k].watched)
                    pump_out(&l->out[k], 0);
            }
        return;
    }
    char *id = field(&p, end);
    struct leaf *l = id ? by_id(strtoul(id, NULL, 10)) : NULL;
    if (!l)
        return;
    if (strcmp(verb, "stdin") == 0) {
        queue_input(l, p, end - p);
    } else if (strcmp(verb, "eof") == 0) {
        l->in.eof = 1;
        if (!l->in.watched)
            pump_in(&l->in);
    } else if (strcmp(verb, "drop") == 0) {
        end_stream(&l->out[0], 1);
        end_stream(&l->out[1], 1);
        maybe_forget(l);
    }
}

static size_t cap = 1 << 16, have;
static char *buf;

/* Frames from the daemon: u32 length, body. */
static void on_control(void)
{
    if (have == cap) {
        char *grown = realloc(buf, cap * 2);
        if (!grown)
            exit(1);
        buf = grown;
        cap *= 2;
    }
    ssize_t n = read(0, buf + have, cap - have);
    if (n == 0)
        dying = 1;   /* the daemon closed our stdin: it is gone */
    if (n <= 0)
        return;
    have += n;
    size_t off = 0;
    while (have - off >= 4) {
        uint32_t len;
        memcpy(&len, buf + off, 4);
        if (len > (64u << 20)) {
            dying = 1;   /* not our daemon talking */
            return;
        }
        if (have - off - 4 < len) {
            if (len + 4 > cap) {
                char *grown = realloc(buf, len + 4);
                if (!grown)
                    exit(1);
                buf = grown;
                cap = len + 4;
            }
            break;
        }
        on_request(buf + off + 4, len);
        off += 4 + len;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
}

static void kill_all(void)
{
    for (struct leaf *l = leaves; l; l = l->next)
        killpg(l->pid, SIGKILL);
}

static void bury(void)
{
    while (graveyard) {
        struct leaf *l = graveyard;
        graveyard = l->next;
        free(l);
    }
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: taskfs-spawnd (started by the taskfs daemon, spoken to on stdin)\n");
        return 2;
    }
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        return 1;   /* the daemon died before we could hear of it */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* A leaf inherits its stdio and nothing else of ours or the daemon's. */
    for (int fd = 3; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    buf = malloc(cap);
    if (epfd < 0 || !buf || pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);   /* Ctrl-C at the daemon's terminal is the daemon's to handle */
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &control_watch };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0)
        return 1;
    ev.data.ptr = &signal_watch;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigpipe_fds[0], &ev) < 0)
        return 1;

    struct epoll_event events[256];
    for (;;) {
        int wait_ms = sweep();
        report_progress();
        flush_reports();
        bury();
        int n = epoll_wait(epfd, events, 256, wait_ms);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            struct watch *w = events[i].data.ptr;
            switch (w->kind) {
            case W_CONTROL:
                on_control();
                break;
            case W_SIGNAL: {
                char drain[64];
                while (read(sigpipe_fds[0], drain, sizeof drain) > 0) {}
                break;
            }
            case W_EXEC: {
                struct leaf *l = (struct leaf *)w;
                if (l->errfd >= 0)
                    on_exec_status(l);
                maybe_forget(l);
                break;
            }
            case W_OUT:
                pump_out((struct stream *)w, events[i].events);
                break;
            case W_IN: {
                struct input *in = (struct input *)w;
                if (events[i].events & EPOLLERR) {
                    shut_input(in, 1);
                    maybe_forget(in->leaf);
                } else {
                    pump_in(in);
                }
                break;
            }
            }
        }
        reap();
        if (dying) {
            kill_all();
            report_progress();
            flush_reports();
            return 0;
        }
    }
}
