//! A parsed stack file and the effective spec of each service: merge keys and
//! anchors resolved, and where every environment variable is defined.
//!
//! Merge semantics are YAML's: a mapping's own keys override merged ones, and of
//! several `<<:` entries (or `<<: [*a, *b]`) the first that defines a key wins.
//! (go-yaml v2, which Docker 20.10 uses, lets whichever comes later in the text
//! win instead; the two agree whenever `<<:` comes first and merged mappings do
//! not overlap, as in the journal's file.)

use std::collections::BTreeMap;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::error::{ErrorKind, KeyPath, StackError};
use crate::interpolate::{Vars, interpolate};
use crate::scalar::CliYaml;
use crate::tree::{Entry, Kind, MAX_DEPTH, NodeId, Tree};

/// A stack file: its exact text and the services it describes.
#[derive(Debug, Clone)]
pub struct StackFile {
    text: String,
    origin: String,
    pub(crate) tree: Tree,
    /// Service name → its mapping node, in file order.
    pub(crate) service_nodes: Vec<(String, NodeId)>,
    specs: Vec<ServiceSpec>,
}

/// Where a value is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The anchor of the mapping that holds it (`kafka-envs`), if it has one.
    pub anchor: Option<String>,
    /// The key path of that mapping (`x-kafka-envs`, `services.kafka-01.environment`).
    pub block: String,
    /// The 1-based line of the definition.
    pub line: usize,
}

/// One environment variable of a service, as the file states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Its value as Docker passes it on (before `${…}` substitution); `None`
    /// for a variable without a value (`KEY:` / `- KEY`), which Docker takes
    /// from the deploying shell's environment when set there.
    pub value: Option<String>,
    /// Where it is defined.
    pub defined: Definition,
}

/// A value with the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it is defined.
    pub defined: Definition,
}

/// The effective spec of one service, as written (before `${…}` substitution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The service's key under `services`.
    pub name: String,
    /// `image`, as written.
    pub image: Option<Located<String>>,
    /// `environment`, mapping or list form, merges resolved.
    pub environment: BTreeMap<String, EnvVar>,
    /// `hostname`.
    pub hostname: Option<Located<String>>,
    /// `deploy.placement.constraints`.
    pub constraints: Vec<String>,
    /// `stop_grace_period`, as written.
    pub stop_grace_period: Option<Located<String>>,
    /// `env_file`: files the CLI reads more variables from at deploy time (the
    /// stack file's `environment` overrides them). kroll does not read them.
    pub env_files: Vec<String>,
}

/// A service's spec with `${…}` substituted: what `docker stack deploy` would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedService {
    /// The service's key under `services`.
    pub name: String,
    /// The image reference.
    pub image: Option<String>,
    /// The environment (`None`: a name without a value).
    pub env: BTreeMap<String, Option<String>>,
    /// The hostname.
    pub hostname: Option<String>,
    /// The stop grace period (`None`: Swarm's default, 10 s).
    pub stop_grace_period: Option<Duration>,
}

impl StackFile {
    /// Parses a stack file as Docker CLI 20.10 reads it ([`CliYaml::GoYamlV2`]).
    /// `origin` names it in errors (a path, usually).
    ///
    /// Every service's effective spec is computed here, so a file that parses
    /// has no unresolvable merge, alias or environment entry.
    pub fn parse(text: impl Into<String>, origin: impl Into<String>) -> Result<Self, StackError> {
        Self::parse_with(text, origin, CliYaml::default())
    }

    /// Parses a stack file as the Docker CLI that deploys it reads it.
    pub fn parse_with(
        text: impl Into<String>,
        origin: impl Into<String>,
        reader: CliYaml,
    ) -> Result<Self, StackError> {
        let text = text.into();
        let origin = origin.into();
        let tree = Tree::parse(&text, &origin, reader)?;
        let mut file = Self {
            text,
            origin,
            tree,
            service_nodes: Vec::new(),
            specs: Vec::new(),
        };
        file.check_merges()?;
        file.service_nodes = file.read_services()?;
        file.specs = file
            .service_nodes
            .iter()
            .map(|(name, id)| file.effective(name, *id))
            .collect::<Result<_, _>>()?;
        Ok(file)
    }

    /// The file's exact text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The YAML reader the file was parsed for.
    pub fn reader(&self) -> CliYaml {
        self.tree.reader
    }

    /// The name the file was parsed under.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The service names, in file order.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.service_nodes.iter().map(|(name, _)| name.as_str())
    }

    /// Every service's effective spec, in file order.
    pub fn specs(&self) -> &[ServiceSpec] {
        &self.specs
    }

    /// One service's effective spec.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.specs.iter().find(|spec| spec.name == name)
    }

    /// One service with `${…}` substituted from `vars`; `None` if there is no such service.
    pub fn resolve(&self, name: &str, vars: &Vars) -> Option<Result<ResolvedService, StackError>> {
        self.service(name).map(|spec| self.resolve_spec(spec, vars))
    }

    fn resolve_spec(&self, spec: &ServiceSpec, vars: &Vars) -> Result<ResolvedService, StackError> {
        let substitute = |text: &str, defined: &Definition, key: &str| {
            interpolate(text, vars).map_err(|err| StackError {
                origin: self.origin.clone(),
                line: defined.line,
                key: KeyPath(format!("{}.{key}", defined.block)),
                kind: err.into(),
            })
        };
        let image = spec
            .image
            .as_ref()
            .map(|image| substitute(&image.value, &image.defined, "image"))
            .transpose()?;
        let hostname = spec
            .hostname
            .as_ref()
            .map(|host| substitute(&host.value, &host.defined, "hostname"))
            .transpose()?;
        let mut env = BTreeMap::new();
        for (name, var) in &spec.environment {
            let value = match var.value.as_deref() {
                // Docker takes a valueless (or empty) variable from the deploying shell.
                None | Some("") if vars.contains_key(name) => vars.get(name).cloned(),
                None => None,
                Some(text) => Some(substitute(text, &var.defined, name)?),
            };
            env.insert(name.clone(), value);
        }
        let stop_grace_period = match &spec.stop_grace_period {
            Some(period) => {
                let text = substitute(&period.value, &period.defined, "stop_grace_period")?;
                Some(parse_duration(&text).ok_or_else(|| StackError {
                    origin: self.origin.clone(),
                    line: period.defined.line,
                    key: KeyPath(format!("{}.stop_grace_period", period.defined.block)),
                    kind: ErrorKind::Shape {
                        expected: "a duration such as 2m or 90s",
                        found: "something else",
                    },
                })?)
            }
            None => None,
        };
        Ok(ResolvedService {
            name: spec.name.clone(),
            image,
            env,
            hostname,
            stop_grace_period,
        })
    }

    pub(crate) fn error(&self, offset: usize, path: &str, kind: ErrorKind) -> StackError {
        StackError {
            origin: self.origin.clone(),
            line: self.tree.line(offset),
            key: KeyPath(path.to_owned()),
            kind,
        }
    }

    fn shape(&self, id: NodeId, expected: &'static str) -> StackError {
        let node = self.tree.node(id);
        let found = self.tree.what(id);
        self.error(node.start, &node.path, ErrorKind::Shape { expected, found })
    }

    fn read_services(&self) -> Result<Vec<(String, NodeId)>, StackError> {
        let root = self.tree.root;
        if self.tree.entries(root).is_none() {
            return Err(self.shape(root, "a mapping"));
        }
        let Some(services) = self.tree.own_entry(root, "services") else {
            return Err(self.error(
                0,
                "services",
                ErrorKind::Shape {
                    expected: "a services mapping",
                    found: "none",
                },
            ));
        };
        let Some(entries) = self.tree.entries(services.value) else {
            return Err(self.shape(services.value, "a mapping of services"));
        };
        let mut out = Vec::new();
        for entry in entries {
            if entry.merge {
                let node = self.tree.node(entry.value);
                return Err(self.error(
                    node.start,
                    "services",
                    ErrorKind::Unsupported("`<<` directly under services"),
                ));
            }
            if self.tree.entries(entry.value).is_none() {
                return Err(self.shape(entry.value, "a service mapping"));
            }
            out.push((entry.key.clone(), entry.value));
        }
        Ok(out)
    }

    /// The mappings a mapping's keys come from, highest priority first: itself,
    /// then each `<<:` operand in order, depth first.
    pub(crate) fn merge_order(&self, id: NodeId) -> Result<Vec<NodeId>, StackError> {
        let mut order = Vec::new();
        self.collect_merges(self.tree.deref(id), 0, &mut order)?;
        Ok(order)
    }

    fn collect_merges(
        &self,
        id: NodeId,
        depth: usize,
        order: &mut Vec<NodeId>,
    ) -> Result<(), StackError> {
        if depth > MAX_DEPTH {
            let node = self.tree.node(id);
            return Err(self.error(node.start, &node.path, ErrorKind::TooDeep(MAX_DEPTH)));
        }
        let Some(entries) = self.tree.entries(id) else {
            let node = self.tree.node(id);
            return Err(self.error(
                node.start,
                &node.path,
                ErrorKind::MergeNotMapping(self.tree.what(id)),
            ));
        };
        order.push(id);
        for entry in entries.iter().filter(|e| e.merge) {
            let operand = self.tree.deref(entry.value);
            match &self.tree.node(operand).kind {
                Kind::Sequence { items, .. } => {
                    for item in items {
                        self.collect_merges(self.tree.deref(*item), depth + 1, order)?;
                    }
                }
                _ => self.collect_merges(operand, depth + 1, order)?,
            }
        }
        Ok(())
    }

    /// Refuses mappings whose merged keys YAML and Docker's reader resolve differently.
    fn check_merges(&self) -> Result<(), StackError> {
        for (id, node) in self.tree.nodes.iter().enumerate() {
            let Kind::Mapping { entries, .. } = &node.kind else {
                continue;
            };
            let merges: Vec<&crate::tree::Entry> = entries.iter().filter(|e| e.merge).collect();
            if merges.is_empty() {
                continue;
            }
            if self.tree.reader == CliYaml::GoYamlV3 {
                // go-yaml v3 refuses a repeated `<<` like any repeated key, and
                // otherwise resolves merges as YAML does.
                if let Some(second) = merges.get(1) {
                    let kind = ErrorKind::DuplicateKey("<<".into());
                    return Err(self.error(second.key_start, &node.path, kind));
                }
                continue;
            }
            let mut docker = BTreeMap::new();
            self.docker_merge(id, 0, &mut docker)?;
            for (key, docker_at) in docker {
                let yaml_at = self.winner(id, &key)?.map_or(docker_at, |(_, e)| e.start);
                if yaml_at != docker_at {
                    let kind = ErrorKind::AmbiguousMerge {
                        key,
                        yaml_line: self.tree.line(yaml_at),
                        docker_line: self.tree.line(docker_at),
                    };
                    return Err(self.error(node.start, &node.path, kind));
                }
            }
        }
        Ok(())
    }

    /// go-yaml v2's reading of a mapping: entries in document order, each `<<:`
    /// writing its keys over what came before (a merged list from its end).
    fn docker_merge(
        &self,
        id: NodeId,
        depth: usize,
        out: &mut BTreeMap<String, usize>,
    ) -> Result<(), StackError> {
        let node = self.tree.node(id);
        if depth > MAX_DEPTH {
            return Err(self.error(node.start, &node.path, ErrorKind::TooDeep(MAX_DEPTH)));
        }
        let Some(entries) = self.tree.entries(id) else {
            return Err(self.error(
                node.start,
                &node.path,
                ErrorKind::MergeNotMapping(self.tree.what(id)),
            ));
        };
        for entry in entries {
            if !entry.merge {
                out.insert(entry.key.clone(), entry.start);
                continue;
            }
            let operand = self.tree.deref(entry.value);
            match &self.tree.node(operand).kind {
                Kind::Sequence { items, .. } => {
                    for item in items.iter().rev() {
                        self.docker_merge(self.tree.deref(*item), depth + 1, out)?;
                    }
                }
                _ => self.docker_merge(operand, depth + 1, out)?,
            }
        }
        Ok(())
    }

    /// The entry that decides `key` of a mapping (after merges), and the mapping holding it.
    pub(crate) fn winner(
        &self,
        id: NodeId,
        key: &str,
    ) -> Result<Option<(NodeId, &Entry)>, StackError> {
        Ok(self
            .merge_order(id)?
            .into_iter()
            .find_map(|m| self.tree.own_entry(m, key).map(|e| (m, e))))
    }

    pub(crate) fn definition(&self, mapping: NodeId, offset: usize) -> Definition {
        let node = self.tree.node(mapping);
        Definition {
            anchor: node.anchor.clone(),
            block: node.path.clone(),
            line: self.tree.line(offset),
        }
    }

    /// A scalar service key (`image`, `hostname`, …) after merges.
    fn scalar_key(
        &self,
        service: NodeId,
        key: &str,
    ) -> Result<Option<Located<String>>, StackError> {
        let Some((mapping, entry)) = self.winner(service, key)? else {
            return Ok(None);
        };
        if self.tree.is_null(entry.value) {
            return Ok(None);
        }
        let Some(value) = self.tree.compose_value(entry.value) else {
            return Err(self.shape(entry.value, "a scalar"));
        };
        Ok(Some(Located {
            value,
            defined: self.definition(mapping, entry.start),
        }))
    }

    fn effective(&self, name: &str, service: NodeId) -> Result<ServiceSpec, StackError> {
        Ok(ServiceSpec {
            name: name.to_owned(),
            image: self.scalar_key(service, "image")?,
            environment: self.environment(service)?,
            hostname: self.scalar_key(service, "hostname")?,
            constraints: self.constraints(service)?,
            stop_grace_period: self.scalar_key(service, "stop_grace_period")?,
            env_files: self.env_files(service)?,
        })
    }

    /// The node holding a service's `environment` (after service-level merges), if any.
    pub(crate) fn env_node(&self, service: NodeId) -> Result<Option<(NodeId, &Entry)>, StackError> {
        self.winner(service, "environment")
    }

    fn environment(&self, service: NodeId) -> Result<BTreeMap<String, EnvVar>, StackError> {
        let mut env = BTreeMap::new();
        let Some((_, entry)) = self.env_node(service)? else {
            return Ok(env);
        };
        let value = self.tree.deref(entry.value);
        match &self.tree.node(value).kind {
            Kind::Mapping { .. } => {
                for mapping in self.merge_order(value)? {
                    for entry in self.tree.entries(mapping).unwrap_or_default() {
                        if entry.merge || env.contains_key(&entry.key) {
                            continue;
                        }
                        if !matches!(
                            self.tree.node(self.tree.deref(entry.value)).kind,
                            Kind::Scalar { .. }
                        ) {
                            return Err(self.shape(entry.value, "a scalar environment value"));
                        }
                        let var = EnvVar {
                            value: self.tree.compose_value(entry.value),
                            defined: self.definition(mapping, entry.start),
                        };
                        env.insert(entry.key.clone(), var);
                    }
                }
            }
            Kind::Sequence { items, .. } => {
                for item in items {
                    let Some(text) = self.tree.compose_value(*item) else {
                        return Err(self.shape(*item, "a NAME=value string"));
                    };
                    let (name, var_value) = match text.split_once('=') {
                        Some((name, v)) => (name.to_owned(), Some(v.to_owned())),
                        None => (text, None),
                    };
                    let defined = self.definition(value, self.tree.node(*item).start);
                    // Later list items win, as in Docker's map.
                    env.insert(
                        name,
                        EnvVar {
                            value: var_value,
                            defined,
                        },
                    );
                }
            }
            _ if self.tree.is_null(value) => {}
            _ => return Err(self.shape(value, "a mapping or list of environment variables")),
        }
        Ok(env)
    }

    fn env_files(&self, service: NodeId) -> Result<Vec<String>, StackError> {
        let Some((_, entry)) = self.winner(service, "env_file")? else {
            return Ok(Vec::new());
        };
        let value = self.tree.deref(entry.value);
        match &self.tree.node(value).kind {
            Kind::Sequence { items, .. } => items
                .iter()
                .map(|item| {
                    self.tree
                        .compose_value(*item)
                        .ok_or_else(|| self.shape(*item, "a file name"))
                })
                .collect(),
            _ if self.tree.is_null(value) => Ok(Vec::new()),
            _ => self
                .tree
                .compose_value(value)
                .map(|file| vec![file])
                .ok_or_else(|| self.shape(value, "a file name or a list of them")),
        }
    }

    fn constraints(&self, service: NodeId) -> Result<Vec<String>, StackError> {
        let mut node = service;
        for key in ["deploy", "placement", "constraints"] {
            let Some((_, entry)) = self.winner(node, key)? else {
                return Ok(Vec::new());
            };
            node = entry.value;
            if key != "constraints" && self.tree.entries(node).is_none() {
                if self.tree.is_null(node) {
                    return Ok(Vec::new());
                }
                return Err(self.shape(node, "a mapping"));
            }
        }
        match &self.tree.node(self.tree.deref(node)).kind {
            Kind::Sequence { items, .. } => items
                .iter()
                .map(|item| {
                    self.tree
                        .compose_value(*item)
                        .ok_or_else(|| self.shape(*item, "a constraint string"))
                })
                .collect(),
            _ if self.tree.is_null(node) => Ok(Vec::new()),
            _ => Err(self.shape(node, "a list of constraints")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InterpolateError;

    fn error(text: &str) -> StackError {
        StackFile::parse(text, "bad.yml").expect_err("must not parse")
    }

    #[test]
    fn malformed_files_are_refused_naming_file_line_and_key() {
        let table: &[(&str, &str)] = &[
            (
                "services:\n  a:\n    image: \"open\n",
                "bad.yml:3: services.a.image: not valid YAML: Unterminated quoted string",
            ),
            (
                "services:\n  a:\n    image: x\n     hostname: y\n",
                "bad.yml:4: services.a: not valid YAML: a key not aligned with the one on line 3",
            ),
            (
                "services:\n  a:\n\timage: x\n",
                "bad.yml:3: (top level): not valid YAML: a tab in indentation",
            ),
            (
                "services:\n  a:\n    <<: *nowhere\n",
                "bad.yml:3: services.a.<<: alias *nowhere names no anchor defined before it",
            ),
            (
                "services:\n  a:\n    image: x\n    image: y\n",
                "bad.yml:4: services.a: key \"image\" appears twice in this mapping",
            ),
            (
                "x-s: &s just-a-string\nservices:\n  a:\n    <<: *s\n",
                "bad.yml:1: x-s: `<<` must merge a mapping or a list of mappings, this merges a scalar",
            ),
            (
                "services:\n  a:\n    environment:\n      KEY:\n        nested: 1\n",
                "bad.yml:5: services.a.environment.KEY: expected a scalar environment value, found a mapping",
            ),
            (
                "services:\n  a:\n    environment: just-text\n",
                "bad.yml:3: services.a.environment: expected a mapping or list of environment variables, found a scalar",
            ),
            (
                "services:\n  a:\n    environment:\n      - A=1\n      - {B: 2}\n",
                "bad.yml:5: services.a.environment[1]: expected a NAME=value string, found a mapping",
            ),
            (
                "version: '3.7'\n",
                "bad.yml:1: services: expected a services mapping, found none",
            ),
            (
                "services:\n  - a\n",
                "bad.yml:2: services: expected a mapping of services, found a sequence",
            ),
            (
                "services:\n  a: image\n",
                "bad.yml:2: services.a: expected a service mapping, found a scalar",
            ),
            (
                "a: 1\n---\nservices: {}\n",
                "bad.yml:1: (top level): a stack file holds one YAML document, this one holds 2",
            ),
            (
                "services:\n  a:\n    deploy:\n      placement:\n        constraints: node.hostname==x\n",
                "bad.yml:5: services.a.deploy.placement.constraints: expected a list of constraints, found a scalar",
            ),
            (
                "services:\n  a:\n    image: !!str x\n",
                "bad.yml:3: services.a.image: not supported in a stack file kroll edits: YAML tags",
            ),
        ];
        for (text, want) in table {
            assert_eq!(error(text).to_string(), *want, "{text:?}");
        }
    }

    #[test]
    fn merges_follow_yaml_own_keys_first_then_the_first_merge() {
        let text = "\
x-a: &a {K: from-a, A: a}
x-b: &b
  K: from-b
  B: b
services:
  s:
    <<: *b
    environment:
      <<: [*b, *a]
      OWN: own
    image: img
";
        let file = StackFile::parse(text, "m.yml").expect("parses");
        let env = &file.service("s").expect("s").environment;
        assert_eq!(env["K"].value.as_deref(), Some("from-b"));
        assert_eq!(env["K"].defined.anchor.as_deref(), Some("b"));
        assert_eq!(env["A"].value.as_deref(), Some("a"));
        assert_eq!(env["OWN"].defined.block, "services.s.environment");
        assert_eq!(env.len(), 4);
    }

    #[test]
    fn merges_docker_reads_differently_are_refused() {
        let table: &[(&str, &str)] = &[
            (
                "x-a: &a {K: a}\nx-b: &b {K: b}\nservices:\n  s:\n    image: i\n    environment:\n      <<: *a\n      <<: *b\n",
                "bad.yml:7: services.s.environment: key \"K\" comes from line 1 by YAML's merge rules but from line 2 as \
                 Docker reads the file; put `<<:` first and do not merge two mappings that both define it",
            ),
            (
                "x-a: &a {K: a}\nservices:\n  s:\n    image: i\n    environment:\n      K: own\n      <<: *a\n",
                "bad.yml:6: services.s.environment: key \"K\" comes from line 6 by YAML's merge rules but from line 1 as \
                 Docker reads the file; put `<<:` first and do not merge two mappings that both define it",
            ),
        ];
        for (text, want) in table {
            assert_eq!(error(text).to_string(), *want, "{text:?}");
        }
        // go-yaml v3 (today's Docker CLI) refuses the second `<<:` outright.
        let twice = "x-a: &a {K: a}\nx-b: &b {L: b}\nservices:\n  s:\n    image: i\n    <<: *a\n    <<: *b\n";
        assert!(StackFile::parse(twice, "v2.yml").is_ok());
        let err = StackFile::parse_with(twice, "v3.yml", CliYaml::GoYamlV3).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "v3.yml:7: services.s: key \"<<\" appears twice in this mapping"
        );
        // The same anchor twice, a list merge and own keys after `<<:` agree.
        let fine = "x-a: &a {K: a}\nx-b: &b {K: b}\nservices:\n  s:\n    image: i\n    environment:\n      <<: [*a, *b]\n      <<: *a\n      K2: own\n";
        let file = StackFile::parse(fine, "ok.yml").expect("unambiguous");
        assert_eq!(
            file.service("s").expect("s").environment["K"]
                .value
                .as_deref(),
            Some("a")
        );
    }

    #[test]
    fn resolving_substitutes_variables_and_names_what_is_missing() {
        let text = "\
services:
  s:
    image: ${REG}/kafka
    hostname: s-1
    stop_grace_period: 1m30s
    environment:
      PLAIN: ${PORT}
      EMPTY:
      FROM_SHELL:
      LITERAL: $$x
";
        let file = StackFile::parse(text, "v.yml").expect("parses");
        let vars: Vars = [
            ("REG", "reg.example"),
            ("PORT", "8083"),
            ("FROM_SHELL", "shell"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let resolved = file
            .resolve("s", &vars)
            .expect("service")
            .expect("resolves");
        assert_eq!(resolved.image.as_deref(), Some("reg.example/kafka"));
        assert_eq!(resolved.hostname.as_deref(), Some("s-1"));
        assert_eq!(resolved.stop_grace_period, Some(Duration::from_secs(90)));
        let env: Vec<(&str, Option<&str>)> = resolved
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        assert_eq!(
            env,
            [
                ("EMPTY", None),
                ("FROM_SHELL", Some("shell")),
                ("LITERAL", Some("$x")),
                ("PLAIN", Some("8083"))
            ]
        );
        let err = file
            .resolve("s", &Vars::new())
            .expect("service")
            .expect_err("REG unset");
        assert_eq!(err.line, 3);
        assert_eq!(
            err.kind,
            ErrorKind::Interpolation(InterpolateError::Unset("REG".into()))
        );
        assert_eq!(
            err.to_string(),
            "v.yml:3: services.s.image: variable REG is not set (docker stack deploy would substitute an empty string)"
        );
        assert!(file.resolve("nope", &vars).is_none());
    }
}
