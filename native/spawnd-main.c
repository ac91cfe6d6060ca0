/* taskfs-spawnd, the requests from the daemon, their framing, and the event loop (the protocol is in spawnd.h). */
#include "spawnd.h"

struct leaf *leaves, *by_id_table[BUCKETS], *by_pid_table[BUCKETS], *graveyard;
struct leaf **dirty;
size_t ndirty, dirty_cap;
int epfd, sigpipe_fds[2];
int stalled_count, cleaning_count, resting_count;   /* what sweep() has to look at */
long long spool_limit;
volatile sig_atomic_t dying;
struct watch control_watch = { W_CONTROL }, signal_watch = { W_SIGNAL };

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
    if (id && strcmp(verb, "stdin") == 0) {
        on_stdin(id, p, end - p);
        return;
    }
    struct leaf *l = id ? by_id(strtoul(id, NULL, 10)) : NULL;
    if (!l)
        return;
    if (strcmp(verb, "eof") == 0) {
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
                    rest_input(in);
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
