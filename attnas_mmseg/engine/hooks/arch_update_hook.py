"""The alternating architecture update of AttNAS (§3.3.2, Eq. 3-4, §4.2).

The runner's normal ``train_step`` updates the weights w (SGD, CE loss) on a
batch of the *weight* half of the training data. After it, this hook takes a
batch of the *arch* half and updates (alpha, beta) (Adam) on

    L = L_ce(alpha, beta, w) + lambda * L_flops(alpha, beta)       (Eq. 3)

first-order, as DARTS' first-order approximation. No arch step is made during
the first ``warmup_epochs`` (or ``warmup_iters``) (§4.2: 30 epochs).

Gradients never leak between the two sets: the arch gradient is taken with
``torch.autograd.grad`` with respect to alpha/beta only (weights' ``.grad``
untouched), the weight step clears the alpha/beta gradients its backward made
(:class:`SearchOptimWrapperDict`), and under DDP the arch gradients are
averaged across ranks explicitly, so alpha/beta stay identical everywhere.
"""
import json
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
from ...search.derive import derive_attention, derive_backbone
from ...search.flops import FlopsTable, build_flops_table
from ...search.flops_loss import FLOPS_LOSS_MODES, flops_loss
from ..optimizers.search_optim_wrapper import ARCH, SearchOptimWrapperDict


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
        flops_loss_mode: 'signed' (Eq. 4 as printed), 'abs' or 'hinge'.
        flops_input_size: (H, W) at which FLOPs are predicted (the paper's
            1024x2048), independent of the search crop.
        attention_flops_scale: Multiplies the attention term of FLOPs_pred
            (1: the paper's weighted sum).
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
                 flops_loss_mode: str = 'signed',
                 flops_input_size: Sequence[int] = (1024, 2048),
                 attention_flops_scale: float = 1.0,
                 warmup_epochs: int = 0,
                 warmup_iters: int = 0,
                 interval: int = 1,
                 topk: int = 4,
                 log_interval: int = 10) -> None:
        if not flops_target > 0:
            raise ValueError(f'flops_target must be > 0 (G), got '
                             f'{flops_target}')
        if not flops_weight >= 0:
            raise ValueError(f'flops_weight (lambda) must be >= 0, got '
                             f'{flops_weight}')
        if flops_loss_mode not in FLOPS_LOSS_MODES:
            raise ValueError(f'flops_loss_mode must be one of '
                             f'{FLOPS_LOSS_MODES}, got {flops_loss_mode!r}')
        for name, value in (('warmup_epochs', warmup_epochs),
                            ('warmup_iters', warmup_iters)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'{name} must be an int >= 0, got {value!r}')
        for name, value in (('interval', interval), ('topk', topk),
                            ('log_interval', log_interval)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if len(flops_input_size) != 2:
            raise ValueError('flops_input_size must be (H, W), got '
                             f'{flops_input_size}')
        self.arch_dataloader_cfg = arch_dataloader
        self.flops_target = float(flops_target)
        self.flops_weight = float(flops_weight)
        self.flops_loss_mode = flops_loss_mode
        self.flops_input_size = tuple(int(s) for s in flops_input_size)
        self.attention_flops_scale = float(attention_flops_scale)
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters
        self.interval = interval
        self.topk = topk
        self.log_interval = log_interval
        self.flops_table: Optional[FlopsTable] = None
        self.arch_steps = 0
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
        scheduler_cfg = runner.cfg.get('param_scheduler')
        if scheduler_cfg and (not isinstance(scheduler_cfg, dict)
                              or 'type' in scheduler_cfg):
            raise ValueError(
                'param_scheduler: key it by optimiser name, e.g. '
                'dict(weight=[dict(type="PolyLR", ...)], arch=[]); an '
                'unkeyed scheduler would also decay the arch optimiser')
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
        self.flops_table = build_flops_table(
            model, self.flops_input_size, self.attention_flops_scale)
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
        self._start_epoch(skip_batches=self._arch_batch)
        runner.logger.info(
            f'ArchUpdateHook: FLOPs table at {self.flops_input_size}: fixed '
            f'{self.flops_table.fixed / 1e9:.2f}G; target '
            f'{self.flops_target:.1f}G, lambda {self.flops_weight}, '
            f'L_flops {self.flops_loss_mode}; {len(self._loader)} arch '
            f'batches per arch epoch; warm-up {self.warmup_epochs} epochs / '
            f'{self.warmup_iters} iters')

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
        data = model.data_preprocessor(self._next_batch(), True)
        losses = model._run_forward(data, mode='loss')
        ce, _ = model.parse_losses(losses)
        flops_pred = self.flops_table.predict(self._alpha, self._beta)
        l_flops = flops_loss(flops_pred, self.flops_target * 1e9,
                             self.flops_loss_mode)
        loss = ce + self.flops_weight * l_flops
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        world = get_world_size()
        for p, g in zip(params, grads):
            g = torch.zeros_like(p) if g is None else g
            if world > 1:
                all_reduce(g, op='mean')
            p.grad = g
        arch_wrapper = runner.optim_wrapper[ARCH]
        arch_wrapper.step()
        arch_wrapper.zero_grad()
        self.arch_steps += 1
        stats = self._log(runner, float(ce), float(l_flops),
                          float(flops_pred) / 1e9)
        return stats

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
             flops_g: float) -> Dict[str, float]:
        beta_w = attention_weights(self._beta.detach())
        stats = dict(arch_ce=ce, loss_flops=l_flops, flops_pred_G=flops_g,
                     entropy_beta=_entropy(beta_w.flatten()))
        if self._alpha is not None:
            stats['entropy_alpha'] = _entropy(self._alpha.detach().softmax(-1))
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        if self.arch_steps % self.log_interval == 0:
            arch = self.describe()['arch']
            runner.logger.info(
                f'arch step {self.arch_steps} (iter {runner.iter + 1}): '
                f'CE {ce:.4f}  L_flops {l_flops:+.4f}  FLOPs_pred '
                f'{flops_g:.2f}G  H(alpha) {stats.get("entropy_alpha", 0):.3f}'
                f'  H(beta) {stats["entropy_beta"]:.3f}  {arch}')
            if is_main_process():
                record = dict(
                    iter=runner.iter + 1, arch_step=self.arch_steps,
                    arch=arch, **stats, beta=beta_w.tolist(),
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
            arch_batch=self._arch_batch)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = checkpoint.get('arch_update_hook')
        if state is None:
            return
        self.arch_steps = int(state['arch_steps'])
        self._arch_epoch = int(state['arch_epoch'])
        self._arch_batch = int(state['arch_batch'])
        if self._loader is not None:
            self._start_epoch(skip_batches=self._arch_batch)


__all__ = ['ArchUpdateHook']
