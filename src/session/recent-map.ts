// Why: maps that remember the latest few thousand of something (a file's last writer, a pid's call)
// must not grow with a session's history: setting a key makes it the newest, and past `max` the
// oldest goes. One place for that, instead of the same three lines at each use.
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
