"""How `up`'s waits follow objects of the Kubernetes API: each stream lists them, then
watches from the list's resourceVersion on a thread of readiness.Streams; only the wait's
thread changes what the streams hold. A failed watch (410 Gone, a dropped connection, a
refusal) ends: the wait judges the failure and lists the stream again.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import watch

from components.kubernetes.client import API_ERRORS, read_json
from components.readiness import CANCELLED, JudgeNotReady, StreamEnded, Streams

REQUEST_TIMEOUT = (5, 15)  # (connect, read) seconds for a list
# The server ends each watch after WATCH_SECONDS, and the stream watches on from where it
# was: a connection silent for longer than the read timeout has died unnoticed.
WATCH_SECONDS = 50
WATCH_OPTIONS = {
    "allow_watch_bookmarks": True,
    "timeout_seconds": WATCH_SECONDS,
    "_request_timeout": (5, WATCH_SECONDS + 15),
}
# Without changes, a wait still looks this often, for its timers (and a Ctrl-C).
TICK_SECONDS = 0.5
# The wait's end waits no longer for a watch: one whose call is unanswered ends when it is.
JOIN_SECONDS = 1

Selected = tuple[Callable[..., Any], dict[str, str]]  # a list call, and its selector
Change = tuple["Stream", str, Any]  # its stream, its type, the object (or the watch's error)


class Stream:
    """The objects a list call selects, by uid, kept current by its watch; `what` names them."""

    def __init__(self, what: str, namespace: str, selected: Selected) -> None:
        self.what, self.namespace, self.selected = what, namespace, selected
        self.objects: dict[str, dict[str, Any]] = {}
        self.taken_in = 0  # changes, from its watches
        self.version = ""  # the list's resourceVersion; "" until listed (again)
        self.watched = False  # since the list
        self.response: Any = None  # the watch's, for `end` to shut
        self.stopped = False
        self.lock = threading.Lock()

    def list(self) -> None:
        call, selector = self.selected
        found = read_json(call, self.namespace, _request_timeout=REQUEST_TIMEOUT, **selector)
        self.objects = {item["metadata"]["uid"]: item for item in found["items"]}
        self.version, self.watched = found["metadata"]["resourceVersion"], False

    def changes(self) -> Iterator[Change]:
        """The watch's changes from the list on, until it fails (the error last) or ends."""
        options = {**WATCH_OPTIONS, **self.selected[1], "resource_version": self.version}
        try:
            while not self.stopped:
                stream = watch.Watch().stream(self._open, self.namespace, **options)
                for change in filter(None, stream):
                    item = change["raw_object"]
                    options["resource_version"] = item["metadata"]["resourceVersion"]
                    if change["type"] != "BOOKMARK":  # a bookmark only moves the version on
                        yield self, change["type"], item
        except Exception as error:  # for the wait to judge, 410 Gone included
            yield self, "ERROR", error

    def end(self) -> None:
        with self.lock:
            self.stopped, response = True, self.response
        _shut(response)

    def _open(self, *args: Any, **kwargs: Any) -> Any:
        """The watch's call, its response kept for `end` to shut from another thread."""
        response = self.selected[0](*args, **kwargs)
        with self.lock:
            self.response, stopped = response, self.stopped
        if stopped:
            _shut(response)
        return response


class Watches:
    """The streams a wait follows, by what they are."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.streams: dict[str, Stream] = {}
        self.watching = Streams(JOIN_SECONDS)
        self.arrived: list[Change | StreamEnded] = []
        self.doing = ""  # the last call, for a message about its failure
        self.due = -math.inf  # a look may set when to look again, if before the next tick

    def until(
        self,
        look: Callable[[float], bool],
        failed: Callable[[Exception, float], None],
        timeout_seconds: float,
        clock: Callable[[], float],
        interrupted: str,
    ) -> bool:
        """Looks (`look(now)`, True once done) at each change, every TICK_SECONDS and when
        `due`, until done (True) or late (False); `failed(error, seconds failing)` judges a
        failed call. Raises JudgeNotReady(`interrupted`) if the update is; every watch ends
        before it returns."""
        with self.watching:
            began = answered = clock()
            while True:
                now = clock()
                try:
                    if look(now):
                        return True
                    answered = now
                except API_ERRORS as error:
                    failed(error, now - answered)
                if now >= began + timeout_seconds:
                    return False
                if CANCELLED.is_set():
                    raise JudgeNotReady(interrupted)
                for stream in self.streams.values():
                    if stream.version and not stream.watched:
                        stream.watched = True
                        self.watching.follow("watch", stream.changes(), stream.end)
                pause = min(TICK_SECONDS, self.due - now) if self.due > now else TICK_SECONDS
                if arrived := self.watching.take(pause):  # for the next look
                    self.arrived.append(arrived[1])

    def update(self, wanted: Callable[[], dict[str, Selected]]) -> None:
        """Takes in the changes, ends the streams no longer `wanted`, lists those wanted; raises
        the client's errors: a list's, or a failed watch's (listed again next time)."""
        while arrived := self.watching.take(0):
            self.arrived.append(arrived[1])
        failed: list[Exception] = []
        for change in self.arrived:
            # A watch's end follows its last change; an ended stream's changes are late.
            if isinstance(change, StreamEnded) or change[0].stopped:
                continue
            stream, kind, item = change
            if kind == "ERROR":
                stream.version, self.doing = "", f"watching {stream.what}"
                stream.taken_in += 1  # it may have missed changes: listed again, as one
                failed.append(item)
            elif kind == "DELETED":
                stream.objects.pop(item["metadata"]["uid"], None)
                stream.taken_in += 1
            else:
                stream.objects[item["metadata"]["uid"]] = item
                stream.taken_in += 1
        self.arrived.clear()
        if failed:
            raise failed[-1]
        while unlisted := self._unlisted(wanted()):
            for stream in unlisted:
                self.doing = f"listing {stream.what}"
                stream.list()

    def objects(self, what: str) -> list[dict[str, Any]]:
        stream = self.streams.get(what)
        return list(stream.objects.values()) if stream else []

    def _unlisted(self, wanted: dict[str, Selected]) -> list[Stream]:
        """Ends the streams not wanted; the streams wanted that are not listed."""
        for what in [w for w, stream in self.streams.items() if wanted.get(w) != stream.selected]:
            self.streams.pop(what).end()
        for what, selected in wanted.items():
            self.streams.setdefault(what, Stream(what, self.namespace, selected))
        return [stream for stream in self.streams.values() if not stream.version]


def _shut(response: Any) -> None:
    """Ends a read of the response that blocks another thread, if it has one to end."""
    if response is not None:
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            response.shutdown()
