import signal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from retry_admin.locks import lock_acquire
from retry_admin.models import Batch, MessageLog, QueueMessage, RetryRun, Status
from retry_admin.queues import get_backend
from retry_admin.schedules import schedule_specs
from retry_admin.services.retry import CYCLE_LOCK

pytestmark = pytest.mark.django_db

SCHEDULES = {
    "sender": "retry_admin.tasks.send_queued_messages",
    "dispatcher": "retry_admin.tasks.dispatch_outbox",
    "heartbeat": "retry_admin.tasks.scheduler_heartbeat",
    "retry-cycle": "retry_admin.tasks.run_retry_cycle",
    "cleanup": "retry_admin.tasks.cleanup_old_messages",
}


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def keep_signal_handlers():
    """run_sender installs SIGTERM/SIGINT handlers; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


# setup_retry_admin


def test_setup_creates_the_groups_and_schedules():
    out, err = run("setup_retry_admin")
    assert set(Group.objects.values_list("name", flat=True)) >= {"Super Admin", "System Admin"}
    rows = {s.name: s for s in Schedule.objects.all()}
    assert {name: rows[name].func for name in SCHEDULES} == SCHEDULES
    assert len(rows) == Schedule.objects.count() == len(schedule_specs())
    for schedule in rows.values():
        assert schedule.schedule_type == Schedule.MINUTES
        assert schedule.repeats == -1
    assert rows["sender"].minutes == 1
    assert rows["cleanup"].minutes == 24 * 60
    assert "groups created: Super Admin, System Admin" in out
    assert "schedules created: sender, dispatcher, heartbeat, retry-cycle, cleanup" in out
    assert "queue ready: db queue" in out
    assert err == ""


def test_setup_twice_creates_no_duplicates():
    run("setup_retry_admin")
    out, _ = run("setup_retry_admin")
    assert Group.objects.filter(name__in=["Super Admin", "System Admin"]).count() == 2
    names = list(Schedule.objects.values_list("name", flat=True))
    assert len(names) == len(set(names)) == len(schedule_specs())
    assert "groups created: none (already there)" in out
    assert "schedules created: none (already there)" in out


def test_the_retry_cycle_follows_the_interval_setting(settings):
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 6
    run("setup_retry_admin")
    assert Schedule.objects.get(name="retry-cycle").minutes == 360
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 0.5
    run("setup_retry_admin")  # a changed setting updates the existing row
    assert Schedule.objects.get(name="retry-cycle").minutes == 30
    assert Schedule.objects.filter(name="retry-cycle").count() == 1


# seed_demo


@pytest.fixture
def demo_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.SIMULATED_LATENCY_MS = 0
    return tmp_path


@pytest.mark.django_db(transaction=True)  # batches dispatch after commit, then get sent
def test_seed_demo_creates_users_and_sends_demo_batches(demo_var_dir):
    out, _ = run("seed_demo")
    User = get_user_model()
    admin, viewer = User.objects.get(username="admin"), User.objects.get(username="viewer")
    assert admin.groups.filter(name="Super Admin").exists()
    assert admin.is_staff and not admin.is_superuser
    assert viewer.is_staff and not viewer.is_superuser and not viewer.groups.exists()
    for user in (admin, viewer):
        password = (demo_var_dir / f"demo_{user.username}_password").read_text().strip()
        assert user.check_password(password)
        assert f"username={user.username} password={password}" in out
    batches = Batch.objects.filter(name__startswith="Demo: ")
    assert sorted(b.total for b in batches) == [6, 80, 120]  # 6: the DLQ's (its own test)
    assert all(b.channel == "simulated" for b in batches)
    assert MessageLog.objects.count() == 206
    assert not MessageLog.objects.filter(status=Status.PENDING).exists()  # all were sent
    assert MessageLog.objects.filter(status=Status.SENT).count() > 100
    assert "sent=" in out


@pytest.mark.django_db(transaction=True)
def test_seed_demo_twice_does_not_duplicate(demo_var_dir):
    first, _ = run("seed_demo")
    second, _ = run("seed_demo")
    assert Batch.objects.filter(name__startswith="Demo: ").count() == 3
    assert MessageLog.objects.count() == 206
    assert get_user_model().objects.filter(username__in=["admin", "viewer"]).count() == 2
    assert "demo batches already exist" in second
    password = (demo_var_dir / "demo_admin_password").read_text().strip()
    assert f"username=admin password={password}" in first
    assert f"username=admin password={password}" in second  # the same password every run


def test_seed_demo_no_send_leaves_the_batches_queued(
    demo_var_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("seed_demo", "--no-send")
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 200
    assert get_backend().depth().visible == 200
    assert "sent=" not in out


# run_sender


def test_run_sender_until_empty_delivers_queued_messages(make_batch, keep_signal_handlers):
    batch = make_batch(7)
    out, _ = run("run_sender", "--until-empty")
    assert MessageLog.objects.filter(batch=batch, status=Status.SENT).count() == 7
    assert QueueMessage.objects.count() == 0
    assert "received=7 sent=7 failed=0" in out


def test_run_sender_until_empty_on_an_empty_queue_just_exits(db, keep_signal_handlers):
    out, _ = run("run_sender", "--until-empty")
    assert "received=0 sent=0" in out


# retry_failed_messages


def test_retry_dry_run_prints_counts_and_changes_nothing(batch_with_failures):
    out, _ = run("retry_failed_messages", "--dry-run")
    assert "dry run: would select=4 requeue=4" in out
    assert MessageLog.objects.filter(status=Status.FAILED, retry_count=0).count() == 4
    assert QueueMessage.objects.count() == 0
    assert RetryRun.objects.count() == 0


def test_retry_requeues_failed_messages(batch_with_failures):
    out, _ = run("retry_failed_messages")
    assert "select=4 requeue=4 still_failed=0" in out
    assert not out.startswith("dry run")
    assert MessageLog.objects.filter(status=Status.PENDING, retry_count=1).count() == 4
    assert get_backend().depth().visible == 4
    run_row = RetryRun.objects.get()
    assert (run_row.trigger, run_row.requeued) == (RetryRun.Trigger.COMMAND, 4)


def test_retry_refuses_while_another_cycle_runs(batch_with_failures):
    lock_acquire(CYCLE_LOCK, ttl_seconds=60)
    with pytest.raises(CommandError, match="Another retry cycle is running"):
        run("retry_failed_messages")
    assert MessageLog.objects.filter(status=Status.FAILED).count() == 4


# replay_dlq


@pytest.fixture
def dead_lettered(make_batch):
    """Two messages in the DLQ, plus a body that is not our envelope."""
    make_batch(2)
    backend = get_backend()
    backend.send(["garbage that is not an envelope"])
    received = backend.receive(10, visibility_timeout=30)
    assert len(received) == 3
    backend.dead_letter([m.handle for m in received], reason="too many receives")
    MessageLog.objects.update(status=Status.DEAD_LETTERED)
    garbage = next(d for d in backend.dlq_peek() if d.body.startswith("garbage"))
    return garbage.id


def test_replay_dlq_reports_each_entry_and_fails_when_one_is_left_behind(dead_lettered):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 entry left in the DLQ"):
        call_command("replay_dlq", stdout=out, stderr=err)
    assert "replayed=2 moved_as_is=0 left=1" in out.getvalue()
    assert out.getvalue().count(": replayed") == 2
    assert f"{dead_lettered}: left: Not a Retry Admin envelope" in err.getvalue()
    assert "--as-is" in err.getvalue()  # says how to move it
    backend = get_backend()
    assert backend.dlq_depth() == 1
    assert backend.depth().visible == 2
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 2


def test_replay_dlq_as_is_moves_a_foreign_body_back_unchanged(dead_lettered):
    out, err = run("replay_dlq", "--as-is")
    assert "replayed=2 moved_as_is=1 left=0" in out
    assert f"{dead_lettered}: moved as-is" in out
    assert err == ""
    backend = get_backend()
    assert backend.dlq_depth() == 0
    bodies = [m.body for m in backend.receive(10, visibility_timeout=30)]
    assert len(bodies) == 3
    assert "garbage that is not an envelope" in bodies  # unchanged
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 2


def test_replay_dlq_of_an_id_not_in_the_dlq_fails(dead_lettered):
    with pytest.raises(CommandError, match="1 entry left"):
        run("replay_dlq", "--id", "no-such-entry")


def test_replay_dlq_of_one_id(dead_lettered):
    backend = get_backend()
    wanted = next(d.id for d in backend.dlq_peek() if d.id != dead_lettered)
    out, err = run("replay_dlq", "--id", wanted)
    assert "replayed=1 moved_as_is=0 left=0" in out
    assert err == ""
    assert backend.dlq_depth() == 2


def test_replayed_messages_are_then_delivered(dead_lettered, keep_signal_handlers):
    with pytest.raises(CommandError):
        run("replay_dlq")  # the foreign body is left behind
    out, _ = run("run_sender", "--until-empty")
    assert "sent=2" in out
    assert MessageLog.objects.filter(status=Status.SENT).count() == 2
