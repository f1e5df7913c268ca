"""The alternating architecture update of AttNAS (§3.3.2, Eq. 3-4, §4.2).

After the runner's weight step (SGD, CE, a batch of the *weight* half), this
hook updates (alpha, beta) with Adam on a batch of the *arch* half, first-order
as DARTS: ``L = L_ce + lambda * L_flops (+ a latency term)`` (Eq. 3), after
a warm-up (§4.2). Its settings are a :class:`SearchSettings`. A
``search_mode='uniform'`` search (SPOS) has no arch step and runs without it.

Gradients never leak between the two sets: the arch gradient is taken with
respect to alpha/beta only, the weight step clears the alpha/beta gradients
its backward made (:class:`SearchOptimWrapperDict`), and under DDP the arch
gradients are averaged across ranks, so alpha/beta stay identical everywhere.
"""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, Runner
from mmseg.registry import HOOKS

from ...search.confidence import (INIT_STD, noise_variance_step,
                                  weight_decay_pull)
from ...search.cost.cost_loss import cost_loss
from ...search.cost.cost_table import CostTable
from ...search.cost.flops import FLOPS_PER_G, build_flops_table
from ...search.cost.latency_table import load_latency_table
from ...search.derive import derive_arch
from ...search.settings import SearchSettings
from ...search.space.arch_params import (ARCH_PARAM_NAMES,
                                         named_arch_parameters)
from ...search.space.search_modes import arch_pass
from ...models.builder import extra_candidates
from ..config_checks import check_search_run
from ..optimizers.search_optim_wrapper import ARCH
from .arch_history import (append_history, arch_stats, history_record,
                           log_line)
from .arch_step_checks import check_arch_step_run


@HOOKS.register_module()
class ArchUpdateHook(Hook):
    """Alternate (alpha, beta) updates with the runner's weight updates.

    Args:
        arch_dataloader: Dataloader config of the arch half of the data (e.g.
            ``HalfSplitDataset(part='arch')``); None takes the config's
            top-level ``arch_dataloader``. Its sampler is made a
            :class:`ResumableSampler` so a resumed search continues exactly.
        **settings: The fields of :class:`SearchSettings` (``flops_target``,
            ``flops_weight``, ``warmup_epochs``, ``topk``, ...).
    """

    priority = 'ABOVE_NORMAL'  # before the logger and checkpoint hooks

    def __init__(self, arch_dataloader: Optional[dict] = None,
                 **settings) -> None:
        self.settings = SearchSettings.from_config(settings)
        self.arch_dataloader_cfg = arch_dataloader
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
        s = self.settings
        check_arch_step_run(runner, self._model(runner))
        # the checks every entry point meets, before anything runs the model
        self._loader = self._build_loader(runner)
        check_search_run(runner, self._loader.dataset)
        if isinstance(runner.train_loop, IterBasedTrainLoop) and \
                s.warmup_epochs:
            raise ValueError('warmup_epochs: the train loop is iteration-'
                             'based; use warmup_iters instead')
        model = self._model(runner)
        self._extra = extra_candidates(model)   # user candidates: ids 7, 14..
        self._arch_params = dict(named_arch_parameters(model))
        self._alpha, self._beta = (
            next((p for n, p in self._arch_params.items() if n.endswith(end)),
                 None) for end in ARCH_PARAM_NAMES)
        if self._beta is None:
            raise ValueError('model: the decode head must be an AttNASHead '
                             'in search mode (arch=None) to search')
        if s.topk > self._beta.numel():
            raise ValueError(
                f'topk must be in 1..{self._beta.numel()} (the attention '
                f'candidates of all {self._beta.shape[0]} layers), got '
                f'{s.topk}')
        # what Eq. (1)-(2)'s weights are formed by (the step state)
        self._searchables = [m for m in (model.backbone, model.decode_head)
                             if getattr(m, 'searching', False)]
        head = model.decode_head
        if head.search_mode != 'darts' and head.sample_topk != s.topk:
            runner.logger.warning(
                f'ArchUpdateHook: the head samples sample_topk='
                f'{head.sample_topk} attentions per step but topk={s.topk} '
                'are derived; the sampled networks are not those the search '
                'derives')
        self.flops_table = build_flops_table(model, s.flops_input_size,
                                             s.attention_flops_scale)
        if s.latency_lut is not None:
            self.latency_table = load_latency_table(s.latency_lut, model)
        self._start_epoch(skip_batches=self._arch_batch)
        runner.logger.info(
            f'ArchUpdateHook: FLOPs table at {s.flops_input_size}: fixed '
            f'{self.flops_table.fixed / FLOPS_PER_G:.2f}G; target '
            f'{s.flops_target:.1f}G, lambda {s.flops_weight}, '
            f'L_flops {s.flops_loss_mode}; {len(self._loader)} arch '
            f'batches per arch epoch; warm-up {s.warmup_epochs} epochs / '
            f'{s.warmup_iters} iters')

    def _build_loader(self, runner: Runner):
        loader_cfg = self.arch_dataloader_cfg or runner.cfg.get(
            'arch_dataloader')
        if not loader_cfg:
            raise ValueError('arch_dataloader: give it to ArchUpdateHook or '
                             'as a top-level config key (the arch half of '
                             'the search data)')
        loader_cfg = dict(loader_cfg)
        sampler = dict(loader_cfg.get('sampler', dict(type='DefaultSampler')))
        if sampler.get('type') not in ('DefaultSampler', 'ResumableSampler'):
            raise ValueError('arch_dataloader.sampler: must be a '
                             "DefaultSampler/ResumableSampler, got "
                             f"{sampler.get('type')!r}")
        loader_cfg['sampler'] = dict(sampler, type='ResumableSampler')
        loader = runner.build_dataloader(loader_cfg, seed=runner.seed)
        if len(loader) == 0:
            raise ValueError(
                'arch_dataloader: the arch half of the search data yields no '
                f'batch ({len(loader.dataset)} samples, batch size '
                f'{loader.batch_size}); give it at least one batch')
        return loader

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
        return runner.epoch < self.settings.warmup_epochs or \
            runner.iter < self.settings.warmup_iters

    def after_train_iter(self, runner: Runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        if self.in_warmup(runner) or \
                (runner.iter + 1) % self.settings.interval != 0:
            return
        self.arch_step(runner)

    def _predict(self, table: CostTable,
                 target: Optional[float] = None) -> torch.Tensor:
        """Cost_pred; under |Eq. 4| a top-k cut the ``target`` cannot settle
        gets no cost gradient (:meth:`CostTable.predict`)."""
        s = self.settings
        return table.predict(self._alpha, self._beta, s.flops_pricing, s.topk,
                             target if s.flops_loss_mode == 'abs' else None)

    def arch_step(self, runner: Runner) -> Dict[str, float]:
        """One first-order update of alpha/beta on an arch-half batch."""
        s = self.settings
        model = self._model(runner)
        params = list(self._arch_params.values())
        if s.gumbel_tau is not None:
            first = max(s.warmup_iters,
                        s.warmup_epochs * len(runner.train_dataloader))
            tau = s.tau_at(runner.iter, first, runner.max_iters - 1)
            for module in self._searchables:
                module.set_step_state(tau=tau)
        data = model.data_preprocessor(self._next_batch(), True)
        with arch_pass(self._searchables):
            losses = model._run_forward(data, mode='loss')
        ce, _ = model.parse_losses(losses)
        target = s.flops_target * FLOPS_PER_G
        l_flops = cost_loss(self._predict(self.flops_table, target), target,
                            s.flops_loss_mode)
        loss = ce + s.flops_weight * l_flops
        logged = dict(arch_ce=float(ce.detach()),
                      loss_flops=float(l_flops.detach()))
        if self.latency_table is not None:
            l_latency = cost_loss(
                self._predict(self.latency_table, s.latency_target),
                s.latency_target, s.flops_loss_mode)
            loss = loss + s.latency_weight * l_latency
            logged['loss_latency'] = float(l_latency.detach())
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
        # the cost of the architecture logged beside it: after the step
        with torch.no_grad():
            logged['flops_pred_G'] = float(
                self._predict(self.flops_table)) / FLOPS_PER_G
            if self.latency_table is not None:
                logged['latency_pred_ms'] = float(
                    self._predict(self.latency_table))
        return self._log(runner, logged)

    def noise_sigma(self) -> float:
        """The logit spread pure-noise gradients would have produced by now
        (``search/confidence.py``), step by step with each step's arch lr and
        weight-decay pull (alpha's, or beta's in a head-only search)."""
        return math.sqrt(self._noise_var)

    # ----------------------------------------------------------- logging
    def _log(self, runner: Runner,
             logged: Dict[str, float]) -> Dict[str, float]:
        stats, confidence = arch_stats(
            self._alpha, self._beta,
            min(self.settings.topk, self._beta.numel() - 1),
            self.noise_sigma())
        stats = {**logged, **stats}
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        if self.arch_steps % self.settings.log_interval == 0:
            arch = str(derive_arch(self._alpha, self._beta,
                                   self.settings.topk, extra=self._extra))
            runner.logger.info(log_line(self.arch_steps, runner.iter + 1,
                                        stats, self.settings, arch))
            if is_main_process():
                append_history(runner.log_dir, history_record(
                    runner.iter + 1, self.arch_steps, arch, stats,
                    confidence, self._alpha, self._beta, self._extra))
        return stats

    # ------------------------------------------------------ checkpointing
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint['arch_update_hook'] = dict(
            arch_steps=self.arch_steps, arch_epoch=self._arch_epoch,
            arch_batch=self._arch_batch, lr_sq_sum=self._lr_sq_sum,
            noise_var=self._noise_var, noise_sigma=self.noise_sigma(),
            settings=self.settings.record())

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
