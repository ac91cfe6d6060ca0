/** Mailboxes (README "Co-allocation"): one write one message, oldest first by tag, bounded. */
import { describe, expect, it } from 'vitest';
import { checkTag, MAILBOX_MAX_BYTES, Mailbox, MESSAGE_MAX_BYTES, mboxDir } from '../../../src/taskfs/mbox.js';

const box = () => new Mailbox(() => 'rank 3 (cmd/5)');

describe('Mailbox', () => {
  it('takes the oldest message of a tag whole; other tags wait their turn', async () => {
    const m = box();
    m.post('ring', Buffer.from('one'));
    m.post('other', Buffer.from('decoy'));
    m.post('ring', Buffer.from('two'));
    expect((await m.take('ring')).toString()).toBe('one');
    expect((await m.take('ring')).toString()).toBe('two');
    expect(m.tags()).toEqual(['other']);
    expect((await m.take('other')).toString()).toBe('decoy');
  });

  it('a read waits for a message, and an interrupted wait takes nothing', async () => {
    const m = box();
    const ctl = new AbortController();
    const interrupted = m.take('t', ctl.signal);
    ctl.abort();
    await expect(interrupted).rejects.toMatchObject({ code: 'EINTR' });
    const waiting = m.take('t');
    m.post('t', Buffer.from('late'));
    expect((await waiting).toString()).toBe('late');
  });

  it('refuses a message over 64 KiB (EMSGSIZE) and a sender to a full box (ENOSPC), naming the owner', () => {
    const m = box();
    expect(() => m.post('t', Buffer.alloc(MESSAGE_MAX_BYTES + 1))).toThrow(
      expect.objectContaining({ code: 'EMSGSIZE' }),
    );
    for (let i = 0; i < MAILBOX_MAX_BYTES / MESSAGE_MAX_BYTES; i++) m.post('t', Buffer.alloc(MESSAGE_MAX_BYTES));
    expect(() => m.post('t', Buffer.from('x'))).toThrow(
      expect.objectContaining({
        code: 'ENOSPC',
        message: expect.stringMatching(/mailbox of rank 3 \(cmd\/5\) is full/),
      }),
    );
  });

  it('a tag is one path element: no slash, no NUL, not . or ..', async () => {
    for (const bad of ['a/b', 'a\0b', '', '.', '..']) expect(() => checkTag(bad)).toThrow(/bad tag/);
    checkTag('ring-1.x');
    const m = box();
    const dir = mboxDir({ serial: 7, mailbox: () => m }, 99n);
    await expect(dir.walk!('a/b')).rejects.toMatchObject({ code: 'EINVAL' });
    const file = await (await dir.walk!('t'))!.open!({ read: true, write: true });
    await file.write(Buffer.from('hello'), 0);
    expect((await file.read(0, 3)).toString()).toBe('hel');
    expect((await file.read(3, 100)).toString()).toBe('lo');
    expect((await file.read(5, 100)).length).toBe(0);
  });
});
