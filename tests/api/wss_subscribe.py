"""A minimal graphql-transport-ws client over TLS (standard library only), used by nginx.rs to
subscribe through nginx: prints the payload of each `next` message on its own line, `count` of them."""
import base64, json, os, socket, ssl, struct, sys

host, port, api_key, query, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
raw = socket.create_connection((host, port), timeout=20)
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
sock = context.wrap_socket(raw, server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((
    f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    head += sock.recv(1)
status = head.split(b"\r\n", 1)[0]
if b" 101 " not in status:
    sys.exit(f"upgrade refused: {status!r}")

def send(message):
    data = json.dumps(message).encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(data) < 126:
        header += bytes([0x80 | len(data)])
    else:
        header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def exactly(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            sys.exit("connection closed")
        data += chunk
    return data

def receive():
    while True:
        first, second = exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", exactly(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", exactly(8))[0]
        payload = exactly(length)
        opcode = first & 0x0F
        if opcode == 0x8:
            sys.exit(f"closed by the server: {payload!r}")
        if opcode == 0x1:
            return json.loads(payload)

send({"type": "connection_init", "payload": {"apiKey": api_key}})
ack = receive()
if ack.get("type") != "connection_ack":
    sys.exit(f"no ack: {ack}")
send({"type": "subscribe", "id": "1", "payload": {"query": query}})
while count > 0:
    message = receive()
    if message.get("type") == "next":
        print(json.dumps(message["payload"]), flush=True)
        count -= 1
