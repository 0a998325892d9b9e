package kroll.lab.connect;

import java.util.ArrayList;
import java.util.List;

/** One config key in a validation result: its value and the errors found for it. */
public final class ConfigIssue {
    public final String name;
    public final String value;
    public final boolean required;
    public final String group;
    public final List<String> errors = new ArrayList<>();

    public ConfigIssue(String name, String value, boolean required, String group) {
        this.name = name;
        this.value = value;
        this.required = required;
        this.group = group;
    }

    public ConfigIssue error(String e) {
        errors.add(e);
        return this;
    }
}
