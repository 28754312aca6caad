// Why: many RL stacks log whole episodes as OpenAI chat messages, one episode per line:
// {run?, episode?, host?, sandbox?, ip?|ips?, messages:[…]}. They can be investigated when the
// messages carry times (timestamp | ts | created_at | created | time, ISO or epoch). A tool
// call starts at its own timestamp or its assistant message's; it ends at the timestamp of the
// tool message answering it (role 'tool', same tool_call_id), else end is assumed
// (endKnown=false). Responses-API items (type function_call / function_call_output) work too, and
// so do Anthropic Messages logs (tool_use blocks in an assistant message's content, tool_result
// blocks with tool_use_id in the user message answering them).
// A tool call with no time at all cannot be placed and is reported as a bad record.
import type { ToolCallSpan } from '../types.js';
import { DEFAULT_ASSUMED_DURATION_MS, isBlank, isObj, parseObject, readLines, type SpanReader } from './base.js';
import { commandOf } from './traces-otlp.js';
import { ipsOf, mkSpan } from './traces-canonical.js';
import { toStr } from './normalise.js';
import { lineError } from './stats.js';
import type { TsParser } from './timestamps.js';

function timeOf(m: Record<string, unknown>, ts: TsParser): number {
  const v = m.timestamp ?? m.ts ?? m.created_at ?? m.created ?? m.time;
  return v === undefined || v === null ? NaN : ts.parse(v);
}

interface Pending { id: string; tool?: string; args: unknown; start: number }

export const openaiMessagesReader: SpanReader = {
  format: 'openai-messages',
  read(path, onSpan, opts = {}) {
    const assumed = opts.assumedDurationMs ?? DEFAULT_ASSUMED_DURATION_MS;
    let assumedCount = 0;
    return readLines(path, 'openai-messages', opts, ({ file, stats, ts }) => (text, line, info) => {
      if (isBlank(text)) return;
      const o = parseObject(text);
      if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
      const msgs = Array.isArray(o.messages) ? o.messages : Array.isArray(o.input) ? o.input : Array.isArray(o.items) ? o.items : undefined;
      if (!msgs) { stats.badLine(line, 'no "messages" array'); return; }
      const episode = toStr(o.episode) ?? toStr(o.id) ?? `${file}#${line}`;
      const calls: Pending[] = [];
      const ends = new Map<string, number>();
      for (const m of msgs) {
        if (!isObj(m)) { stats.tally('messages that are not objects skipped', line); continue; }
        const t = timeOf(m, ts);
        if (m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null && !Array.isArray(m.tool_calls)) stats.tally('"tool_calls" that are not lists skipped', line);
        if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
          for (const tc of m.tool_calls) {
            if (!isObj(tc)) { stats.tally('tool calls that are not objects skipped', line); continue; }
            const fn = isObj(tc.function) ? tc.function : {};
            const own = timeOf(tc, ts);
            calls.push({ id: toStr(tc.id) ?? `${episode}#${calls.length + 1}`, tool: toStr(fn.name), args: fn.arguments, start: Number.isNaN(own) ? t : own });
          }
        } else if (m.role === 'assistant' && Array.isArray(m.content)) {
          // Anthropic Messages: tool_use blocks in the assistant's content.
          for (const b of m.content) {
            if (!isObj(b) || b.type !== 'tool_use') continue;
            const own = timeOf(b, ts);
            calls.push({ id: toStr(b.id) ?? `${episode}#${calls.length + 1}`, tool: toStr(b.name), args: b.input, start: Number.isNaN(own) ? t : own });
          }
        } else if (m.role === 'user' && Array.isArray(m.content)) {
          // …and tool_result blocks answering them in the next user message.
          for (const b of m.content) {
            if (!isObj(b) || b.type !== 'tool_result') continue;
            const at = Number.isNaN(timeOf(b, ts)) ? t : timeOf(b, ts), id = toStr(b.tool_use_id);
            if (id !== undefined && !Number.isNaN(at) && !ends.has(id)) ends.set(id, at);
          }
        } else if (m.type === 'function_call') {
          calls.push({ id: toStr(m.call_id) ?? toStr(m.id) ?? `${episode}#${calls.length + 1}`, tool: toStr(m.name), args: m.arguments, start: t });
        } else if ((m.role === 'tool' || m.type === 'function_call_output') && !Number.isNaN(t)) {
          const id = toStr(m.tool_call_id) ?? toStr(m.call_id);
          if (id !== undefined && !ends.has(id)) ends.set(id, t);
        }
      }
      let step = 0;
      for (const c of calls) {
        step++;
        if (Number.isNaN(c.start)) { stats.badLine(line, `episode ${episode}: tool call ${c.id} has no timestamp (neither on the call nor on its message)`); continue; }
        let end = ends.get(c.id), endKnown = true;
        if (end !== undefined && end < c.start) {
          // (an answer stamped before its call: a clock or ordering fault of the log, said as such, not as a missing answer)
          stats.tally(`tool calls answered by a tool message timestamped before the call (clock or ordering fault): end assumed ${assumed} ms after start (endKnown=false)`, line);
          end = c.start + assumed; endKnown = false;
        } else if (end === undefined) { end = c.start + assumed; endKnown = false; assumedCount++; }
        const s: ToolCallSpan = mkSpan(episode, c.id, c.start, end, endKnown, file, line);
        s.run = toStr(o.run);
        s.step = step;
        s.tool = c.tool;
        s.command = commandOf(c.args, () => stats.tally('tool calls whose arguments are not JSON: their raw text is the command', line));
        s.host = toStr(o.host);
        s.sandbox = toStr(o.sandbox) ?? toStr(o.container);
        s.ips = ipsOf(o.ip, o.ips);
        stats.records++;
        onSpan(s);
      }
    }, ({ stats }) => { if (assumedCount) stats.note(`${assumedCount} tool calls had no answering tool message with a time: end assumed ${assumed} ms after start (endKnown=false)`); });
  },
};
