"""reportkit.progress: the one progress channel (observers per call)."""

from __future__ import annotations

from reportkit.progress import CallbackObserver, Observer, Observers, Progress, TqdmObserver, observer_for


class Recorder(Observer):
    def __init__(self):
        self.events = []

    def start(self, state):
        self.events.append(("start", state.done))

    def step(self, state):
        self.events.append(("step", state.done))

    def done(self, state):
        self.events.append(("done", state.done))

    def failed(self, state, error):
        self.events.append(("failed", type(error).__name__))


def test_counts_are_the_callback_dict():
    p = Progress(label="r", total=3, done=1, running=2, cached=1)
    assert p.counts() == {"total": 3, "done": 1, "running": 2, "failed": 0, "cached": 1, "throttled": 0}
    seen = []
    CallbackObserver(seen.append).step(p)
    assert seen == [p.counts()]


def test_observer_for_composes_what_was_asked():
    rec = Recorder()
    assert observer_for(False, rec) is rec
    both = observer_for(True, rec, on_progress=lambda c: None)
    assert isinstance(both, Observers) and isinstance(both.observers[0], TqdmObserver)
    assert len(both.observers) == 3
    plain = observer_for(False)
    assert isinstance(plain, Observers) and plain.observers == []
    both.failed(Progress(label="r"), ValueError("x"))
    assert rec.events == [("failed", "ValueError")]


def test_tqdm_observer_runs_a_bar(capsys):
    obs = TqdmObserver()
    obs.start(Progress(label="balance.summary.1", total=2))
    obs.step(Progress(label="balance.summary.1", total=2, done=1, running=1))
    obs.done(Progress(label="balance.summary.1", total=2, done=2))
    err = capsys.readouterr().err
    assert "balance.summary.1 x2" in err and "2/2" in err
