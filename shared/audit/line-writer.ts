/**
 * Audit lines, batched: every line queued during one turn of the event loop goes out in a single
 * write (one syscall, not one per record), batches in order. Each `write` resolves once the batch
 * holding its line was written, and rejects if that write failed, so a caller that must not answer
 * before its record is kept (TOKEX_AUDIT_REQUIRED) can wait for exactly that.
 */
export class LineWriter {
  #lines: string[] = [];
  #batch: Promise<void> | undefined;
  #release: (() => void) | undefined;
  /** The last batch handed to `out`: the next waits for it, so lines never overtake each other. */
  #tail: Promise<void> = Promise.resolve();

  constructor(private readonly out: (chunk: string) => Promise<void>) {}

  /** Queues one line (without its newline); resolves once it is written. */
  write(line: string): Promise<void> {
    this.#lines.push(line);
    if (this.#batch === undefined) {
      this.#batch = new Promise<void>((resolve) => (this.#release = resolve)).then(() => this.#writeBatch());
      setImmediate(this.#release!);
    }
    return this.#batch;
  }

  /** Writes whatever is queued now and waits for every write so far (shutdown, tests). */
  async flush(): Promise<void> {
    const batch = this.#batch;
    this.#release?.();
    await batch?.catch(() => {});
    await this.#tail.catch(() => {});
  }

  #writeBatch(): Promise<void> {
    const chunk = `${this.#lines.join('\n')}\n`;
    this.#lines = [];
    this.#batch = undefined;
    this.#release = undefined;
    const written = this.#tail.catch(() => {}).then(() => this.out(chunk));
    this.#tail = written;
    return written;
  }
}
