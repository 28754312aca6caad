// Why: a session that cannot be set up as asked (a workspace the sandbox cannot reach, a cap that
// cannot apply, a GPU grant the host cannot honour) is the asker's to fix — exit 2 in the CLI, HTTP
// 400 in the daemon — not Corral's failure. Its own module so that the session's parts (its files,
// its start) can raise it without importing the session.
export class SessionSetupError extends Error {
  override readonly name = 'SessionSetupError';
}
