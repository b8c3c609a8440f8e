/** What `f` throws, as { code, message } ({ code: 'none' } when it returns): for asserting errors verbatim. */
export function thrown(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return { code: 'none', message: 'did not throw' };
}
