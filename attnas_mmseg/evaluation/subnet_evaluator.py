"""Scoring a subnet with the weights it inherits from a trained supernet.

:class:`SubnetEvaluator` loads a search checkpoint once; each
:meth:`~SubnetEvaluator.evaluate` extracts a spec's fixed network
(:func:`~attnas_mmseg.export.subnet.extract_subnet`), re-estimates its BN
statistics on calibration batches of the weight half (:func:`recalibrate_bn`)
and computes MMSeg's IoU metrics on the validation set or on the arch half
(``docs/design.md``, "Inherited weights").
"""
import copy
import itertools
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from torch.nn.modules.batchnorm import _BatchNorm

from ..export.checkpoint import load_search_checkpoint
from ..export.subnet import extract_subnet
from ..models.builder import build_segmentor, extra_candidates, model_config
from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates
from ..utils.quiet_logger import quiet_logger
from ..utils.seeded import seeded

#: Where a subnet is scored: the config's ``val_dataloader`` (with its
#: ``val_evaluator``) or the arch half of the search data.
SPLITS = ('val', 'arch')
#: Calibration batches of the weight half (docs/design.md, "Inherited
#: weights": 50 batches of the paper's 8 images are 400 images).
DEFAULT_CALIB_BATCHES = 50
#: The metric of the arch split (and of a config without ``val_evaluator``).
IOU_METRIC = dict(type='IoUMetric', iou_metrics=['mIoU'])
#: Keys every evaluation returns.
METRIC_KEYS = ('aAcc', 'mIoU', 'mAcc')

Spec = Union[ArchSpec, str, Path]


def recalibrate_bn(model: nn.Module, batches: Sequence[dict]) -> int:
    """Re-estimate the BN running statistics of ``model`` on ``batches``.

    Every BN layer that training updates (those ``model.train()`` puts in
    train mode: a ``norm_eval`` backbone's stay as they are) has its running
    mean and variance reset and set to the plain average of the batch
    statistics of ``batches`` (``momentum=None``: PyTorch's cumulative
    average), forwarded in train mode under ``no_grad`` through the model's
    data preprocessor (training mode: padded to the crop size). The momenta
    are restored and the model is left in eval mode. Returns the number of
    BN layers recalibrated.
    """
    if not batches:
        raise ValueError('batches: recalibration needs at least one batch')
    model.train()
    norms = [m for m in model.modules()
             if isinstance(m, _BatchNorm) and m.track_running_stats and
             m.training]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    try:
        with torch.no_grad():
            for batch in batches:
                # the preprocessor pads the samples in place: keep ours
                data = model.data_preprocessor(copy.deepcopy(batch), True)
                model(data['inputs'], data['data_samples'], mode='tensor')
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    return len(norms)


class SubnetEvaluator:
    """Scores subnets of one trained supernet with inherited weights.

    Args:
        config: The search config (path or ``Config``): its model, its
            ``train_dataloader`` (the weight half: calibration batches), and
            its ``val_dataloader`` + ``val_evaluator`` or arch half.
        checkpoint: A checkpoint of that search (checked by
            :func:`~attnas_mmseg.export.checkpoint.load_search_checkpoint`).
        split: ``'val'``: the config's ``val_dataloader``, scored as
            MMSeg's ``test_step`` does (in the original image frame) with the
            config's ``val_evaluator`` (an ``IoUMetric`` when it has none).
            ``'arch'``: the arch half (the ``ArchUpdateHook``'s
            ``arch_dataloader``, else the top-level one) in order, scored in
            the frame the search's arch loss sees (the transformed, padded
            input), with an ``IoUMetric``.
        calib_batches: Batches of ``train_dataloader`` drawn once (seeded)
            and kept in memory for BN recalibration; at least 1.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        cfg_options: Overrides merged into the config (e.g. a
            ``val_dataloader`` for a search config that has none).
        seed: Seeds the calibration draw and every scoring pass (random
            transforms of the arch half's pipeline included), so the same
            spec always gets the same numbers.
    """

    def __init__(self,
                 config: Union[str, Path, Config],
                 checkpoint: Union[str, Path],
                 *,
                 split: str = 'val',
                 calib_batches: int = DEFAULT_CALIB_BATCHES,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 seed: int = 0) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if isinstance(calib_batches, bool) or \
                not isinstance(calib_batches, int) or calib_batches < 1:
            raise ValueError('calib_batches must be an int >= 1 (batches of '
                             'train_dataloader that re-estimate the BN '
                             'statistics; the supernet\'s are those of the '
                             f'mixture, not of a subnet), got '
                             f'{calib_batches!r}')
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f'seed must be an int, got {seed!r}')
        self.split = split
        self.seed = seed
        self.device = _check_device(device)
        cfg = _load_config(config, cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        self.cfg = cfg
        self.model_cfg = model_config(cfg)
        loader_cfg, metric_cfg = _scoring_cfgs(cfg, split)
        train_cfg = cfg.get('train_dataloader')
        if not isinstance(train_cfg, dict):
            raise ValueError('train_dataloader: the config defines none; '
                             'the calibration batches come from it')
        load_search_checkpoint(str(checkpoint),
                               ExtraCandidates.from_model_cfg(self.model_cfg))
        try:
            self.supernet = build_segmentor(self.model_cfg,
                                            checkpoint=str(checkpoint),
                                            device=self.device)
        except RuntimeError as err:  # mmengine's strict loading
            raise ValueError(f'checkpoint: {checkpoint} does not fit the '
                             f'config\'s model: {str(err).strip()[:500]}'
                             ) from None
        self.extra = extra_candidates(self.supernet)
        self.calibration = self._draw(train_cfg, calib_batches)
        self._metric_cfg = metric_cfg
        self.dataloader = Runner.build_dataloader(loader_cfg, seed=seed)

    @property
    def calib_batches(self) -> int:
        """Calibration batches in use (fewer than asked when the weight half
        has fewer)."""
        return len(self.calibration)

    def spec(self, spec: Spec) -> ArchSpec:
        """``spec`` read in the supernet's space (notation, path or spec)."""
        return ArchSpec.coerce(spec, self.extra)

    def subnet(self, spec: Spec) -> nn.Module:
        """``spec``'s fixed network with the supernet's weights and
        recalibrated BN statistics, in eval mode."""
        model = extract_subnet(self.supernet, self.spec(spec),
                               self.model_cfg)
        with seeded(self.seed):  # dropout in train mode draws
            recalibrate_bn(model, self.calibration)
        return model

    def evaluate(self, spec: Spec) -> Dict[str, float]:
        """``{'aAcc', 'mIoU', 'mAcc', ...}`` (percent, as MMSeg reports them)
        of ``spec`` with inherited weights, on this evaluator's split."""
        return self.score(self.subnet(spec))

    def score(self, model: nn.Module) -> Dict[str, float]:
        """The metrics of a ready ``model`` on this evaluator's split."""
        evaluator = Evaluator(copy.deepcopy(self._metric_cfg))
        evaluator.dataset_meta = self.dataloader.dataset.metainfo
        model.eval()
        with seeded(self.seed), torch.no_grad():
            for batch in self.dataloader:
                outputs = model.test_step(batch) if self.split == 'val' \
                    else _predict_input_frame(model, batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
        with quiet_logger():  # IoUMetric logs a per-class table each time
            metrics = evaluator.evaluate(len(self.dataloader.dataset))
        absent = [k for k in METRIC_KEYS if k not in metrics]
        if absent:
            raise ValueError(f'val_evaluator: reported {sorted(metrics)}, '
                             f'without {absent}; use an IoUMetric with '
                             "iou_metrics=['mIoU']")
        return {k: float(v) for k, v in metrics.items()}

    def _draw(self, loader_cfg: dict, num: int) -> List[dict]:
        with seeded(self.seed):
            loader = Runner.build_dataloader(copy.deepcopy(loader_cfg),
                                             seed=self.seed)
            batches = list(itertools.islice(loader, num))
        if not batches:
            raise ValueError('train_dataloader: yields no batch to '
                             'calibrate on')
        if len(batches) < num:
            print_log(f'calib_batches: train_dataloader has {len(batches)} '
                      f'batches, fewer than the {num} asked; using them all',
                      logger='current', level=logging.WARNING)
        return batches


def evaluate_subnet(config: Union[str, Path, Config],
                    checkpoint: Union[str, Path], spec: Spec,
                    **kwargs) -> Dict[str, float]:
    """One spec's metrics: ``SubnetEvaluator(config, checkpoint,
    **kwargs).evaluate(spec)``."""
    return SubnetEvaluator(config, checkpoint, **kwargs).evaluate(spec)


def _predict_input_frame(model: nn.Module, batch: dict) -> list:
    """Predictions at the padded input size, beside the padded labels (255
    in the padding): the frame a training loss compares in."""
    data = model.data_preprocessor(batch, True)
    logits = model(data['inputs'], mode='tensor')
    logits = F.interpolate(logits, size=data['inputs'].shape[2:],
                           mode='bilinear',
                           align_corners=model.decode_head.align_corners)
    if logits.shape[1] > 1:
        preds = logits.argmax(1, keepdim=True)
    else:
        preds = (logits.sigmoid() > model.decode_head.threshold).long()
    samples = data['data_samples']
    for sample, pred in zip(samples, preds):
        sample.pred_sem_seg = PixelData(data=pred)
    return samples


def _load_config(config: Union[str, Path, Config],
                 cfg_options: Optional[dict]) -> Config:
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError('config: expected a config path or an mmengine '
                        f'Config, got {type(config).__name__}')
    if cfg_options is not None:
        if not isinstance(cfg_options, dict):
            raise TypeError('cfg_options: expected a dict of overrides, got '
                            f'{type(cfg_options).__name__}')
        cfg.merge_from_dict(cfg_options)
    return cfg


def _scoring_cfgs(cfg: Config, split: str):
    """(dataloader config, metric config) of ``split``."""
    if split == 'val':
        loader = cfg.get('val_dataloader')
        if not isinstance(loader, dict):
            raise ValueError(
                "split='val': the config's val_dataloader is "
                f'{loader!r} (search configs define none); add one with '
                "cfg_options / --cfg-options, or score split='arch'")
        metric = cfg.get('val_evaluator') or IOU_METRIC
        return copy.deepcopy(loader), copy.deepcopy(metric)
    loader = next((hook['arch_dataloader']
                   for hook in cfg.get('custom_hooks') or []
                   if isinstance(hook, dict) and
                   hook.get('type') == 'ArchUpdateHook' and
                   isinstance(hook.get('arch_dataloader'), dict)),
                  cfg.get('arch_dataloader'))
    if not isinstance(loader, dict):
        raise ValueError("split='arch': the config has no arch_dataloader "
                         '(top-level or the ArchUpdateHook\'s)')
    loader = copy.deepcopy(loader)
    # every image once, in order: the training sampler may be infinite
    loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
    return loader, copy.deepcopy(IOU_METRIC)


def _check_device(device: str) -> torch.device:
    allowed = "'cpu', 'cuda' or 'cuda:N'"
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f'device must be {allowed}, got {device!r}')
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f'device must be {allowed}, got {device!r}'
                         ) from None
    if parsed.type not in ('cpu', 'cuda'):
        raise ValueError(f'device must be {allowed}, got {device!r}')
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device: {device!r} asked but CUDA is not '
                         'available; use device=\'cpu\'')
    return parsed
