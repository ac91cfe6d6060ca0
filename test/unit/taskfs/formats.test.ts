/** The namespace's formats read back (src/taskfs/formats.ts), one example line each as the README gives it. */
import { describe, expect, it } from 'vitest';
import {
  compressRanks,
  exitStatus,
  parseJobStatus,
  parseLeafStatus,
  parseLeafWait,
  parseMountLine,
  parseTaskStatus,
  parseTaskWait,
  parseWorker,
} from '../../../src/taskfs/formats.js';

describe('session formats', () => {
  it('status lines', () => {
    expect(parseLeafStatus('cmd/1 1 Done /root/work hostname')).toEqual({
      session: 1,
      opens: 1,
      state: 'Done',
      dir: '/root/work',
      arg0: 'hostname',
    });
    expect(parseLeafStatus("cmd/12 0 Closed '/a dir' ''").dir).toBe('/a dir');
    expect(() => parseLeafStatus('cmd/x 1 Done /w h')).toThrow(/not cmd\/N/);
    expect(() => parseLeafStatus('cmd/1 1 Done')).toThrow(/expected 5 fields/);
  });

  it('wait lines and the exit status they mean', () => {
    expect(parseLeafWait("4371 1 0 19 ''")).toEqual({ pid: 4371, userMs: 1, sysMs: 0, realMs: 19, status: '' });
    expect(parseLeafWait("0 0 0 0 'lost: connection reset'").status).toBe('lost: connection reset');
    expect(() => parseLeafWait("x 1 0 19 ''")).toThrow(/not a number/);
    const table: [string, number][] = [
      ['', 0],
      ['exit: 3', 3],
      ['signal: 9', 137],
      ['killed', 143],
      ['fail: exec nosuch: file does not exist', 127],
      ['fail: exec ./x: permission denied', 126],
      ['lost: node stopped answering', 255],
      ['something else', 1],
    ];
    for (const [status, code] of table) expect({ status, code: exitStatus(status) }).toEqual({ status, code });
  });

  it('node ns', () => {
    expect(parseMountLine('mount tcp!127.0.0.1!5640 127.0.0.1-5640')).toEqual({
      addr: 'tcp!127.0.0.1!5640',
      name: '127.0.0.1-5640',
    });
    expect(() => parseMountLine('unmount a b')).toThrow(/not a mount line/);
  });
});

describe('jobs formats', () => {
  it('jobs/status', () => {
    expect(parseJobStatus("3 Open 0 12 2 186 0 'render frames'")).toEqual({
      id: 3,
      state: 'Open',
      priority: 0,
      queued: 12,
      running: 2,
      done: 186,
      failed: 0,
      name: 'render frames',
    });
    expect(parseJobStatus("4 Stopped -10 1 0 0 0 ''").priority).toBe(-10);
  });

  it('jobs/nodes', () => {
    expect(parseWorker("gpu1 Up 8 3 'gpu=yes os=Linux'")).toEqual({
      name: 'gpu1',
      state: 'Up',
      slots: 8,
      busy: 3,
      attrs: { gpu: 'yes', os: 'Linux' },
    });
    expect(parseWorker("w Lost 1 0 ''").attrs).toEqual({});
  });

  it('a job status and wait', () => {
    expect(parseTaskStatus("17 Done node1 1 ''")).toEqual({
      id: 17,
      state: 'Done',
      node: 'node1',
      tries: 1,
      status: '',
    });
    expect(parseTaskStatus("5 Queued - 0 'waiting: no worker with gpu=yes'").status).toBe(
      'waiting: no worker with gpu=yes',
    );
    expect(parseTaskWait("17 node1 1764586800123 212 ''")).toEqual({
      id: 17,
      node: 'node1',
      startMs: 1764586800123,
      realMs: 212,
      status: '',
    });
  });
});

describe('compressRanks', () => {
  it('runs of ranks as dshbak -c shows hosts', () => {
    expect(compressRanks([0, 1, 2, 3])).toBe('0-3');
    expect(compressRanks([5, 0, 2, 1, 7, 8])).toBe('0-2,5,7-8');
    expect(compressRanks([4])).toBe('4');
    expect(compressRanks([])).toBe('');
  });
});
