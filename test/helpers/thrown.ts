/** What `f` throws (undefined when it returns). */
export function thrown(f: () => unknown): Error | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e as Error;
  }
}
