"""Per-gateway rate limits for outbox deliveries: at most N messages a second, shared by every worker.

With Redis the slots come from one key per gateway (a GCRA: the key holds
the time the next slot is free, advanced by ``1/rate`` per message, on the
Redis server's clock), so any number of worker processes on any number of
machines together stay under the gateway's rate. A worker that gets a slot
in the future sleeps until then and then sends: deliveries wait, they are
never dropped. Without Redis (jobs inline) one process paces itself.
"""
from __future__ import annotations

import threading
import time

# KEYS[1]: the gateway's key; ARGV[1]: seconds per message. Returns the seconds to wait for the slot taken.
_SLOT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local interval = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if free < t then free = t end
local nxt = free + interval
redis.call('SET', KEYS[1], string.format('%.6f', nxt), 'PX', math.ceil((nxt - t) * 1000) + 1000)
return string.format('%.6f', free - t)
"""
PREFIX = "loyalty:outbox:rate:"


class Pacer:
    """``wait(name, rate)`` blocks until ``name`` may send one more message at ``rate`` per second."""

    def __init__(self, redis=None):
        self.redis = redis
        self._script = redis.register_script(_SLOT) if redis is not None else None
        self._lock = threading.Lock()
        self._free: dict[str, float] = {}

    def slot(self, name: str, rate: float) -> float:
        """Take the next slot; the seconds until it comes (0: now)."""
        if not rate or rate <= 0:
            return 0.0
        interval = 1.0 / rate
        if self._script is not None:
            return max(0.0, float(self._script(keys=[PREFIX + name], args=[f"{interval:.6f}"])))
        with self._lock:
            now = time.monotonic()
            free = max(self._free.get(name, 0.0), now)
            self._free[name] = free + interval
            return free - now

    def wait(self, name: str, rate: float) -> float:
        delay = self.slot(name, rate)
        if delay > 0:
            time.sleep(delay)
        return delay


def limit_for(channel: str, config: dict) -> tuple[str, float]:
    """(the gateway's key, its messages per second) for a channel; rate 0: no limit."""
    if channel == "sms":
        gateway = ((config.get("SMS") or {}).get("gateway") or "log").lower()
        return f"sms:{gateway}", float(config.get("SMS_RATE") or 0)
    if channel == "email":
        host = (config.get("SMTP") or {}).get("host") or "none"
        return f"email:{host}", float(config.get("SMTP_RATE") or 0)
    return f"{channel}:any", float(config.get("WEBHOOK_RATE") or 0)
