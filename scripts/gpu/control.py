#!/usr/bin/env python3
# A minimal client of slomod's control protocol (docs/control-protocol.md) with slomoctl's
# `--socket PATH --json status|stats|set KEY VALUE`, for a GPU machine where the Swift slomoctl
# does not fit beside the daemon in what travels (a static binary is 60 MB).
import json, socket, sys
args = sys.argv[1:]
path = args[args.index("--socket") + 1]
rest = [a for i, a in enumerate(args) if a not in ("--socket", "--json") and (i == 0 or args[i - 1] != "--socket")]
request = {"command": rest[0], "id": 1}
if rest[0] == "set":
    request["settings"] = {rest[1]: rest[2]}
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(path)
except OSError as e:
    sys.exit(f"slomoctl: cannot connect to {path}: {e}")
s.sendall((json.dumps(request) + "\n").encode())
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
reply = json.loads(data)
print(json.dumps(reply, separators=(",", ":")))
sys.exit(0 if reply.get("ok") else 1)
