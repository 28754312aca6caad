"""Corral's local API from Python, standard library only (docs/daemon.md).

Why: RL trainers are written in Python and cannot import Corral's Node library. `corral serve`
keeps a warm Corral on the machine; this module opens sandboxed sessions (one per episode), runs
tool calls in them and collects the verdict (alerts attributed to each tool call) over the
daemon's root-only Unix socket.

    from corral_client import Corral
    corral = Corral()                                   # /run/corral/corral.sock or $CORRAL_SOCKET
    with corral.session(policy="default", run="r1", episode="e7") as s:
        r = s.exec("pytest -q", step=1, tool_call_id="c1")
        print(r["exit_code"], r["stdout"], r["alerts"])
        s.write_file("src/app.py", "print('hi')\n", step=2)  # file tools: one tool call each
    print(s.alerts)                                     # every alert of the episode, after close
"""
import base64
import http.client
import json
import os
import socket
import struct

DEFAULT_SOCKET = "/run/corral/corral.sock"
# A streamed exec sends a keepalive line after this much silence (src/server/exec-stream.ts).
STREAM_KEEPALIVE_S = 5
_UNBOUNDED = object()
# What opening a session may take on top of the client's timeout: the daemon starts a sandbox.
SANDBOX_START_S = 60


class CorralError(Exception):
    """An error answer from the daemon: .status (HTTP), .kind (bad_request, policy, ...), message."""

    def __init__(self, status, kind, message):
        super().__init__(f"{status} {kind}: {message}")
        self.status, self.kind, self.message = status, kind, message


def _daemon_unreachable(path, e):
    """A CorralError (kind "daemon", no HTTP status) for a daemon that cannot be reached or hung up: a trainer
    catching CorralError must not get a bare FileNotFoundError when the daemon is not running."""
    if isinstance(e, (http.client.HTTPException, ConnectionResetError, BrokenPipeError)):
        return CorralError(None, "daemon", f"the daemon on {path} closed the connection before answering ({type(e).__name__}: {e})")
    return CorralError(None, "daemon", f"no Corral daemon answers on {path} ({type(e).__name__}: {e}); start one with: corral serve")


class DaemonOwnerError(CorralError):
    """The socket is served by a process that is neither root nor this user: nothing was sent to it.
    Whoever listens first on a path the client names (a CORRAL_SOCKET under /tmp, a directory another
    user can write) would get every request (env=True: this process's whole environment) and decide
    what a command did. .socket_path and .uid name the socket and its listener's uid."""

    def __init__(self, socket_path, uid):
        super().__init__(None, "daemon_owner", f"{socket_path} is served by a process of uid {uid}, neither root nor you: "
                         "refusing to send it anything (it would get your environment and decide what your command did); "
                         "name the real daemon's socket")
        self.args = (self.message,)
        self.socket_path, self.uid = socket_path, uid

    def __str__(self):
        return self.message


def _check_daemon_owner(sock, path):
    """Asks the kernel who listens on the connected socket (SO_PEERCRED: pid, uid, gid of the
    listener); only root or this process's effective user is a daemon this client talks to."""
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid != 0 and uid != os.geteuid():
        raise DaemonOwnerError(path, uid)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("corral", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._path)
            # before anything is written: the listener must be root or this user
            _check_daemon_owner(s, self._path)
        except BaseException:
            s.close()
            raise
        self.sock = s


class Corral:
    """timeout: seconds the daemon may stay silent (connecting, sending, waiting for an answer); None waits
    forever. A tool call's own run time does not count against it: a plain exec, file call or run answers
    when the call ends, so its wait is the timeout plus the call's timeout_ms (without timeout_ms, unbounded:
    the daemon ends every call at its policy's timeout); a streamed exec gets a keepalive line after every
    5 s of quiet, so there the timeout (at least 2 keepalives) holds through a quiet `pip install`. Opening a
    session starts a sandbox (0.2-3 s, more for an image root on a busy machine): its wait is the timeout
    plus SANDBOX_START_S."""

    def __init__(self, socket_path=None, timeout=None):
        self.socket_path = socket_path or os.environ.get("CORRAL_SOCKET") or DEFAULT_SOCKET
        self.timeout = timeout

    def _answer_wait(self, call_timeout_ms):
        """The read timeout for the answer of a request that runs a tool call."""
        if self.timeout is None or call_timeout_ms is None:
            return None
        return self.timeout + call_timeout_ms / 1000

    def request(self, method, path, body=None, wait=_UNBOUNDED):
        """wait: the read timeout once the request is sent (default: the client's timeout). A daemon that is not
        running or hangs up is a CorralError of kind "daemon" (a read timeout stays TimeoutError)."""
        try:
            return self._request(method, path, body, wait)
        except CorralError:
            raise
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError, http.client.HTTPException) as e:
            raise _daemon_unreachable(self.socket_path, e) from e

    def _request(self, method, path, body, wait):
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            data = None if body is None else json.dumps(body)
            try:
                conn.request(method, path, data, {"content-type": "application/json"} if data else {})
            except (BrokenPipeError, ConnectionResetError):
                # The daemon answers a body over its limit (413) without reading the rest of it:
                # its answer is already on the socket, so read that rather than raise a bare pipe error.
                pass
            if wait is not _UNBOUNDED and conn.sock is not None:
                conn.sock.settimeout(wait)
            res = conn.getresponse()
            answer = json.loads(res.read() or b"{}")
        finally:
            conn.close()
        if res.status != 200:
            err = answer.get("error", {})
            raise CorralError(res.status, err.get("kind", "unknown"), err.get("message", ""))
        return answer

    def stream(self, path, body):
        """POST whose answer is NDJSON (exec with stream): yields each line as a dict as it arrives."""
        try:
            yield from self._stream(path, body)
        except CorralError:
            raise
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError, http.client.HTTPException) as e:
            raise _daemon_unreachable(self.socket_path, e) from e

    def _stream(self, path, body):
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
            if self.timeout is not None and conn.sock is not None:
                # (the daemon sends a keepalive line after STREAM_KEEPALIVE_S of quiet)
                conn.sock.settimeout(max(self.timeout, 2 * STREAM_KEEPALIVE_S))
            res = conn.getresponse()
            if res.status != 200:
                err = json.loads(res.read() or b"{}").get("error", {})
                raise CorralError(res.status, err.get("kind", "unknown"), err.get("message", ""))
            while True:
                line = res.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def health(self):
        return self.request("GET", "/v1/health")

    def run(self, argv, policy=None, allow=None, labels=None, timeout_ms=None, workspace=None, mounts=None, root=None,
            root_writable=None, workspace_path=None, env=None):
        """One command as one tool call in a fresh sandbox; output is captured. workspace, mounts, root,
        root_writable, workspace_path and env are as for session()."""
        body = {"argv": list(argv), "stdio": "capture"}
        for k, v in (("policy", policy), ("allow", allow), ("labels", labels), ("timeout_ms", timeout_ms), ("workspace", workspace),
                     ("mounts", mounts), ("root", root), ("root_writable", root_writable), ("workspace_path", workspace_path),
                     ("env", _env(env))):
            if v is not None:
                body[k] = v
        return self.request("POST", "/v1/run", body, wait=self._answer_wait(timeout_ms))

    def session(self, policy=None, allow=None, run=None, episode=None, labels=None, keep_after_client_exit=None, workspace=None, mounts=None, root=None, workspace_path=None, root_writable=None, env=None):
        """A sandbox for one episode. It is closed when this process exits, unless keep_after_client_exit.
        workspace: an absolute host directory shown as /workspace (seed files, collect artifacts): its owner's
        files are the agent's through an idmapped mount; nothing on the host is chowned.
        mounts: read-only host paths, [{"host": "/srv/datasets/x", "path": "/data/x"}] (a dataset, a model cache).
        root: an absolute host directory holding an image's root filesystem (the task's environment), shown read-only as /.
        workspace_path: where the workspace appears (default /workspace; e.g. /testbed for an SWE-style image).
        root_writable: the image root as this session's own copy-on-write layer (the image never changes).
        env: the environment the policy's filesystem.env_allow variables (LANG, TERM, …) are taken from:
        a dict, or True for this process's os.environ; the daemon keeps only those variables. Without it
        they come from the daemon's own environment."""
        body = {k: v for k, v in (("policy", policy), ("allow", allow), ("run", run), ("episode", episode), ("labels", labels),
                                  ("keep_after_client_exit", keep_after_client_exit), ("workspace", workspace),
                                  ("mounts", mounts), ("root", root), ("workspace_path", workspace_path),
                                  ("root_writable", root_writable), ("env", _env(env))) if v is not None}
        wait = None if self.timeout is None else self.timeout + SANDBOX_START_S
        return Session(self, self.request("POST", "/v1/sessions", body, wait=wait)["session"])


def _env(env):
    """The env field of a request: None (not sent), True (this process's environment) or a mapping of strings."""
    if env is None or env is False:
        return None
    if env is True:
        return dict(os.environ)
    return {str(k): str(v) for k, v in dict(env).items()}


class Session:
    """A sandbox for one episode: tool calls run in order; files and background processes persist."""

    def __init__(self, corral, session_id):
        self.corral, self.id, self.alerts, self.verdict, self.closed = corral, session_id, None, None, False

    def exec(self, command=None, argv=None, tool=None, step=None, tool_call_id=None, timeout_ms=None, max_output=None, stdin=None,
             on_stdout=None, on_stderr=None, on_alert=None):
        """One tool call; answers when it ends. With on_stdout/on_stderr/on_alert the call is streamed: each
        callback gets output text or an alert dict as it comes (an alert may belong to an earlier call's
        background process: see its tool_call), and the same result is returned at the end."""
        body = {k: v for k, v in (("command", command), ("argv", argv), ("tool", tool), ("step", step),
                                  ("tool_call_id", tool_call_id), ("timeout_ms", timeout_ms), ("max_output", max_output),
                                  ("stdin", stdin)) if v is not None}
        if on_stdout is None and on_stderr is None and on_alert is None:
            return self.corral.request("POST", f"/v1/sessions/{self.id}/exec", body, wait=self.corral._answer_wait(timeout_ms))
        body["stream"] = True
        for line in self.corral.stream(f"/v1/sessions/{self.id}/exec", body):
            kind = line.get("type")
            if kind == "stdout" and on_stdout:
                on_stdout(line["data"])
            elif kind == "stderr" and on_stderr:
                on_stderr(line["data"])
            elif kind == "alert" and on_alert:
                on_alert(line["alert"])
            elif kind == "keepalive":
                continue
            elif kind == "result":
                return {k: v for k, v in line.items() if k != "type"}
            elif kind == "error":
                err = line.get("error", {})
                raise CorralError(500, err.get("kind", "unknown"), err.get("message", ""))
        raise CorralError(502, "stream_ended", "the daemon's stream ended before the call's result")

    # File tools: each is one tool call, done inside the sandbox as the agent and screened on what it
    # writes. The answer has "ok" and, when the operation does not apply, "problem" (what the agent reads).
    def _file(self, body, step, tool_call_id, timeout_ms):
        body.update({k: v for k, v in (("step", step), ("tool_call_id", tool_call_id), ("timeout_ms", timeout_ms)) if v is not None})
        return self.corral.request("POST", f"/v1/sessions/{self.id}/files", body, wait=self.corral._answer_wait(timeout_ms))

    def write_file(self, path, content, append=False, step=None, tool_call_id=None, timeout_ms=None):
        """Writes text (str) or bytes to path (relative paths are under the workspace: /workspace or workspace_path); parent directories are created."""
        body = {"op": "write", "path": path, "append": append}
        if isinstance(content, (bytes, bytearray)):
            body["content_base64"] = base64.b64encode(bytes(content)).decode("ascii")
        else:
            body["content"] = content
        return self._file(body, step, tool_call_id, timeout_ms)

    def read_file(self, path, max_bytes=None, step=None, tool_call_id=None, timeout_ms=None):
        """Reads a file: "content" is str for UTF-8 text, else bytes; a directory gives "entries"."""
        body = {"op": "read", "path": path}
        if max_bytes is not None:
            body["max_bytes"] = max_bytes
        out = self._file(body, step, tool_call_id, timeout_ms)
        if "content_base64" in out:
            out["content"] = base64.b64decode(out.pop("content_base64"))
        return out

    def str_replace(self, path, old, new, step=None, tool_call_id=None, timeout_ms=None, replace_all=False):
        """Replaces the one occurrence of old with new (not done if old is absent or appears more than once);
        replace_all=True replaces every occurrence (not done if there is none)."""
        body = {"op": "str_replace", "path": path, "old": old, "new": new}
        if replace_all:
            body["replace_all"] = True
        return self._file(body, step, tool_call_id, timeout_ms)

    def multi_edit(self, path, edits, step=None, tool_call_id=None, timeout_ms=None):
        """Several edits of one file, in order, each to the text the ones before it left (Claude Code's
        MultiEdit). Each edit is {"old", "new", "replace_all"?} or a tuple (old, new[, replace_all]).
        If one does not apply, none is: "ok" is False and "problem" names it ("edit 2 of 3", from 1)."""
        def one(e):
            if isinstance(e, dict):
                return e
            out = {"old": e[0], "new": e[1]}
            if len(e) > 2 and e[2]:
                out["replace_all"] = True
            return out
        return self._file({"op": "multi_edit", "path": path, "edits": [one(e) for e in edits]}, step, tool_call_id, timeout_ms)

    def insert(self, path, line, text, step=None, tool_call_id=None, timeout_ms=None):
        """Inserts text after line `line` (0: before the first line)."""
        return self._file({"op": "insert", "path": path, "line": line, "text": text}, step, tool_call_id, timeout_ms)

    def report(self):
        """The session's report so far: calls, blame per call, verdict (works after close, too)."""
        return self.corral.request("GET", f"/v1/sessions/{self.id}/report")

    def close(self):
        """Kills what the episode left running; returns (and keeps in .alerts) every alert of the session.
        A session the daemon already closed (idle, a DELETE of another client, the daemon restarted with the
        same home) is closed: its alerts and verdict come from its recorded report."""
        if not self.closed:
            try:
                done = self.corral.request("DELETE", f"/v1/sessions/{self.id}")
            except CorralError as e:
                if e.status != 404:
                    raise
                done = self._recorded()
            self.alerts, self.verdict = done["alerts"], done["verdict"]
            self.closed = True
        return self.alerts

    def _recorded(self):
        """The alerts and verdict of a session the daemon closed without us, from its report (none if unrecorded)."""
        try:
            r = self.report()
        except CorralError as e:
            if e.status != 404:
                raise
            return {"alerts": [], "verdict": None}
        alerts = [a for c in r.get("calls", []) for a in c.get("alerts", [])] + list(r.get("other_alerts", []))
        return {"alerts": alerts, "verdict": r.get("verdict")}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return False
        # (an exception of the trainer's own is on its way out: a failure to close must not replace it)
        try:
            self.close()
        except Exception as e:
            if hasattr(exc, "add_note"):
                exc.add_note(f"corral: closing session {self.id} also failed: {e}")
        return False
