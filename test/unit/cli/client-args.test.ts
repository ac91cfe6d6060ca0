/** Options of the client commands (src/cli/client-args.ts). */
import { describe, expect, it } from 'vitest';
import { parseClientArgs } from '../../../src/cli/client-args.js';

const spec = { mount: { value: true, short: 'm' }, leaves: { value: true, short: 'n' }, label: {} };

describe('parseClientArgs', () => {
  it('stops at the command, whose own options stay its own', () => {
    expect(parseClientArgs(['-n', '4', '--label', 'ls', '-l', '--label'], spec, { stopAtPositional: true })).toEqual({
      values: { leaves: '4', label: true },
      positionals: ['ls', '-l', '--label'],
    });
  });

  it('takes -nVALUE, --name=value and -- ', () => {
    expect(parseClientArgs(['-n4', '--mount=/m', '--', '-x'], spec).values).toEqual({ leaves: '4', mount: '/m' });
    expect(parseClientArgs(['-n4', '--', '-x'], spec).positionals).toEqual(['-x']);
    expect(parseClientArgs(['a', '-n', '2', 'b'], spec)).toEqual({ values: { leaves: '2' }, positionals: ['a', 'b'] });
    expect(parseClientArgs(['-'], spec).positionals).toEqual(['-']);
  });

  it('refuses what it does not know, one line each', () => {
    expect(() => parseClientArgs(['--bogus'], spec)).toThrow('unknown option --bogus');
    expect(() => parseClientArgs(['--bogus=1'], spec)).toThrow('unknown option --bogus');
    expect(() => parseClientArgs(['-x'], spec)).toThrow('unknown option -x');
    expect(() => parseClientArgs(['-n'], spec)).toThrow('-n wants a value');
    expect(() => parseClientArgs(['--label=yes'], spec)).toThrow('--label takes no value');
  });
});
