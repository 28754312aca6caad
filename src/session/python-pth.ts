// Why: Python's site module executes every line of a `.pth` file in site-packages that begins with
// `import ` or `import\t`, at each interpreter start, so a `.pth` written into the user site (HOME is the
// workspace) is a start-up hook exactly like usercustomize.py — but pip and setuptools write such lines into a
// user site too (editable installs, the distutils shim, namespace packages), so only lines that are not theirs are
// a planted hook; the directories its other lines put on sys.path are where start-up hooks are looked for too.
// Threat it stops: T1546.018 persistence through a `.pth` file (a red-team review, session 40: a tool call
// wrote `import os; os.system(…)` into zz_compat.pth and every later `python3` ran it, with no alert).

/** Escaped for a regular expression. */
const lit = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A quoted package name. */
const NAME = "'[\\w.]+'";

/**
 * setuptools' namespace-package line (`*-nspkg.pth`, namespaces.py's template joined with `;`): today's, the
 * one with `has_mfs`, and the oldest (`ie`). Only package names vary, so nothing can be changed or appended.
 */
const NSPKG_LINE = new RegExp('^' + lit('import sys, types, os;')
  + '(?:' + lit('has_mfs = sys.version_info > (3, 5);') + ')?'
  + lit("p = os.path.join(sys._getframe(1).f_locals['sitedir'], *(") + `(?:${NAME}, ?)*${NAME},?` + lit('));')
  + '(?:'
  + '(?:' + lit("importlib = __import__('importlib.util');__import__('importlib.machinery');m = ")
  + '|' + lit("importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and ") + ')'
  + lit('sys.modules.setdefault(') + NAME + lit(', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(')
  + NAME + lit(', [os.path.dirname(p)])));m = m or ')
  + '|' + lit("ie = os.path.exists(os.path.join(p,'__init__.py'));m = not ie and ")
  + ')'
  + lit('sys.modules.setdefault(') + NAME + lit(', types.ModuleType(') + NAME + lit('));')
  + lit("mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)")
  + `(?:${lit(';m and setattr(sys.modules[')}${NAME}${lit('], ')}${NAME}${lit(', m)')})*;?$`);

/**
 * The executable lines packaging tools write into a user site, matched whole (names vary; nothing else may be
 * appended). (virtualenv's `import _virtualenv` is not one: it belongs in a virtual environment's own site, and in the
 * user site it ran a planted `_virtualenv.py` — round 2 of the session-40 review.)
 */
const PACKAGING_LINES: readonly RegExp[] = [
  /^import (__editable___\w+_finder); \1\.install\(\)$/,
  /^import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os\.environ\.get\(var, 'local'\) == 'local'; enabled and __import__\('_distutils_hack'\)\.add_shim\(\); ?$/,
  NSPKG_LINE,
];

/** A `.pth` file's lines as Python reads them (universal newlines; since 3.13 a byte order mark is dropped). */
function pthLines(text: string): string[] {
  return text.replace(/^\ufeff/, '').split(/\r\n|\r|\n/).map((l) => l.replace(/\s+$/, ''));
}

/** The directories a `.pth` file's path lines add to sys.path (every line that is not blank, a comment or an import). */
export function pthPathLines(text: string): string[] {
  return pthLines(text).filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('import ') && !l.startsWith('import\t'));
}

/**
 * The lines of a `.pth` file's text that Python executes and no packaging tool writes (site.addpackage's rule: the line,
 * right-stripped, starts with `import ` or `import\t`). In a virtual environment's own site (`venv`), virtualenv's
 * `import _virtualenv` is its own too.
 */
export function plantedPthLines(text: string, venv = false): string[] {
  const out: string[] = [];
  for (const line of pthLines(text)) {
    if (!line.startsWith('import ') && !line.startsWith('import\t')) continue;
    if (!PACKAGING_LINES.some((re) => re.test(line)) && !(venv && line === 'import _virtualenv')) out.push(line);
  }
  return out;
}
