#!/usr/bin/env python3
"""Independent-client smoke test: drives the running stack with confluent-kafka, not Registrar's code.

Reads REGISTRAR_KAFKA_BROKERS and REGISTRAR_TOPIC_PREFIX (source the stack's env file first).
Checks: system.ping on each of the four command topics is answered OK; a command without `source`
is MALFORMED naming the field; a non-JSON message lands on registrar.deadletter; the next good
command on the same partition is still answered. Last line: `smoke: N passed, M failed`.
"""
import base64
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

brokers = os.environ.get("REGISTRAR_KAFKA_BROKERS", "127.0.0.1:19092")
prefix = os.environ.get("REGISTRAR_TOPIC_PREFIX", "")
services = ["identity", "permissions", "binding", "deregistration"]
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS  " if ok else "FAIL  ") + name + ("" if ok else f": {detail}"))


def command(type_, id_=None, **overrides):
    env = {"specversion": "1.0", "id": id_ or str(uuid.uuid4()), "source": "/clients/smoke", "type": type_,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "datacontenttype": "application/json",
           "schemaversion": 1, "data": {}}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def reader(topic):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "smoke-" + str(uuid.uuid4()), "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    meta = c.list_topics(prefix + topic, timeout=10)
    parts = meta.topics[prefix + topic].partitions
    c.assign([TopicPartition(prefix + topic, p, -2) for p in parts])  # -2: from the beginning
    return c


def wait_for(consumer, predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = consumer.poll(0.1)
        if m is None or m.error():
            continue
        if predicate(m):
            return m
    return None


producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all"})
replies = reader("registrar.replies")
letters = reader("registrar.deadletter")


def send(topic, value, key):
    producer.produce(prefix + topic, value=value, key=key, headers={"content-type": "application/cloudevents+json"})
    producer.flush(10)


def reply_to(id_):
    m = wait_for(replies, lambda m: m.key() == id_.encode())
    return json.loads(m.value()) if m else None


for service in services:
    cmd = command("system.ping")
    send(f"{service}.commands", json.dumps(cmd), cmd["id"])
    r = reply_to(cmd["id"])
    check(f"{service}: system.ping answered OK",
          r is not None and r["data"]["code"] == "OK" and r["data"]["result"]["service"] == service
          and r["inreplyto"] == cmd["id"], r)

cmd = command("system.ping", source=None)
send("identity.commands", json.dumps(cmd), cmd["id"])
r = reply_to(cmd["id"])
check("missing field: MALFORMED naming it",
      r is not None and r["data"]["code"] == "MALFORMED" and r["data"]["result"].get("field") == "source", r)

key = "smoke-" + str(uuid.uuid4())
garbage = b"this is not json " + key.encode()
send("binding.commands", garbage, key)
good = command("system.ping")
send("binding.commands", json.dumps(good), key)  # same key: same partition, after the garbage
m = wait_for(letters, lambda m: m.key() == key.encode())
letter = json.loads(m.value()) if m else None
check("non-JSON: on registrar.deadletter with its reason",
      letter is not None and letter["data"]["reason"] == "not_json"
      and base64.b64decode(letter["data"]["original"]) == garbage, letter)
r = reply_to(good["id"])
check("the next good command is still answered", r is not None and r["data"]["code"] == "OK", r)

replies.close()
letters.close()
failed = results.count(False)
print(f"smoke: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
