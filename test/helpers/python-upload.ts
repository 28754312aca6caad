// Why: the gateway's upload-scanner scenarios (padding, red-team) run the same Python client in the sandbox: a
// padded pool login, writes of ~1.4 KB, masked WebSocket frames, and an attempt that prints whether the connection
// was cut. One copy, so the scenarios cannot drift apart in how they send.
export const PY_UPLOAD = String.raw`import socket, json, time, os, zlib, ssl
PAD = "A" * 100000
LOGIN = '{"id":1,"method":"login","pad":"' + PAD + '","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\n'
def send_split(s, data, n=1400):
    for k, i in enumerate(range(0, len(data), n)):
        s.sendall(data[i:i + n])
        if k % 8 == 0:
            time.sleep(0.001)
def frames(payload, size, opcode=1, rsv1=False):
    out = b""
    for i in range(0, len(payload), size):
        p = payload[i:i + size]
        key = os.urandom(4)
        head = bytes([(0x80 if i + size >= len(payload) else 0) | (0x40 if rsv1 and i == 0 else 0) | (opcode if i == 0 else 0)])
        head += bytes([0x80 | len(p)]) if len(p) < 126 else bytes([0x80 | 126]) + len(p).to_bytes(2, "big")
        out += head + key + bytes(b ^ key[j % 4] for j, b in enumerate(p))
    return out
def attempt(host, port, first, rest):
    s = socket.create_connection((host, port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if first:
            s.sendall(first)
            time.sleep(0.3)
        send_split(s, rest)
        time.sleep(0.5)
        s.sendall(b"\n")
        got = s.recv(300)
        print("got", got[:60])
    except Exception as e:
        print("cut", type(e).__name__)
`;
