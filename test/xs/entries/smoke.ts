// Proves the runner: sync and async results, and that this really is XS.
export default function run(input: { n: number }): Promise<{ doubled: number; engine: string }> {
  const g = globalThis as unknown as { print?: unknown };
  return Promise.resolve({ doubled: input.n * 2, engine: typeof g.print === "function" ? "xs" : "other" });
}
