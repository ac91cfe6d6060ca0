/**
 * Hostlists (README "SSH and hostlists"), after the cases of pdsh's
 * src/common/hostlist.c and ClusterShell's NodeSet and RangeSet tests.
 */
import { describe, expect, it } from 'vitest';
import { expandHostlist, MAX_HOSTS } from '../../../src/transport/hostlist.js';

describe('expandHostlist', () => {
  it.each([
    ['node1', ['node1']],
    ['node[1-3]', ['node1', 'node2', 'node3']],
    ['node[01-03]', ['node01', 'node02', 'node03']],
    ['node[08-11]', ['node08', 'node09', 'node10', 'node11']],
    ['node[098-101]', ['node098', 'node099', 'node100', 'node101']],
    ['node[9-11]', ['node9', 'node10', 'node11']],
    ['gpu[1-2,5]', ['gpu1', 'gpu2', 'gpu5']],
    ['gpu[5,1-2]', ['gpu5', 'gpu1', 'gpu2']],
    ['a,b,c', ['a', 'b', 'c']],
    [' a , b ', ['a', 'b']],
    ['node[1-3],gpu[1-2]', ['node1', 'node2', 'node3', 'gpu1', 'gpu2']],
    ['root@node[1-2]', ['root@node1', 'root@node2']],
    ['alice@login,node1', ['alice@login', 'node1']],
    ['rack[1-2]-n[1-2]', ['rack1-n1', 'rack1-n2', 'rack2-n1', 'rack2-n2']],
    ['r[1-2]n[01-02].cluster', ['r1n01.cluster', 'r1n02.cluster', 'r2n01.cluster', 'r2n02.cluster']],
    ['x[1-9/4]', ['x1', 'x5', 'x9']],
    ['x[0-10/5]', ['x0', 'x5', 'x10']],
    ['[1-2]x', ['1x', '2x']],
    ['node[1]', ['node1']],
    ['node[3-3]', ['node3']],
    ['node[1-2],node2,node[2-3]', ['node1', 'node2', 'node3']],
    ['n[0]', ['n0']],
    ['n[00-01]', ['n00', 'n01']],
    ['host.example.org,h_1', ['host.example.org', 'h_1']],
  ])('%s', (list, hosts) => {
    expect(expandHostlist(list)).toEqual(hosts);
  });

  it.each([
    ['', /empty hostlist/],
    ['   ', /empty hostlist/],
    ['node[3-1]', /range 3-1 goes down \(write 1-3\)/],
    ['nova[004-002]', /goes down/],
    ['nova[]', /empty brackets/],
    ['nova[-]', /'-' is not a number/],
    ['nova[A]', /'A' is not a number/],
    ['nova[2-5/a]', /not a number or a range/],
    ['nova[3/2]', /not a number or a range/],
    ['nova[3-/2]', /not a number or a range/],
    ['nova[-3/2]', /not a number or a range/],
    ['nova[4-5/-2]', /not a number or a range/],
    ['nova[4-5/0]', /step 0/],
    ['nova[3-59/2,102a]', /'102a' is not a number/],
    ['nova[3-59/2,,102]', /an empty range/],
    ['nova[3-59/2,102', /'\[' without '\]'/],
    ['nova6[', /'\[' without '\]'/],
    ['nova6]', /'\]' without '\['/],
    ['n6[1-4]]', /'\]' without '\['/],
    ['xa[[zer[1-30]p[4-9]', /do not nest/],
    ['n6[1-4][3-4]', /something between them/],
    ['nova3,nova4,,nova6', /empty entry/],
    ['nova6,', /empty entry/],
    [',nova6', /empty entry/],
    ['node[1-09]', /pad the low end too/],
    ['-oProxyCommand=x', /bad host name '-oProxyCommand=x'/],
    ['node one', /bad host name 'node one'/],
    ['@node1', /bad user name ''/],
    ['-l@node1', /bad user name '-l'/],
    ['node[1-1000000]', /more than 65536 hosts/],
    ['n[1-300]m[1-300]', /more than 65536 hosts/],
    [`nova[${'3'.repeat(101)}]`, /not a number or a range/],
  ])('%s is refused: %s', (list, why) => {
    expect(() => expandHostlist(list)).toThrow(why);
  });

  it('refuses with EINVAL and names the entry', () => {
    try {
      expandHostlist('a,node[3-1]');
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe('EINVAL');
      expect((err as Error).message).toBe("bad hostlist 'node[3-1]': range 3-1 goes down (write 1-3)");
    }
  });

  it('takes the largest list it allows', () => {
    expect(expandHostlist(`n[1-${MAX_HOSTS}]`)).toHaveLength(MAX_HOSTS);
  });
});
