/*
 * taskfs-run: start one leaf command for the taskfs daemon and report on fd 3.
 *
 *   taskfs-run [-n NICE] [-d DIR] -- CMD [ARG...]
 *
 * Why a helper at all: Node cannot tell a child's user/sys CPU time; wait4()
 * can. And a helper that outlives the command lets the daemon know when the
 * command's process group is really gone.
 *
 * Reports, one line each, on fd 3 (a pipe to the daemon):
 *   ok PID                                 CMD was exec'd; PID is also its process group id
 *   fail ERRNO STAGE                       chdir or exec failed (STAGE: chdir|exec); helper exits 127
 *   exit PID CODE SIGNAL USER_US SYS_US    CMD ended: exit code or -1, signal or 0, CPU microseconds
 *
 * After `exit` the helper cleans the command's process group: what the
 * command left behind (background jobs) gets SIGTERM, and SIGKILL two seconds
 * later, as a task's leftovers should. It lingers, as subreaper of the
 * command's orphans, until no process of the group is left, then exits 0. So while the
 * helper lives the group may live, and once it is gone the pgid may be
 * recycled: the daemon never signals a stranger. If the daemon dies, the
 * kernel sends us SIGTERM (PR_SET_PDEATHSIG) and we SIGKILL the whole group,
 * stragglers included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPORT_FD 3

enum { STAGE_EXEC = 0, STAGE_CHDIR = 1 };
static const char *const stage_names[] = { "exec", "chdir" };

/* The command's pid and pgid, once forked; read by the SIGTERM handler. */
static volatile sig_atomic_t child = 0;

/* SIGTERM: the daemon died (PDEATHSIG) or someone wants us gone: take the command's group with us. */
static void on_term(int sig)
{
    if (child > 0)
        kill(-child, SIGKILL);
    _exit(128 + sig);
}

/* SIGALRM only exists to interrupt a blocking wait (no SA_RESTART) while lingering. */
static void on_alarm(int sig)
{
    (void)sig;
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Write one line to the daemon. Failures (daemon gone: EPIPE) are ignored: nobody left to tell. */
static void report(const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof buf)
        len = sizeof buf - 1;
    for (int off = 0; off < len;) {
        ssize_t w = write(REPORT_FD, buf + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        off += w;
    }
}

/* In the forked child: tell the helper why we could not become CMD, and die. */
static void child_fail(int fd, int stage)
{
    int msg[2] = { errno, stage };
    ssize_t w;
    do
        w = write(fd, msg, sizeof msg);   /* 8 bytes < PIPE_BUF: atomic */
    while (w < 0 && errno == EINTR);
    _exit(127);
}

static long long usec(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

static void usage(void)
{
    static const char msg[] = "usage: taskfs-run [-n NICE] [-d DIR] -- CMD [ARG...]\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
    _exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int nice_set = 0, nice_val = 0;
    int opt;

    /* '+': stop at the first non-option, CMD's own options are not ours. */
    while ((opt = getopt(argc, argv, "+n:d:")) != -1) {
        switch (opt) {
        case 'n': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg)
                usage();
            nice_set = 1;
            nice_val = (int)v;
            break;
        }
        case 'd':
            dir = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    char **cmd = argv + optind;

    /* Run by hand without fd 3: report into /dev/null, and keep fd 3 from being reused below. */
    if (fcntl(REPORT_FD, F_GETFD) < 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0 && fd != REPORT_FD) {
            dup2(fd, REPORT_FD);
            close(fd);
        }
    }
    fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC);   /* belt and braces: the child closes it too */

    /*
     * Signals. SIGTERM kills the command's group (it is our PDEATHSIG).
     * Terminal and pipe signals must not kill the helper and orphan the
     * command: the daemon could no longer learn how it ended. The child
     * restores every disposition before exec.
     */
    set_handler(SIGTERM, on_term);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    /*
     * Hear of the daemon's death. The parent may already have died before
     * prctl(); then we were reparented and getppid() changed. (Compared to the
     * parent seen at start rather than to 1, so a daemon running as pid 1 of a
     * container still works.)
     */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(1);

    /* Adopt the command's orphans (background jobs): we can reap them and know when the group is empty. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        report("fail %d exec\n", errno);
        _exit(127);
    }

    /* Block SIGTERM across fork so the handler never sees a child whose group it cannot yet kill. */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);

    pid_t pid = fork();
    if (pid < 0) {
        report("fail %d exec\n", errno);
        _exit(127);
    }
    if (pid == 0) {
        /* The command: its own process group, outside ours, so group signals spare the helper. */
        setpgid(0, 0);
        close(errpipe[0]);
        close(REPORT_FD);
        /* Ignored dispositions survive exec: restore every one, then an empty mask. */
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);   /* fails harmlessly for SIGKILL, SIGSTOP and libc-internal ones */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dir && chdir(dir) < 0)
            child_fail(errpipe[1], STAGE_CHDIR);
        if (nice_set) {
            errno = 0;
            /* Best effort: raising priority needs privilege, and a nice value is no reason to fail. */
            if (setpriority(PRIO_PROCESS, 0, nice_val) < 0) { /* ignored */ }
        }
        execvp(cmd[0], cmd);
        child_fail(errpipe[1], STAGE_EXEC);
    }

    child = pid;
    setpgid(pid, pid);   /* also here: whichever of us runs first, the group exists before we kill it */
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);

    /* EOF on the CLOEXEC pipe: exec succeeded. 8 bytes: it failed, with that errno. */
    int msg[2];
    size_t got = 0;
    while (got < sizeof msg) {
        ssize_t r = read(errpipe[0], (char *)msg + got, sizeof msg - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    close(errpipe[0]);
    if (got == sizeof msg) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        int stage = msg[1] == STAGE_CHDIR ? STAGE_CHDIR : STAGE_EXEC;
        report("fail %d %s\n", msg[0], stage_names[stage]);
        _exit(127);
    }
    report("ok %d\n", (int)pid);

    /* Let go of the daemon's stdio pipes: they close when the command's processes close them. */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        for (int fd = 0; fd <= 2; fd++)
            if (devnull != fd)
                dup2(devnull, fd);
        if (devnull > 2)
            close(devnull);
    }

    /* Wait for the command, reaping adopted orphans on the way. */
    int status = 0, found = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        struct rusage r_ru;
        int st;
        pid_t r = wait4(-1, &st, 0, &r_ru);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;   /* ECHILD: cannot happen, the command is our child */
        }
        if (r == pid) {
            status = st;
            ru = r_ru;
            found = 1;
            break;
        }
    }
    report("exit %d %d %d %lld %lld\n", (int)pid,
           found && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           found && WIFSIGNALED(status) ? WTERMSIG(status) : 0,
           usec(ru.ru_utime), usec(ru.ru_stime));

    /*
     * Clean the group and linger while it has members. Each second a SIGALRM
     * interrupts the wait to look again: a member may be reaped by a parent
     * other than us, and then no wait of ours would return.
     */
    set_handler(SIGALRM, on_alarm);
    struct itimerval tick = { { 1, 0 }, { 1, 0 } };
    int termed = 0, killed = 0;
    struct timespec since;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        if (kill(-pid, 0) < 0 && errno == ESRCH)
            break;   /* EPERM: a member changed uid; still there */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!termed) {
            killpg(pid, SIGTERM);
            killpg(pid, SIGCONT);   /* a stopped member could not act on SIGTERM */
            setitimer(ITIMER_REAL, &tick, NULL);
            since = now;
            termed = 1;
        } else if (!killed && now.tv_sec - since.tv_sec >= 2) {
            killpg(pid, SIGKILL);
            killed = 1;
        }
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
            pause();   /* members exist but are not our children: wait for the next tick */
    }
    return 0;
}
