#!/usr/bin/env python3
"""Development aid (never run by the build or tests): derive the expected role x command
decisions of tests/authz_matrix.rs from ../shared/authz/{commands,builtin_roles}.json with
an evaluator written independently of src/authz, and print them as Rust rows. The rows are
reviewed and committed; rerun when the specification changes.

Usage: python3 scripts/authz_matrix_rows.py [SPEC_DIR] > /tmp/rows.rs
"""
import json
import sys

SPEC = sys.argv[1] if len(sys.argv) > 1 else "../shared/authz"
cmds = json.load(open(f"{SPEC}/commands.json"))["commands"]
roles_json = json.load(open(f"{SPEC}/builtin_roles.json"))
builtin = roles_json["roles"]

# Roles under test and the database each is granted on (db roles on "test").
ROLES = [("read", "test"), ("readWrite", "test"), ("dbAdmin", "test"), ("dbOwner", "test"),
         ("userAdmin", "test"), ("readAnyDatabase", "admin"), ("readWriteAnyDatabase", "admin"),
         ("userAdminAnyDatabase", "admin"), ("dbAdminAnyDatabase", "admin"),
         ("clusterMonitor", "admin"), ("clusterManager", "admin"), ("hostManager", "admin"),
         ("clusterAdmin", "admin"), ("backup", "admin"), ("restore", "admin"), ("root", "admin"),
         ("enableSharding", "admin"), ("directShardOperations", "admin"),
         ("searchCoordinator", "admin"), ("atlasAdmin", "admin")]


def pattern(res, role_db):
    if res.get("anyResource"):
        return ("any",)
    if res.get("cluster"):
        return ("cluster",)
    if "system_buckets" in res:
        return ("buckets",)
    db = res["db"].replace("<ROLE_DB>", role_db)
    coll = res["collection"]
    if db == "" and coll == "":
        return ("anyNormal",)
    if coll == "":
        return ("db", db)
    if db == "":
        return ("coll", coll)
    return ("ns", db, coll)


def expand(name, role_db, out):
    if name == "atlasAdmin":
        a = roles_json["atlas"]["builtin_roles"]["atlasAdmin"]
        for r in a["inherits_roles"]:
            expand(r, "admin", out)
        # Resources are "inferred" in the spec (notes): cluster-scoped vs any-normal.
        cluster = {"autoCompact", "checkMetadataConsistency", "cleanupOrphaned", "compact",
                   "flushRouterConfig", "killAnyCursor", "querySettings", "shardedDataDistribution"}
        for act in a["extra_actions"]:
            out.append((("cluster",) if act in cluster else ("anyNormal",), act))
        for p in a["extra_privileges_explicit"]:
            for act in p["actions"]:
                out.append((pattern(p["resource"], "admin"), act))
        return
    r = builtin[name]
    for inh in r["inherits"]:
        expand(inh["role"], inh["db"].replace("<ROLE_DB>", role_db), out)
    for p in r["privileges"]:
        for act in p["actions"]:
            out.append((pattern(p["resource"], role_db), act))


def search_list(res):
    kind = res[0]
    if kind == "cluster":
        return [("any",), ("cluster",)]
    if kind == "anyNormal":
        return [("any",), ("anyNormal",)]
    if kind == "db":
        db = res[1]
        return [("any",)] + ([] if db in ("local", "config") else [("anyNormal",)]) + [("db", db)]
    db, coll = res[1], res[2]
    system = coll.startswith("system.") or (db == "local" and coll.startswith("replset."))
    lst = [("any",), ("coll", coll), ("ns", db, coll)]
    if not system:
        lst += [("db", db)] + ([] if db in ("local", "config") else [("anyNormal",)])
    return lst


def holds(privs, res, actions):
    pats = set(search_list(res))
    granted = {a for (p, a) in privs if p in pats}
    if "anyAction" in granted:
        return True
    return set(actions) <= granted


# Fields a representative command needs to be well formed (requirements unchanged).
EXTRA = {"mapReduce": ',"map":"function(){}","reduce":"function(){}","out":{"inline":1}'}
FIRST = {"applyOps": "[]"}
USER_MANAGEMENT = {"createUser", "updateUser", "dropUser", "dropAllUsersFromDatabase",
                   "grantRolesToUser", "revokeRolesFromUser", "createRole", "updateRole",
                   "dropRole", "dropAllRolesFromDatabase", "grantRolesToRole",
                   "revokeRolesFromRole", "grantPrivilegesToRole", "revokePrivilegesFromRole"}
SIMPLE_ON = {"cluster", "ns", "db", "anyNormal", "config.settings", "local.oplog.rs"}
rows = []
for name, c in cmds.items():
    if not c["requires_auth"] or c.get("alternatives") or not c["require"]:
        continue
    if any(isinstance(r, str) for r in c["require"]):
        continue
    ons = [r["on"] for r in c["require"]]
    if any(o not in SIMPLE_ON for o in ons):
        continue
    if name == "internal_commands":
        continue
    db = "admin" if c["admin_only"] else "test"
    # Admin-only commands name a fully qualified namespace in their first field.
    ns = ("test", "c")
    first = ('"test.c"' if c["admin_only"] else '"c"') if "ns" in ons else "1"
    reqs = []
    for r in c["require"]:
        on = r["on"]
        if on == "ns":
            res = ("ns",) + (ns if c["admin_only"] else (db, "c"))
        elif on == "db":
            res = ("db", db)
        elif on in ("cluster", "anyNormal"):
            res = (on,)
        else:
            d, co = on.split(".", 1)
            res = ("ns", d, co)
        reqs.append((res, r["actions"]))
    allowed = []
    for role, rdb in ROLES:
        privs = []
        expand(role, rdb, privs)
        if all(holds(privs, res, acts) for res, acts in reqs):
            allowed.append(role)
    ev = (c.get("evidence") or [name])[0]
    note = ""
    if name in USER_MANAGEMENT:
        # mongoward refuses these for everyone (users live in its configuration).
        note = " // mongod: " + " ".join(allowed)
        allowed = []
    rows.append((name, FIRST.get(name, first), db, allowed, ev, note))

for name, first, db, allowed, ev, note in rows:
    cmd = '{"%s":%s%s}' % (name, first, EXTRA.get(name, ""))
    print(f'    (r#"{cmd}"#, "{db}", "{" ".join(allowed)}", "{ev}"),{note}')
