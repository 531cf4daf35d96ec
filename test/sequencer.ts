import { relative } from 'node:path';
import { BaseSequencer, type TestSequencerConstructor, type TestSpecification } from 'vitest/node';

/**
 * A sequencer that starts `first` (paths from the project root) in the order given, then the rest in
 * vitest's order (failed first, then the longest by the last run's durations, else the largest).
 * The suite is CPU-bound on 2 cores: what takes seconds must start early, so that the short files
 * fill the end. vitest keeps durations only after a run, and a fresh clone has none: by size alone,
 * the longest could start last. With --sequence.shuffle, every file in a seeded random order, as
 * vitest's own shuffling sequencer gives (a custom sequencer replaces it).
 */
export function startingWith(first: readonly string[]): TestSequencerConstructor {
  return class StartingWith extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
      const { shuffle, seed } = this.ctx.config.sequence;
      if (shuffle) return shuffled(files, seed);
      const rank = (file: TestSpecification) => first.indexOf(relative(file.project.config.root, file.moduleId).split('\\').join('/'));
      const sorted = await super.sort(files);
      const listed = sorted.filter((file) => rank(file) >= 0).sort((a, b) => rank(a) - rank(b));
      return [...listed, ...sorted.filter((file) => rank(file) < 0)];
    }
  };
}

/** Fisher-Yates with a seeded generator (mulberry32): the same seed, the same order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
