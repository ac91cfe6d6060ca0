/* taskfs-spawnd, input: bytes from the daemon, queued for the leaves' stdin pipes (the protocol is in spawnd.h). */
#include "spawnd.h"

static void unref(struct chunk *c)
{
    if (--c->refs == 0)
        free(c);
}

void drop_pieces(struct input *in)
{
    for (struct piece *p = in->head, *next; p; p = next) {
        next = p->next;
        unref(p->c);
        free(p);
    }
    in->head = in->tail = NULL;
}

void pump_in(struct input *in)
{
    while (in->fd >= 0 && in->head) {
        struct piece *p = in->head;
        size_t want = p->c->len - p->off;
        ssize_t n = write(in->fd, p->c->data + p->off, want);
        if (n > 0) {
            p->off += n;
            in->took += n;
            mark_dirty(in->leaf);
            if (p->off == p->c->len) {
                in->head = p->next;
                if (!in->head)
                    in->tail = NULL;
                unref(p->c);
                free(p);
            }
            if ((size_t)n == want)
                continue;
            /* Short: the pipe is full now. Another write would race the
             * reader for each page it frees: wait for room (below). */
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno != EAGAIN) {
            shut_input(in, 1);   /* EPIPE: nobody reads it any more */
            maybe_forget(in->leaf);
            return;
        }
        /* Full: a leaf fed faster than it reads gets a 1 MiB pipe, as busy output does. */
        if (!in->grown) {
            in->grown = 1;
            if (fcntl(in->fd, F_SETPIPE_SZ, 1 << 20) > 0)
                continue;
        }
        watch_fd(in->fd, &in->w, EPOLLOUT | EPOLLET, &in->watched, 1);
        return;
    }
    watch_fd(in->fd, &in->w, 0, &in->watched, 0);
    if (in->eof && in->fd >= 0) {
        shut_input(in, 1);
        maybe_forget(in->leaf);
    }
}

/*
 * The full pipe of a leaf that reads slower than we write has room again.
 * Refilling it at once would write each page the reader frees, one write
 * and one wake-up of the reader per 4 KiB (a page is a pipe slot): wait a
 * moment, then fill what the reader emptied meanwhile in one write (up to
 * the 1 MiB pipe). The watch is edge-triggered: it says "full, then not",
 * once, so a leaf that stopped reading is not polled.
 */
#define REST_US 1000

void rest_input(struct input *in)
{
    if (in->resting)
        return;
    in->resting = 1;
    resting_count++;
    in->due = now();
    in->due.tv_nsec += REST_US * 1000L;
    if (in->due.tv_nsec >= 1000000000L) {
        in->due.tv_sec++;
        in->due.tv_nsec -= 1000000000L;
    }
}

/* Refill a resting input whose moment has come; else the ms until it comes. */
int wake_input(struct input *in)
{
    long long us = us_until(in->due);
    if (us > 0)
        return (int)((us + 999) / 1000);
    in->resting = 0;
    resting_count--;
    pump_in(in);
    return 0;
}

/* Queue c (NULL: it could not be made) for one leaf; out of memory, its stdin is shut as a broken pipe's would be. */
static void queue(struct leaf *l, struct chunk *c)
{
    struct input *in = &l->in;
    struct piece *p = c ? malloc(sizeof *p) : NULL;
    if (!p) {
        shut_input(in, 1);
        maybe_forget(l);
        return;
    }
    p->next = NULL;
    p->c = c;
    p->off = 0;
    c->refs++;
    if (in->tail)
        in->tail->next = p;
    else
        in->head = p;
    in->tail = p;
    if (!in->watched)
        pump_in(in);
}

static int open_input(struct leaf *l)
{
    return l && l->in.fd >= 0 && !l->in.eof;   /* else shut already said so; the daemon fails the write */
}

/* DATA for the stdin of each leaf named in IDS ("3" or "3,4,9"): copied once, shared. */
void on_stdin(char *ids, const char *data, size_t n)
{
    if (n == 0)
        return;
    struct chunk *c = malloc(sizeof *c + n);
    if (c) {
        c->refs = 1;   /* ours, until every leaf has its piece */
        c->len = n;
        memcpy(c->data, data, n);
    }
    for (char *p = ids, *next; *p; p = next) {
        struct leaf *l = by_id(strtoul(p, &next, 10));
        if (next == p)
            break;   /* not a number: not our daemon's frame */
        if (*next == ',')
            next++;
        if (open_input(l))
            queue(l, c);
    }
    if (c)
        unref(c);
}
