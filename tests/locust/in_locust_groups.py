"""Who made a request and in which task, as runner.locust.groups reads it from real Locust Users:
the User's greenlet names it (even for the last request of a User being stopped), a tagged task's
tags hold while it runs (the innermost tagged task wins; Locust's TaskSet tags reach its tasks),
and Locust's own --tags/--exclude-tags filtering still sees the tags.

Not collected by the suite (the name does not start with test_): gevent must patch a process before
ssl is imported, which a pytest process running the whole suite has long done, so
tests/locust/test_groups_origin.py runs this file in its own pytest process (``--noconftest``),
where ``import locust`` comes first, exactly as in a real run.
"""

import locust  # noqa: F401, I001  (first: gevent's monkey-patching, as in a real run)

import gevent
import gevent.event
from gevent.pool import Group
from locust import TaskSet, User, constant, tag, task
from locust.env import Environment
from locust.user.task import filter_tasks_by_tags

from runner.locust.groups import current_origin, prepare_user_classes

seen: list[object] = []  # what the tasks saw, reset by each test


@tag("outer")
class Nested(TaskSet):
    @task
    def inner(self):
        seen.append(current_origin())
        self.interrupt(reschedule=False)


class Shopper(User):
    wait_time = constant(0)
    tasks = [Nested]

    @tag("read")
    @task
    def look(self):
        seen.append(current_origin())
        self.plain()  # an untagged helper called from a tagged task keeps the outer tags

    def plain(self):
        seen.append(current_origin())

    @task
    def untagged(self):
        seen.append(current_origin())


def run_one(user_class: type[User], task_fn: object) -> None:
    """Start a real User (its own greenlet, as Locust spawns it) running one task, then stop it."""
    user = user_class(Environment(user_classes=[user_class]))
    user.tasks = [task_fn]
    greenlet = user.start(Group())
    gevent.sleep(0.01)
    user.stop(force=True)
    greenlet.join(timeout=5)


class TestOrigin:
    def setup_method(self) -> None:
        seen.clear()
        prepare_user_classes([Shopper])

    def test_a_tagged_task_carries_its_tags_and_its_class(self) -> None:
        run_one(Shopper, Shopper.tasks[[getattr(t, "__name__", "") for t in Shopper.tasks].index("look")])
        assert seen[0] == ("Shopper", frozenset({"read"})) and seen[1] == seen[0]

    def test_a_tasksets_tags_reach_its_tasks(self) -> None:
        run_one(Shopper, Nested)
        assert seen[0] == ("Shopper", frozenset({"outer"}))

    def test_an_untagged_task_carries_no_tags(self) -> None:
        run_one(Shopper, Shopper.untagged)
        assert set(seen) == {("Shopper", frozenset())}

    def test_no_user_outside_a_users_greenlet(self) -> None:
        assert current_origin() is None
        assert gevent.spawn(current_origin).get(timeout=5) is None

    def test_the_last_request_of_a_user_being_killed_is_still_its_own(self) -> None:
        """gevent's kill() empties greenlet.args at once, while the User may still finish the request
        whose answer had already arrived (its greenlet was scheduled): that request keeps its User."""
        answered = gevent.event.Event()

        class Waiter(User):
            wait_time = constant(0)

            @task
            def call(self):
                answered.wait()  # the response is on its way
                seen.append((current_origin(), tuple(gevent.getcurrent().args)))
                gevent.sleep(5)

        prepare_user_classes([Waiter])
        user = Waiter(Environment(user_classes=[Waiter]))
        greenlet = user.start(Group())
        gevent.sleep(0.01)
        answered.set()  # the answer arrives (the User's greenlet is scheduled to resume) ...
        greenlet.kill(block=False)  # ... and the run stops the User before it resumes
        greenlet.join(timeout=5)
        assert seen == [(("Waiter", frozenset()), ())]  # args emptied, the User still known


class TestLocustsOwnTagFiltering:
    def test_tags_filter_the_wrapped_tasks_as_before(self) -> None:
        class Reader(User):
            @tag("read")
            @task(3)
            def look(self): ...

            @tag("write")
            @task
            def save(self): ...

        prepare_user_classes([Reader])
        prepare_user_classes([Reader])  # once only
        assert all(t.__wrapped__.__name__ in ("look", "save") for t in Reader.tasks)
        assert not any(hasattr(t.__wrapped__, "__wrapped__") for t in Reader.tasks)
        assert len(Reader.tasks) == 4  # the weights are kept
        filter_tasks_by_tags(Reader, tags={"read"})
        assert [t.__name__ for t in Reader.tasks] == ["look"] * 3
