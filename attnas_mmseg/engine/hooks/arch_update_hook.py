"""The alternating architecture update of AttNAS (§3.3.2, Eq. 3-4, §4.2).

The runner's normal ``train_step`` updates the weights w (SGD, CE loss) on a
batch of the *weight* half of the training data. After it, this hook takes a
batch of the *arch* half and updates (alpha, beta) (Adam) on

    L = L_ce(alpha, beta, w) + lambda * L_flops(alpha, beta)       (Eq. 3)

first-order, as DARTS' first-order approximation. No arch step is made during
the first ``warmup_epochs`` (or ``warmup_iters``) (§4.2: 30 epochs).

Beyond the paper, and the defaults because they make a target a target
(``docs/design.md``): ``L_flops`` is ``|Eq. 4|`` (``flops_loss_mode='abs'``;
``'eq4_signed'`` is Eq. (4) as printed) and FLOPs_pred prices the network
that would be derived now (``flops_pricing='derived'``: argmax ops and the
top-k attentions, straight-through gradient; ``'expected'`` is the paper's
softmax average). A latency cost (a :class:`CostTable` in ms from a latency
lookup table, ``tools/build_latency_lut.py``) can replace or join the FLOPs
cost in Eq. (3), with its own target and weight.

Gradients never leak between the two sets: the arch gradient is taken with
``torch.autograd.grad`` with respect to alpha/beta only (weights' ``.grad``
untouched), the weight step clears the alpha/beta gradients its backward made
(:class:`SearchOptimWrapperDict`), and under DDP the arch gradients are
averaged across ranks explicitly, so alpha/beta stay identical everywhere.
"""
import json
import math
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, Runner
from mmseg.registry import HOOKS

from ...search.arch_params import named_arch_parameters
from ...search.attention_space import attention_weights
from ...search.confidence import (INIT_STD, confidence_record,
                                   noise_variance_step, weight_decay_pull)
from ...search.derive import derive_attention, derive_backbone
from ...search.cost_table import PRICINGS, CostTable
from ...search.flops import build_flops_table
from ...search.flops_loss import FLOPS_LOSS_MODES, flops_loss
from ...search.search_modes import arch_pass
from ..optimizers.search_optim_wrapper import (ARCH, WEIGHT,
                                               SearchOptimWrapperDict)


def check_param_scheduler(scheduler_cfg) -> None:
    """A search's ``param_scheduler`` must be keyed by optimiser name.

    mmengine would apply an unkeyed scheduler to both optimisers (decaying the
    arch lr too) and fails with a bare ``KeyError`` when a key is missing, so
    ``tools/train.py`` calls this before the runner and the hook again at
    ``before_train``.
    """
    if not scheduler_cfg:
        return
    keyed = isinstance(scheduler_cfg, dict) and 'type' not in scheduler_cfg
    if not keyed or set(scheduler_cfg) != {WEIGHT, ARCH}:
        raise ValueError(
            f'param_scheduler: key it by optimiser name, one key per '
            f'optimiser ({WEIGHT!r}, {ARCH!r}), e.g. '
            'dict(weight=[dict(type="PolyLR", ...)], arch=[]); an unkeyed '
            'scheduler would also decay the arch optimiser; got '
            + (f'keys {sorted(scheduler_cfg)}' if keyed else
               repr(scheduler_cfg)))


def _check_number(name: str, value, bound: str) -> None:
    """A finite real number, > 0 (``bound='gt0'``) or >= 0 (``'ge0'``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) \
        and math.isfinite(value) and (value > 0 if bound == 'gt0' else
                                      value >= 0)
    if not ok:
        raise ValueError(f'{name} must be a finite number '
                         f'{"> 0" if bound == "gt0" else ">= 0"}, got '
                         f'{value!r}')


def _entropy(probs: torch.Tensor) -> float:
    """Mean Shannon entropy (nats) of the distributions along the last dim."""
    return float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())


@HOOKS.register_module()
class ArchUpdateHook(Hook):
    """Alternate (alpha, beta) updates with the runner's weight updates.

    Args:
        arch_dataloader: Dataloader config of the arch half of the data (e.g.
            ``HalfSplitDataset(part='arch')``); None takes the config's
            top-level ``arch_dataloader``. Its sampler is made a
            :class:`ResumableSampler` so a resumed search continues exactly.
        flops_target: FLOPs_target of Eq. (4), in G (1e9 multiply-adds,
            paper convention) at ``flops_input_size``. > 0.
        flops_weight: lambda of Eq. (3). >= 0.
        flops_loss_mode: 'abs' (default: pulled to the target from both
            sides), 'hinge' (only exceeding it is penalised) or 'eq4_signed'
            (Eq. 4 as printed: always pushes FLOPs down).
        flops_pricing: 'derived' (default: FLOPs_pred is the FLOPs of the
            network derived now, top-k attentions included, with a
            straight-through gradient) or 'expected' (the paper's
            softmax-weighted average, :class:`CostTable`).
        flops_input_size: (H, W) at which FLOPs are predicted (the paper's
            1024x2048), independent of the search crop.
        attention_flops_scale: Multiplies the attention term of the
            'expected' FLOPs_pred (1: the paper's weighted sum).
        latency_lut: Path of a latency lookup table (JSON of
            ``tools/build_latency_lut.py``) for this search space; None: no
            latency cost.
        latency_target: Target latency (ms) of the derived network; required
            with ``latency_lut``.
        latency_weight: Weight of the latency term in Eq. (3) (>= 0); set
            ``flops_weight=0`` to search against latency only.
        gumbel_tau: (start, end) temperature of a ``search_mode='gumbel'``
            backbone/head, annealed linearly over the arch steps' share of
            training; None leaves the modules' ``tau``.
        warmup_epochs: Epochs without arch steps (epoch-based loops).
        warmup_iters: Iterations without arch steps (any loop).
        interval: Make an arch step every ``interval`` weight iterations.
        topk: Attentions shown in the log's derived architecture (§3.3.3).
        log_interval: Log the architecture every this many arch steps.
    """

    priority = 'ABOVE_NORMAL'  # before the logger and checkpoint hooks

    def __init__(self,
                 arch_dataloader: Optional[dict] = None,
                 flops_target: float = 30.0,
                 flops_weight: float = 0.1,
                 flops_loss_mode: str = 'abs',
                 flops_pricing: str = 'derived',
                 flops_input_size: Sequence[int] = (1024, 2048),
                 attention_flops_scale: float = 1.0,
                 latency_lut: Optional[str] = None,
                 latency_target: Optional[float] = None,
                 latency_weight: float = 0.0,
                 gumbel_tau: Optional[Sequence[float]] = None,
                 warmup_epochs: int = 0,
                 warmup_iters: int = 0,
                 interval: int = 1,
                 topk: int = 4,
                 log_interval: int = 10) -> None:
        for name, value, low in (('flops_target', flops_target, 'gt0'),
                                 ('flops_weight', flops_weight, 'ge0'),
                                 ('latency_weight', latency_weight, 'ge0'),
                                 ('attention_flops_scale',
                                  attention_flops_scale, 'gt0')):
            _check_number(name, value, low)
        if flops_pricing not in PRICINGS:
            raise ValueError(f'flops_pricing must be one of {PRICINGS}, got '
                             f'{flops_pricing!r}')
        if latency_lut is not None:
            if latency_target is None:
                raise ValueError('latency_target: required (ms) with '
                                 'latency_lut')
            _check_number('latency_target', latency_target, 'gt0')
        elif latency_target is not None or latency_weight:
            raise ValueError('latency_lut: latency_target/latency_weight '
                             'need a latency lookup table (latency_lut)')
        if gumbel_tau is not None:
            if not isinstance(gumbel_tau, (list, tuple)) or \
                    len(gumbel_tau) != 2:
                raise ValueError('gumbel_tau must be (start, end), got '
                                 f'{gumbel_tau!r}')
            for value in gumbel_tau:
                _check_number('gumbel_tau', value, 'gt0')
        if flops_loss_mode not in FLOPS_LOSS_MODES:
            raise ValueError(f'flops_loss_mode must be one of '
                             f'{FLOPS_LOSS_MODES}, got {flops_loss_mode!r}')
        for name, value in (('warmup_epochs', warmup_epochs),
                            ('warmup_iters', warmup_iters)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 0:
                raise ValueError(f'{name} must be an int >= 0, got {value!r}')
        for name, value in (('interval', interval), ('topk', topk),
                            ('log_interval', log_interval)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 1:
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if len(flops_input_size) != 2:
            raise ValueError('flops_input_size must be (H, W), got '
                             f'{flops_input_size}')
        self.arch_dataloader_cfg = arch_dataloader
        self.flops_target = float(flops_target)
        self.flops_weight = float(flops_weight)
        self.flops_loss_mode = flops_loss_mode
        self.flops_input_size = tuple(int(s) for s in flops_input_size)
        self.flops_pricing = flops_pricing
        self.attention_flops_scale = float(attention_flops_scale)
        self.latency_lut = latency_lut
        self.latency_target = None if latency_target is None else float(
            latency_target)
        self.latency_weight = float(latency_weight)
        self.gumbel_tau = None if gumbel_tau is None else tuple(
            float(t) for t in gumbel_tau)
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters
        self.interval = interval
        self.topk = topk
        self.log_interval = log_interval
        self.flops_table: Optional[CostTable] = None
        self.latency_table: Optional[CostTable] = None
        self.arch_steps = 0
        self._lr_sq_sum = 0.0   # sum of the arch lr^2 over the steps made
        # the noise null's logit variance (search/confidence.py), step by step
        self._noise_var = INIT_STD**2
        self._arch_epoch = 0
        self._arch_batch = 0
        self._loader = None
        self._iter = None

    # ------------------------------------------------------------ set-up
    def before_train(self, runner: Runner) -> None:
        if not isinstance(runner.optim_wrapper, SearchOptimWrapperDict):
            raise TypeError(
                'optim_wrapper: ArchUpdateHook needs the two optimisers of '
                "constructor='AttNASOptimWrapperConstructor', got "
                f'{type(runner.optim_wrapper).__name__}')
        check_param_scheduler(runner.cfg.get('param_scheduler'))
        if (isinstance(runner.train_loop, IterBasedTrainLoop)
                and self.warmup_epochs):
            raise ValueError('warmup_epochs: the train loop is iteration-'
                             'based; use warmup_iters instead')
        model = self._model(runner)
        self._arch_params = dict(named_arch_parameters(model))
        self._alpha = next((p for n, p in self._arch_params.items()
                            if n.endswith('alpha')), None)
        self._beta = next((p for n, p in self._arch_params.items()
                           if n.endswith('beta')), None)
        if self._beta is None:
            raise ValueError('model: the decode head must be an AttNASHead '
                             'in search mode (arch=None) to search')
        if self.topk > self._beta.numel():
            raise ValueError(
                f'topk must be in 1..{self._beta.numel()} (the attention '
                f'candidates of all {self._beta.shape[0]} layers), got '
                f'{self.topk}')
        # the modules that form Eq. (1)-(2)'s weights (their search_mode,
        # tau and arch_pass): the searched backbone and attention layers
        self._searchables = [m for m in (model.backbone,
                                         model.decode_head.attention)
                             if getattr(m, 'searching', False)]
        self._check_sampling(runner)
        self.flops_table = build_flops_table(
            model, self.flops_input_size, self.attention_flops_scale)
        if self.latency_lut is not None:
            from ...search.latency import load_latency_table
            self.latency_table = load_latency_table(self.latency_lut, model)
        loader_cfg = self.arch_dataloader_cfg or runner.cfg.get(
            'arch_dataloader')
        if not loader_cfg:
            raise ValueError('arch_dataloader: give it to ArchUpdateHook or '
                             'as a top-level config key (the arch half of '
                             'the search data)')
        loader_cfg = dict(loader_cfg)
        sampler = dict(loader_cfg.get('sampler', dict(type='DefaultSampler')))
        if sampler.get('type') in ('DefaultSampler', 'ResumableSampler'):
            sampler['type'] = 'ResumableSampler'
        else:
            raise ValueError('arch_dataloader.sampler: must be a '
                             "DefaultSampler/ResumableSampler, got "
                             f"{sampler.get('type')!r}")
        loader_cfg['sampler'] = sampler
        self._loader = runner.build_dataloader(loader_cfg, seed=runner.seed)
        if len(self._loader) == 0:
            raise ValueError(
                'arch_dataloader: the arch half of the search data yields no '
                f'batch ({len(self._loader.dataset)} samples, batch size '
                f'{self._loader.batch_size}); give it at least one batch')
        self._start_epoch(skip_batches=self._arch_batch)
        runner.logger.info(
            f'ArchUpdateHook: FLOPs table at {self.flops_input_size}: fixed '
            f'{self.flops_table.fixed / 1e9:.2f}G; target '
            f'{self.flops_target:.1f}G, lambda {self.flops_weight}, '
            f'L_flops {self.flops_loss_mode}; {len(self._loader)} arch '
            f'batches per arch epoch; warm-up {self.warmup_epochs} epochs / '
            f'{self.warmup_iters} iters')

    def _check_sampling(self, runner: Runner) -> None:
        head = self._model(runner).decode_head
        if getattr(head.attention, 'search_mode', 'darts') != 'darts' and \
                head.attention.sample_topk != self.topk:
            runner.logger.warning(
                f'ArchUpdateHook: the head samples sample_topk='
                f'{head.attention.sample_topk} attentions per step but '
                f'topk={self.topk} are derived; the sampled networks are '
                'not those the search derives')

    def _set_tau(self, runner: Runner) -> None:
        """Anneal the Gumbel temperature linearly over the search phase."""
        if self.gumbel_tau is None:
            return
        start = max(self.warmup_iters, self.warmup_epochs * len(
            runner.train_dataloader))
        span = max(runner.max_iters - 1 - start, 1)   # end at the last
        progress = min(max((runner.iter - start) / span, 0.0), 1.0)
        tau = self.gumbel_tau[0] + progress * (self.gumbel_tau[1] -
                                               self.gumbel_tau[0])
        for module in self._searchables:
            module.tau = tau

    def before_train_epoch(self, runner: Runner) -> None:
        # Dataloader workers are seeded when an iterator starts them: an arch
        # iterator that outlived the runner's epoch would make a resumed run
        # (which starts it afresh) differ. Restart it at every epoch, at the
        # same position, so both runs start their workers at the same point.
        if self._loader is not None and self._loader.num_workers > 0:
            self._start_epoch(skip_batches=self._arch_batch)

    @staticmethod
    def _model(runner: Runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    def _start_epoch(self, skip_batches: int = 0) -> None:
        sampler = self._loader.sampler
        sampler.set_epoch(self._arch_epoch)
        sampler.skip(skip_batches * self._loader.batch_size)
        self._arch_batch = skip_batches
        self._iter = iter(self._loader)

    def _next_batch(self):
        try:
            batch = next(self._iter)
        except StopIteration:
            self._arch_epoch += 1
            self._start_epoch()
            batch = next(self._iter)
        self._arch_batch += 1
        return batch

    # ------------------------------------------------------------- steps
    def in_warmup(self, runner: Runner) -> bool:
        return runner.epoch < self.warmup_epochs or \
            runner.iter < self.warmup_iters

    def after_train_iter(self, runner: Runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        if self.in_warmup(runner) or \
                (runner.iter + 1) % self.interval != 0:
            return
        self.arch_step(runner)

    def arch_step(self, runner: Runner) -> Dict[str, float]:
        """One first-order update of alpha/beta on an arch-half batch."""
        model = self._model(runner)
        names = list(self._arch_params)
        params = [self._arch_params[n] for n in names]
        self._set_tau(runner)
        data = model.data_preprocessor(self._next_batch(), True)
        with arch_pass(self._searchables):
            losses = model._run_forward(data, mode='loss')
        ce, _ = model.parse_losses(losses)
        flops_pred = self.flops_table.predict(
            self._alpha, self._beta, self.flops_pricing, self.topk)
        l_flops = flops_loss(flops_pred, self.flops_target * 1e9,
                             self.flops_loss_mode)
        loss = ce + self.flops_weight * l_flops
        extra = {}
        if self.latency_table is not None:
            latency_pred = self.latency_table.predict(
                self._alpha, self._beta, self.flops_pricing, self.topk)
            l_latency = flops_loss(latency_pred, self.latency_target,
                                   self.flops_loss_mode)
            loss = loss + self.latency_weight * l_latency
            extra = dict(loss_latency=float(l_latency.detach()),
                         latency_pred_ms=float(latency_pred.detach()))
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        world = get_world_size()
        for p, g in zip(params, grads):
            g = torch.zeros_like(p) if g is None else g
            if world > 1:
                all_reduce(g, op='mean')
            p.grad = g
        arch_wrapper = runner.optim_wrapper[ARCH]
        lr = float(arch_wrapper.get_lr()['lr'][0])
        self._lr_sq_sum += lr**2
        arch_wrapper.step()
        arch_wrapper.zero_grad()
        self._noise_var = noise_variance_step(
            self._noise_var, lr,
            weight_decay_pull(arch_wrapper.optimizer,
                              self._alpha if self._alpha is not None
                              else self._beta))
        self.arch_steps += 1
        stats = self._log(runner, float(ce.detach()), float(l_flops.detach()),
                          float(flops_pred.detach()) / 1e9, extra)
        return stats

    def noise_sigma(self) -> float:
        """The logit spread pure-noise gradients would have produced by now
        (``search/confidence.py``), accumulated over the steps made with each
        step's arch lr and weight-decay pull (a decaying lr and Adam's
        coupled L2 are both accounted for; the pull is alpha's, or beta's in
        a head-only search)."""
        return math.sqrt(self._noise_var)

    def settings(self) -> Dict[str, object]:
        """What this search aimed at, as run (``--cfg-options`` included):
        kept in every checkpoint so ``tools/derive_arch.py`` can report
        target vs derived."""
        return dict(
            flops_target_G=self.flops_target,
            flops_input_size=list(self.flops_input_size),
            flops_loss_mode=self.flops_loss_mode,
            flops_pricing=self.flops_pricing,
            flops_weight=self.flops_weight,
            latency_lut=self.latency_lut,
            latency_target_ms=self.latency_target,
            latency_weight=self.latency_weight, topk=self.topk)

    # ----------------------------------------------------------- logging
    def describe(self) -> Dict[str, object]:
        """Current argmax backbone and top-k attentions, paper notation."""
        from ...search.arch_spec import ArchSpec
        spec = ArchSpec(
            attention=derive_attention(self._beta, min(
                self.topk, self._beta.numel())),
            backbone=None if self._alpha is None else derive_backbone(
                self._alpha))
        return dict(arch=str(spec))

    def _log(self, runner: Runner, ce: float, l_flops: float,
             flops_g: float, extra: Dict[str, float]) -> Dict[str, float]:
        beta_w = attention_weights(self._beta.detach())
        stats = dict(arch_ce=ce, loss_flops=l_flops, flops_pred_G=flops_g,
                     entropy_beta=_entropy(beta_w.flatten()), **extra)
        if self._alpha is not None:
            stats['entropy_alpha'] = _entropy(self._alpha.detach().softmax(-1))
        confidence = confidence_record(
            self._alpha, self._beta, min(self.topk, self._beta.numel() - 1),
            self.noise_sigma())
        if confidence['alpha_margin'] is not None:
            stats['alpha_margin_min'] = min(confidence['alpha_margin'])
            stats['alpha_margin_mean'] = sum(
                confidence['alpha_margin']) / len(confidence['alpha_margin'])
        stats['beta_margin'] = confidence['beta_margin']
        stats['uncertain_choices'] = len(confidence['uncertain'])
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        if self.arch_steps % self.log_interval == 0:
            arch = self.describe()['arch']
            runner.logger.info(
                f'arch step {self.arch_steps} (iter {runner.iter + 1}): '
                f'CE {ce:.4f}  L_flops {l_flops:+.4f}  FLOPs_pred '
                f'{flops_g:.2f}G ({self.flops_pricing}, target '
                f'{self.flops_target:g}G)'
                + (f'  latency_pred {extra["latency_pred_ms"]:.2f}ms'
                   if extra else '') +
                f'  H(alpha) {stats.get("entropy_alpha", 0):.3f}'
                f'  H(beta) {stats["entropy_beta"]:.3f}  margins: alpha '
                f'min {stats.get("alpha_margin_min", 0):.4f} mean '
                f'{stats.get("alpha_margin_mean", 0):.4f}, beta top-k '
                f'{stats["beta_margin"]:.4f}; '
                f'{stats["uncertain_choices"]} choice(s) within noise  '
                f'{arch}')
            if is_main_process():
                record = dict(
                    iter=runner.iter + 1, arch_step=self.arch_steps,
                    arch=arch, **{**stats, **confidence},
                    beta=beta_w.tolist(),
                    alpha=None if self._alpha is None else
                    self._alpha.detach().softmax(-1).tolist())
                with open(osp.join(runner.log_dir, 'arch_history.jsonl'),
                          'a') as f:
                    f.write(json.dumps(record) + '\n')
        return stats

    # ------------------------------------------------------ checkpointing
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint['arch_update_hook'] = dict(
            arch_steps=self.arch_steps, arch_epoch=self._arch_epoch,
            arch_batch=self._arch_batch, lr_sq_sum=self._lr_sq_sum,
            noise_var=self._noise_var, noise_sigma=self.noise_sigma(),
            settings=self.settings())

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = checkpoint.get('arch_update_hook')
        if state is None:
            return
        self.arch_steps = int(state['arch_steps'])
        self._lr_sq_sum = float(state.get('lr_sq_sum', 0.0))
        # a checkpoint from before the step-by-step variance: no decay known
        self._noise_var = float(state.get('noise_var',
                                          INIT_STD**2 + self._lr_sq_sum))
        self._arch_epoch = int(state['arch_epoch'])
        self._arch_batch = int(state['arch_batch'])
        if self._loader is not None:
            self._start_epoch(skip_batches=self._arch_batch)


__all__ = ['ArchUpdateHook']
