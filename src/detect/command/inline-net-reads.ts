// Why: src/detect/command/inline-received.ts asks whether inline code runs what it read from a network connection.
// This file answers the first half: which reads in the normalised code are reads of the network, and which names
// hold what they read. A read counts only on a connection the code made or accepted — a name bound from a connect,
// accept, TCPSocket, IO::Socket, fsockopen, open_connection, net.connect, WebSocket … — or through a call that only
// sockets have (`recv`, `makefile`, lua's `:receive`, a socketserver handler's `self.rfile`), or a DNS TXT answer. A
// file's `.read()`, a child process's `stdout.readline()` or `.on("data")`, `<$fh>` and stdin are not (a red team's
// false positives, session 45: a script that connects, then runs commands read from a file or from its own server's
// output). Threat it stops: see inline-received.ts.

/** Where a network connection is made or accepted (a plain `import socket` is not one). */
export const NET_OPEN = /[.:]connect(?:_ex)?\(|require\("socket"\)|create_connection|open_connection|start_server|\.accept\(|\.listen\(|TCPSocket|TCPServer|UDPSocket|fsockopen|stream_socket_(?:client|server)|socket_(?:create|connect)|IO::Socket|net\.(?:connect|createConnection|createServer|Socket)|require\("(?:node:)?(?:net|tls|dgram)"\)|\btls\.connect|[sS]ocket\.(?:tcp|udp)\(|\bsocket\(\w+,|socket\.socket\(|WebSocket|websocket|wss?:\/\/|resolveTxt|"TXT"|dns\.resolver|\/dev\/tcp\/|socketserver|SocketServer|RequestHandler|Telnet\(|connection\.Client|\bClient\(\(|curl_init\(/;

/** An expression that makes a connection object (the right side of a binding). */
const MAKES_SOCKET = /Telnet\(|\bClient\(\(|create_connection|open_connection|\.accept\(|socket\.socket\(|\bsocket\(|Socket\.(?:new|tcp|open)|TCPSocket|TCPServer|UDPSocket|IO::Socket|->new\(|fsockopen|stream_socket_(?:client|accept)|socket_(?:create|accept)|[.:]connect\(|createConnection|new\s+(?:net\.)?Socket|WebSocket\(|socket\.(?:tcp|udp)\(|\.tcp\(\)|tls\.connect|wrap_socket/;

/** Reads only sockets make, whatever the receiver is called, and DNS TXT answers. */
const SOCKET_ONLY_READS = String.raw`recv\w*\(|read_until\(|read_very_eager\(|curl_exec\(|makefile\(|socket_read\(|[.:]receive\(|self\.rfile|self\.request\.recv|resolveTxt|\.strings\b|to_text\(|open\(\s*\w+\.fileno\(\)`;

/** A literal string as regex source. */
export const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Names bound to a connection: `s = socket.create_connection(…)`, `c, a = s.accept()`, `r, w = await asyncio.open_connection(…)`, perl's `socket(S, …)`. */
export function socketNames(lines: string[]): string[] {
  const names = new Set<string>();
  for (const line of lines) {
    for (const m of line.matchAll(/(?:^|[^\w$.])\$?(\w+)(?:\s*,\s*\$?(\w+))?\s*(?:=|:=)(?![=>~])\s*([^\n]*)/g)) {
      if (MAKES_SOCKET.test(m[3]!)) { names.add(m[1]!); if (m[2]) names.add(m[2]); }
    }
    for (const m of line.matchAll(/\bas\s+(\w+)/g)) if (MAKES_SOCKET.test(line.slice(0, m.index))) names.add(m[1]!);
    for (const m of line.matchAll(/\bsocket\(\s*(?:my\s*)?\$?(\w+)\s*,/g)) names.add(m[1]!);
    // a server's connection handed to its handler: node's createServer(c => …) / on("connection", c => …)
    for (const m of line.matchAll(/(?:createServer|\.on\("connection")\(?,?\s*(?:async)?\s*(?:function)?\s*\(?(\w+)/g)) names.add(m[1]!);
  }
  // asyncio.start_server(handler, …): the handler's (reader, writer)
  const code = lines.join('\n');
  for (const m of code.matchAll(/start_server\(\s*(\w+)/g)) {
    const def = new RegExp(String.raw`def\s+${m[1]}\(\s*(\w+)\s*,\s*(\w+)`).exec(code);
    if (def) { names.add(def[1]!); names.add(def[2]!); }
  }
  return [...names];
}

/** The regex source of a network read, given the names bound to connections. */
export function netReadSource(socks: string[], code = ''): string {
  const parts = [SOCKET_ONLY_READS,
    // `sys.stdin = s.makefile()`: stdin is the connection from then on
    ...(/sys\.stdin\s*=/.test(code) ? [String.raw`\binput\(|sys\.stdin\.read`] : []),
    // node: a listener on a connection made in the same chain (`require("net").connect(…).on("data", …)`)
    String.raw`(?:connect|createConnection|Socket|WebSocket)\([^\n]*?\)\.(?:on|once)\("(?:data|message|line)"`];
  if (socks.length) {
    const S = `(?:${socks.map(esc).join('|')})`;
    parts.push(String.raw`(?<![\w$])\$?${S}\.(?:read\w*|gets|getline|each_line|lines|readpartial|sysread|recv\w*)\b`,
      String.raw`(?<![\w$])\$?${S}->(?:getline|getlines|recv|sysread|read)\b`,
      String.raw`createInterface\(\{[^}\n]*input:\s*${S}\b[^}\n]*\}\)\.on\("line"`,
      String.raw`<\$?${S}>`, String.raw`\b(?:fgets|fread|fgetc|fscanf|stream_get_\w+|socket_read|sysread|read|recv)\(\s*\$?${S}\b`,
      String.raw`(?<![\w$])${S}\.(?:on|once|addListener)\("(?:data|message|line)"`, String.raw`(?<![\w$])${S}\.onmessage\b`,
      String.raw`for\s*await\s*\(\s*(?:const |let |var )?\w+\s+of\s+${S}\b`);
  }
  return parts.join('|');
}

/**
 * Names bound from a network read, then from those names, to a fixed point (at most four rounds): assignments,
 * `for x in …`, a connection listener's parameter, a ruby block's `|l|` after a read, perl's `$_` in `while(<$s>)`.
 */
export function taintedNames(lines: string[], lang: string, socks: string[], readSrc: string): string[] {
  const names = new Set<string>();
  const S = socks.length ? `(?:${socks.map(esc).join('|')})` : undefined;
  const listener = new RegExp(String.raw`(?:(?<![\w$])${S ?? '(?!)'}|(?:connect|createConnection|Socket|WebSocket)\([^\n]*?\)|createInterface\(\{[^}\n]*input:\s*${S ?? '(?!)'}\b[^}\n]*\}\))\.(?:on|once|addListener)\("(?:data|message|line)",(?:async)?(?:function)?\(?(\w+)`, 'g');
  const onmessage = new RegExp(String.raw`(?<![\w$])${S ?? '(?!)'}\.onmessage=(?:async)?(?:function)?\(?(\w+)`, 'g');
  for (let round = 0; round < 4; round++) {
    const before = names.size;
    const src = new RegExp(names.size ? `${readSrc}|(?<![\\w])\\$?(?:${[...names].map(esc).join('|')})(?![\\w])` : readSrc);
    for (const line of lines) {
      // d=…, d+=…, d.=…, $d=…, a,b=…, while chunk:=…, my $d=…
      for (const m of line.matchAll(/(?:^|[^\w$.=!<>])\$?(\w+(?:,\$?\w+)*)\s*(?:\+|\.|\|\|)?(?::)?=(?![=>~])([^\n]*)/g)) {
        if (src.test(m[2]!)) for (const n of m[1]!.split(',')) names.add(n.replace(/^\$/, ''));
      }
      for (const m of line.matchAll(/for\s*\(?\s*(?:const |let |var |my )?\$?(\w+)\s+(?:in|of)\s+([^\n]*)/g)) if (src.test(m[2]!)) names.add(m[1]!);
      if (S) for (const m of line.matchAll(new RegExp(String.raw`for\s*await\s*\(\s*(?:const |let |var )?(\w+)\s+of\s+${S}\b`, 'g'))) names.add(m[1]!);
      for (const m of line.matchAll(listener)) names.add(m[1]!);
      for (const m of line.matchAll(onmessage)) names.add(m[1]!);
      if (lang === 'ruby') for (const m of line.matchAll(/(\w+)\.(?:gets|read\w*|each_line|recv\w*)\b[^|\n]*(?:do|\{)\s*\|(\w+)\|/g)) if (socks.includes(m[1]!)) names.add(m[2]!);
      // reads into a buffer: s.recv_into(b), f.readinto(b)
      for (const m of line.matchAll(/(?:recv_into|recvfrom_into|readinto)\(\s*(\w+)/g)) names.add(m[1]!);
      // perl reads into their second argument: recv($s, $c, …), read($s, $c, …), sysread, $s->recv($c, …)
      if (lang === 'perl' && S) for (const m of line.matchAll(new RegExp(String.raw`(?:\b(?:recv|read|sysread)\(\s*\$?${S}\s*,|\$?${S}->(?:recv|read|sysread)\()\s*(?:my\s*)?\$(\w+)`, 'g'))) names.add(m[1]!);
      if (lang === 'perl' && S && new RegExp(String.raw`while\s*\(\s*<\$?${S}>\s*\)`).test(line)) names.add('_');
    }
    if (names.size === before) break;
  }
  return [...names];
}
