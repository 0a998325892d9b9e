package kroll.lab.avro;

public final class SchemaParseException extends RuntimeException {
    public SchemaParseException(String m) { super(m); }
}
