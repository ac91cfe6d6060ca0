/** What taskfs reads from Slurm's commands (src/transport/slurm-commands.ts), on lines Slurm 22.05 prints. */
import { describe, expect, it } from 'vitest';
import {
  parseIdleCpus,
  parseNodeKinds,
  parseTasksPerNode,
  slurmComplaint,
} from '../../../src/transport/slurm-commands.js';

describe('parseTasksPerNode', () => {
  it('expands the (xN) repeats in node order', () => {
    expect(parseTasksPerNode('2')).toEqual([2]);
    expect(parseTasksPerNode('1(x2)')).toEqual([1, 1]);
    expect(parseTasksPerNode('2(x3),1')).toEqual([2, 2, 2, 1]);
  });

  it('refuses what it cannot read', () => {
    expect(() => parseTasksPerNode('')).toThrow(/cannot read SLURM_TASKS_PER_NODE/);
    expect(() => parseTasksPerNode('2(x)')).toThrow(/cannot read/);
  });
});

describe('slurmComplaint', () => {
  it('keeps the error lines without their prefixes and drops progress', () => {
    const stderr =
      'salloc: Pending job allocation 7\nsalloc: error: Job submit/allocate failed: More processors requested than permitted\n';
    expect(slurmComplaint('salloc', stderr)).toBe(
      'salloc: Job submit/allocate failed: More processors requested than permitted',
    );
    expect(
      slurmComplaint(
        'salloc',
        'salloc: error: invalid partition specified: x\nsalloc: error: Job submit/allocate failed: Invalid partition name specified\n',
      ),
    ).toBe('salloc: invalid partition specified: x; Job submit/allocate failed: Invalid partition name specified');
  });

  it("takes getopt's complaint, which has no error prefix, and nothing from silence", () => {
    expect(
      slurmComplaint('salloc', 'salloc: unrecognized option \'--bogus\'\nTry "salloc --help" for more information\n'),
    ).toBe("salloc: unrecognized option '--bogus'");
    expect(slurmComplaint('srun', '')).toBe('');
  });
});

describe('parseNodeKinds', () => {
  it("takes OS's first word and Arch from scontrol -o show node", () => {
    const text =
      'NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUTot=1 NodeAddr=127.0.0.1 OS=Linux 6.1.0-18-amd64 #1 SMP  RealMemory=1 State=IDLE Partitions=debug\n' +
      'NodeName=n2 Arch=(null) CoresPerSocket=1 CPUTot=1 OS=(null) State=DOWN+NOT_RESPONDING\n';
    expect(parseNodeKinds(text)).toEqual(
      new Map([
        ['n1', { os: 'Linux', machine: 'x86_64' }],
        ['n2', { os: 'unknown', machine: 'unknown' }],
      ]),
    );
  });
});

describe('parseIdleCpus', () => {
  it('reads the idle field of A/I/O/T per node', () => {
    expect(parseIdleCpus('n1 0/1/0/1\nn2 1/0/0/1\nbig 12/52/0/64\n\n')).toEqual(
      new Map([
        ['n1', 1],
        ['n2', 0],
        ['big', 52],
      ]),
    );
  });
});
