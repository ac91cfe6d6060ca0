/* taskfs-spawnd, input: bytes from the daemon, queued for a leaf's stdin pipe (the protocol is in spawnd.h). */
#include "spawnd.h"

void pump_in(struct input *in)
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

void queue_input(struct leaf *l, const char *data, size_t n)
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
