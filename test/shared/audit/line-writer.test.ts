import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../../shared/audit/line-writer.js';

describe('LineWriter (audit lines, batched)', () => {
  it('lines written in one turn go out in one write, in order, each resolving once written', async () => {
    const chunks: string[] = [];
    const writer = new LineWriter(async (chunk) => void chunks.push(chunk));
    const done = ['a', 'b', 'c'].map((line) => writer.write(line));
    expect(chunks).toEqual([]); // nothing is written synchronously
    await Promise.all(done);
    expect(chunks).toEqual(['a\nb\nc\n']);
    await writer.write('d');
    expect(chunks).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('a batch waits for the previous one: lines never overtake each other', async () => {
    const chunks: string[] = [];
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => (release = r));
    let first = true;
    const writer = new LineWriter(async (chunk) => {
      if (first) {
        first = false;
        await slow;
      }
      chunks.push(chunk);
    });
    const one = writer.write('1');
    await new Promise((r) => setImmediate(r));
    const two = writer.write('2');
    await new Promise((r) => setImmediate(r));
    expect(chunks).toEqual([]);
    release();
    await Promise.all([one, two]);
    expect(chunks).toEqual(['1\n', '2\n']);
  });

  it('a failed write rejects every line of its batch; the next batch is written', async () => {
    let fail = true;
    const chunks: string[] = [];
    const writer = new LineWriter(async (chunk) => {
      if (fail) throw new Error('EISDIR');
      chunks.push(chunk);
    });
    const results = await Promise.allSettled([writer.write('x'), writer.write('y')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await writer.write('z');
    expect(chunks).toEqual(['z\n']);
  });

  it('flush writes what is queued without waiting for the next turn', async () => {
    const chunks: string[] = [];
    const writer = new LineWriter(async (chunk) => void chunks.push(chunk));
    void writer.write('last words');
    await writer.flush();
    expect(chunks).toEqual(['last words\n']);
    await writer.flush(); // nothing queued: returns at once
  });
});
