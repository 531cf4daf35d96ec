import { relative } from 'node:path';
import { BaseSequencer, type TestSequencerConstructor, type TestSpecification } from 'vitest/node';

/**
 * A sequencer that starts `first` (paths from the project root) in the order given, then the rest in
 * vitest's order (failed first, then the longest by the last run's durations, else the largest).
 * The suite is CPU-bound on 2 cores: what takes seconds must start early, so that the short files
 * fill the end. vitest keeps durations only after a run, and a fresh clone has none: by size alone,
 * the longest could start last. (vitest.config.ts leaves it out when the command line asks for a
 * shuffled order: vitest's own sequencer does that.)
 */
export function startingWith(first: readonly string[]): TestSequencerConstructor {
  return class StartingWith extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
      const rank = (file: TestSpecification) => first.indexOf(relative(file.project.config.root, file.moduleId).split('\\').join('/'));
      const sorted = await super.sort(files);
      const listed = sorted.filter((file) => rank(file) >= 0).sort((a, b) => rank(a) - rank(b));
      return [...listed, ...sorted.filter((file) => rank(file) < 0)];
    }
  };
}
