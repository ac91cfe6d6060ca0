/** Lines, labels and folding of leaf output (src/cli/leaf-output.ts). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Folder, LineSplitter, labelled } from '../../../src/cli/leaf-output.js';

describe('LineSplitter', () => {
  it('gives whole lines across pieces and the partial last one at the end', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('a\nb'))).toEqual(['a']);
    expect(s.push(Buffer.from('c'))).toEqual([]);
    expect(s.push(Buffer.from('\n\nd'))).toEqual(['bc', '']);
    expect(s.end()).toEqual(['d']);
    expect(s.end()).toEqual([]);
  });
});

describe('labelled', () => {
  it('puts the label in front of every line, a partial last line included', async () => {
    const out = new PassThrough();
    const l = labelled(out, '3 node1');
    await l.data(Buffer.from('one\ntw'));
    await l.data(Buffer.from('o\nthree'));
    await l.end();
    expect(out.read().toString()).toBe('3 node1: one\n3 node1: two\n3 node1: three\n');
  });
});

describe('Folder', () => {
  it('prints each distinct output once under its ranks, as dshbak -c', () => {
    const f = new Folder();
    f.data(2, Buffer.from('x\n'));
    f.data(0, Buffer.from('x'));
    f.data(0, Buffer.from('\n'));
    f.data(1, Buffer.from('y'));
    f.data(3, Buffer.from(''));
    f.data(4, Buffer.from('x\n'));
    const rule = '----------------';
    expect(f.render()).toBe(`${rule}\n0,2,4\n${rule}\nx\n${rule}\n1\n${rule}\ny\n`);
  });
});
