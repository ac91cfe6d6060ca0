/* taskfs-spawnd, reports (buffered, one write a loop turn) and bookkeeping: lookups, watches, ending streams, forgetting leaves (the protocol is in spawnd.h). */
#include "spawnd.h"

static char *rbuf;
static size_t rlen, rcap;

void flush_reports(void)
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

void report(const char *fmt, ...)
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
void mark_dirty(struct leaf *l)
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

void report_progress(void)
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

void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGHUP)
        dying = 1;
    char c = (char)sig;
    (void)!write(sigpipe_fds[1], &c, 1);
    errno = saved;
}

long long usec(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

struct timespec now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

long long ms_until(struct timespec t)
{
    struct timespec n = now();
    return (t.tv_sec - n.tv_sec) * 1000LL + (t.tv_nsec - n.tv_nsec) / 1000000;
}

long long us_until(struct timespec t)
{
    struct timespec n = now();
    return (t.tv_sec - n.tv_sec) * 1000000LL + (t.tv_nsec - n.tv_nsec) / 1000;
}

struct leaf *by_id(unsigned long id)
{
    for (struct leaf *l = by_id_table[id % BUCKETS]; l; l = l->hnext)
        if (l->id == id)
            return l;
    return NULL;
}

struct leaf *by_pid(pid_t pid)
{
    for (struct leaf *l = by_pid_table[pid % BUCKETS]; l; l = l->pnext)
        if (l->pid == pid)
            return l;
    return NULL;
}

void watch_fd(int fd, struct watch *w, uint32_t events, int *watched, int on)
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
void rewatch(struct stream *s)
{
    int want = s->pipe >= 0 && !s->stalled && !over_limit(s->leaf);
    watch_fd(s->pipe, &s->w, EPOLLIN, &s->watched, want);
}

void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void end_stream(struct stream *s, int say)
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

void shut_input(struct input *in, int say)
{
    if (in->fd < 0)
        return;
    watch_fd(in->fd, &in->w, 0, &in->watched, 0);
    close_fd(&in->fd);
    drop_pieces(in);
    if (in->resting) {
        in->resting = 0;
        resting_count--;
    }
    if (in->took != in->told) {
        report("took %lu %lld\n", in->leaf->id, in->took);
        in->told = in->took;
    }
    if (say)
        report("shut %lu\n", in->leaf->id);
}

/* Done with a leaf once its group is gone and nothing of it is open. Freed
 * after the loop turn: events already fetched may still point into it. */
void maybe_forget(struct leaf *l)
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
