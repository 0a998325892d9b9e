package kroll.lab.test;

import java.util.List;
import java.util.Map;
import kroll.lab.common.Json;

public class JsonTest {
    public void testRoundTripKeepsOrderAndTypes() {
        String text = "{\"b\":1,\"a\":[true,false,null,\"x\\\"y\\n\",-2.5,12345678901234],\"c\":{}}";
        Object v = Json.parse(text);
        Check.eq(text, Json.write(v), "compact rewrite");
        Map<String, Object> m = Json.asObject(v);
        Check.eq(List.of("b", "a", "c"), List.copyOf(m.keySet()), "member order");
        Check.eq(1L, m.get("b"), "integral numbers are Long");
        Check.eq(-2.5, Json.asList(m.get("a")).get(4), "fractions are Double");
    }

    public void testUnicodeEscapesAndWhitespace() {
        Object v = Json.parse(" { \"k\" : \"\\u00e9\\u002d\" } ");
        Check.eq("é-", Json.asObject(v).get("k"), "unicode escape");
        Check.eq("\"\\u0001\"", Json.write("\u0001"), "control chars escaped");
    }

    public void testRejectsMalformed() {
        for (String bad : new String[] {"{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{} x", "01x"}) {
            Check.raises(Json.ParseException.class, () -> Json.parse(bad), "malformed " + bad);
        }
    }
}
