/* taskfs-spawnd, output: a leaf's stdout and stderr pipes, spliced into spool files (the protocol is in spawnd.h). */
#include "spawnd.h"

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
void pump_out(struct stream *s, uint32_t events)
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
