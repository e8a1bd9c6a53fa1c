"""A long-lived pymongo process the Rust end-to-end tests drive line by line.

Usage: pymongo_agent.py [--source IP]
Reads one JSON request a line on stdin, answers one JSON line on stdout. Starting Python and
importing pymongo takes longer than the bounds under test, so the test starts this first and
measures from the admin API's answer to this process's answer.

--source binds every outgoing IPv4 socket to IP (loopback aliases such as 127.0.0.3), so the
proxy's access list sees that address.

Requests (`op`):
  open   {name, uri}                  a MongoClient kept under `name` (no I/O yet)
  run    {name, db, cmd}              one command on that client
  insert {name, db, coll, doc}        insert_one
  find   {name, db, coll}             find().to_list()
  until_ok {uri, db, cmd, within}     a fresh client per try until the command succeeds
  until_fails {name, db, cmd, within} repeat the command on the kept client until it fails
  close  {name}
Answers: {"ok": true, ...} or {"ok": false, "kind": <exception class>, "code": <int|null>,
"msg": ...}.
"""
import json
import socket
import sys
import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError

SOURCE = None
_connect = socket.socket.connect


def _bound_connect(self, address):
    # pymongo creates plain sockets and connects them; binding first picks the source address.
    if SOURCE and self.family == socket.AF_INET:
        self.bind((SOURCE, 0))
    return _connect(self, address)


socket.socket.connect = _bound_connect


def failure(e):
    return {
        "ok": False,
        "kind": type(e).__name__,
        "code": getattr(e, "code", None),
        "msg": str(e)[:300],
    }


def client(uri):
    return MongoClient(uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)


def until_ok(req):
    start = time.monotonic()
    tries = 0
    last = {"ok": False, "kind": "NoTry", "code": None, "msg": "no time to try"}
    while time.monotonic() - start < req["within"]:
        tries += 1
        c = client(req["uri"])
        try:
            c[req["db"]].command(req["cmd"])
            return {"ok": True, "tries": tries}
        except PyMongoError as e:
            last = failure(e)
        finally:
            c.close()
        # Authentication failures count against the proxy's throttle (3 free per user and
        # source, then delays), so those retries wait for the next policy load (100 ms).
        time.sleep(0.1 if last["code"] == 18 else 0.01)
    last["tries"] = tries
    return last


def until_fails(clients, req):
    c = clients[req["name"]]
    start = time.monotonic()
    tries = 0
    while time.monotonic() - start < req["within"]:
        tries += 1
        try:
            c[req["db"]].command(req["cmd"])
        except PyMongoError as e:
            out = failure(e)
            out["tries"] = tries
            return out
        time.sleep(0.01)
    return {"ok": True, "tries": tries}


def handle(clients, req):
    op = req["op"]
    try:
        if op == "open":
            clients[req["name"]] = client(req["uri"])
            return {"ok": True}
        if op == "close":
            clients.pop(req["name"]).close()
            return {"ok": True}
        if op == "until_ok":
            return until_ok(req)
        if op == "until_fails":
            return until_fails(clients, req)
        db = clients[req["name"]][req["db"]]
        if op == "run":
            reply = db.command(req["cmd"])
            return {"ok": True, "reply": json.loads(json.dumps(reply, default=str))}
        if op == "insert":
            db[req["coll"]].insert_one(req["doc"])
            return {"ok": True}
        if op == "find":
            docs = list(db[req["coll"]].find({}, {"_id": 0}))
            return {"ok": True, "docs": docs}
        return {"ok": False, "kind": "BadRequest", "code": None, "msg": op}
    except PyMongoError as e:
        return failure(e)


def main():
    global SOURCE
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--source":
        SOURCE = args[1]
    elif args:
        sys.exit(__doc__)
    clients = {}
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(handle(clients, json.loads(line))), flush=True)
    for c in clients.values():
        c.close()


if __name__ == "__main__":
    main()
