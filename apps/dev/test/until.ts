/** Polls `check` until it holds; fails naming `what` past `ms`. */
export async function until(check: () => boolean, what: string, ms: number) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(5); // a poll interval, not a wait for state
  }
}
