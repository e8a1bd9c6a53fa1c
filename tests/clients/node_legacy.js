// Older lines of the Node driver (npm aliases mongodb3, mongodb4 in package.json) through
// mongoward: login, insertMany, a find over several getMores, an aggregate, and a write
// outside the role refused with code 13. Usage: node node_legacy.js <module> <uri>.
const assert = require('assert');

async function legacy(mod, uri) {
  const version = require(`${mod}/package.json`).version;
  const { MongoClient } = require(mod);
  const options = { serverSelectionTimeoutMS: 10000 };
  if (version.startsWith('3.')) {
    options.useUnifiedTopology = true;
  }
  const client = new MongoClient(uri, options);
  await client.connect();
  try {
    const status = await client.db('admin').command({ connectionStatus: 1 });
    const users = status.authInfo.authenticatedUsers.map((u) => `${u.user}@${u.db}`);
    assert.deepStrictEqual(users, ['legacy@admin']);
    const items = client.db('legacy').collection(`node${version.split('.')[0]}_items`);
    await items.drop().catch(() => {});
    await items.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, n: i, even: i % 2 === 0 })));
    // 250 documents in batches of 20: a find and 12 getMores.
    const all = await items.find({}).sort({ n: 1 }).batchSize(20).toArray();
    assert.deepStrictEqual(all.map((d) => d.n), Array.from({ length: 250 }, (_, i) => i));
    const agg = await items.aggregate([{ $match: { even: false } }, { $count: 'odd' }]).toArray();
    assert.deepStrictEqual(agg, [{ odd: 125 }]);
    try {
      await client.db('elsewhere').collection('c').insertOne({ x: 1 });
      throw new Error('a write outside the role was not refused');
    } catch (e) {
      assert.strictEqual(e.code, 13, String(e));
    }
    await items.drop();
    console.log('node legacy ok', version);
  } finally {
    await client.close();
  }
}

const [mod, uri] = process.argv.slice(2);
legacy(mod, uri).then(
  () => process.exit(0),
  (e) => { console.error('FAILED', e); process.exit(1); },
);
