/* taskfs-spawnd, starting a leaf (fork, exec, its status pipe), reaping it and its group, the once-a-turn sweep (the protocol is in spawnd.h). */
#include "spawnd.h"

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

void start_leaf(unsigned long id, const char *nice, const char *dir, char *const paths[2],
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
    /* vfork: the child borrows our memory until it execs, so no page tables
     * are copied and no page is faulted back in; 256 `true`s take 0.55 s of
     * this machine instead of fork's 0.9 s (README "Performance"). Until the
     * exec the child must not touch what we own: our signal handlers would
     * run on our memory, so every signal stays blocked across the vfork and
     * the child restores defaults before unblocking; the one global it
     * writes, environ, is put back below. */
    sigset_t all, mask;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &mask);
    char **our_environ = environ;
    pid_t pid = vfork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the leader dies with us; its group is the daemon's to end */
        if (dup2(in[0], 0) < 0 || dup2(out[0][1], 1) < 0 || dup2(out[1][1], 2) < 0)
            child_fail(ep[1], 1);
        const char *cwd = dir[0] == '+' ? dir + 1 : dir;
        if (cwd != dir && mkdir(cwd, 0700) < 0 && errno != EEXIST)
            child_fail(ep[1], 0);
        if (cwd[0] && chdir(cwd) < 0)
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
    int vfork_errno = errno;
    environ = our_environ;
    sigprocmask(SIG_SETMASK, &mask, NULL);
    if (pid < 0) {
        errno = vfork_errno;
        goto fail;
    }
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
void on_exec_status(struct leaf *l)
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

void reap(void)
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
int sweep(void)
{
    int wait_ms = -1;
    if (stalled_count == 0 && cleaning_count == 0 && resting_count == 0)
        return wait_ms;
    for (struct leaf *l = leaves, *next; l; l = next) {
        next = l->next;
        if (l->in.resting) {
            int left = wake_input(&l->in);
            if (left > 0 && (wait_ms < 0 || left < wait_ms))
                wait_ms = left;
        }
        if (stalled_count > 0)
            for (int k = 0; k < 2; k++) {
                struct stream *s = &l->out[k];
                if (!s->stalled)
                    continue;
                if (ms_until(s->retry) <= 0) {
                    s->stalled = 0;
                    stalled_count--;
                    pump_out(s, 0);
                }
                /* Still stalled (or stalled again just now): wake for its retry,
                 * or nothing would: its pipe is not watched meanwhile. */
                long long left = ms_until(s->retry);
                if (s->stalled && (wait_ms < 0 || left < wait_ms))
                    wait_ms = left > 0 ? (int)left : 0;
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
