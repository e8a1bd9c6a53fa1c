"""pymongo through mongoward: the checks the Rust integration tests drive.

Usage: pymongo_suite.py <scenario> <uri> [args...]
Exit status 0 means every assertion held; output says which check failed otherwise.
"""
import sys

import pymongo
from pymongo import MongoClient
from pymongo.errors import OperationFailure


def crud(uri, dbname="py_crud"):
    c = MongoClient(uri, serverSelectionTimeoutMS=10000)
    hello = c.admin.command("hello")
    assert hello["msg"] == "isdbgrid", hello
    assert "hosts" not in hello and "setName" not in hello, hello
    db = c[dbname]
    db.items.drop()
    db.items.insert_many([{"_id": i, "n": i, "even": i % 2 == 0} for i in range(300)])
    top = list(db.items.find({"even": True}, {"n": 1, "_id": 0}).sort("n", -1).limit(2))
    assert top == [{"n": 298}, {"n": 296}], top
    assert len(list(db.items.find().batch_size(25))) == 300  # 12 getMores
    agg = list(db.items.aggregate([{"$match": {"even": False}}, {"$count": "odd"}]))
    assert agg == [{"odd": 150}], agg
    assert db.items.update_many({"even": True}, {"$set": {"x": 1}}).modified_count == 150
    assert db.items.delete_many({"n": {"$gte": 250}}).deleted_count == 50
    db.items.create_index("n", name="n_1")
    assert any(dict(i["key"]) == {"n": 1} for i in db.items.list_indexes())
    assert "items" in db.list_collection_names()
    db.items.drop()
    assert "items" not in db.list_collection_names()
    print("pymongo crud ok", pymongo.version)


def unacknowledged(uri):
    """w=0 writes travel as OP_MSG with moreToCome: no reply; they must still land."""
    import time
    from pymongo import WriteConcern
    c = MongoClient(uri, serverSelectionTimeoutMS=10000)
    fire = c.py_w0.get_collection("c", write_concern=WriteConcern(w=0))
    fire.delete_many({})
    for i in range(20):
        fire.insert_one({"i": i})
    acked = c.py_w0.c
    deadline = time.time() + 10
    while acked.count_documents({}) < 20 and time.time() < deadline:
        time.sleep(0.1)
    assert acked.count_documents({}) == 20, acked.count_documents({})
    print("pymongo w0 ok")


def compression(uri):
    for comp in ("zstd", "snappy", "zlib"):
        c = MongoClient(uri + "&compressors=" + comp, serverSelectionTimeoutMS=10000)
        coll = c.py_comp[comp]
        coll.insert_many([{"i": i, "pad": "y" * 40000} for i in range(15)])
        back = list(coll.find().batch_size(4))
        assert len(back) == 15 and len(back[3]["pad"]) == 40000, comp
        print("pymongo compression ok", comp)


def expect_code(uri, dbname, code):
    """The first write to dbname fails with the given server error code."""
    c = MongoClient(uri, serverSelectionTimeoutMS=10000)
    try:
        c[dbname].t.insert_one({"a": 1})
    except OperationFailure as e:
        assert e.code == code, (e.code, e.details)
        print("pymongo refused as expected", e.code)
        return
    raise AssertionError("write to %s was not refused" % dbname)


def authenticated_users(client):
    status = client.admin.command("connectionStatus")
    return ["%s@%s" % (u["user"], u["db"]) for u in status["authInfo"]["authenticatedUsers"]]


def auth_ok(uri, expected):
    """Logs in, reads and writes, and sees itself in connectionStatus."""
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    coll = c.py_auth.items
    coll.insert_one({"who": expected})
    assert coll.count_documents({"who": expected}) >= 1
    users = authenticated_users(c)
    assert users == [expected], users
    c.close()
    print("pymongo auth ok", expected)


def auth_fail(uri):
    """Authentication fails with mongod's one answer: code 18, "Authentication failed."."""
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        c.py_auth.items.find_one()
    except OperationFailure as e:
        assert e.code == 18, (e.code, e.details)
        assert e.details.get("errmsg") == "Authentication failed.", e.details
        print("pymongo auth failed as expected", e.code, e.details["errmsg"])
        return
    finally:
        c.close()
    raise AssertionError("authentication did not fail")


def unauth(uri):
    """Without credentials: the handshake family works, anything else is code 13."""
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    assert c.admin.command("ping")["ok"] == 1
    assert authenticated_users(c) == []
    try:
        c.shop.orders.find_one()
    except OperationFailure as e:
        assert e.code == 13 and "requires authentication" in str(e), (e.code, e.details)
        print("pymongo unauthenticated refused", e.code)
        return
    raise AssertionError("find without authentication was not refused")


def expire(uri, expiry):
    """A user whose delete_after passes while connected loses the connection and the login."""
    import time
    c = MongoClient(uri, serverSelectionTimeoutMS=5000, retryReads=False)
    coll = c.py_auth.temp
    coll.insert_one({"a": 1})
    time.sleep(max(0.0, float(expiry) - time.time()) + 1.5)
    try:
        coll.find_one()
    except OperationFailure as e:
        assert e.code == 18, (e.code, e.details)
        print("pymongo expired user refused", e.code)
        return
    except pymongo.errors.AutoReconnect as e:
        print("pymongo expired user disconnected", type(e).__name__)
        return
    raise AssertionError("the expired user could still read")


def legacy(uri):
    """The old-driver scenario (also run with pymongo 3.13): login, insert_many, a find over
    several getMores, an aggregate, and a write outside the role refused with code 13."""
    c = MongoClient(uri, serverSelectionTimeoutMS=10000)
    assert authenticated_users(c) == ["legacy@admin"], authenticated_users(c)
    items = c.legacy["py%s_items" % pymongo.version_tuple[0]]
    items.drop()
    items.insert_many([{"_id": i, "n": i, "even": i % 2 == 0} for i in range(250)])
    ns = [d["n"] for d in items.find().sort("n", 1).batch_size(20)]  # 12 getMores
    assert ns == list(range(250)), len(ns)
    agg = list(items.aggregate([{"$match": {"even": False}}, {"$count": "odd"}]))
    assert agg == [{"odd": 125}], agg
    try:
        c.elsewhere.c.insert_one({"x": 1})
    except OperationFailure as e:
        assert e.code == 13, (e.code, e.details)
    else:
        raise AssertionError("a write outside the role was not refused")
    items.drop()
    c.close()
    print("pymongo legacy ok", pymongo.version)


if __name__ == "__main__":
    scenario, uri, *rest = sys.argv[1:]
    {
        "crud": crud,
        "compression": compression,
        "w0": unacknowledged,
        "expect_code": lambda u: expect_code(u, rest[0], int(rest[1])),
        "auth_ok": lambda u: auth_ok(u, rest[0]),
        "auth_fail": auth_fail,
        "unauth": unauth,
        "expire": lambda u: expire(u, rest[0]),
        "legacy": legacy,
    }[scenario](uri)
