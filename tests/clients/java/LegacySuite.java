// The Java driver 3.x (Debian's libmongodb-java) through mongoward: the checks
// tests/legacy_drivers.rs drives. Usage: java LegacySuite <uri>; exit 0 means every
// assertion held. The driver sends its handshake and SCRAM conversation on OP_QUERY.

import com.mongodb.MongoClient;
import com.mongodb.MongoClientURI;
import com.mongodb.MongoServerException;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.jar.JarFile;
import org.bson.Document;

public class LegacySuite {
    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static String driverVersion() {
        try {
            String jar = MongoClient.class.getProtectionDomain().getCodeSource().getLocation().getPath();
            try (JarFile f = new JarFile(jar)) {
                return f.getManifest().getMainAttributes().getValue("Bundle-Version");
            }
        } catch (Exception e) {
            return "unknown";
        }
    }

    public static void main(String[] args) {
        MongoClient client = new MongoClient(new MongoClientURI(args[0]));
        try {
            MongoDatabase db = client.getDatabase("legacy");
            Document status = db.runCommand(new Document("connectionStatus", 1));
            Object users = ((Document) status.get("authInfo")).get("authenticatedUsers");
            check(users.toString().contains("user=legacy, db=admin"), "logged in as legacy: " + users);

            MongoCollection<Document> items = db.getCollection("java_items");
            items.drop();
            List<Document> docs = new ArrayList<>();
            for (int i = 0; i < 250; i++) {
                docs.add(new Document("_id", i).append("n", i).append("even", i % 2 == 0));
            }
            items.insertMany(docs);

            // 250 documents in batches of 20: a find and 12 getMores.
            int seen = 0;
            for (Document d : items.find().batchSize(20)) {
                check(d.getInteger("n") == seen, "documents in order");
                seen++;
            }
            check(seen == 250, "find over getMores returned " + seen);

            List<Document> agg = items.aggregate(Arrays.asList(
                    new Document("$match", new Document("even", false)),
                    new Document("$count", "odd"))).into(new ArrayList<>());
            check(agg.size() == 1 && ((Number) agg.get(0).get("odd")).intValue() == 125, "aggregate: " + agg);

            try {
                client.getDatabase("elsewhere").getCollection("c").insertOne(new Document("x", 1));
                throw new AssertionError("a write outside the role was not refused");
            } catch (MongoServerException e) {
                check(e.getCode() == 13, "refused with code 13, got " + e.getCode() + ": " + e.getMessage());
            }
            items.drop();
            System.out.println("java legacy ok " + driverVersion());
        } finally {
            client.close();
        }
    }
}
