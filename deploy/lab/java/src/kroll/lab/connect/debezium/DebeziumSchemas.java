package kroll.lab.connect.debezium;

import kroll.lab.avro.Schema;
import kroll.lab.avro.Schema.Type;
import kroll.lab.common.Json;

/**
 * The Avro schemas Debezium's MySQL connector + Confluent's AvroConverter register for a table of
 * the simulated database (columns {@code id BIGINT PK, order_id BIGINT, status VARCHAR NULL,
 * weight FLOAT NULL, note TEXT NULL}), for Debezium 1.9 or 3.0.
 *
 * <p>Differences that matter for an upgrade: names follow {@code schema.name.adjustment.mode}
 * (key namespace drift); 1.9's transaction block is an unnamed struct (AvroConverter names it
 * {@code io.confluent.connect.avro.ConnectDefault}), 3.0 names it {@code event.block}; MySQL FLOAT is
 * FLOAT64 ({@code double}) in 1.9 and FLOAT32 ({@code float}) in 3.0; 3.0 adds optional
 * {@code ts_us}/{@code ts_ns} to the envelope and the source block.
 */
public final class DebeziumSchemas {
    private DebeziumSchemas() {}

    private static String adjusted(String prefix, String db, String table, String suffix, SchemaNames.Mode mode) {
        return SchemaNames.adjust(prefix + "." + db + "." + table + "." + suffix, mode);
    }

    private static Schema named(String fullName) {
        return Schema.record(fullName).prop("connect.name", fullName);
    }

    public static Schema key(String prefix, String db, String table, SchemaNames.Mode mode) {
        return named(adjusted(prefix, db, table, "Key", mode)).add("id", Schema.primitive(Type.LONG));
    }

    public static Schema value(String prefix, String db, String table, SchemaNames.Mode mode, boolean v3) {
        return named(adjusted(prefix, db, table, "Value", mode))
                .add("id", Schema.primitive(Type.LONG))
                .add("order_id", Schema.primitive(Type.LONG))
                .addWithDefault("status", Schema.optional(Schema.primitive(Type.STRING)), null)
                .addWithDefault("weight", Schema.optional(Schema.primitive(v3 ? Type.FLOAT : Type.DOUBLE)), null)
                .addWithDefault("note", Schema.optional(Schema.primitive(Type.STRING)), null);
    }

    private static Schema optLong() { return Schema.optional(Schema.primitive(Type.LONG)); }

    private static Schema optString() { return Schema.optional(Schema.primitive(Type.STRING)); }

    static Schema source(boolean v3) {
        Schema snapshot = Schema.primitive(Type.STRING)
                .prop("connect.version", 1L)
                .prop("connect.parameters", Json.obj("allowed", v3
                        ? "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"
                        : "true,last,false,incremental"))
                .prop("connect.default", "false")
                .prop("connect.name", "io.debezium.data.Enum");
        Schema s = named("io.debezium.connector.mysql.Source")
                .add("version", Schema.primitive(Type.STRING))
                .add("connector", Schema.primitive(Type.STRING))
                .add("name", Schema.primitive(Type.STRING))
                .add("ts_ms", Schema.primitive(Type.LONG))
                .addWithDefault("snapshot", Schema.union(snapshot, Schema.primitive(Type.NULL)), "false")
                .add("db", Schema.primitive(Type.STRING))
                .addWithDefault("sequence", optString(), null);
        if (v3) s.addWithDefault("ts_us", optLong(), null).addWithDefault("ts_ns", optLong(), null);
        return s.addWithDefault("table", optString(), null)
                .add("server_id", Schema.primitive(Type.LONG))
                .addWithDefault("gtid", optString(), null)
                .add("file", Schema.primitive(Type.STRING))
                .add("pos", Schema.primitive(Type.LONG))
                .add("row", Schema.primitive(Type.INT))
                .addWithDefault("thread", optLong(), null)
                .addWithDefault("query", optString(), null);
    }

    static Schema transaction(boolean v3) {
        Schema t = v3 ? Schema.record("event.block") : Schema.record("io.confluent.connect.avro.ConnectDefault");
        t.add("id", Schema.primitive(Type.STRING))
                .add("total_order", Schema.primitive(Type.LONG))
                .add("data_collection_order", Schema.primitive(Type.LONG));
        if (v3) t.prop("connect.version", 1L).prop("connect.name", "event.block");
        return t;
    }

    public static Schema envelope(String prefix, String db, String table, SchemaNames.Mode mode, boolean v3) {
        String full = adjusted(prefix, db, table, "Envelope", mode);
        Schema value = value(prefix, db, table, mode, v3);
        Schema e = Schema.record(full)
                .addWithDefault("before", Schema.optional(value), null)
                .addWithDefault("after", Schema.optional(value), null)
                .add("source", source(v3));
        if (v3) {
            e.addWithDefault("transaction", Schema.optional(transaction(true)), null)
                    .add("op", Schema.primitive(Type.STRING))
                    .addWithDefault("ts_ms", optLong(), null)
                    .addWithDefault("ts_us", optLong(), null)
                    .addWithDefault("ts_ns", optLong(), null);
            e.prop("connect.version", 2L);
        } else {
            e.add("op", Schema.primitive(Type.STRING))
                    .addWithDefault("ts_ms", optLong(), null)
                    .addWithDefault("transaction", Schema.optional(transaction(false)), null);
        }
        return e.prop("connect.name", full);
    }
}
