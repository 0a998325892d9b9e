#!/usr/bin/env python3
"""Independent Kafka clients for kroll's SASL lab tests (tests/lab/security.rs, tests/lab/tls.rs).

Both clients log in over SASL_PLAINTEXT with PLAIN by default, as the journal's organisation
clients do on SASL_EXT; --protocol SASL_SSL (with --mechanism PLAIN, SCRAM-SHA-256 or
SCRAM-SHA-512) or SSL (the user's client certificate, <--certs>/<user>.pem and <user>-key.pem)
go over TLS, trusting only --ca and checking the broker's name:

  create    --bootstrap B --topic T                     as admin: RF 3 topic, min.insync.replicas=2
  roundtrip --client {confluent,kafka-python} --bootstrap B --topic T --group G
            produces one record as admin (acks=all), consumes it as kroll in group G and commits
  produce   --client {confluent,kafka-python} --bootstrap B --topic T --user U
            produces one record as U and reports what the broker answered

Passwords come from the environment (LAB_PASSWORD_ADMIN, LAB_PASSWORD_KROLL,
LAB_PASSWORD_NOBODY), never from arguments, and are never printed. Each command prints one JSON
line on stdout; nothing here decides the verdict: the Rust test asserts on it.
"""

import argparse
import json
import os
import sys
import time
import uuid


def log(*parts):
    print("sasl:", *parts, file=sys.stderr, flush=True)


def password(user):
    return os.environ[f"LAB_PASSWORD_{user.upper()}"]


def certificate(args, user):
    return (os.path.join(args.certs, f"{user}.pem"), os.path.join(args.certs, f"{user}-key.pem"))


def confluent_config(args, user):
    config = {"bootstrap.servers": args.bootstrap, "security.protocol": args.protocol}
    if args.protocol.startswith("SASL_"):
        config.update({"sasl.mechanism": args.mechanism, "sasl.username": user,
                       "sasl.password": password(user)})
    if args.protocol.endswith("SSL"):
        config.update({"ssl.ca.location": args.ca,
                       "ssl.endpoint.identification.algorithm": "https"})
    if args.protocol == "SSL":
        cert, key = certificate(args, user)
        config.update({"ssl.certificate.location": cert, "ssl.key.location": key})
    return config


def kafka_python_config(args, user):
    config = {"bootstrap_servers": args.bootstrap.split(","),
              "security_protocol": args.protocol}
    if args.protocol.startswith("SASL_"):
        # kafka-python's SCRAM is its own pure-Python code: an independent check of the broker's.
        config.update({"sasl_mechanism": args.mechanism, "sasl_plain_username": user,
                       "sasl_plain_password": password(user)})
    if args.protocol.endswith("SSL"):
        config.update({"ssl_cafile": args.ca, "ssl_check_hostname": True})
    if args.protocol == "SSL":
        cert, key = certificate(args, user)
        config.update({"ssl_certfile": cert, "ssl_keyfile": key})
    return config


def create(args):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(confluent_config(args, "admin"))
    topic = NewTopic(args.topic, num_partitions=3, replication_factor=3,
                     config={"min.insync.replicas": "2"})
    for future in admin.create_topics([topic], request_timeout=30).values():
        future.result(timeout=60)
    deadline = time.time() + 60
    while True:
        md = admin.list_topics(args.topic, timeout=10).topics.get(args.topic)
        parts = md.partitions if md is not None and md.error is None else {}
        if len(parts) == 3 and all(p.leader >= 0 and len(p.isrs) == 3 for p in parts.values()):
            print(json.dumps({"created": args.topic, "partitions": len(parts)}))
            return 0
        if time.time() > deadline:
            log("topic not ready:", md)
            return 1
        time.sleep(0.3)


# ---------------------------------------------------------------------------------------------
# roundtrip: admin writes, kroll reads


def roundtrip(args):
    value = f"{args.client}-{uuid.uuid4().hex}"
    if args.client == "confluent":
        produced = confluent_produce(args, "admin", value, idempotent=True)
        consumed = confluent_consume(args, "kroll", value)
    else:
        produced = kafka_python_produce(args, "admin", value, idempotent=True)
        consumed = kafka_python_consume(args, "kroll", value)
    print(json.dumps({"client": args.client, "protocol": args.protocol,
                      "mechanism": args.mechanism, "value": value, "produced": produced,
                      "consumed": consumed}))
    return 0 if produced.get("error") is None and consumed.get("found") else 1


def confluent_produce(args, user, value, idempotent):
    from confluent_kafka import Producer

    config = confluent_config(args, user)
    config.update({"acks": "all", "enable.idempotence": idempotent,
                   "message.timeout.ms": 20000})
    producer = Producer(config)
    result = {}

    def delivered(err, msg):
        if err is not None:
            result.update({"error": err.name(), "code": err.code()})
        else:
            result.update({"error": None, "partition": msg.partition(), "offset": msg.offset()})

    producer.produce(args.topic, key=b"sasl", value=value.encode(), on_delivery=delivered)
    left = producer.flush(30)
    if not result:
        result = {"error": "NOT_DELIVERED", "code": None, "unflushed": left}
    result["user"] = user
    return result


def confluent_consume(args, user, value):
    from confluent_kafka import Consumer

    config = confluent_config(args, user)
    config.update({"group.id": args.group, "auto.offset.reset": "earliest",
                   "enable.auto.commit": False})
    consumer = Consumer(config)
    consumer.subscribe([args.topic])
    found = {"found": False, "user": user}
    deadline = time.time() + 40
    try:
        while time.time() < deadline and not found["found"]:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                found["last_error"] = msg.error().name()
                continue
            if msg.value() == value.encode():
                consumer.commit(message=msg, asynchronous=False)
                found.update({"found": True, "partition": msg.partition(),
                              "offset": msg.offset(), "committed": True})
    finally:
        consumer.close()
    return found


def kafka_python_produce(args, user, value, idempotent):
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", enable_idempotence=idempotent, max_block_ms=20000,
                             **kafka_python_config(args, user))
    try:
        md = producer.send(args.topic, key=b"sasl", value=value.encode()).get(timeout=30)
        return {"error": None, "user": user, "partition": md.partition, "offset": md.offset}
    except Exception as e:  # the broker's answer, whatever it is, goes to the test
        return {"error": getattr(e, "message", type(e).__name__), "code": getattr(e, "errno", None),
                "user": user}
    finally:
        producer.close(timeout=5)


def kafka_python_consume(args, user, value):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(args.topic, group_id=args.group, auto_offset_reset="earliest",
                             enable_auto_commit=False, **kafka_python_config(args, user))
    found = {"found": False, "user": user}
    deadline = time.time() + 40
    try:
        while time.time() < deadline and not found["found"]:
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    if r.value == value.encode():
                        consumer.commit()
                        found.update({"found": True, "partition": r.partition,
                                      "offset": r.offset, "committed": True})
    finally:
        consumer.close()
    return found


# ---------------------------------------------------------------------------------------------
# produce: what a user who may not write is told


def produce(args):
    value = f"{args.client}-{args.user}-{uuid.uuid4().hex}"
    if args.client == "confluent":
        result = confluent_produce(args, args.user, value, idempotent=False)
    else:
        result = kafka_python_produce(args, args.user, value, idempotent=False)
    result.update({"client": args.client, "protocol": args.protocol})
    print(json.dumps(result))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["create", "roundtrip", "produce"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--client", choices=["confluent", "kafka-python"], default="confluent")
    parser.add_argument("--group", default="sasl-check")
    parser.add_argument("--user", default="kroll")
    parser.add_argument("--protocol", choices=["SASL_PLAINTEXT", "SASL_SSL", "SSL"],
                        default="SASL_PLAINTEXT")
    parser.add_argument("--mechanism", choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
                        default="PLAIN")
    parser.add_argument("--ca", help="the CA bundle to trust (SASL_SSL, SSL)")
    parser.add_argument("--certs", help="where <user>.pem and <user>-key.pem are (SSL)")
    args = parser.parse_args()
    return {"create": create, "roundtrip": roundtrip, "produce": produce}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
