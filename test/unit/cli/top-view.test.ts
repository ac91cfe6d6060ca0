/** One frame of taskfs top as plain text (src/cli/top-view.ts, src/cli/snapshot.ts). */
import { describe, expect, it } from 'vitest';
import { parseJobStatus, parseLeafStatus } from '../../../src/taskfs/formats.js';
import { stateCounts } from '../../../src/cli/snapshot.js';
import { frame } from '../../../src/cli/top-view.js';

describe('frame', () => {
  it('nodes with load, sessions with leaf states, jobs with progress', () => {
    const leaves = ['cmd/1 1 Execute /w sleep', 'cmd/2 1 Execute /w sleep', 'cmd/3 1 Done /w sleep'].map(
      parseLeafStatus,
    );
    const lines = frame(
      {
        mount: '/m',
        nodes: [{ name: 'gpu1', state: 'Up', slots: 8, busy: 4, attrs: 'gpu=yes' }],
        sessions: [
          { id: 0, leaves },
          { id: 5, leaves: [leaves[0]!], task: { job: '3', task: '7' } },
        ],
        jobs: [parseJobStatus("3 Open 0 12 2 186 0 'render frames'")],
      },
      false,
      new Date(2026, 11, 1, 10, 0, 0),
    );
    expect(lines).toEqual([
      'taskfs top  /m  10:00:00',
      '',
      'NODES  1 up, 8 slots, 4 busy',
      '  NAME  STATE  SLOTS  BUSY  LOAD          ATTRS',
      '  gpu1  Up         8     4  [#####.....]  gpu=yes',
      '',
      'SESSIONS  1, 2 leaves running; 1 job tasks',
      '  ID  LEAVES  STATES             COMMAND',
      '   0       3  Execute 2, Done 1  sleep',
      '',
      'JOBS  1',
      '  JOB  STATE  PRI  PROGRESS                ENDED    FAILED  RUNNING  QUEUED  NAME',
      '    3  Open     0  [###################.]  186/200       0        2      12  render frames',
    ]);
  });

  it('no NODES or JOBS part on a node without a scheduler; an error is shown, not thrown', () => {
    const lines = frame({ mount: '/m', sessions: [], error: 'gone' }, false, new Date(2026, 11, 1, 10, 0, 0));
    expect(lines).toEqual(['taskfs top  /m  10:00:00', 'error: gone', '', 'SESSIONS  0, 0 leaves running']);
  });

  it('stateCounts in the order states first appear', () => {
    expect(stateCounts(['cmd/1 1 Done /w x', 'cmd/2 1 Lost /w x', 'cmd/3 1 Done /w x'].map(parseLeafStatus))).toBe(
      'Done 2, Lost 1',
    );
  });
});
