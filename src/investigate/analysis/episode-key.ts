// Why: an episode is identified by its run and its name, not its name alone: RL runs restart
// their numbering, so two runs both have an episode "0", and merging them by name joined their
// windows, calls and addresses (the blame of one run's episode stretched over the other's).
// Packed states (worker columns, the native linker's, native/trace-link.c) carry one string per
// episode; this is that string, the same bytes C builds for ASCII names: no run → ':' + name;
// a run → its length, ':', the run, then the name (the length makes it unambiguous whatever
// characters either holds). Built once per episode, never per call.

export function episodeKey(run: string | undefined, episode: string): string {
  return run === undefined ? `:${episode}` : `${run.length}:${run}${episode}`;
}

/** The run and name of an episodeKey(). */
export function parseEpisodeKey(key: string): { run?: string; episode: string } {
  if (key.charCodeAt(0) === 58 /* ':' */) return { episode: key.slice(1) };
  const colon = key.indexOf(':');
  const len = Number(key.slice(0, colon));
  return { run: key.slice(colon + 1, colon + 1 + len), episode: key.slice(colon + 1 + len) };
}

/** The name part of an episodeKey() (the episode's name as traces spell it). */
export function episodeName(key: string): string {
  if (key.charCodeAt(0) === 58) return key.slice(1);
  const colon = key.indexOf(':');
  return key.slice(colon + 1 + Number(key.slice(0, colon)));
}
