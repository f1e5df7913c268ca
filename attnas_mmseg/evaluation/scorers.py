"""Ways of scoring an architecture, all with one signature::

    scorer(spec: ArchSpec, context: ScoreContext) -> float   # higher = better

:data:`SCORERS` names them. The sign convention: a score is the quantity
itself, never negated, so that a scorer that ranks like the ground truth has
a positive rank correlation. That holds for costs too (``flops``,
``params``, ``latency``): bigger networks tend to do better, and the
correlation says by how much. ``logprob`` is the log-probability of the spec
under a search's alpha/beta (:func:`arch_log_prob`), the zero-cost proxies
are :mod:`.zero_cost`'s on a randomly initialised copy of the spec, and
``inherited`` is the validation mIoU of the subnet with the supernet's
weights (:mod:`.subnet_evaluator`). A :class:`ScoreContext` holds what they
need, built on first use: ``flops`` reads no data and builds no weights.
``docs/design.md`` ("Ranking networks") has the choices.
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from ..export.checkpoint import load_search_checkpoint
from ..models.builder import ConfigLike, build_segmentor
from ..search.cost.cost_table import CostTable
from ..search.cost.flops import FLOPS_PER_G, build_flops_table
from ..search.cost.latency_table import load_latency_table
from ..search.space.arch_spec import ArchSpec
from ..search.space.extra_candidates import ExtraCandidates
from ..utils.seeded import seeded
from . import zero_cost

#: Dataloaders of a config a scoring batch may come from.
SPLITS = ('train', 'val', 'test')


def _split(value: str, name: str) -> str:
    if value not in SPLITS:
        raise ValueError(f'{name} must be one of {SPLITS}, got {value!r}')
    return value


def load_batch(config: ConfigLike, split: str = 'train', batch_size: int = 8,
               seed: int = 0) -> dict:
    """The first batch of ``config``'s ``{split}_dataloader``, raw (as the
    loader yields it; a model's ``data_preprocessor`` makes it tensors).

    The sampler, the workers and the pipeline's random transforms are seeded
    with ``seed`` (one process, no workers), so the same seed gives the same
    images, crops and flips; the global RNG states are restored after.
    """
    _split(split, 'split')
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise ValueError(f'batch_size must be an int >= 1, got '
                         f'{batch_size!r}')
    cfg = config if isinstance(config, Config) else Config.fromfile(
        str(config))
    key = f'{split}_dataloader'
    if not cfg.get(key):
        have = [s for s in SPLITS if cfg.get(f'{s}_dataloader')]
        raise ValueError(f'split: the config defines no {key}; choose one of '
                         f'{have}')
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg.update(batch_size=batch_size, num_workers=0,
                      persistent_workers=False)
    init_default_scope('mmseg')
    with seeded(seed):
        return next(iter(Runner.build_dataloader(loader_cfg, seed=seed)))


def arch_log_prob(spec: ArchSpec, alpha: Optional[torch.Tensor],
                  beta: torch.Tensor) -> float:
    """log P(spec) under a search's architecture parameters.

    Backbone: ``sum_i log softmax(alpha_i)[op_i]`` (Eq. 1's per-block
    choice). Head: ``sum_{(l, j) in spec} log w[l, j]`` with ``w`` Eq. 2's
    unified softmax over all layers' beta: the log of the product of the
    chosen cells' weights, not the Plackett-Luce probability of drawing that
    set of k cells without replacement (which divides each draw by the
    weight left); both order sets of one size alike when the weights are
    small, and this one is what §3.3.3's top-k maximises. Layers of beta
    beyond the spec's are its trailing empty layers, which the notation
    does not print.
    """
    total = 0.0
    if spec.backbone is not None:
        if alpha is None:
            raise ValueError('alpha: the spec has a backbone code but the '
                             'search did not search the backbone (no alpha)')
        if tuple(alpha.shape) != (len(spec.backbone), spec.num_ops):
            raise ValueError(f'alpha: expected shape ({len(spec.backbone)}, '
                             f'{spec.num_ops}) for the spec\'s space, got '
                             f'{tuple(alpha.shape)}')
        logp = alpha.detach().double().log_softmax(-1)
        total += sum(float(logp[i, op - 1])
                     for i, op in enumerate(spec.backbone))
    # a spec read from the notation lacks its trailing empty layers
    # (arch_spec's documented exception): any number up to beta's rows
    if beta.dim() != 2 or beta.shape[0] < spec.num_layers or \
            beta.shape[1] != spec.num_attentions:
        raise ValueError(f'beta: expected shape (>= {spec.num_layers}, '
                         f'{spec.num_attentions}) for the spec, got '
                         f'{tuple(beta.shape)}')
    logw = beta.detach().double().flatten().log_softmax(0).view_as(beta)
    return total + sum(float(logw[layer, att - 1])
                       for layer, ids in enumerate(spec.attention)
                       for att in ids)


@dataclass
class ScoreContext:
    """What the scorers need; every heavy part is built on first use.

    Args:
        config: The space's config (a search config: its model with
            ``arch=None``): path or ``Config``.
        batch: A raw dataloader batch for the zero-cost proxies; None loads
            one from ``config`` (:func:`load_batch`).
        split / batch_size: Where that batch comes from, and its size.
        seed: Seeds the batch and the random weights.
        device: Where networks run.
        input_size: (H, W) of the FLOPs table; None: the config's
            ``derive.input_size``, else 1024x2048.
        latency_lut: A latency LUT (``latency``).
        search_checkpoint: A search checkpoint (``logprob``).
        supernet_checkpoint / supernet_config: The supernet whose weights
            ``inherited`` evaluates (config: ``config`` when None).
        inherited_split / calib_batches: Its evaluation split ('val' or
            'arch') and BN recalibration batches (None: the evaluator's
            default); both checked by the evaluator.
        cache: Built parts; contexts made by ``dataclasses.replace`` share
            it (keys name what they depend on).
    """
    config: ConfigLike
    batch: Optional[dict] = None
    split: str = 'train'
    batch_size: int = 8
    seed: int = 0
    device: str = 'cpu'
    input_size: Optional[Tuple[int, int]] = None
    latency_lut: Optional[str] = None
    search_checkpoint: Optional[str] = None
    supernet_checkpoint: Optional[str] = None
    supernet_config: Optional[ConfigLike] = None
    inherited_split: str = 'val'
    calib_batches: Optional[int] = None
    cache: Dict[Any, Any] = field(default_factory=dict, repr=False,
                                  compare=False)

    def __post_init__(self) -> None:
        _split(self.split, 'split')

    def _cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    @property
    def cfg(self) -> Config:
        config = self.config
        if isinstance(config, Config):
            return config
        return self._cached(('cfg', str(config)),
                            lambda: Config.fromfile(str(config)))

    @property
    def extra(self) -> ExtraCandidates:
        return ExtraCandidates.from_model_cfg(self.cfg.model)

    def spec(self, value: Union[ArchSpec, str]) -> ArchSpec:
        """``value`` (a spec, the notation or an arch.json) in the space."""
        return ArchSpec.coerce(value, self.extra)

    def flops_table(self) -> CostTable:
        size = tuple(self.input_size or self.cfg.get('derive', {}).get(
            'input_size', (1024, 2048)))
        return self._cached(('flops', id(self.cfg), size), lambda: (
            build_flops_table(build_segmentor(self.cfg, init_weights=False),
                              size)))

    def latency_table(self) -> CostTable:
        if not self.latency_lut:
            raise ValueError('latency_lut: the latency scorer needs a latency '
                             'LUT (tools/build_latency_lut.py)')
        return self._cached(('latency', id(self.cfg), self.latency_lut),
                            lambda: load_latency_table(
                                self.latency_lut,
                                build_segmentor(self.cfg, device='meta')))

    def arch_params(self) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        if not self.search_checkpoint:
            raise ValueError('search_checkpoint: the logprob scorer needs a '
                             'search checkpoint (its alpha/beta)')
        return self._cached(
            ('arch_params', self.search_checkpoint),
            lambda: load_search_checkpoint(self.search_checkpoint,
                                           self.extra)[1:])

    def data(self) -> dict:
        if self.batch is not None:
            return self.batch
        return self._cached(
            ('batch', id(self.cfg), self.split, self.batch_size, self.seed),
            lambda: load_batch(self.cfg, self.split, self.batch_size,
                               self.seed))

    def network(self, spec: ArchSpec) -> torch.nn.Module:
        """The spec's randomly initialised network (the last one is kept,
        so the proxies of one spec share it)."""
        key = (id(self.cfg), spec, self.seed, str(self.device))
        last = self.cache.get('network')
        if last is None or last[0] != key:
            last = key, zero_cost.random_network(self.cfg, spec, self.seed,
                                                 self.device)
            self.cache['network'] = last
        return last[1]

    def inputs(self, model: torch.nn.Module) -> Tuple[torch.Tensor, list]:
        """(inputs, data_samples) of the batch, preprocessed by ``model``."""
        data = model.data_preprocessor(copy.deepcopy(self.data()), True)
        return data['inputs'], data['data_samples']

    def evaluator(self):
        if not self.supernet_checkpoint:
            raise ValueError('supernet_checkpoint: the inherited scorer needs '
                             'a search (supernet) checkpoint')
        from .subnet_evaluator import SubnetEvaluator
        config = self.supernet_config or self.config
        kwargs = dict(split=self.inherited_split, device=str(self.device),
                      seed=self.seed)
        if self.calib_batches is not None:
            kwargs['calib_batches'] = self.calib_batches
        return self._cached(
            ('evaluator', id(config) if isinstance(config, Config) else
             str(config), self.supernet_checkpoint,
             *sorted(kwargs.items())),
            lambda: SubnetEvaluator(config, self.supernet_checkpoint,
                                    **kwargs))


Scorer = Callable[[ArchSpec, ScoreContext], float]


def flops(spec: ArchSpec, context: ScoreContext) -> float:
    """Paper-convention FLOPs (G) at the context's input size."""
    return context.flops_table().network_cost(spec) / FLOPS_PER_G


def params(spec: ArchSpec, context: ScoreContext) -> float:
    """Parameters (M) of the fixed network (built on the meta device)."""
    model = build_segmentor(context.cfg, arch=spec, device='meta')
    return sum(p.numel() for p in model.parameters()) / 1e6


def latency(spec: ArchSpec, context: ScoreContext) -> float:
    """Predicted latency (ms) by the sum rule of the context's LUT."""
    return context.latency_table().network_cost(spec)


def logprob(spec: ArchSpec, context: ScoreContext) -> float:
    """:func:`arch_log_prob` under the search checkpoint's alpha/beta."""
    return arch_log_prob(spec, *context.arch_params())


def synflow(spec: ArchSpec, context: ScoreContext) -> float:
    net = context.network(spec)
    return zero_cost.synflow(net, context.inputs(net)[0])


def naswot(spec: ArchSpec, context: ScoreContext) -> float:
    net = context.network(spec)
    return zero_cost.naswot(net, context.inputs(net)[0])


def grad_norm(spec: ArchSpec, context: ScoreContext) -> float:
    net = context.network(spec)
    return zero_cost.grad_norm(net, *context.inputs(net))


def inherited(spec: ArchSpec, context: ScoreContext) -> float:
    """Validation mIoU of the subnet with the supernet's weights."""
    return float(context.evaluator().evaluate(spec)['mIoU'])


#: Every scorer, by name.
SCORERS: Dict[str, Scorer] = dict(
    flops=flops, params=params, latency=latency, logprob=logprob,
    synflow=synflow, naswot=naswot, grad_norm=grad_norm, inherited=inherited)


def get_scorer(name: str) -> Scorer:
    if name not in SCORERS:
        raise ValueError(f'scorer must be one of {sorted(SCORERS)}, got '
                         f'{name!r}')
    return SCORERS[name]


def score_all(scorer: Union[str, Scorer], specs: Dict[str, Any],
              context: ScoreContext) -> Dict[str, float]:
    """``{network name: score}`` of each spec (a spec, notation or path)."""
    func = get_scorer(scorer) if isinstance(scorer, str) else scorer
    return {name: float(func(context.spec(spec), context))
            for name, spec in specs.items()}

