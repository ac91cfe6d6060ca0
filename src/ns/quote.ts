/**
 * Plan 9 quoting (tokenize(2), quote(2)): words split on blanks, single
 * quotes group, and a doubled quote inside quotes stands for one quote.
 */
import { FsError } from './errors.js';

export function tokenize(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isBlank(line[i]!)) i++;
    if (i >= line.length) break;
    let word = '';
    while (i < line.length && !isBlank(line[i]!)) {
      if (line[i] !== "'") {
        word += line[i++];
        continue;
      }
      i++; // opening quote
      for (;;) {
        if (i >= line.length) throw new FsError('EINVAL', `unbalanced quote in: ${line}`);
        if (line[i] === "'") {
          if (line[i + 1] === "'") {
            word += "'";
            i += 2;
            continue;
          }
          i++; // closing quote
          break;
        }
        word += line[i++];
      }
    }
    words.push(word);
  }
  return words;
}

export function quote(word: string): string {
  if (word === '') return "''";
  if (!/[\s'`^#*[\]=|\\?${}()<>&;]/.test(word)) return word;
  return `'${word.replace(/'/g, "''")}'`;
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r';
}
