"""The stage runner of the experiment scripts in benchmarks/.

An experiment is a chain of stages. A stage is a name and a function whose
result (a JSON-able dict) is kept in the stage's done-marker,
``WORK_DIR/<name>/done.json``. A stage whose marker exists is skipped and its
kept result returned, so re-running the same command continues an interrupted
experiment; a training run inside a stage resumes from its last checkpoint
(:func:`train`). The options a work dir's stages ran with are kept in
``WORK_DIR/options.json`` on first use; a work dir made with other ones is
refused, since its markers hold another experiment's results.

A fixed chain::

    def prepare(runner, done):
        return dict(target=...)

    def search(runner, done):
        return dict(checkpoint=train(runner, CONFIG, runner.path('search'),
                                     [f'x={done["prepare"]["target"]}'], 10))

    results = run_stages(work_dir, [Stage('prepare', prepare),
                                    Stage('search', search)],
                         options=dict(seed=0), script='my_experiment')

A chain whose stages are only known as it runs (a retrain per sampled
network) calls ``runner.stage(name, fn)`` itself, on a :class:`StageRunner`;
``runner.sub(subdir, options, advice)`` gives a part of the work dir options
of its own (an extra search arm).
"""
import json
import logging
import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

Result = Dict[str, Any]


def thread_env(threads: int, device: str = 'cpu') -> Dict[str, str]:
    """The environment of the tools a stage runs: ``threads`` intra-op
    threads, and no visible GPU when ``device`` is ``'cpu'``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def start_run(script: str, work_dir: str, device: str = 'cpu') -> str:
    """The start every experiment script shares: refuse ``--device cuda``
    without a GPU, make ``work_dir`` and log to stdout and
    ``WORK_DIR/run.log`` (returned)."""
    if device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            sys.exit(f'{script}: --device cuda but torch sees no GPU')
    os.makedirs(work_dir, exist_ok=True)
    log_path = osp.join(work_dir, 'run.log')
    logging.basicConfig(
        level=logging.INFO, format='%(asctime)s %(message)s',
        handlers=[logging.StreamHandler(sys.stdout),
                  logging.FileHandler(log_path)])
    return log_path


def results_dir(parser, args, default: str) -> str:
    """Where an experiment's results go: ``args.results_dir``, else
    ``docs/results/<default>`` (``--smoke``: ``WORK_DIR/results``); a smoke
    run writing under docs/results is refused through ``parser``."""
    docs_results = osp.join(REPO, 'docs', 'results')
    out = osp.abspath(args.results_dir or (
        osp.join(args.work_dir, 'results') if args.smoke else
        osp.join(docs_results, default)))
    if args.smoke and osp.commonpath([out, docs_results]) == docs_results:
        parser.error('--smoke must not write under docs/results; give '
                     'another --results-dir')
    return out


def write_json(path: str, value: Any) -> None:
    """``value`` as JSON at ``path``, never half-written."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f, indent=2)
    os.replace(path + '.tmp', path)


def check_options(work_dir: str, options: Dict[str, Any], script: str,
                  advice: str = 'use another --work-dir') -> None:
    """Refuse (exit) when ``work_dir`` was made with other ``options``
    (kept in ``work_dir/options.json`` on first use): its finished stages
    would otherwise be reused for a different run."""
    path = osp.join(work_dir, 'options.json')
    if not osp.exists(path):
        write_json(path, options)
        return
    with open(path) as f:
        before = json.load(f)
    changed = sorted(k for k in options if before.get(k) != options[k])
    if changed:
        sys.exit(f'{script}: {work_dir} was made with other '
                 f'{", ".join(changed)}; {advice}')


class StageRunner:
    """Runs the stages of one work dir (module doc).

    Args:
        work_dir: where the markers, ``options.json`` and the stages' outputs
            live.
        options: the options that change results; a work dir made with other
            ones is refused.
        script: the experiment's name, in messages and as the logger's name.
        log_path: the file that the output of :meth:`run`'s commands is
            appended to (None: the terminal).
        env: the environment of those commands (None: this process's).
        advice: what the refusal tells the user to do instead.
    """

    def __init__(self, work_dir: str, options: Dict[str, Any], script: str,
                 log_path: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None,
                 advice: str = 'use another --work-dir') -> None:
        self.work = work_dir
        self.options = options
        self.script = script
        self.log_path = log_path
        self.env = env
        self.log = logging.getLogger(script)
        self.prefix = ''  # where work_dir lies in its parent's (sub)
        check_options(work_dir, options, script, advice)

    def path(self, *parts: str) -> str:
        return osp.join(self.work, *parts)

    def marker(self, name: str, marker: Optional[str] = None) -> str:
        """The path of stage ``name``'s done-marker: ``marker`` under the
        work dir when given, else ``<name>/done.json``."""
        return self.path(marker or osp.join(name, 'done.json'))

    def done(self, name: str, marker: Optional[str] = None
             ) -> Optional[Result]:
        """The kept result of stage ``name``; None when it has not
        finished."""
        path = self.marker(name, marker)
        if not osp.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    def stage(self, name: str, fn: Callable[[], Result],
              marker: Optional[str] = None,
              reuse: Optional[Callable[[Result], bool]] = None) -> Result:
        """``fn()``, unless stage ``name`` finished before: then its kept
        result. ``reuse(kept)`` False runs the stage again (e.g. when the
        kept result misses a network added since)."""
        found = self.done(name, marker)
        if found is not None and (reuse is None or reuse(found)):
            self.log.info('%s: done before, skipped',
                          osp.join(self.prefix, name))
            return found
        value = fn()
        write_json(self.marker(name, marker), value)
        return value

    def sub(self, subdir: str, options: Dict[str, Any],
            advice: str) -> 'StageRunner':
        """A runner for the stages under ``subdir``, with options of their
        own (kept in ``subdir/options.json``) on top of this runner's."""
        runner = StageRunner(self.path(subdir), options, self.script,
                             self.log_path, self.env, advice)
        runner.prefix = osp.join(self.prefix, subdir)
        return runner

    def run(self, cmd: List[str], log_path: Optional[str] = None) -> None:
        """Run ``cmd`` in the repo, its output appended to ``log_path``
        (default: the runner's); raise RuntimeError when it fails."""
        log_path = log_path or self.log_path
        line = ' '.join(cmd)
        self.log.info('$ %s', line)
        if log_path is None:
            code = subprocess.run(cmd, cwd=REPO, env=self.env).returncode
            tail = ''
        else:
            os.makedirs(osp.dirname(log_path), exist_ok=True)
            with open(log_path, 'a') as f:
                f.write(f'\n$ {line}\n')
                f.flush()
                code = subprocess.run(cmd, cwd=REPO, env=self.env, stdout=f,
                                      stderr=subprocess.STDOUT).returncode
            with open(log_path) as f:
                tail = f'\n--- end of {log_path} ---\n{f.read()[-3000:]}'
        if code != 0:
            raise RuntimeError(f'command failed ({code}): {line}{tail}')


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a ``tools/train.py --resume`` in ``work_dir`` would
    continue from; None when there is none."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    return ckpt if osp.exists(ckpt) else None


def train(runner: StageRunner, config: str, work_dir: str,
          options: List[str], epochs: int) -> str:
    """``tools/train.py config`` for ``epochs`` epochs in ``work_dir``,
    resumed when interrupted and skipped when finished; the final
    checkpoint."""
    final = osp.join(work_dir, f'epoch_{epochs}.pth')
    if not osp.exists(final):
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir',
               work_dir]
        if last_checkpoint(work_dir):
            cmd.append('--resume')
        runner.run(cmd + ['--cfg-options', *options])
    if not osp.exists(final):
        raise RuntimeError(f'{final} was not written')
    return final


@dataclass
class Stage:
    """A stage of :func:`run_stages`: ``fn(runner, done)`` gets the runner
    and the results of the stages before it, by name, and returns its own.
    ``marker``: the marker's path under the work dir, when not
    ``<name>/done.json``."""
    name: str
    fn: Callable[[StageRunner, Dict[str, Result]], Result]
    marker: Optional[str] = None


def run_stages(work_dir: str, stages: List[Stage], options: Dict[str, Any],
               script: str, **runner_args: Any) -> Dict[str, Result]:
    """Run ``stages`` in order in ``work_dir``, skipping the finished ones;
    their results by name. ``runner_args``: :class:`StageRunner`'s
    ``log_path``, ``env``."""
    runner = StageRunner(work_dir, options, script, **runner_args)
    done: Dict[str, Result] = {}
    for stage in stages:
        done[stage.name] = runner.stage(
            stage.name, lambda: stage.fn(runner, done), stage.marker)
    return done
