"""The stage runner of the experiment scripts (benchmarks/_stages.py): a
finished stage is skipped, an unfinished one runs again, a work dir made with
other options is refused, a training run resumes."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))

import _stages  # noqa: E402
from _stages import Stage, StageRunner, run_stages  # noqa: E402


class Calls:
    """A stage function that counts its calls and returns its count."""

    def __init__(self, fail: bool = False) -> None:
        self.n = 0
        self.fail = fail

    def __call__(self, *args):
        self.n += 1
        if self.fail:
            raise RuntimeError('interrupted')
        return dict(call=self.n, size=(3, 4))


def test_a_finished_stage_is_skipped_and_its_result_kept(tmp_path):
    fn = Calls()
    first = StageRunner(str(tmp_path), dict(seed=0), 'x').stage('prep', fn)
    again = StageRunner(str(tmp_path), dict(seed=0), 'x').stage('prep', fn)
    assert fn.n == 1
    assert first == dict(call=1, size=(3, 4))  # the value itself
    assert again == dict(call=1, size=[3, 4])  # as kept in the marker
    assert json.loads((tmp_path / 'prep' / 'done.json').read_text()) == again


def test_an_unfinished_stage_runs_again(tmp_path):
    st = StageRunner(str(tmp_path), {}, 'x')
    with pytest.raises(RuntimeError, match='interrupted'):
        st.stage('search', Calls(fail=True))
    assert st.done('search') is None
    fn = Calls()
    assert st.stage('search', fn) == dict(call=1, size=(3, 4))
    assert fn.n == 1


def test_reuse_false_runs_a_finished_stage_again(tmp_path):
    st = StageRunner(str(tmp_path), {}, 'x')
    fn = Calls()
    st.stage('latency', fn)
    assert st.stage('latency', fn, reuse=lambda kept: kept['call'] == 1)[
        'call'] == 1
    assert st.stage('latency', fn, reuse=lambda kept: False)['call'] == 2
    assert st.done('latency')['call'] == 2


def test_a_work_dir_made_with_other_options_is_refused(tmp_path):
    StageRunner(str(tmp_path), dict(a=1, b=[2]), 'x')
    StageRunner(str(tmp_path), dict(a=1, b=[2]), 'x')  # the same: fine
    with pytest.raises(SystemExit,
                       match='x: .* other b; use another --work-dir'):
        StageRunner(str(tmp_path), dict(a=1, b=[3]), 'x')
    fn = Calls()
    with pytest.raises(SystemExit, match='other a'):
        run_stages(str(tmp_path), [Stage('s', fn)], dict(a=2, b=[2]), 'x')
    assert fn.n == 0
    assert json.loads((tmp_path / 'options.json').read_text()) == dict(
        a=1, b=[2])


def test_a_sub_runner_keeps_its_own_options(tmp_path):
    st = StageRunner(str(tmp_path), dict(seed=0), 'x')
    arm = st.sub('arms/px', dict(epochs=4), 'use another arm name')
    assert arm.stage('search', Calls()) == dict(call=1, size=(3, 4))
    assert (tmp_path / 'arms' / 'px' / 'search' / 'done.json').exists()
    assert st.done('search') is None
    with pytest.raises(SystemExit, match='other epochs; use another arm'):
        st.sub('arms/px', dict(epochs=5), 'use another arm name')


def test_run_stages_gives_each_stage_the_results_before_it(tmp_path):
    seen = []

    def prepare(runner, done):
        seen.append(dict(done))
        return dict(target=2.5)

    def search(runner, done):
        seen.append(dict(done))
        return dict(twice=2 * done['prepare']['target'])

    stages = [Stage('prepare', prepare, marker='prepare.json'),
              Stage('search', search)]
    done = run_stages(str(tmp_path), stages, dict(seed=0), 'x')
    assert done == dict(prepare=dict(target=2.5), search=dict(twice=5.0))
    assert seen == [{}, dict(prepare=dict(target=2.5))]
    assert (tmp_path / 'prepare.json').exists()
    assert run_stages(str(tmp_path), stages, dict(seed=0), 'x') == done
    assert len(seen) == 2  # nothing ran again


def test_run_logs_a_command_and_raises_with_its_output(tmp_path):
    log = tmp_path / 'run.log'
    st = StageRunner(str(tmp_path), {}, 'x', log_path=str(log))
    st.run([sys.executable, '-c', 'print("first")'])
    with pytest.raises(RuntimeError, match=r'failed \(3\)(.|\n)*second'):
        st.run([sys.executable, '-c',
                'import sys; print("second"); sys.exit(3)'])
    text = log.read_text()
    assert 'first' in text and '\n$ ' in text


class FakeTrain(StageRunner):
    """Records train.py commands; writes the checkpoints ``epochs`` asks
    for, or none (an interrupted run)."""

    def __init__(self, work_dir, epochs=None):
        super().__init__(work_dir, {}, 'x')
        self.cmds, self.epochs = [], epochs

    def run(self, cmd, log_path=None):
        self.cmds.append(cmd)
        if self.epochs is not None:
            work = Path(cmd[cmd.index('--work-dir') + 1])
            (work / f'epoch_{self.epochs}.pth').write_text('')


def test_train_resumes_an_interrupted_run_and_skips_a_finished_one(
        tmp_path):
    work = tmp_path / 'search'
    work.mkdir()
    st = FakeTrain(str(tmp_path))  # interrupted before writing epoch 3
    with pytest.raises(RuntimeError, match='epoch_3.pth was not written'):
        _stages.train(st, 'cfg.py', str(work), ['a=1'], 3)
    assert '--resume' not in st.cmds[0]
    assert st.cmds[0][-2:] == ['--cfg-options', 'a=1']
    (work / 'epoch_1.pth').write_text('')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    st = FakeTrain(str(tmp_path), epochs=3)
    assert _stages.train(st, 'cfg.py', str(work), ['a=1'], 3) == str(
        work / 'epoch_3.pth')
    assert '--resume' in st.cmds[0]
    st = FakeTrain(str(tmp_path))
    _stages.train(st, 'cfg.py', str(work), ['a=1'], 3)
    assert st.cmds == []  # finished: not run again
