#!/usr/bin/env python3
"""Independent Kafka clients for kroll's no-loss lab test (tests/lab/noloss.rs).

The test drives one process per role, as a user's applications would run during an upgrade:

  create   --bootstrap B --topic T --partitions N        RF 3 topic with min.insync.replicas=2
  produce  --client {confluent,kafka-python} ...         acks=all; confluent with idempotence
  consume  --client {confluent,kafka-python} --group G   group consumer (subscribe), commits
  verify   --bootstrap B --topic T --dir D               reads every partition from offset 0
  describe --bootstrap B --topic T                       DescribeCluster through both clients

`produce` runs until the file `<dir>/stop-produce` exists and `consume` until `<dir>/stop-consume`
does (the test stops the producers first and lets the consumers drain), then each finishes
cleanly (flush, final commit, close) and writes `<dir>/<role>-<client>.json`. Every acknowledged message is
written, as it is acknowledged, to `<dir>/acked-<client>.jsonl`; every consumed one to
`<dir>/consumed-<group>.jsonl`. `verify` prints one JSON summary on stdout.

Values are `<client>-<sequence>`, unique per producer, so a record read back names exactly one
send. Nothing here decides the verdict: the Rust test asserts on the summary.
"""

import argparse
import json
import logging
import os
import sys
import time


def stop_requested(out_dir, role):
    return os.path.exists(os.path.join(out_dir, f"stop-{role}"))


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def log(*parts):
    print("noloss:", *parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# create


def create(args):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    topic = NewTopic(
        args.topic,
        num_partitions=args.partitions,
        replication_factor=3,
        config={"min.insync.replicas": "2"},
    )
    for name, future in admin.create_topics([topic], request_timeout=30).items():
        future.result(timeout=60)
        log("created", name)
    # Wait until every partition has a leader and a full ISR.
    deadline = time.time() + 60
    while True:
        md = admin.list_topics(args.topic, timeout=10).topics.get(args.topic)
        parts = md.partitions if md is not None and md.error is None else {}
        if len(parts) == args.partitions and all(
            p.leader >= 0 and len(p.isrs) == 3 for p in parts.values()
        ):
            return 0
        if time.time() > deadline:
            log("topic not ready:", md)
            return 1
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# produce


class Acks:
    """Appends one line per acknowledged (or failed) send."""

    def __init__(self, out_dir, client):
        self.acked = open(os.path.join(out_dir, f"acked-{client}.jsonl"), "a", buffering=1)
        self.client = client
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.errors = {}

    def success(self, seq, partition, offset):
        self.ok += 1
        self.acked.write(json.dumps({"v": f"{self.client}-{seq}", "p": partition, "o": offset}) + "\n")

    def failure(self, seq, err):
        self.failed += 1
        name = str(err)[:120]
        self.errors[name] = self.errors.get(name, 0) + 1

    def summary(self, began):
        return {
            "client": self.client,
            "sent": self.sent,
            "acked": self.ok,
            "failed": self.failed,
            "errors": self.errors,
            "seconds": round(time.time() - began, 1),
        }


def produce(args):
    acks = Acks(args.dir, args.client)
    began = time.time()
    interval = 1.0 / args.rate
    if args.client == "confluent":
        send, flush = confluent_producer(args, acks)
    else:
        send, flush = kafka_python_producer(args, acks)
    next_at = time.time()
    while not stop_requested(args.dir, "produce"):
        send(acks.sent)
        acks.sent += 1
        next_at += interval
        pause = next_at - time.time()
        if pause > 0:
            time.sleep(pause)
    unflushed = flush()
    summary = acks.summary(began)
    summary["unflushed"] = unflushed
    write_json(os.path.join(args.dir, f"produce-{args.client}.json"), summary)
    log("produce done", summary)
    return 0


def confluent_producer(args, acks):
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "noloss-confluent",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # Retry through every broker restart of the roll rather than give up.
            "message.timeout.ms": 180000,
            "request.timeout.ms": 30000,
        }
    )

    def send(seq):
        def report(err, msg, seq=seq):
            if err is None:
                acks.success(seq, msg.partition(), msg.offset())
            else:
                acks.failure(seq, err)

        while True:
            try:
                producer.produce(args.topic, key=str(seq).encode(), value=f"confluent-{seq}".encode(), on_delivery=report)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)

    def flush():
        return producer.flush(200)

    return send, flush


def kafka_python_producer(args, acks):
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap.split(","),
        client_id="noloss-kafka-python",
        acks="all",
        retries=1000,
        retry_backoff_ms=200,
        linger_ms=5,
        request_timeout_ms=30000,
        delivery_timeout_ms=180000,
        max_in_flight_requests_per_connection=1,
        enable_idempotence=False,
    )

    def send(seq):
        future = producer.send(args.topic, key=str(seq).encode(), value=f"kafka-python-{seq}".encode())
        future.add_callback(lambda md, seq=seq: acks.success(seq, md.partition, md.offset))
        future.add_errback(lambda err, seq=seq: acks.failure(seq, err))

    def flush():
        try:
            # Longer than delivery_timeout_ms: every batch ends acknowledged or failed.
            producer.flush(200)
        except Exception:
            log("flush did not finish; the client's view of", args.topic, ":", kafka_python_leaders(producer, args.topic))
            raise
        producer.close(30)
        return 0

    return send, flush


def kafka_python_leaders(producer, topic):
    """Partition → leader as kafka-python's metadata has it (for a failure's log)."""
    try:
        md = producer._metadata
        return {p: md.leader_for_partition(__import__("kafka").TopicPartition(topic, p)) for p in sorted(md.partitions_for_topic(topic) or [])}
    except Exception as e:
        return repr(e)


# ---------------------------------------------------------------------------------------------
# consume


def consume(args):
    began = time.time()
    consumed = open(os.path.join(args.dir, f"consumed-{args.group}.jsonl"), "a", buffering=1)
    count = 0
    commits = {}
    commit_errors = 0
    if args.client == "confluent":
        poll, commit, close = confluent_consumer(args)
    else:
        poll, commit, close = kafka_python_consumer(args)
    last_commit = time.time()
    first_record = None
    while True:
        stopping = stop_requested(args.dir, "consume")
        for partition, offset, value in poll():
            if first_record is None:
                first_record = round(time.time() - began, 1)
            consumed.write(json.dumps({"p": partition, "o": offset, "v": value}) + "\n")
            count += 1
        if stopping or time.time() - last_commit > 1.0:
            try:
                commits.update(commit())
            except Exception as e:  # a commit during a rebalance or coordinator move
                commit_errors += 1
                log("commit failed:", e)
            last_commit = time.time()
        if stopping:
            break
    close()
    summary = {
        "client": args.client,
        "group": args.group,
        "consumed": count,
        "first_record_after_s": first_record,
        "committed": {str(p): o for p, o in sorted(commits.items())},
        "commit_errors": commit_errors,
        "seconds": round(time.time() - began, 1),
    }
    write_json(os.path.join(args.dir, f"consume-{args.group}.json"), summary)
    log("consume done", summary)
    return 0


def confluent_consumer(args):
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "noloss-confluent-consumer",
            "group.id": args.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
            "max.poll.interval.ms": 300000,
        }
    )
    consumer.subscribe([args.topic])
    positions = {}

    def poll():
        out = []
        for msg in consumer.consume(num_messages=500, timeout=0.5):
            if msg.error():
                log("consumer error:", msg.error())
                continue
            out.append((msg.partition(), msg.offset(), msg.value().decode()))
            positions[msg.partition()] = msg.offset() + 1
        return out

    def commit():
        owned = {tp.partition for tp in consumer.assignment()}
        tps = [TopicPartition(args.topic, p, o) for p, o in positions.items() if p in owned]
        if not tps:
            return {}
        done = consumer.commit(offsets=tps, asynchronous=False)
        return {tp.partition: tp.offset for tp in done if tp.error is None}

    return poll, commit, consumer.close


def kafka_python_consumer(args):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap.split(","),
        client_id="noloss-kafka-python-consumer",
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10000,
        max_poll_interval_ms=300000,
    )
    consumer.subscribe([args.topic])
    positions = {}

    def poll():
        out = []
        for tp, records in consumer.poll(timeout_ms=500, max_records=500).items():
            for r in records:
                out.append((tp.partition, r.offset, r.value.decode()))
                positions[tp.partition] = r.offset + 1
        return out

    def commit():
        owned = {tp.partition for tp in consumer.assignment()}
        offsets = {
            TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1)
            for p, o in positions.items()
            if p in owned
        }
        if not offsets:
            return {}
        consumer.commit(offsets)
        return {tp.partition: om.offset for tp, om in offsets.items()}

    return poll, commit, consumer.close


# ---------------------------------------------------------------------------------------------
# verify


def read_acked(out_dir, client):
    path = os.path.join(out_dir, f"acked-{client}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_consumed(out_dir, group):
    path = os.path.join(out_dir, f"consumed-{group}.jsonl")
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {json.loads(line)["v"] for line in f if line.strip()}


def read_all(args):
    """Every record of every partition from offset 0 up to the high watermark, from its leader."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "noloss-verify",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    md = consumer.list_topics(args.topic, timeout=30).topics[args.topic]
    log_records = {}
    high = {}
    for p in sorted(md.partitions):
        _, hw = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=30)
        high[p] = hw
        records = []
        if hw > 0:
            consumer.assign([TopicPartition(args.topic, p, 0)])
            while len(records) < hw:
                msg = consumer.poll(5)
                if msg is None:
                    break
                if msg.error():
                    if msg.error().code() == -191:  # _PARTITION_EOF
                        break
                    log("read error:", msg.error())
                    continue
                records.append((msg.offset(), msg.value().decode()))
        log_records[p] = records
    consumer.close()
    return log_records, high


def verify(args):
    log_records, high = read_all(args)
    at = {}
    count = {}
    holes = 0
    for p, records in log_records.items():
        expected = 0
        for offset, value in records:
            if offset != expected:
                holes += offset - expected
            expected = offset + 1
            at[(p, offset)] = value
            count[value] = count.get(value, 0) + 1
    clients = {}
    for client in args.clients.split(","):
        acked = read_acked(args.dir, client)
        missing = [a for a in acked if at.get((a["p"], a["o"])) != a["v"]]
        prefix = client + "-"
        dups = sorted(v for v, n in count.items() if n > 1 and v.startswith(prefix))
        clients[client] = {
            "acked": len(acked),
            "missing": len(missing),
            "missing_sample": missing[:10],
            "duplicates": len(dups),
            "duplicate_sample": dups[:10],
        }
    groups = {}
    acked_values = {a["v"] for c in args.clients.split(",") for a in read_acked(args.dir, c)}
    for group in args.groups.split(",") if args.groups else []:
        seen = read_consumed(args.dir, group)
        unseen = sorted(acked_values - seen)
        groups[group] = {"consumed_distinct": len(seen), "acked_not_consumed": len(unseen), "sample": unseen[:10]}
    summary = {
        "partitions": {str(p): {"high_watermark": high[p], "read": len(log_records[p])} for p in sorted(high)},
        "holes": holes,
        "clients": clients,
        "groups": groups,
        "committed": committed(args),
    }
    json.dump(summary, sys.stdout)
    print()
    return 0


def committed(args):
    """Each group's committed offsets as the coordinator serves them now."""
    from confluent_kafka import Consumer, TopicPartition

    out = {}
    for group in args.groups.split(",") if args.groups else []:
        consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": group, "enable.auto.commit": False})
        md = consumer.list_topics(args.topic, timeout=30).topics[args.topic]
        tps = [TopicPartition(args.topic, p) for p in sorted(md.partitions)]
        out[group] = {str(tp.partition): tp.offset for tp in consumer.committed(tps, timeout=30)}
        consumer.close()
    return out


# ---------------------------------------------------------------------------------------------
# describe


def describe(args):
    """DescribeCluster through both clients: confluent's admin call; kafka-python's raw request
    (what the broker's response decodes to) and its admin call, whose error is reported as seen."""
    from confluent_kafka.admin import AdminClient

    out = {}
    try:
        admin = AdminClient({"bootstrap.servers": args.bootstrap})
        c = admin.describe_cluster(request_timeout=30).result(timeout=60)
        out["confluent"] = {"brokers": len(c.nodes), "controller": c.controller.id if c.controller else None}
    except Exception as e:
        out["confluent"] = {"error": repr(e)}
    from kafka import KafkaAdminClient
    from kafka.protocol.admin import DescribeClusterRequest

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap.split(","), client_id="noloss-describe")
    try:
        async def raw():
            return await admin._manager.send(DescribeClusterRequest(include_cluster_authorized_operations=False))

        r = admin._manager.run(raw)
        out["kafka-python-raw"] = {"version": r.API_VERSION, "brokers": len(r.brokers), "controller": r.controller_id}
    except Exception as e:
        out["kafka-python-raw"] = {"error": repr(e)}
    try:
        d = admin.describe_cluster()
        out["kafka-python"] = {"brokers": len(d["brokers"]), "controller": d.get("controller_id")}
    except Exception as e:
        out["kafka-python"] = {"error": repr(e)}
    admin.close()
    json.dump(out, sys.stdout)
    print()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="role", required=True)
    for role in ("create", "produce", "consume", "verify", "describe"):
        p = sub.add_parser(role)
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--topic", required=True)
        p.add_argument("--dir", default=".")
        if role == "create":
            p.add_argument("--partitions", type=int, default=6)
        if role in ("produce", "consume"):
            p.add_argument("--client", choices=["confluent", "kafka-python"], required=True)
        if role == "produce":
            p.add_argument("--rate", type=float, default=100.0)
        if role == "consume":
            p.add_argument("--group", required=True)
        if role == "verify":
            p.add_argument("--clients", default="confluent,kafka-python")
            p.add_argument("--groups", default="")
    args = ap.parse_args()
    # The clients' own warnings (retries, timeouts, leader changes) go to the role's log, which
    # the test prints when a client fails.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    roles = {"create": create, "produce": produce, "consume": consume, "verify": verify, "describe": describe}
    return roles[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
