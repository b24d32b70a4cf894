// Resolves on SIGINT/SIGTERM (first one) or after an optional duration.
export function waitForSignalOrTimeout(durationS?: number): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string): void => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      if (timer) clearTimeout(timer);
      resolve(why);
    };
    const onInt = (): void => done("SIGINT");
    const onTerm = (): void => done("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    const timer = durationS !== undefined ? setTimeout(() => done("duration"), durationS * 1000) : undefined;
  });
}
