// Why: what a tool call's environment holds is promised in docs/policy.md (filesystem.env_allow);
// this one function decides it, so the promise and the code can be checked against each other
// (test/tool-env.test.ts). Threat: a policy author believing env_allow governs PATH or HOME (it
// does not: Corral sets both) and the parent's secrets passing where the doc said they would not.

/** The PATH every tool call gets, whatever env_allow says: the sandbox's own system directories. */
export const TOOL_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

export interface ToolEnvInput {
  /** The environment env_allow's variables come from (the caller's, or this process's). */
  parent: NodeJS.ProcessEnv;
  /** The policy's filesystem.env_allow. */
  envAllow: readonly string[];
  /** Where the workspace appears in the sandbox (filesystem.workspace_path): the tool's HOME. */
  workspacePath: string;
  /** The GPU grant's variables (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES), when gpu.devices is not none. */
  gpuEnv?: Record<string, string>;
}

/**
 * A tool call's environment: the parent's env_allow variables, then HOME (the workspace), PATH
 * (TOOL_PATH) and TMPDIR=/tmp set over them, LANG=C.UTF-8 unless passed, and the GPU variables.
 */
export function toolEnv(o: ToolEnvInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of o.envAllow) if (o.parent[k] !== undefined) env[k] = o.parent[k];
  env.HOME = o.workspacePath;
  env.PATH = TOOL_PATH;
  env.TMPDIR = '/tmp';
  env.LANG ??= 'C.UTF-8';
  Object.assign(env, o.gpuEnv ?? {});
  return env;
}
