// Why: inline code that reads from a network connection and runs what it read — as code (exec, eval,
// new Function, vm, unpickling) or as a command (os.system, popen, subprocess, child_process, backticks)
// — gives whoever is at the far end a shell without any shell's name: staged payloads
// (`exec(zlib.decompress(s.recv(l)))`) and command-loop reverse shells
// (`s.send(os.popen(s.recv(1024).decode()).read())`). A rule that asked only "a socket and an exec
// somewhere" flagged every script that connects and also runs `subprocess.run(cmd)` (a red team's 29
// false positives, session 45), so this looks for a path from a network read to such a sink in the
// tokenizer's normalised code (one statement per line, strings folded):
//   - the read inside the sink's call on the same statement (`exec(s.recv(9))`);
//   - a name bound from a read (assignment, `+=`, walrus, `for … in`, a `.on("data", d => …)` callback's
//     parameter, a ruby block's `|l|`, perl's `$_` in `while(<$s>)`) — or from a name already bound so —
//     named in the sink's call (`d=s.recv(l)` … `exec(zlib.decompress(d))`, `exec(f"{d}")`);
//   - the sink handed over as the reader's callback (`.on("data", eval)`).
// Sinks are found by name, also through aliases (`import subprocess as q`, `from os import system as z`,
// `{execSync: x} = require("child_process")`, `x = exec`), builtins/Kernel/globalThis prefixes, getattr and
// `["name"]` lookups. A program given as a list (`subprocess.run(["make", job])`, `execFileSync("git", [… , b])`)
// runs what it read only when the read is the program, or the code after a shell's or interpreter's -c/-e, or the
// call has shell=True: a received branch name passed to git is data (inline-net-reads.ts has which reads count). Threat it stops: the far end of a socket running code in the sandbox through inline
// code that names no shell. It is a heuristic over one normalised text, not a data-flow analysis: a value
// that passes through a container, a function or a file, or code the tokenizer cannot fold, is not followed
// (docs/check.md).

import { esc, NET_OPEN, netReadSource, socketNames, taintedNames } from './inline-net-reads.js';
import { basename, interpreterOf, SHELLS } from './programs.js';

/** Sinks: names that run their argument as code or as a command. */
const SINK_NAMES = ['exec', 'eval', 'execfile', 'Function', 'loadstring', 'create_function', 'readpipe',
  'system', 'popen', 'spawn', 'spawnSync', 'execSync', 'execFile', 'execFileSync', 'shell_exec', 'passthru', 'proc_open',
  'pcntl_exec', 'getoutput', 'getstatusoutput', 'check_output', 'check_call', 'Popen', 'capture2', 'capture2e', 'capture3',
  'popen2', 'popen2e', 'popen3', 'instance_eval', 'class_eval', 'module_eval', 'runsource', 'runcode', 'FunctionType',
  'Unpickler', 'runInThisContext', 'runInNewContext', 'runInContext', 'compileFunction', 'create_subprocess_shell',
  'create_subprocess_exec', 'execv', 'execvp', 'execl', 'execlp', 'posix_spawn', 'posix_spawnp', 'Worker', 'spawnl', 'spawnlp',
  'spawnv', 'spawnvp', 'spawnle', 'spawnlpe', 'unsafe_load', 'ReflectionFunction'];
/** Names that are sinks only behind one of these receivers (`subprocess.run`, `pickle.loads`, `os.execute`, lua's bare load). */
const QUALIFIED: Record<string, string[]> = {
  run: ['subprocess'], call: ['subprocess'], loads: ['pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle'],
  load: ['pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle', 'yaml', 'torch', 'joblib'], execute: ['os'], timeit: ['timeit'], Script: ['vm'], compile: ['InstructionSequence'],
};
/** Receivers a sink may sit behind and still be the sink (anything else before a dot, or `->`, is a method of its own). */
const RECEIVERS = ['os', 'posix', 'subprocess', 'builtins', '__builtins__', 'Kernel', 'TOPLEVEL_BINDING', 'binding', 'globalThis',
  'global', 'window', 'self', 'pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle', 'vm', 'io', 'IO', 'Open3', 'Process',
  'asyncio', 'code', 'timeit', 'cProfile', 'types', 'child_process', 'cp', 'InteractiveInterpreter()', 'InteractiveConsole()',
  'require("child_process")', 'require("node:child_process")', 'require("vm")', 'require("node:vm")', '__import__("builtins")',
  '__import__("os")', '__import__("subprocess")', 'globals()["__builtins__"]', 'vars(__builtins__)', '__builtins__.__dict__', 'InstructionSequence',
  'yaml', 'torch', 'joblib', '_G'];

export interface ReceivedExec {
  /** The sink as written (`os.popen`, `eval`, `backticks`). */
  sink: string;
  /** What reached it: the read (`s.recv`) or the name bound from one (`d`). */
  source: string;
}

/** Inline code that runs what it read from a network connection: the first sink a read reaches, or undefined. */
export function receivedExec(code: string, lang: string): ReceivedExec | undefined {
  if (!NET_OPEN.test(code)) return undefined;
  const lines = code.split('\n');
  const socks = socketNames(lines);
  const readSrc = netReadSource(socks, code);
  const tainted = taintedNames(lines, lang, socks, readSrc);
  if (!tainted.length && !new RegExp(readSrc).test(code)) return undefined;
  const aliases = sinkAliases(code);
  const receivers = [...RECEIVERS, ...aliases.receivers];
  const names = [...SINK_NAMES, ...aliases.sinks];
  const recv = `(?:${receivers.map(esc).join('|')})`;
  const sinkNames = names.map(esc).join('|');
  const sinkRe = new RegExp(String.raw`(?:(?<![\w$.@])(?<!->)(?<!::)|(?<=(?<![\w$])${recv}\.))(${sinkNames})(?:\.(?:call|apply))?\s*\(`
    + String.raw`|(?<=(?<![\w$])${recv}\.)(${Object.keys(QUALIFIED).join('|')})\s*\(`
    + String.raw`|getattr\([^)\n]*,"(\w+)"\)\(|\["(\w+)"\]\(|\)\.(constructor)\(`
    + (lang === 'php' ? String.raw`|(?<![\w$>])(assert)\s*\(` : '')
    + (lang === 'lua' ? String.raw`|(?<![\w$.:])(load)\s*\(|rawget\(_G,"(load|loadstring|\w+)"\)\(` : '')
    + (lang === 'ruby' ? String.raw`|\bmethod\(:(system|eval|exec|spawn|instance_eval)\)|\b(?:__send__|public_send|send)\(:(system|eval|exec|spawn)` : '')
    + (lang === 'perl' ? String.raw`|\b(system|exec)\s*\{|\bs\/[^/\n]*\/[^/\n]*\/\w*(e)e` : '')
    + (lang === 'php' ? String.raw`|\b(?:array_filter|array_map|array_walk|usort|uasort|call_user_func(?:_array)?)\([^\n]*?"(\w+)"|\b(include|require)(?:_once)?\b[^\n]*data:` + (aliases.phpVars.length ? String.raw`|\$(${aliases.phpVars.map(esc).join('|')})\s*\(` : '') : '')
    + String.raw`|\.(_compile)\(`
    + String.raw`|[(,](eval)\)\(`
    + String.raw`|Reflect\.construct\((Function)|\((?:loadstring|load)\b[^)\n]*\)\(`
    + (lang === 'node' ? String.raw`|(?<![\w$.])(import)\(` : '')
    + (lang === 'perl' || lang === 'ruby' ? String.raw`|(?<![\w$.@])(?<!->)(?<!::)(system|exec|eval|spawn)(?:\s*(?=[$@<])|\s+(?=[\w"'(]))` : '')
    + (lang === 'perl' || lang === 'ruby' || lang === 'php' ? String.raw`|(\x60)[^\x60\n]*\x60|%x\(|\bqx\b|\bopen\s*\(?\s*(?:my\s*)?\$?\w+\s*,\s*"(?:[^"\n]*\||-\||\|-)"` : ''), 'g');
  const reader = new RegExp(tainted.length ? `${readSrc}|(?<![\\w])\\$?(${tainted.map(esc).join('|')})(?![\\w])` : readSrc);
  for (const line of lines) {
    for (const m of line.matchAll(sinkRe)) {
      const name = m.slice(1).find((g) => g !== undefined) ?? m[0];
      if (!isSink(name, m[0])) continue;
      // (the sink's own text counts: a perl pipe open or backticks hold the command they run)
      const text = m[0].startsWith('`') ? m[0] : line.slice(m.index!);
      const hit = reader.exec(LIST_FORM.has(name) ? programPart(line.slice(m.index! + m[0].length), line) : text);
      if (hit) return { sink: sinkLabel(line, m.index!, m[0]), source: hit[1] ?? hit[0] };
    }
    const cb = /\.(?:on|once|addListener)\("(?:data|message|line)",(\w+(?:\.\w+)?)\)|\.then\((eval|Function)\)|onmessage=(eval|Function)\b/.exec(line);
    if (cb && /(?:^|\.)(?:eval|Function|exec\w*|system|spawn\w*)$/.test(cb[1] ?? cb[2] ?? cb[3]!)) return { sink: cb[1] ?? cb[2] ?? cb[3]!, source: 'a received message' };
  }
  return undefined;
}

/** A matched name is a sink: names from SINK_NAMES/aliases are; a name looked up (`getattr(…,"x")`, `["x"]`, php's `array_filter(…,"x")`, lua's `rawget(_G,"x")`) only when x is one. */
function isSink(name: string, whole: string): boolean {
  if (/^(?:getattr|\["|array_|call_user_func|usort|uasort|rawget)/.test(whole)) return SINK_NAMES.includes(name) || name in QUALIFIED || name === 'load';
  return true;
}

function sinkLabel(line: string, at: number, whole: string): string {
  if (whole.startsWith('`')) return 'backticks';
  const before = /(?:[\w$]+(?:\(\))?\.)*$/.exec(line.slice(0, at))?.[0] ?? '';
  return `${before}${whole.replace(/\s*\($/, '').trim()}`.slice(0, 60);
}

/**
 * Other names for sinks and their modules: `import subprocess as q`, `q=__import__("subprocess")`,
 * `cp=require("child_process")` (receivers); `from os import system as z`, `{execSync: x} = require(…)`,
 * `x=exec`, `x=os.system` (sinks).
 */
function sinkAliases(code: string): { receivers: string[]; sinks: string[]; phpVars: string[] } {
  const receivers: string[] = [];
  const sinks: string[] = [];
  const phpVars: string[] = [];
  for (const m of code.matchAll(/\b(?:os|subprocess|pickle|marshal|posix|builtins|asyncio|code|types) as (\w+)/g)) receivers.push(m[1]!);
  for (const m of code.matchAll(/(\w+)=(?:__import__|require|importlib\.import_module)\("(?:node:)?(?:os|subprocess|posix|builtins|pickle|marshal|child_process|vm)"\)/g)) receivers.push(m[1]!);
  for (const m of code.matchAll(/from (?:os|subprocess|builtins|pickle|marshal|posix|code|asyncio) import ([^\n]+)/g)) {
    for (const part of m[1]!.replace(/[()]/g, '').split(',')) {
      const [orig, as] = part.trim().split(/\s+as\s+/);
      if (orig === '*') sinks.push('run', 'call', 'loads', 'load');
      else if (orig) sinks.push(as ?? orig);
    }
  }
  for (const m of code.matchAll(/\$(\w+)="(\w+)"/g)) if (SINK_NAMES.includes(m[2]!)) phpVars.push(m[1]!);
  for (const m of code.matchAll(/\{([^}\n]*)\}=require\("(?:node:)?child_process"\)/g)) {
    for (const part of m[1]!.split(',')) { const as = part.split(':')[1]?.trim(); if (as) sinks.push(as); }
  }
  const all = new RegExp(String.raw`(?<![\w$.])(\w+)=(?:(?:${RECEIVERS.map(esc).join('|')})\.)?(?:${[...SINK_NAMES, ...Object.keys(QUALIFIED)].map(esc).join('|')})(?![\w(])`, 'g');
  for (const m of code.matchAll(all)) sinks.push(m[1]!);
  return { receivers, sinks: sinks.filter((s) => /^\w+$/.test(s)), phpVars };
}

/** Sinks that take a program and its arguments apart (a list, or a program then a list). */
const LIST_FORM = new Set(['run', 'call', 'check_call', 'check_output', 'Popen', 'spawn', 'spawnSync', 'execFile', 'execFileSync',
  'create_subprocess_exec', 'execv', 'execvp', 'execl', 'execlp', 'posix_spawn', 'posix_spawnp', 'pcntl_exec']);
/** A string literal naming a shell or an interpreter (programs.ts knows them): it runs its -c/-e operand as code. */
const codeRunner = (lit: string): boolean => { const m = /^"([^"]*)"$/.exec(lit.trim()); return !!m && (SHELLS.has(basename(m[1]!)) || interpreterOf(basename(m[1]!)) !== undefined); };

/**
 * Of a list-form call's arguments (the text after its `(`), the part that is a program or code: the program (the
 * list's first element, or the first argument), plus what follows a code runner's -c/-e; everything when the call has
 * shell=True / shell: true (then the list is a shell string).
 */
function programPart(after: string, line: string): string {
  const args = topLevel(after);
  if (/shell\s*[=:]\s*(?:True|true)/.test(line)) return after;
  const first = args[0] ?? '';
  let list = first.startsWith('[') ? topLevel(first.slice(1)) : args.length > 1 && args[1]!.startsWith('[') ? [first, ...topLevel(args[1]!.slice(1))] : args;
  while (/^"(?:\/usr)?\/bin\/env"$/.test((list[0] ?? '').trim()) && list.length > 1) list.shift(); // (env runs its operand)
  const prog = list[0] ?? '';
  if (codeRunner(prog) && /^"-\w*[ce]"$|^"-"$/.test((list[1] ?? '').trim())) return list.slice(2).join(',');
  return prog;
}

/** The top-level comma-separated parts of a call's arguments, up to its closing bracket (strings are `"…"` here). */
function topLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) { if (c === '\\') i++; else if (c === '"') inStr = false; continue; }
    if (c === '"') inStr = true;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') { if (depth === 0) { parts.push(text.slice(start, i)); return parts; } depth--; }
    else if (c === ',' && depth === 0) { parts.push(text.slice(start, i)); start = i + 1; }
  }
  parts.push(text.slice(start));
  return parts;
}
