"""Who made a request and in which task: what groups selected by Locust tags or User classes need.

Locust's ``request`` event carries neither the User nor the task. What Locust 2.4x gives instead
(checked in its source):

- **The User.** ``User.start`` runs each User in its own greenlet, spawned as
  ``group.spawn(run_user, self)``. Every request a User makes fires ``request`` on that greenlet
  (HttpSession, FastHttpSession, and a custom client calling ``events.request.fire`` from the task
  or ``on_start`` alike), so ``gevent.getcurrent()`` names the User for the price of an attribute
  read. Locust reads the User back as ``greenlet.args[0]``, but gevent's ``kill`` empties ``args``
  at once while the greenlet may still finish the request it was in (the last request of a stopped
  User), so each User class's ``start`` is wrapped once to put the User on its greenlet itself. A
  request fired from another greenlet (one the locustfile spawned itself) has no known User and
  joins no tags/user_classes group. (The request's ``context`` argument is not used: HttpSession
  merges ``user.context()`` into it, but a locustfile may override ``context()`` and custom clients
  pass what they like.)
- **The task.** ``@tag`` sets ``locust_tag_set`` on the task function; tagging a TaskSet tags every
  task function inside it, nested TaskSets included. So each *tagged* task function of every User
  class is wrapped once, at start-up (``functools.wraps`` keeps ``locust_tag_set`` and the weight,
  so ``--tags``/``--exclude-tags`` filter as before): while it runs, its User carries its tag set.
  Rule: a request carries the tags of the innermost *tagged* task running; a task without tags
  called from a tagged one leaves the outer tags in place; a request outside any tagged task
  carries none. Tasks inside a MarkovTaskSet are left unwrapped (its transitions name functions).

In a distributed run, the master's groups are what count: it sends them to every worker at each
test start, before the first spawn message (Locust delivers a worker's messages in order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gevent import getcurrent
from locust import User
from locust.user.task import TaskSet, is_markov_taskset

from runner.errors import ConfigError
from runner.model import GroupKey
from runner.stats.groups import NO_TAGS, GroupRecorder, Origin, recorded_key

TAGS_ATTR = "_loadlens_task_tags"  # set on the User instance while a tagged task runs
USER_ATTR = "_loadlens_user"  # set on a User's greenlet when it starts
MESSAGE = "loadlens_groups"  # master -> worker: the groups to record (at each test start and connect)
_WRAPPED = "_loadlens_wrapped"


def current_origin() -> Origin | None:
    """The User class and the running task's tags of the request being fired, or None when the
    current greenlet is not a User's (see the module docstring)."""
    user = getattr(getcurrent(), USER_ATTR, None)
    if user is None:
        return None
    return type(user).__name__, getattr(user, TAGS_ATTR, NO_TAGS)


def group_keys(groups: Mapping[str, Any]) -> tuple[GroupKey, ...]:
    """The groups of a thresholds table that are recorded live (those with tags or user_classes)."""
    keys = []
    for name, g in sorted(groups.items()):
        key = recorded_key(name, match=g.match, tags=g.tags or (), user_classes=g.user_classes or ())
        if key is not None:
            keys.append(key)
    return tuple(keys)


def recorder(keys: Sequence[GroupKey]) -> GroupRecorder | None:
    """A recorder of ``keys`` fed from the current greenlet's User, or None when there are none."""
    return GroupRecorder(keys, origin=current_origin) if keys else None


def check_user_classes(keys: Iterable[GroupKey], environment: Any) -> None:
    """Refuse (one line, exit 2) a group naming a User class the locustfile does not define."""
    available = getattr(environment, "available_user_classes", None) or {}
    known = set(available) | {cls.__name__ for cls in environment.user_classes or ()}
    for key in keys:
        unknown = sorted(set(key.user_classes) - known)
        if unknown and known:
            raise ConfigError(
                f"[thresholds.groups.{key.name}] user_classes: {', '.join(unknown)} "
                f"{'is' if len(unknown) == 1 else 'are'} not a User class of the locustfile "
                f"(it defines {', '.join(sorted(known))})"
            )


def prepare_user_classes(user_classes: Iterable[type]) -> int:
    """Wrap each User class's ``start`` (its greenlet then names it) and every tagged task function
    of the classes and their TaskSets (its User then carries its tags while it runs), once;
    returns how many task functions were wrapped now."""
    done: dict[Any, Any] = {}
    seen: set[type] = set()
    for cls in user_classes:
        _wrap_start(cls)
        _wrap_holder(cls, done, seen)
    return sum(1 for new in done.values() if new is not None)


def _wrap_start(cls: Any) -> None:
    if vars(cls).get(_WRAPPED):
        return  # this very class was prepared already (a subclass of it gets its own wrapper)
    setattr(cls, _WRAPPED, True)
    start = cls.start

    @functools.wraps(start)
    def start_named(self: Any, group: Any) -> Any:
        greenlet = start(self, group)
        setattr(greenlet, USER_ATTR, self)
        return greenlet

    cls.start = start_named


def _wrap_holder(holder: type, done: dict[Any, Any], seen: set[type]) -> None:
    if holder in seen or is_markov_taskset(holder):
        return
    seen.add(holder)
    tasks = getattr(holder, "tasks", None)
    if not tasks:
        return
    new_tasks = []
    for task in tasks:
        if isinstance(task, type):
            if issubclass(task, TaskSet):
                _wrap_holder(task, done, seen)
            new_tasks.append(task)
            continue
        if task not in done:
            done[task] = _wrapped(task)
        new_tasks.append(done[task] or task)
    holder.tasks = new_tasks  # type: ignore[attr-defined]


def _wrapped(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """``fn`` wrapped to carry its tags on its User while it runs; None when it needs no wrapper."""
    tags = getattr(fn, "locust_tag_set", None)
    if not tags or getattr(fn, _WRAPPED, False) or not callable(fn):
        return None
    frozen = frozenset(tags)

    @functools.wraps(fn)
    def run_tagged(parent: Any, *args: Any, **kwargs: Any) -> Any:
        user = parent if isinstance(parent, User) else parent.user
        outer = getattr(user, TAGS_ATTR, NO_TAGS)
        setattr(user, TAGS_ATTR, frozen)
        try:
            return fn(parent, *args, **kwargs)
        finally:
            setattr(user, TAGS_ATTR, outer)

    setattr(run_tagged, _WRAPPED, True)
    return run_tagged


class GroupLink:
    """The groups of a distributed run: sent by the master, installed in the worker's store."""

    def __init__(self, keys: Callable[[], Sequence[GroupKey]]) -> None:
        self._keys = keys  # the master's current plan's groups (the web UI may run several tests)

    def attach_master(self, events: Any, runner: Any) -> None:
        """Send the groups to every worker at each test start, and to a worker joining later when
        it connects (before Locust sends it users to spawn)."""

        def send(client_id: str | None = None) -> None:
            wire = [[k.name, k.match, list(k.tags), list(k.user_classes)] for k in self._keys()]
            runner.send_message(MESSAGE, wire, client_id=client_id)

        events.test_start.add_listener(lambda **_kw: send())
        events.worker_connect.add_listener(lambda client_id, **_kw: send(client_id))

    def attach_worker(self, runner: Any, install: Callable[[GroupRecorder | None], None]) -> None:
        """Record the master's groups (a worker's own loadlens.toml, if any, does not decide them);
        the same groups again keep the recorder and what it counted."""
        current: list[tuple[GroupKey, ...] | None] = [None]

        def receive(msg: Any, **_kw: Any) -> None:
            keys = tuple(GroupKey(n, m, tuple(t), tuple(u)) for n, m, t, u in msg.data or ())
            if keys != current[0]:
                current[0] = keys
                install(recorder(keys))

        runner.register_message(MESSAGE, receive)


def attach_groups(
    environment: Any,
    runner: Any,
    role: str,
    keys: Callable[[], Sequence[GroupKey]],
    install: Callable[[GroupRecorder | None], None],
) -> None:
    """At Locust's ``init``: wrap the tagged tasks (where Users run), check the configured User
    class names (where the verdict is made), and link the master's groups to its workers."""
    available = getattr(environment, "available_user_classes", None) or {}
    if role != "master":
        prepare_user_classes({*(environment.user_classes or ()), *available.values()})
    if role == "worker":
        GroupLink(keys).attach_worker(runner, install)
        return
    check_user_classes(keys(), environment)
    if role == "master" and runner is not None:
        GroupLink(keys).attach_master(environment.events, runner)
