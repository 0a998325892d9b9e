package kroll.lab.connect;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kafka Connect's {@code org.apache.kafka.connect.transforms.RegexRouter}: when the whole topic
 * name matches {@code regex}, it becomes {@code replaceFirst(replacement)}. Other transforms in the
 * chain are ignored by the lab (they do not change topic names in the journal's configs).
 */
public final class RegexRouter {
    public static final String TYPE = "org.apache.kafka.connect.transforms.RegexRouter";

    private final List<Pattern> patterns = new ArrayList<>();
    private final List<String> replacements = new ArrayList<>();

    public RegexRouter(Map<String, String> config) {
        String transforms = config.get("transforms");
        if (transforms == null) return;
        for (String alias : transforms.split(",")) {
            alias = alias.trim();
            if (!TYPE.equals(config.get("transforms." + alias + ".type"))) continue;
            patterns.add(Pattern.compile(config.get("transforms." + alias + ".regex")));
            replacements.add(config.getOrDefault("transforms." + alias + ".replacement", ""));
        }
    }

    public String route(String topic) {
        for (int i = 0; i < patterns.size(); i++) {
            Matcher m = patterns.get(i).matcher(topic);
            if (m.matches()) topic = m.replaceFirst(replacements.get(i));
        }
        return topic;
    }
}
