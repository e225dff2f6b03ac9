"""MQTT helpers for the black-box tests of the TS-0010 binding (test_mqtt.py).

* ``PrivateBroker`` (tools/mosquitto/private_broker.py): a mosquitto of our own on a free loopback port.
* ``MqttClient``: a oneM2M MQTT client on paho-mqtt 1.x (Debian python3-paho-mqtt): it subscribes to
  its response topics and collects every response primitive by rqi, so tests can check that each
  request is answered exactly once.
"""

import json
import os
import sys
import threading
import unittest
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "mosquitto"))
from private_broker import PrivateBroker, BrokerError, available as broker_available, free_port  # noqa: E402,F401

try:
    import paho.mqtt.client as paho
except ImportError:  # pragma: no cover - reported by the tests as a skip
    paho = None

CSE_LEVEL = "id-in"


class MqttClient:
    """One MQTT client (QoS 1, persistent session unless clean=True) acting as ``level``.

    It listens on /oneM2M/resp/<level>/#, /oneM2M/reg_resp/<level>/# and any extra topics; every
    message is kept in ``messages`` (topic, payload bytes), response primitives also by rqi.
    """

    def __init__(self, port, client_id, level=None, extra_topics=(), clean=False, tls=None):
        self.port = port
        self.client_id = client_id
        self.level = level or client_id
        self.lock = threading.Condition()
        self.messages = []
        self.by_rqi = {}
        self.topics = ["/oneM2M/resp/%s/#" % self.level, "/oneM2M/reg_resp/%s/#" % self.level] + list(extra_topics)
        self.connected = threading.Event()
        self.c = paho.Client(client_id=client_id, clean_session=clean, protocol=paho.MQTTv311)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.reconnect_delay_set(0.1, 1)
        self.c.max_queued_messages_set(0)
        self.c.max_inflight_messages_set(1000)
        if tls is not None:
            # tls: {"ca": broker CA, "cert"/"key": client certificate (optional)}
            self.c.tls_set(ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key"))

    def start(self, timeout=5.0):
        self.c.connect("127.0.0.1", self.port, keepalive=10)
        self.c.loop_start()
        if not self.connected.wait(timeout):
            raise AssertionError("MQTT client %s did not connect" % self.client_id)
        return self

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()

    def _on_connect(self, c, userdata, flags, rc):
        if rc == 0:
            for t in self.topics:
                c.subscribe(t, qos=1)
            # a SUBACK round trip before we say "connected"
            self.connected.set()

    def _on_disconnect(self, c, userdata, rc):
        self.connected.clear()

    def _on_message(self, c, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload))
            try:
                obj = json.loads(msg.payload.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("rqi"), str) and "rsc" in obj:
                self.by_rqi.setdefault(obj["rqi"], []).append((msg.topic, obj))
            self.lock.notify_all()

    # -- sending ------------------------------------------------------------------------------
    def publish(self, topic, payload, qos=1):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=qos)
        return info

    # The response deadline: generous, as it costs nothing when the answer comes (an ASan build of
    # the CSE on a loaded 2-core machine once took longer than 5 s to answer one).
    def request(self, prim, fmt="json", kind="req", level=None, wait=True, timeout=15.0):
        """Publish a request primitive on /oneM2M/<kind>/<level>/id-in/<fmt>; returns the response
        primitive (dict) or None when wait is False."""
        topic = "/oneM2M/%s/%s/%s/%s" % (kind, level or self.level, CSE_LEVEL, fmt)
        self.publish(topic, prim)
        if not wait:
            return None
        return self.wait_rqi(prim["rqi"], timeout)

    def wait_rqi(self, rqi, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while rqi not in self.by_rqi:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no response for rqi %s within %.1fs" % (rqi, timeout))
                self.lock.wait(left)
            return self.by_rqi[rqi][0][1]

    def wait_message(self, pred, timeout=5.0):
        """The first (topic, payload) satisfying pred, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)

    def count(self):
        with self.lock:
            return len(self.messages)


def answers_probe(client, timeout, to="cse-in"):
    """True once the CSE answers a RETRIEVE of ``to`` from client within timeout (it may still be
    connecting or subscribing). Probes are repeated every 0.5 s; an answer to any of them counts, so
    a slow answer is not mistaken for none."""
    deadline = time.monotonic() + timeout
    sent = []
    tag = os.urandom(4).hex()
    while time.monotonic() < deadline:
        rqi = "probe-%s-%d" % (tag, len(sent))
        sent.append(rqi)
        client.request({"op": 2, "to": to, "fr": client.level, "rqi": rqi, "rvi": "3"}, wait=False)
        until = min(deadline, time.monotonic() + 0.5)
        with client.lock:
            while not any(r in client.by_rqi for r in sent):
                left = until - time.monotonic()
                if left <= 0:
                    break
                client.lock.wait(left)
            if any(r in client.by_rqi for r in sent):
                return True
    return False


class MqttServerCase(unittest.TestCase):
    """Base class of a module's MQTT tests: a private broker and one warden attached to it for the
    class, the CSE answering over MQTT before the first test; skipped where python3-paho-mqtt or
    mosquitto is missing. server_args: further warden arguments. cls.broker, cls.server."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        if paho is None:
            raise unittest.SkipTest("python3-paho-mqtt is not installed")
        if not broker_available():
            raise unittest.SkipTest("mosquitto is not installed")
        from wardentest import WardenServer  # here: wardentest needs no MQTT
        cls.broker = PrivateBroker().start()
        cls.server = WardenServer(extra_args=["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port]
                                  + list(cls.server_args))
        try:
            cls.server.start()
        except Exception:
            cls.broker.cleanup()
            raise
        if not answers_probe(MqttClient(cls.broker.port, "Cprobe" + os.urandom(4).hex()).start(), 10.0):
            raise AssertionError("the CSE does not answer over MQTT")

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
            if rc != 0:
                raise AssertionError("warden exit status %r:\n%s" % (rc, cls.server.output()))
        finally:
            cls.server.cleanup()
            cls.broker.cleanup()
