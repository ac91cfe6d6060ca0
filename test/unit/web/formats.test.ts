// The files' text as the monitor reads it (README "Web monitor"): each
// format's example line, and lines that are not of the format left out.
import { describe, expect, it } from 'vitest';
import {
  parseCapacity,
  parseJobs,
  parseLeaves,
  parseSettings,
  parseTasks,
  parseWorkers,
} from '../../../src/web/formats.js';

describe('the files the monitor reads', () => {
  it('node status: COUNT OS MACHINE', () => {
    expect(parseCapacity('4 Linux x86_64\n2 Linux aarch64\n')).toEqual([
      { count: 4, os: 'Linux', machine: 'x86_64' },
      { count: 2, os: 'Linux', machine: 'aarch64' },
    ]);
  });

  it('a ctl read back: verb value', () => {
    expect(parseSettings("name 'render frames'\nslots 8\nworkdir /var/x y\nstop\nodd 'quote\n\n")).toEqual({
      name: 'render frames',
      slots: '8',
      workdir: '/var/x y',
      stop: '',
      odd: "'quote",
    });
  });

  it('session status: cmd/N OPENS STATE DIR ARG0', () => {
    expect(parseLeaves("cmd/0 1 Done /home/ana/work hostname\ncmd/1 0 Execute '/a b' ''\n")).toEqual([
      { name: 'cmd/0', opens: 1, state: 'Done', dir: '/home/ana/work', cmd: 'hostname' },
      { name: 'cmd/1', opens: 0, state: 'Execute', dir: '/a b', cmd: '' },
    ]);
  });

  it('jobs/status: N STATE PRIORITY QUEUED RUNNING DONE FAILED NAME', () => {
    expect(parseJobs("3 Open 0 12 2 186 0 'render frames'\n4 Stopped -10 5 0 0 1 x\n")).toEqual([
      { id: 3, state: 'Open', priority: 0, queued: 12, running: 2, done: 186, failed: 0, name: 'render frames' },
      { id: 4, state: 'Stopped', priority: -10, queued: 5, running: 0, done: 0, failed: 1, name: 'x' },
    ]);
  });

  it('jobs/nodes: NAME STATE SLOTS BUSY ATTRS', () => {
    expect(parseWorkers("gpu1 Up 8 3 'gpu=yes os=Linux'\nold Lost 2 0 ''\n")).toEqual([
      { name: 'gpu1', state: 'Up', slots: 8, busy: 3, attrs: { gpu: 'yes', os: 'Linux' } },
      { name: 'old', state: 'Lost', slots: 2, busy: 0, attrs: {} },
    ]);
  });

  it('jobs/N/status: ID STATE NODE TRIES STATUS', () => {
    expect(parseTasks("17 Done node1 1 ''\n18 Queued - 0 'waiting: no worker with gpu=yes'\n")).toEqual([
      { id: 17, state: 'Done', node: 'node1', tries: 1, status: '' },
      { id: 18, state: 'Queued', node: '-', tries: 0, status: 'waiting: no worker with gpu=yes' },
    ]);
  });

  it('leaves out what is not a line of the format, and never throws', () => {
    expect(parseJobs("garbage\n3 Open x 1 2 3 4 n\n5 Open 0 1 2 3 4 'unbalanced\n\n")).toEqual([]);
    expect(parseCapacity('four Linux x86_64\n')).toEqual([]);
    expect(parseWorkers('a Up 1\n')).toEqual([]);
    expect(parseLeaves('')).toEqual([]);
  });
});
