use super::*;

fn default_lab() -> LabSpec {
    LabSpec::new(
        DEFAULT_LAB,
        "7.1.1",
        crate::images::DEFAULT_REGISTRY,
        Ports::default_lab(),
        Services::Full,
    )
    .expect("default lab")
}

#[test]
fn the_default_labs_inventory_is_deploy_inventory_lab_toml() {
    let committed = include_str!("../../../../inventory.lab.toml");
    let generated = inventory_toml(&default_lab());
    assert_eq!(generated, committed);
    let doc = kroll_shared::config::Document::from_text("kroll.toml", generated);
    kroll_shared::inventory::Inventory::from_document(&doc).expect("it parses and validates");
}

#[test]
fn a_full_lab_has_the_journals_fourteen_containers_on_five_nodes() {
    let spec = default_lab();
    let c = spec.containers();
    assert_eq!(c.len(), 14);
    let on = |node: &str| -> Vec<&str> {
        c.iter()
            .filter(|x| x.node == node)
            .map(|x| x.service.as_str())
            .collect()
    };
    assert_eq!(
        on("rhodrylab-01"),
        [
            "zookeeper-01",
            "kafka-01",
            "connect-01",
            "schema-registry",
            "rest-proxy",
            "kafdrop"
        ]
    );
    assert_eq!(on("rhodrylab-04"), ["kafka-04", "connect-04"]);
    for x in &c {
        assert_eq!(x.name, format!("lab-{}", x.service));
        assert_eq!(x.labels["kroll.lab"], "lab");
        assert_eq!(x.labels["kroll.node"], x.node);
        assert_eq!(x.labels["kroll.role"], x.kind.as_str());
        assert!(
            x.image.starts_with("kroll-lab.local/rhodry/") && x.image.ends_with(":7.1.1"),
            "{}",
            x.image
        );
    }
    let kafka = spec
        .containers()
        .into_iter()
        .filter(|c| c.kind == ServiceKind::Broker)
        .count();
    assert_eq!(kafka, 5);
    let small = LabSpec {
        services: Services::Kafka,
        ..spec
    };
    assert_eq!(small.containers().len(), 6);
}

#[test]
fn brokers_advertise_the_published_port_and_the_journals_internal_listener() {
    let spec = default_lab();
    let k3 = spec.container("kafka-03").expect("kafka-03");
    assert_eq!(k3.env["KAFKA_BROKER_ID"], "3");
    assert_eq!(
        k3.env["KAFKA_ADVERTISED_LISTENERS"],
        "PLAINTEXT_INT://kafka-03:29093,PLAINTEXT_EXT://127.0.0.1:27093"
    );
    assert_eq!(
        k3.env["KAFKA_LISTENERS"],
        "PLAINTEXT_INT://0.0.0.0:29093,PLAINTEXT_EXT://0.0.0.0:27093"
    );
    assert_eq!(k3.env["KAFKA_ZOOKEEPER_CONNECT"], "zookeeper-01:2181/kafka");
    assert!(!k3.env.contains_key("KAFKA_INTER_BROKER_PROTOCOL_VERSION"));
    assert_eq!(k3.ports, [(27093, 27093)]);
    assert_eq!(k3.mounts[0].volume, "lab-kafka-03-data");
    let free = LabSpec {
        ports: Ports::from_base(40000, Shape::LAB, Security::Plaintext).expect("base"),
        ..spec
    };
    let k3 = free.container("kafka-03").expect("kafka-03");
    assert_eq!(k3.ports, [(27093, 40022)]);
    assert!(k3.env["KAFKA_ADVERTISED_LISTENERS"].ends_with("://127.0.0.1:40022"));
}

#[test]
fn connect_env_is_the_journals_on_7_1_and_prefixed_on_7_7() {
    let spec = default_lab();
    let old = spec.container("connect-02").expect("connect-02");
    assert_eq!(old.env["GROUP_ID"], "connect");
    assert_eq!(old.env["ADVERTISED_HOST_NAME"], "connect-02");
    assert!(old.env.contains_key("HEAP_OPTS"));
    assert!(!old.env.contains_key("CONNECT_GROUP_ID"));
    assert_eq!(
        old.env["BOOTSTRAP_SERVERS"],
        "kafka-01:29091,kafka-02:29092,kafka-03:29093,kafka-04:29094,kafka-05:29095"
    );
    let new = spec
        .at_version(Platform::find("7.7.1").expect("7.7.1"))
        .container("connect-02")
        .expect("connect-02");
    assert_eq!(new.image, "kroll-lab.local/rhodry/connect:7.7.1");
    assert_eq!(new.env["CONNECT_GROUP_ID"], "connect");
    assert_eq!(new.env["CONNECT_REST_ADVERTISED_HOST_NAME"], "connect-02");
    assert_eq!(new.env["CONNECT_LISTENERS"], "http://0.0.0.0:8083");
    assert!(new.env.contains_key("KAFKA_HEAP_OPTS"));
    assert!(!new.env.contains_key("GROUP_ID") && !new.env.contains_key("HEAP_OPTS"));
}

#[test]
fn bad_names_versions_and_port_bases_are_refused() {
    let p = Ports::default_lab;
    let reg = "r";
    for bad in ["", "Lab", "1lab", "lab_x", "a-very-long-lab-name-x"] {
        assert_eq!(
            LabSpec::new(bad, "7.1.1", reg, p(), Services::Full),
            Err(TopologyError::BadName(bad.to_owned()))
        );
    }
    assert_eq!(
        LabSpec::new("lab", "7.2.0", reg, p(), Services::Full),
        Err(TopologyError::UnknownVersion("7.2.0".into()))
    );
    let lab = Shape::LAB;
    let plain = Security::Plaintext;
    assert_eq!(
        Ports::from_base(80, lab, plain),
        Err(TopologyError::BadPortBase(80, 65535 - 31))
    );
    assert!(Ports::from_base(65530, lab, plain).is_err());
    assert!(Ports::from_base(65535 - 31, lab, plain).is_ok());
    let big = Shape::PRODUCTION;
    assert_eq!(
        Ports::from_base(65535 - 31, big, plain),
        Err(TopologyError::BadPortBase(65535 - 31, 65535 - 58))
    );
    assert!(Ports::from_base(65535 - 58, big, plain).is_ok());
    // A SASL lab's SASL_EXT ports reach 100 further.
    assert_eq!(
        Ports::from_base(65535 - 58, big, Security::Sasl),
        Err(TopologyError::BadPortBase(65535 - 58, 65535 - 158))
    );
    assert!(Ports::from_base(65535 - 125, lab, Security::Sasl).is_ok());
}

#[test]
fn the_production_shape_is_the_journals_size_with_a_zookeeper_ensemble() {
    let ports = Ports::from_base(40000, Shape::PRODUCTION, Security::Plaintext).expect("ports");
    let spec = LabSpec::new("prod", "7.1.1", "r", ports.clone(), Services::Full)
        .expect("spec")
        .with_shape(Shape::PRODUCTION)
        .expect("shape");
    let c = spec.containers();
    let count = |k: ServiceKind| c.iter().filter(|x| x.kind == k).count();
    assert_eq!(count(ServiceKind::Broker), 18);
    assert_eq!(count(ServiceKind::Zookeeper), 3);
    assert_eq!(count(ServiceKind::Connect), 5);
    // Every published host port is distinct, and so is every volume.
    let mut host_ports: Vec<u16> = c.iter().flat_map(|x| x.ports.iter().map(|p| p.1)).collect();
    let published = host_ports.len();
    host_ports.sort_unstable();
    host_ports.dedup();
    assert_eq!(host_ports.len(), published, "{host_ports:?}");
    assert!(
        !host_ports.contains(&40030),
        "the agents' port is not a broker's"
    );
    let zk2 = spec.container("zookeeper-02").expect("zookeeper-02");
    assert_eq!(zk2.node, "rhodrylab-02");
    assert_eq!(zk2.env["ZOO_MY_ID"], "2");
    assert_eq!(
        zk2.env["ZOO_SERVERS"],
        "server.1=zookeeper-01:2888:3888;2181 server.2=zookeeper-02:2888:3888;2181 server.3=zookeeper-03:2888:3888;2181"
    );
    let k18 = spec.container("kafka-18").expect("kafka-18");
    assert_eq!(k18.node, "rhodrylab-18");
    assert_eq!(
        k18.env["KAFKA_ZOOKEEPER_CONNECT"],
        "zookeeper-01:2181,zookeeper-02:2181,zookeeper-03:2181/kafka"
    );
    assert_eq!(k18.ports, [(27108, 40057)]);
    assert_eq!(
        spec.zookeeper_addr(),
        "127.0.0.1:40000,127.0.0.1:40004,127.0.0.1:40005"
    );
    assert_eq!(spec.bootstrap().len(), 18);
    let inv = inventory_toml(&spec);
    let doc = kroll_shared::config::Document::from_text("kroll.toml", inv);
    let inv = kroll_shared::inventory::Inventory::from_document(&doc).expect("it validates");
    assert_eq!(inv.nodes.len(), 18);
    // A shape its ports do not serve, and shapes that make no cluster, are refused.
    let lab_ports =
        LabSpec::new("prod", "7.1.1", "r", Ports::default_lab(), Services::Full).expect("spec");
    assert_eq!(
        lab_ports.clone().with_shape(Shape::PRODUCTION),
        Err(TopologyError::PortsDoNotFit)
    );
    for bad in [
        Shape {
            zookeepers: 2,
            ..Shape::LAB
        },
        Shape {
            connect_workers: 6,
            ..Shape::LAB
        },
        Shape {
            nodes: 2,
            ..Shape::LAB
        },
    ] {
        assert!(
            matches!(
                lab_ports.clone().with_shape(bad),
                Err(TopologyError::BadShape { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn volumes_are_named_after_the_lab() {
    let v = default_lab().volumes();
    assert_eq!(
        v,
        [
            "lab-connect-cluster",
            "lab-kafka-01-data",
            "lab-kafka-02-data",
            "lab-kafka-03-data",
            "lab-kafka-04-data",
            "lab-kafka-05-data",
            "lab-schema-registry-data",
            "lab-zookeeper-01-data",
            "lab-zookeeper-01-datalog",
        ]
    );
}

fn sasl_lab(ports: Ports, shape: Shape) -> LabSpec {
    LabSpec::new(
        "lab",
        "7.1.1",
        crate::images::DEFAULT_REGISTRY,
        ports,
        Services::Full,
    )
    .expect("spec")
    .with_shape(shape)
    .expect("shape")
    .with_security(Security::Sasl, Path::new("/srv/lab"))
    .expect("sasl")
}

#[test]
fn a_sasl_labs_brokers_have_the_journals_four_listeners_security_and_jaas_secret() {
    let spec = sasl_lab(Ports::default_lab_with(Security::Sasl), Shape::LAB);
    let k3 = spec.container("kafka-03").expect("kafka-03");
    let env = |k: &str| k3.env.get(k).map(String::as_str);
    assert_eq!(
        env("KAFKA_LISTENERS"),
        Some(
            "PLAINTEXT_INT://0.0.0.0:29093,SASL_INT://0.0.0.0:28093,PLAINTEXT_EXT://0.0.0.0:27093,SASL_EXT://0.0.0.0:26093"
        )
    );
    assert_eq!(
        env("KAFKA_ADVERTISED_LISTENERS"),
        Some(
            "PLAINTEXT_INT://kafka-03:29093,SASL_INT://kafka-03:28093,PLAINTEXT_EXT://127.0.0.1:27093,SASL_EXT://127.0.0.1:26093"
        )
    );
    // The journal's x-kafka-envs, value for value.
    for (k, v) in [
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT,SASL_INT:SASL_PLAINTEXT",
        ),
        ("KAFKA_INTER_BROKER_LISTENER_NAME", "SASL_INT"),
        (
            "KAFKA_OPTS",
            "-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS",
        ),
        ("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL", "PLAIN"),
        ("KAFKA_SASL_ENABLED_MECHANISMS", "PLAIN"),
        ("ZOOKEEPER_SASL_ENABLED", "false"),
        (
            "KAFKA_AUTHORIZER_CLASS_NAME",
            "kafka.security.authorizer.AclAuthorizer",
        ),
        ("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false"),
        ("KAFKA_SUPER_USERS", "User:admin"),
    ] {
        assert_eq!(env(k), Some(v), "{k}");
    }
    assert_eq!(k3.ports, [(27093, 27093), (26093, 26093)]);
    assert_eq!(
        k3.files,
        [FileMount {
            source: PathBuf::from("/srv/lab/secrets/KAFKA_JAAS"),
            target: "/run/secrets/KAFKA_JAAS".into(),
        }]
    );
    assert_eq!(
        spec.sasl_bootstrap(),
        (26091..=26095)
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
    );
    // Everything else as in a PLAINTEXT lab: PLAINTEXT_EXT where it was, the services on
    // PLAINTEXT_INT; ZooKeeper and Kafdrop unchanged, the REST services only adding their
    // basic auth (`a_sasl_labs_rest_services_require_basic_auth_…`).
    let plain = default_lab();
    assert_eq!(spec.bootstrap(), plain.bootstrap());
    assert_eq!(spec.internal_bootstrap(), plain.internal_bootstrap());
    for c in spec.containers() {
        let p = plain.container(&c.service).expect("the same containers");
        match c.kind {
            ServiceKind::Broker => {}
            ServiceKind::Zookeeper | ServiceKind::Kafdrop => {
                assert_eq!(c, p, "{}", c.name)
            }
            ServiceKind::Connect | ServiceKind::SchemaRegistry | ServiceKind::RestProxy => {
                for (k, v) in &p.env {
                    assert_eq!(c.env.get(k), Some(v), "{}: {k}", c.name);
                }
                assert_eq!((&c.ports, &c.mounts, &c.url), (&p.ports, &p.mounts, &p.url));
            }
        }
    }
    let p3 = plain.container("kafka-03").expect("kafka-03");
    assert!(p3.files.is_empty() && !p3.env.contains_key("KAFKA_OPTS"));
    assert!(!p3.env.contains_key("KAFKA_AUTHORIZER_CLASS_NAME"));
}

#[test]
fn sasl_ports_are_published_apart_from_every_other_port() {
    let base = Ports::from_base(40000, Shape::LAB, Security::Sasl).expect("ports");
    assert_eq!(base.brokers, [40020, 40021, 40022, 40023, 40024]);
    assert_eq!(base.sasl_brokers, [40120, 40121, 40122, 40123, 40124]);
    assert!(
        Ports::from_base(40000, Shape::LAB, Security::Plaintext)
            .expect("ports")
            .sasl_brokers
            .is_empty()
    );
    let prod = Ports::from_base(40000, Shape::PRODUCTION, Security::Sasl).expect("ports");
    assert_eq!(prod.sasl_brokers.first(), Some(&40140));
    assert_eq!(prod.sasl_brokers.last(), Some(&40157));
    let spec = sasl_lab(prod, Shape::PRODUCTION);
    let mut host_ports: Vec<u16> = spec
        .containers()
        .iter()
        .flat_map(|x| x.ports.iter().map(|p| p.1))
        .collect();
    let published = host_ports.len();
    host_ports.sort_unstable();
    host_ports.dedup();
    assert_eq!(host_ports.len(), published, "{host_ports:?}");
    assert_eq!(
        spec.container("kafka-18").expect("kafka-18").ports,
        [(27108, 40057), (26108, 40157)]
    );
    // A SASL lab without a SASL_EXT port per broker is refused.
    assert_eq!(
        default_lab().with_security(Security::Sasl, Path::new("/srv/lab")),
        Err(TopologyError::PortsDoNotFit)
    );
    let plain = default_lab()
        .with_security(Security::Plaintext, Path::new("/srv/lab"))
        .expect("plaintext");
    assert_eq!(plain.jaas_file, None);
}

#[test]
fn a_sasl_ssl_labs_inventory_logs_kroll_in_with_scram_over_tls_trusting_the_labs_ca() {
    let spec = LabSpec::new(
        "lab",
        "7.1.1",
        crate::images::DEFAULT_REGISTRY,
        Ports::default_lab_with(Security::SaslSsl),
        Services::Kafka,
    )
    .expect("spec")
    .with_security(Security::SaslSsl, Path::new("/srv/lab"))
    .expect("sasl-ssl");
    let text = inventory_toml(&spec);
    let doc = kroll_shared::config::Document::from_text("/srv/lab/kroll.toml", text.clone());
    let inv = kroll_shared::inventory::Inventory::from_document(&doc).expect("it validates");
    let kafka = inv.kafka.expect("[kafka]");
    assert_eq!(
        kafka.security_protocol,
        kroll_shared::kafka_access::SecurityProtocol::SaslSsl,
        "{text}"
    );
    assert_eq!(
        kafka.sasl_mechanism,
        Some(kroll_shared::kafka_access::SaslMechanism::ScramSha512)
    );
    assert_eq!(
        kafka.ca_file,
        Some(PathBuf::from("/srv/lab/kafka-tls/ca.pem"))
    );
    assert_eq!(kafka.cert_file, None);
    assert_eq!(inv.cluster.kafka_bootstrap, spec.sasl_ssl_bootstrap());
}

#[test]
fn a_sasl_labs_inventory_points_kroll_at_sasl_ext_as_kroll_with_a_password_file() {
    let spec = sasl_lab(Ports::default_lab_with(Security::Sasl), Shape::LAB);
    let text = inventory_toml(&spec);
    assert!(
        text.contains("kafka_bootstrap = [\"127.0.0.1:26091\", \"127.0.0.1:26092\", \"127.0.0.1:26093\", \"127.0.0.1:26094\", \"127.0.0.1:26095\"]\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "[kafka]\nsecurity_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"kroll\"\npassword_file = \"kafka-password\""
        ),
        "{text}"
    );
    let doc = kroll_shared::config::Document::from_text("/srv/lab/kroll.toml", text);
    let inv = kroll_shared::inventory::Inventory::from_document(&doc).expect("it validates");
    let kafka = inv.kafka.expect("[kafka]");
    assert_eq!(
        kafka.security_protocol,
        kroll_shared::kafka_access::SecurityProtocol::SaslPlaintext
    );
    assert_eq!(kafka.username.as_deref(), Some("kroll"));
    assert_eq!(
        kafka.password_file,
        Some(PathBuf::from("/srv/lab/kafka-password"))
    );
    assert_eq!(inv.cluster.kafka_bootstrap.len(), 5);
    // The default lab's stays exactly deploy/inventory.lab.toml (its own test), without [kafka].
    assert!(!inventory_toml(&default_lab()).contains("[kafka]"));
}

#[test]
fn a_sasl_labs_rest_services_require_basic_auth_as_confluents_images_are_told() {
    let spec = sasl_lab(Ports::default_lab_with(Security::Sasl), Shape::LAB);
    assert!(spec.rest_auth());
    let mounts = |c: &ContainerSpec| -> Vec<(String, String)> {
        c.files
            .iter()
            .map(|f| (f.source.display().to_string(), f.target.clone()))
            .collect()
    };
    let secret = |name: &str| {
        (
            format!("/srv/lab/secrets/{name}"),
            format!("/run/secrets/{name}"),
        )
    };
    for version in ["7.1.1", "7.7.1"] {
        let spec = spec.at_version(Platform::find(version).expect("platform"));
        let c = spec.container("connect-02").expect("connect-02");
        let env = |k: &str| c.env.get(k).map(String::as_str);
        assert_eq!(
            env("CONNECT_REST_EXTENSION_CLASSES"),
            Some(
                "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
            ),
            "{version}"
        );
        assert_eq!(
            env("KAFKA_OPTS"),
            Some("-Djava.security.auth.login.config=/run/secrets/CONNECT_JAAS")
        );
        assert_eq!(env("CONNECT_CONFIG_PROVIDERS"), Some("file"));
        assert_eq!(
            env("CONNECT_CONFIG_PROVIDERS_FILE_CLASS"),
            Some("org.apache.kafka.common.config.provider.FileConfigProvider")
        );
        for side in ["KEY", "VALUE"] {
            assert_eq!(
                env(&format!(
                    "CONNECT_{side}_CONVERTER_BASIC_AUTH_CREDENTIALS_SOURCE"
                )),
                Some("USER_INFO")
            );
            assert_eq!(
                env(&format!("CONNECT_{side}_CONVERTER_BASIC_AUTH_USER_INFO")),
                Some("${file:/run/secrets/CONNECT_SCHEMA_REGISTRY:basic.auth.user.info}")
            );
        }
        assert_eq!(
            mounts(&c),
            [
                secret("CONNECT_JAAS"),
                secret("CONNECT_PASSWORDS"),
                secret("CONNECT_SCHEMA_REGISTRY")
            ]
        );
    }
    let sr = spec.container("schema-registry").expect("schema-registry");
    for (k, v) in [
        ("SCHEMA_REGISTRY_AUTHENTICATION_METHOD", "BASIC"),
        ("SCHEMA_REGISTRY_AUTHENTICATION_REALM", "SchemaRegistry"),
        ("SCHEMA_REGISTRY_AUTHENTICATION_ROLES", "admin,user"),
        (
            "SCHEMA_REGISTRY_OPTS",
            "-Djava.security.auth.login.config=/run/secrets/SCHEMA_REGISTRY_JAAS",
        ),
    ] {
        assert_eq!(sr.env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(
        mounts(&sr),
        [
            secret("SCHEMA_REGISTRY_JAAS"),
            secret("SCHEMA_REGISTRY_PASSWORDS")
        ]
    );
    let rest = spec.container("rest-proxy").expect("rest-proxy");
    for (k, v) in [
        ("KAFKA_REST_AUTHENTICATION_METHOD", "BASIC"),
        ("KAFKA_REST_AUTHENTICATION_REALM", "KafkaRest"),
        ("KAFKA_REST_AUTHENTICATION_ROLES", "admin"),
        (
            "KAFKAREST_OPTS",
            "-Djava.security.auth.login.config=/run/secrets/KAFKA_REST_JAAS",
        ),
    ] {
        assert_eq!(rest.env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(
        mounts(&rest),
        [secret("KAFKA_REST_JAAS"), secret("KAFKA_REST_PASSWORDS")]
    );
    // Kafdrop calls none of them and keeps no secret.
    assert!(spec.container("kafdrop").expect("kafdrop").files.is_empty());
    // The inventory logs kroll in to Connect and Schema Registry with the file beside it.
    let text = inventory_toml(&spec);
    let login = "username = \"kroll\"\npassword_file = \"rest-password\"";
    assert!(
        text.contains(&format!("[connect]\n{login}"))
            && text.contains(&format!("[schema_registry]\n{login}")),
        "{text}"
    );
    let doc = kroll_shared::config::Document::from_text("/srv/lab/kroll.toml", text);
    let inv = kroll_shared::inventory::Inventory::from_document(&doc).expect("it validates");
    for section in [&inv.connect, &inv.schema_registry] {
        let s = section.as_ref().expect("the section");
        assert_eq!(s.username.as_deref(), Some("kroll"));
        assert_eq!(
            s.password_file,
            Some(PathBuf::from("/srv/lab/rest-password"))
        );
    }
    // A Kafka-only SASL lab has no REST service to secure, a PLAINTEXT lab nothing at all.
    let kafka_only = LabSpec::new(
        "lab",
        "7.1.1",
        crate::images::DEFAULT_REGISTRY,
        Ports::default_lab_with(Security::Sasl),
        Services::Kafka,
    )
    .expect("spec")
    .with_security(Security::Sasl, Path::new("/srv/lab"))
    .expect("sasl");
    assert!(!kafka_only.rest_auth());
    assert!(!inventory_toml(&kafka_only).contains("[connect]"));
    let plain = default_lab();
    assert!(!plain.rest_auth());
    for c in plain.containers() {
        assert!(c.files.is_empty(), "{}", c.name);
        assert!(
            !c.env.keys().any(|k| k.contains("AUTHENTICATION")
                || k.contains("BASIC_AUTH")
                || k.contains("REST_EXTENSION")),
            "{}",
            c.name
        );
    }
}
