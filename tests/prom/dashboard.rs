//! `deploy/grafana/kroll.json`, the Grafana dashboard: its structure checked here (datasource,
//! grid, query ids, variables); every panel's query and every variable's query run, with the
//! variables given real values, against the real Prometheus of `rules.rs`'s live test (one
//! Prometheus, two agents and their JVMs serve both).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kroll_tests::prom::{Daemon, metric_names, query};
use serde_json::{Value, json};

/// The 24 columns of Grafana's grid.
const COLUMNS: i64 = 24;

/// The datasource every panel and query names: the dashboard's `datasource` variable.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// `deploy/grafana/kroll.json` of this checkout, parsed.
fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/kroll.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every panel, those inside rows included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        all.push(p);
        all.extend(p["panels"].as_array().into_iter().flatten());
    }
    all
}

/// `(panel title, refId, expr)` of every query of every panel.
fn targets(d: &Value) -> Vec<(String, String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            p["targets"].as_array().into_iter().flatten().map(|t| {
                (
                    p["title"].as_str().unwrap_or_default().to_owned(),
                    t["refId"].as_str().unwrap_or_default().to_owned(),
                    t["expr"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

/// What is wrong with the dashboard's structure, one line per problem (empty: nothing).
fn structure_problems(d: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |s: String| problems.push(s);
    match d["schemaVersion"].as_i64() {
        Some(v) if v >= 41 => {}
        other => say(format!(
            "schemaVersion {other:?}: not a current Grafana's (41 or later)"
        )),
    }
    for key in ["uid", "title"] {
        if d[key].as_str().is_none_or(str::is_empty) {
            say(format!("no {key}"));
        }
    }
    if !d["id"].is_null() {
        say("id is set: an imported dashboard would overwrite that database row".into());
    }
    variable_problems(d, &mut say);
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [i64; 4])> = Vec::new();
    let all = panels(d);
    if all.is_empty() {
        say("no panels".into());
    }
    for p in all {
        let title = p["title"].as_str().unwrap_or("(untitled)").to_owned();
        let at = format!("panel {} \"{title}\"", p["id"]);
        match p["id"].as_i64() {
            Some(id) if !ids.insert(id) => say(format!("{at}: duplicate id")),
            Some(_) => {}
            None => say(format!("{at}: no integer id")),
        }
        if p["type"].as_str().is_none_or(str::is_empty) {
            say(format!("{at}: no type"));
        }
        let g = &p["gridPos"];
        let Some(b @ [x, _, w, h]) = ["x", "y", "w", "h"]
            .map(|k| g[k].as_i64())
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .and_then(|v| <[i64; 4]>::try_from(v).ok())
        else {
            say(format!("{at}: gridPos needs integer x, y, w, h: {g}"));
            continue;
        };
        if w < 1 || h < 1 || x < 0 || b[1] < 0 || x + w > COLUMNS {
            say(format!(
                "{at}: gridPos {g} outside the {COLUMNS}-column grid"
            ));
        }
        boxes.push((at.clone(), b));
        if p["type"] == "row" {
            if p.get("targets").is_some() {
                say(format!("{at}: a row has no queries"));
            }
            continue;
        }
        if p["datasource"] != datasource() {
            say(format!(
                "{at}: datasource {} is not {}",
                p["datasource"],
                datasource()
            ));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            say(format!("{at}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in &targets {
            let r = t["refId"].as_str().unwrap_or_default();
            if r.is_empty() {
                say(format!("{at}: a target without refId"));
            } else if !refs.insert(r.to_owned()) {
                say(format!("{at}: refId {r} twice"));
            }
            if t["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
                say(format!("{at}: target {r} has no expr"));
            }
            if t.get("datasource").is_some_and(|ds| *ds != datasource()) {
                say(format!(
                    "{at}: target {r}'s datasource {} is not {}",
                    t["datasource"],
                    datasource()
                ));
            }
        }
    }
    for (i, (a, ra)) in boxes.iter().enumerate() {
        for (b, rb) in &boxes[i + 1..] {
            if overlap(*ra, *rb) {
                say(format!("{a} {ra:?} overlaps {b} {rb:?} (x, y, w, h)"));
            }
        }
    }
    for (title, r, expr) in targets(d) {
        if let Err(e) = substitute(&expr, &example_vars()) {
            say(format!("panel \"{title}\" target {r}: {e}"));
        }
    }
    problems
}

/// The `datasource`, `node` and `container` variables, as the panels use them.
fn variable_problems(d: &Value, say: &mut impl FnMut(String)) {
    let list = d["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |name: &str| list.iter().find(|v| v["name"] == name);
    match find("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        other => say(format!(
            "no `datasource` variable of type datasource, query prometheus: {other:?}"
        )),
    }
    for name in ["node", "container"] {
        let Some(v) = find(name) else {
            say(format!("no `{name}` variable"));
            continue;
        };
        if v["type"] != "query" || v["datasource"] != datasource() {
            say(format!(
                "variable {name}: not a query of {}: {v}",
                datasource()
            ));
        }
        if v["multi"] != true || v["includeAll"] != true || v["allValue"] != ".*" {
            say(format!(
                "variable {name}: needs multi, includeAll and allValue \".*\" (the panels match it with =~): {v}"
            ));
        }
        if label_values(v["query"].as_str().unwrap_or_default()).is_none() {
            say(format!(
                "variable {name}: query is not label_values(<selector>, <label>): {}",
                v["query"]
            ));
        }
    }
}

/// Whether two `[x, y, w, h]` boxes share a cell.
fn overlap(a: [i64; 4], b: [i64; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// `label_values(<selector>, <label>)` split, or `None`.
fn label_values(q: &str) -> Option<(String, String)> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    let (selector, label) = (selector.trim(), label.trim());
    (!selector.is_empty() && !label.is_empty()).then(|| (selector.to_owned(), label.to_owned()))
}

/// A variable's value as Grafana's Prometheus datasource writes it into a query: all values
/// (`None`) as the variable's `allValue` `.*`; one value regex-escaped; several as `(a|b)`.
fn regex_value(values: Option<&[&str]>) -> String {
    let escape = |v: &str| {
        let mut out = String::new();
        for c in v.chars() {
            // A backslash for the regex, doubled for the PromQL string (a backslash itself:
            // escaped for the regex, both doubled).
            if c == '\\' {
                out.push_str(r"\\\\");
            } else if "$^*{}[]'+?.()|".contains(c) {
                out.push_str(r"\\");
                out.push(c);
            } else {
                out.push(c);
            }
        }
        out
    };
    match values {
        None => ".*".to_owned(),
        Some([one]) => escape(one),
        Some(many) => format!(
            "({})",
            many.iter().map(|v| escape(v)).collect::<Vec<_>>().join("|")
        ),
    }
}

/// `expr` with every `$name` / `${name}` replaced from `vars`; an unknown variable is an error.
fn substitute(expr: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr}"))?;
            (&braced[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = vars
            .get(name)
            .ok_or_else(|| format!("unknown variable `${name}` in {expr}"))?;
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variables with `node` and `container` at their "All" value.
fn example_vars() -> BTreeMap<&'static str, String> {
    vars(&Selection::default())
}

/// A choice of the dashboard's `node` and `container` variables (`None`: All).
#[derive(Debug, Default)]
struct Selection<'a> {
    node: Option<&'a [&'a str]>,
    container: Option<&'a [&'a str]>,
}

/// The values written into the queries under `s`: `node` and `container` as Grafana writes
/// them, Grafana's built-ins as it gives them for a recent range at a 1 s scrape interval.
fn vars(s: &Selection) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("node", regex_value(s.node)),
        ("container", regex_value(s.container)),
        ("datasource", "prometheus".to_owned()),
        ("__rate_interval", "1m".to_owned()),
        ("__interval", "15s".to_owned()),
        ("__range", "1h".to_owned()),
    ])
}

/// Every panel's query run on `prom` under each selection: what answered with no data, or with
/// series of a node or container that is not selected (a panel ignoring a variable), plus every
/// series a query reads that Prometheus does not have at all.
fn live_problems(prom: &Daemon, selections: &[Selection]) -> Vec<String> {
    let d = dashboard();
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for (title, r, expr) in targets(&d) {
        let read = metric_names(&expr);
        if read.is_empty() {
            problems.push(format!(
                "panel \"{title}\" {r} reads no kroll series: {expr}"
            ));
        }
        names.extend(read);
        for s in selections {
            let q = substitute(&expr, &vars(s)).unwrap_or_else(|e| panic!("{e}"));
            let result = query(prom, &q);
            if result.is_empty() {
                problems.push(format!("panel \"{title}\" {r} under {s:?}: no data: {q}"));
            }
            for series in &result {
                for (label, chosen) in [("node", s.node), ("container", s.container)] {
                    if let (Some(v), Some(chosen)) = (series["metric"][label].as_str(), chosen)
                        && !chosen.contains(&v)
                    {
                        problems.push(format!(
                            "panel \"{title}\" {r} under {s:?} shows {label} {v}: {q}"
                        ));
                    }
                }
            }
        }
    }
    // Checked on their own: a query's answer can hide a missing series (`or`, `unless`).
    for n in names {
        if query(prom, &format!("count({n})")).is_empty() {
            problems.push(format!("series {n} does not exist"));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The values of each query variable (`label_values(...)`) under `s`, by variable name.
fn variable_values(prom: &Daemon, s: &Selection) -> BTreeMap<String, BTreeSet<String>> {
    let d = dashboard();
    let mut out = BTreeMap::new();
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"].as_str().unwrap_or_default();
        let (selector, label) =
            label_values(q).unwrap_or_else(|| panic!("variable {}: {q}", v["name"]));
        let selector = substitute(&selector, &vars(s)).unwrap_or_else(|e| panic!("{e}"));
        let values = query(prom, &selector)
            .iter()
            .filter_map(|series| series["metric"][label.as_str()].as_str().map(str::to_owned))
            .collect();
        out.insert(v["name"].as_str().unwrap_or_default().to_owned(), values);
    }
    out
}

/// The dashboard against `prom`, which scrapes the agents of `nodes`, the first running exactly
/// `containers`: its variables list those nodes and containers, and every panel's query answers
/// with data for all of them, for the first node, and for those two containers — showing nothing
/// of what is not selected. Panics with every problem when they remain after 60 s.
pub(super) async fn check_live(prom: &Daemon, nodes: [&str; 2], containers: [&str; 2]) {
    let all = variable_values(prom, &Selection::default());
    assert_eq!(
        all["node"],
        nodes.map(String::from).into(),
        "the node variable's values: {all:?}"
    );
    let first = [nodes[0]];
    let on_first = Selection {
        node: Some(&first),
        container: None,
    };
    let on_first_values = variable_values(prom, &on_first);
    assert_eq!(
        on_first_values["container"],
        containers.map(String::from).into(),
        "the container variable's values on {}: {on_first_values:?}",
        nodes[0]
    );
    let selections = [
        Selection::default(),
        on_first,
        Selection {
            node: None,
            container: Some(&containers),
        },
    ];
    let began = std::time::Instant::now();
    loop {
        let problems = live_problems(prom, &selections);
        if problems.is_empty() {
            break;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(60),
            "deploy/grafana/kroll.json against the live Prometheus, after 60 s:\n  {}",
            problems.join("\n  ")
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    eprintln!(
        "{} dashboard queries × {} selections answered in {:?}",
        targets(&dashboard()).len(),
        selections.len(),
        began.elapsed()
    );
}

#[test]
fn the_dashboard_is_well_formed_on_the_grid_with_one_datasource_variable() {
    let d = dashboard();
    let problems = structure_problems(&d);
    assert!(
        problems.is_empty(),
        "deploy/grafana/kroll.json:\n  {}",
        problems.join("\n  ")
    );
    let n = targets(&d).len();
    assert!(n >= 20, "only {n} queries");
}

#[test]
fn broken_dashboards_are_caught() {
    let good = dashboard();
    let p = |i: usize| format!("/panels/{i}");
    type Break = fn(&mut Value, &str);
    let cases: [(&str, Break, &str); 9] = [
        (
            "duplicate id",
            |d, at| {
                d.pointer_mut(&format!("{at}/id"))
                    .expect("id")
                    .clone_from(&json!(1))
            },
            "duplicate id",
        ),
        (
            "overlap",
            |d, at| {
                d.pointer_mut(&format!("{at}/gridPos"))
                    .expect("gridPos")
                    .clone_from(&json!({"x": 0, "y": 0, "w": 6, "h": 4}))
            },
            "overlaps",
        ),
        (
            "off the grid",
            |d, at| {
                d.pointer_mut(&format!("{at}/gridPos/x"))
                    .expect("x")
                    .clone_from(&json!(22))
            },
            "outside the 24-column grid",
        ),
        (
            "no refId",
            |d, at| {
                d.pointer_mut(&format!("{at}/targets/0"))
                    .and_then(Value::as_object_mut)
                    .expect("target")
                    .remove("refId");
            },
            "without refId",
        ),
        (
            "no datasource",
            |d, at| {
                d.pointer_mut(at)
                    .and_then(Value::as_object_mut)
                    .expect("panel")
                    .remove("datasource");
            },
            "datasource null",
        ),
        (
            "no gridPos",
            |d, at| {
                d.pointer_mut(at)
                    .and_then(Value::as_object_mut)
                    .expect("panel")
                    .remove("gridPos");
            },
            "gridPos needs",
        ),
        (
            "no targets",
            |d, at| {
                d.pointer_mut(&format!("{at}/targets"))
                    .expect("targets")
                    .clone_from(&json!([]))
            },
            "no targets",
        ),
        (
            "an undefined variable",
            |d, at| {
                d.pointer_mut(&format!("{at}/targets/0/expr"))
                    .expect("expr")
                    .clone_from(&json!("kroll_container_up{node=~\"$nodes\"}"))
            },
            "unknown variable `$nodes`",
        ),
        (
            "a fixed datasource",
            |d, _| {
                d.pointer_mut("/templating/list")
                    .and_then(Value::as_array_mut)
                    .expect("list")
                    .retain(|v| v["name"] != "datasource")
            },
            "no `datasource` variable",
        ),
    ];
    // Panel 3 is a stat of the first line (panel 0 is the Fleet row).
    for (what, break_it, expect) in cases {
        let mut d = good.clone();
        break_it(&mut d, &p(3));
        let problems = structure_problems(&d);
        assert!(
            problems.iter().any(|s| s.contains(expect)),
            "{what}: expected a problem containing {expect:?}, got {problems:#?}"
        );
    }
}

#[test]
fn variables_are_written_into_queries_as_grafana_writes_them() {
    let all = vars(&Selection::default());
    assert_eq!(
        substitute(
            "rate(x{node=~\"$node\", container=~\"${container}\"}[$__rate_interval])",
            &all
        ),
        Ok("rate(x{node=~\".*\", container=~\".*\"}[1m])".to_owned())
    );
    let one = vars(&Selection {
        node: Some(&["n1.lab"]),
        container: Some(&["kafka-1", "zk(1)", r"a\b"]),
    });
    assert_eq!(
        substitute("{node=~\"$node\",container=~\"$container\"}", &one),
        Ok(r#"{node=~"n1\\.lab",container=~"(kafka-1|zk\\(1\\)|a\\\\b)"}"#.to_owned())
    );
    assert!(substitute("x offset $__range", &one).is_ok_and(|s| s == "x offset 1h"));
    assert!(
        substitute("up{x=\"$nope\"}", &one).is_err_and(|e| e.contains("$nope")),
        "an unknown variable is an error"
    );
    assert_eq!(
        label_values("label_values(kroll_container_up{node=~\"$node\"}, container)"),
        Some((
            "kroll_container_up{node=~\"$node\"}".to_owned(),
            "container".to_owned()
        ))
    );
    assert_eq!(label_values("kroll_agent_info"), None);
    assert!(overlap([0, 0, 12, 8], [11, 7, 2, 2]));
    assert!(!overlap([0, 0, 12, 8], [12, 0, 12, 8]));
    assert!(!overlap([0, 0, 12, 8], [0, 8, 12, 8]));
}
