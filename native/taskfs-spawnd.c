/*
 * taskfs-spawnd: the node's fork server. One per node, started by the daemon.
 *
 *   taskfs-spawnd SOCKET
 *
 * Why: forking the large Node process costs about 2 ms per leaf, spent in
 * the daemon's only thread; this small process forks in a fraction of that.
 * And wait4() gives each leaf's user and system time, which Node cannot.
 *
 * Requests arrive on stdin, one frame each: u32 length (little endian), then
 * NUL-terminated fields:  ID NICE DIR ARGC ARG... ENVC ENV...
 * (NICE and DIR may be empty). The forked leaf leads its own process group,
 * connects three times to the daemon's unix SOCKET and writes "ID K\n" on
 * each (K = 0, 1, 2), makes them its stdin, stdout and stderr, and execs.
 *
 * Reports go to stdout, one line each:
 *   ok ID PID                           exec succeeded; PID is also the process group id
 *   fail ID ERRNO STAGE                 connect, chdir or exec failed (STAGE names which)
 *   exit ID PID CODE SIGNAL USER_US SYS_US   the leader ended (CODE -1 when signalled)
 *   gone ID                             no process of the group is left; the pgid is free
 *
 * After a leader ends, what it left in its group gets SIGTERM, and SIGKILL
 * two seconds later: a task's leftovers do not outlive it. We are subreaper
 * of the leaves' orphans, so we reap them too. When the daemon dies (stdin
 * EOF, or PR_SET_PDEATHSIG's SIGTERM) every live group is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { STARTING, RUNNING, CLEANING, FAILED };

struct leaf {
    char id[32];
    pid_t pid;
    int errfd;          /* exec-status pipe while STARTING, else -1 */
    int state;
    int killed;         /* SIGKILL sent while CLEANING */
    struct timespec since;
    struct leaf *next;
};

static struct leaf *leaves;
static const char *sockpath;
static int sigpipe_fds[2];
static volatile sig_atomic_t dying;

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
    for (int off = 0; off < n;) {
        ssize_t w = write(1, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += w;
    }
}

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

static struct leaf *by_pid(pid_t pid)
{
    for (struct leaf *l = leaves; l; l = l->next)
        if (l->pid == pid)
            return l;
    return NULL;
}

static void forget(struct leaf *gone)
{
    for (struct leaf **p = &leaves; *p; p = &(*p)->next)
        if (*p == gone) {
            *p = gone->next;
            free(gone);
            return;
        }
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= w;
    }
    return 0;
}

/* In the child: report errno at STAGE to the server, then die. */
static void child_fail(int errfd, int stage)
{
    int msg[2] = { errno, stage };
    (void)!write(errfd, msg, sizeof msg);
    _exit(127);
}

static const char *stages[] = { "connect", "chdir", "exec" };

static void start_leaf(const char *id, const char *nice, const char *dir, char **argv, char **envp)
{
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) {
        report("fail %s %d exec\n", id, errno);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        report("fail %s %d exec\n", id, errno);
        close(ep[0]);
        close(ep[1]);
        return;
    }
    if (pid == 0) {
        close(ep[0]);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the leader dies with the fork server; its group is the daemon's to end */
        for (int k = 0; k < 3; k++) {
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un sa = { .sun_family = AF_UNIX };
            strncpy(sa.sun_path, sockpath, sizeof sa.sun_path - 1);
            while (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
                if (errno != EINTR)
                    child_fail(ep[1], 0);
            }
            if (s < 0)
                child_fail(ep[1], 0);
            char head[48];
            int n = snprintf(head, sizeof head, "%s %d\n", id, k);
            if (write_all(s, head, n) < 0 || dup2(s, k) < 0)
                child_fail(ep[1], 0);
            if (s > 2)
                close(s);
        }
        if (dir[0] && chdir(dir) < 0)
            child_fail(ep[1], 1);
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
        child_fail(ep[1], 2);
    }
    close(ep[1]);
    setpgid(pid, pid);   /* also in the child: whichever runs first wins the race */
    struct leaf *l = calloc(1, sizeof *l);
    if (!l) {
        kill(pid, SIGKILL);
        close(ep[0]);
        report("fail %s %d exec\n", id, ENOMEM);
        return;
    }
    snprintf(l->id, sizeof l->id, "%s", id);
    l->pid = pid;
    l->errfd = ep[0];
    l->state = STARTING;
    l->next = leaves;
    leaves = l;
}

/* The exec-status pipe spoke: EOF means exec happened, data means it failed. */
static void on_exec_status(struct leaf *l)
{
    int msg[2];
    ssize_t n;
    do
        n = read(l->errfd, msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(l->errfd);
    l->errfd = -1;
    if (n == sizeof msg) {
        l->state = FAILED;
        report("fail %s %d %s\n", l->id, msg[0], stages[msg[1] >= 0 && msg[1] < 3 ? msg[1] : 2]);
    } else {
        l->state = RUNNING;
        report("ok %s %d\n", l->id, (int)l->pid);
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
        if (!l)
            continue;   /* an orphan of some leaf: reaped, nothing to say */
        if (l->errfd >= 0)
            on_exec_status(l);   /* read the verdict before saying it ended */
        if (l->state == RUNNING)
            report("exit %s %d %d %d %lld %lld\n", l->id, (int)pid,
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
                   usec(ru.ru_utime), usec(ru.ru_stime));
        l->state = CLEANING;
        killpg(pid, SIGTERM);
        killpg(pid, SIGCONT);   /* a stopped member could not act on SIGTERM */
        clock_gettime(CLOCK_MONOTONIC, &l->since);
    }
}

/* Groups whose leader ended: gone yet? Late enough for SIGKILL? */
static int sweep(void)
{
    int cleaning = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (struct leaf *l = leaves, *next; l; l = next) {
        next = l->next;
        if (l->state != CLEANING)
            continue;
        if (kill(-l->pid, 0) < 0 && errno == ESRCH) {
            report("gone %s\n", l->id);
            forget(l);
            continue;
        }
        if (!l->killed && now.tv_sec - l->since.tv_sec >= 2) {
            killpg(l->pid, SIGKILL);
            l->killed = 1;
        }
        cleaning = 1;
    }
    return cleaning;
}

/* Parse one request frame: ID NICE DIR ARGC ARG... ENVC ENV... (NUL-terminated fields). */
static void on_request(char *p, size_t n)
{
    char *end = p + n, *f[4];
    for (int i = 0; i < 4; i++) {
        char *z = memchr(p, 0, end - p);
        if (!z)
            return;
        f[i] = p;
        p = z + 1;
    }
    long argc = strtol(f[3], NULL, 10);
    if (argc < 1 || argc > 65536)
        return;
    char **argv = calloc(argc + 1, sizeof *argv);
    char **envp = NULL;
    if (!argv)
        return;
    for (long i = 0; i < argc; i++) {
        char *z = memchr(p, 0, end - p);
        if (!z)
            goto out;
        argv[i] = p;
        p = z + 1;
    }
    char *z = memchr(p, 0, end - p);
    if (!z)
        goto out;
    long envc = strtol(p, NULL, 10);
    p = z + 1;
    if (envc < 0 || envc > 65536)
        goto out;
    envp = calloc(envc + 1, sizeof *envp);
    if (!envp)
        goto out;
    for (long i = 0; i < envc; i++) {
        z = memchr(p, 0, end - p);
        if (!z)
            goto out;
        envp[i] = p;
        p = z + 1;
    }
    start_leaf(f[0], f[1], f[2], argv, envp);
out:
    free(argv);
    free(envp);
}

static void kill_all(void)
{
    for (struct leaf *l = leaves; l; l = l->next)
        killpg(l->pid, SIGKILL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: taskfs-spawnd SOCKET\n");
        return 2;
    }
    sockpath = argv[1];
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        return 1;   /* the daemon died before we could hear of it */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);   /* Ctrl-C at the daemon's terminal is the daemon's to handle */

    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 1;
    for (;;) {
        int cleaning = sweep();
        size_t nstart = 0;
        for (struct leaf *l = leaves; l; l = l->next)
            nstart += l->errfd >= 0;
        struct pollfd *pfd = calloc(2 + nstart, sizeof *pfd);
        struct leaf **who = calloc(nstart + 1, sizeof *who);
        if (!pfd || !who)
            return 1;
        pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
        size_t k = 2;
        for (struct leaf *l = leaves; l; l = l->next)
            if (l->errfd >= 0) {
                who[k - 2] = l;
                pfd[k++] = (struct pollfd){ .fd = l->errfd, .events = POLLIN };
            }
        int r = poll(pfd, k, cleaning ? 200 : -1);
        if (r < 0 && errno != EINTR)
            return 1;
        if (r > 0) {
            for (size_t i = 2; i < k; i++)
                if (pfd[i].revents && who[i - 2]->errfd >= 0)
                    on_exec_status(who[i - 2]);
            if (pfd[1].revents) {
                char drain[64];
                while (read(sigpipe_fds[0], drain, sizeof drain) > 0) {}
            }
            if (pfd[0].revents) {
                if (have == cap) {
                    cap *= 2;
                    char *grown = realloc(buf, cap);
                    if (!grown)
                        return 1;
                    buf = grown;
                }
                ssize_t n = read(0, buf + have, cap - have);
                if (n == 0)
                    dying = 1;   /* the daemon closed our stdin: it is gone */
                else if (n > 0)
                    have += n;
                size_t off = 0;
                while (have - off >= 4) {
                    uint32_t len;
                    memcpy(&len, buf + off, 4);
                    if (len > (64u << 20)) {
                        dying = 1;   /* not our daemon talking */
                        break;
                    }
                    if (have - off - 4 < len) {
                        if (len + 4 > cap) {
                            cap = len + 4;
                            char *grown = realloc(buf, cap);
                            if (!grown)
                                return 1;
                            buf = grown;
                        }
                        break;
                    }
                    on_request(buf + off + 4, len);
                    off += 4 + len;
                }
                memmove(buf, buf + off, have - off);
                have -= off;
            }
        }
        free(pfd);
        free(who);
        reap();
        if (dying) {
            kill_all();
            return 0;
        }
    }
}
