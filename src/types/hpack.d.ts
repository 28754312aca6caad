// Why: hpack.js ships no type declarations; its use is typed where it is used (gateway/sniff/h2c-stream.ts).
declare module 'hpack.js' {
  const hpack: unknown;
  export default hpack;
}
