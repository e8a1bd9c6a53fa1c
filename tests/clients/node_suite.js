// The Node driver through mongoward: the checks the Rust integration tests drive.
// Usage: node node_suite.js <scenario> <uri>; exit 0 means every assertion held.
const assert = require('assert');
const { MongoClient } = require('mongodb');

async function crud(uri) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  try {
    const hello = await client.db('admin').command({ hello: 1 });
    assert.strictEqual(hello.msg, 'isdbgrid');
    assert.ok(!hello.hosts && !hello.setName);
    const db = client.db('node_crud');
    await db.collection('items').drop().catch(() => {});
    const items = db.collection('items');
    await items.insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: i, n: i, odd: i % 2 === 1 })));
    const top = await items.find({ odd: true }, { projection: { _id: 0, n: 1 } }).sort({ n: -1 }).limit(2).toArray();
    assert.deepStrictEqual(top, [{ n: 199 }, { n: 197 }]);
    assert.strictEqual((await items.find({}).batchSize(30).toArray()).length, 200);
    const agg = await items.aggregate([{ $match: { odd: true } }, { $count: 'c' }]).toArray();
    assert.deepStrictEqual(agg, [{ c: 100 }]);
    assert.strictEqual((await items.updateMany({ odd: true }, { $set: { s: 1 } })).modifiedCount, 100);
    assert.strictEqual((await items.deleteMany({ n: { $gte: 150 } })).deletedCount, 50);
    await items.createIndex({ n: 1 }, { name: 'n_1' });
    assert.ok((await items.indexes()).some((i) => JSON.stringify(i.key) === '{"n":1}'));
    const names = (await db.listCollections().toArray()).map((c) => c.name);
    assert.ok(names.includes('items'));
    await items.drop();
    console.log('node crud ok');
  } finally {
    await client.close();
  }
}

async function compression(uri) {
  // zstd for Node needs a native build fetched from outside the npm registry; snappy and
  // zlib cover the Node driver, the Rust driver and pymongo cover zstd.
  for (const comp of ['snappy', 'zlib']) {
    const client = new MongoClient(`${uri}&compressors=${comp}`, { serverSelectionTimeoutMS: 10000 });
    try {
      const coll = client.db('node_comp').collection(comp);
      await coll.insertMany(Array.from({ length: 12 }, (_, i) => ({ i, pad: 'z'.repeat(30000) })));
      const back = await coll.find({}).batchSize(5).toArray();
      assert.strictEqual(back.length, 12);
      assert.strictEqual(back[4].pad.length, 30000);
      console.log('node compression ok', comp);
    } finally {
      await client.close();
    }
  }
}

async function authenticatedUsers(client) {
  const status = await client.db('admin').command({ connectionStatus: 1 });
  return status.authInfo.authenticatedUsers.map((u) => `${u.user}@${u.db}`);
}

// Logs in, reads and writes, and sees itself in connectionStatus.
async function authOk(uri, expected) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const coll = client.db('node_auth').collection('items');
    await coll.insertOne({ who: expected });
    assert.ok((await coll.countDocuments({ who: expected })) >= 1);
    assert.deepStrictEqual(await authenticatedUsers(client), [expected]);
    console.log('node auth ok', expected);
  } finally {
    await client.close();
  }
}

// Authentication fails with mongod's one answer: code 18, "Authentication failed.".
async function authFail(uri) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.db('node_auth').collection('items').findOne({});
  } catch (e) {
    assert.strictEqual(e.code, 18, String(e));
    assert.strictEqual(e.message, 'Authentication failed.');
    console.log('node auth failed as expected', e.code, e.message);
    return;
  } finally {
    await client.close();
  }
  throw new Error('authentication did not fail');
}

// Without credentials: the handshake family works, anything else is code 13.
async function unauth(uri) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    assert.strictEqual((await client.db('admin').command({ ping: 1 })).ok, 1);
    assert.deepStrictEqual(await authenticatedUsers(client), []);
    try {
      await client.db('shop').collection('orders').findOne({});
    } catch (e) {
      assert.strictEqual(e.code, 13, String(e));
      assert.ok(e.message.includes('requires authentication'), e.message);
      console.log('node unauthenticated refused', e.code);
      return;
    }
    throw new Error('find without authentication was not refused');
  } finally {
    await client.close();
  }
}

// A user whose delete_after passes while connected loses the connection and the login.
async function expire(uri, expiry) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, retryReads: false });
  try {
    const coll = client.db('node_auth').collection('temp');
    await coll.insertOne({ a: 1 });
    await new Promise((r) => setTimeout(r, Math.max(0, Number(expiry) * 1000 - Date.now()) + 1500));
    try {
      await coll.findOne({});
    } catch (e) {
      assert.ok(e.code === 18 || e.name === 'MongoNetworkError', String(e));
      console.log('node expired user refused', e.code || e.name);
      return;
    }
    throw new Error('the expired user could still read');
  } finally {
    await client.close();
  }
}

const [scenario, uri, arg] = process.argv.slice(2);
({
  crud,
  compression,
  auth_ok: (u) => authOk(u, arg),
  auth_fail: authFail,
  unauth,
  expire: (u) => expire(u, arg),
})[scenario](uri).then(
  () => process.exit(0),
  (e) => { console.error('FAILED', e); process.exit(1); },
);
