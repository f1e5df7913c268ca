"""How the mixture weights of Eq. (1) and Eq. (2) are formed: the search modes.

* ``'darts'`` (the paper, the default): every candidate runs and is weighted by
  ``softmax(alpha_i)`` (Eq. 1) or the unified ``softmax(beta)`` (Eq. 2). A step
  costs the whole supernet.
* ``'gumbel'`` (beyond the paper; GDAS, Dong & Yang 2019): a *sampled path*.
  In training, each block samples one op from ``softmax(alpha_i)`` with the
  Gumbel-max trick, and the attention module samples ``sample_topk`` distinct
  cells of its L x 13 grid from the unified ``softmax(beta)`` with the
  Gumbel-top-k trick (the same top-k over all layers that §3.3.3 derives).
  Only the sampled candidates run; their weights are exactly 1 in the forward
  pass (the sampled network *is* a member of the space, an attention layer
  with no sampled cell passes its input through as a derived empty layer
  does). In the arch step the Gumbel draw continues to the runner-up (the
  second op of each block, cells k+1..2k: Gumbel-top-2 / top-2k), which also
  runs with weight exactly 0, and the gradient reaches alpha/beta
  straight-through the relaxed ``softmax((logits + g) / tau)`` *over the
  computed candidates*, ``sum_j y_j Op_j(x)``: it compares the sampled op
  with the runner-up. Rating the sampled op alone (the gradient of its
  output's scale) is erased by the BN that starts the next stage, so six
  blocks and the head got no task-loss signal (``docs/design.md``, "Search
  modes"). The forward value is the sampled network either way. In eval mode
  the argmax / top-k architecture runs, i.e. the network :mod:`.derive`
  would produce.

* ``'proxyless'`` (beyond the paper; ProxylessNAS, Cai et al. 2019): a
  sampled path for the weight step (one op per block drawn from
  ``softmax(alpha_i)``, ``sample_topk`` cells by Gumbel-top-k, no gradient
  to alpha/beta), and *two* paths for the arch step (two distinct ops per
  block, ``2 * sample_topk`` cells), mixed by the softmax of their own logits
  renormalised over the drawn candidates (``sample_topk`` times it for the
  cells, so the weights sum to the number of attentions the derived head
  keeps). The arch gradient then compares the drawn candidates' outputs, as
  Eq. (1)'s does for all of them, instead of rating one output alone as the
  straight-through gradient does. The hook marks its arch pass with
  :func:`arch_pass`.

* ``'uniform'`` (beyond the paper; single-path one-shot, SPOS, Guo et al.
  2020): in training, each block runs one op drawn uniformly at random and
  the attention module ``sample_topk`` distinct cells drawn uniformly from
  all L x C cells, whatever alpha and beta hold; the weights are exactly
  one-hot and carry no gradient to alpha/beta. There is no arch step
  (:func:`check_arch_step`): alpha/beta stay at their initial values and are
  still saved, so a uniform checkpoint reads as any search checkpoint. The
  architecture is chosen after training, by evolutionary search on the
  trained supernet (``tools/search_subnet.py``); eval mode runs the argmax /
  top-k as ``'gumbel'`` does, which for untrained alpha/beta means nothing.

Derivation, FLOPs_pred, checkpoints and resume do not depend on the mode:
alpha and beta have the same shapes and meaning in every mode, and the
sampling draws from torch's global generator, which the search checkpoints
(``RandomStateHook``).
"""
import contextlib
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

SEARCH_MODES = ('darts', 'gumbel', 'proxyless', 'uniform')
DEFAULT_SEARCH_MODE = 'darts'
#: Modes without an arch step: alpha/beta are never trained.
NO_ARCH_STEP_MODES = ('uniform', )
#: Modes whose arch step trains alpha/beta (what the planted-signal and
#: arch-gradient benchmarks compare).
ARCH_STEP_MODES = tuple(m for m in SEARCH_MODES if m not in NO_ARCH_STEP_MODES)


def check_search_mode(mode: str) -> str:
    if mode not in SEARCH_MODES:
        raise ValueError(f'search_mode must be one of {SEARCH_MODES}, got '
                         f'{mode!r}')
    return mode


def check_tau(tau: float) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or \
            not 0 < tau < float('inf'):
        raise ValueError(f'tau must be a finite number > 0, got {tau!r}')
    return float(tau)


def _gumbel_like(logits: torch.Tensor) -> torch.Tensor:
    # -log(Exp(1)) is Gumbel(0, 1); exponential_ never returns 0.
    return -torch.empty_like(logits).exponential_().log()


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``hard`` in the forward pass, ``soft``'s gradient in the backward."""
    return hard - soft.detach() + soft


def gumbel_one_hot(logits: torch.Tensor, tau: float,
                   training: bool = True) -> Tuple[torch.Tensor, List[int]]:
    """One sampled op per row of ``logits`` (blocks, ops).

    Returns the straight-through one-hot weights (value exactly one-hot) and
    the sampled index of each row. Without ``training`` the argmax is taken
    and no noise is drawn.
    """
    if not training:
        index = logits.argmax(-1)
        return torch.nn.functional.one_hot(
            index, logits.shape[-1]).to(logits.dtype), index.tolist()
    perturbed = logits + _gumbel_like(logits)
    index = perturbed.argmax(-1)
    soft = (perturbed / tau).softmax(-1)
    hard = torch.nn.functional.one_hot(index, logits.shape[-1]).to(soft)
    return straight_through(hard, soft), index.tolist()


def gumbel_top_k(logits: torch.Tensor, k: int, tau: float,
                 training: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """``k`` distinct cells sampled from the softmax over ALL of ``logits``.

    The Gumbel-top-k trick samples without replacement from Eq. (2)'s unified
    softmax. Returns the straight-through k-hot weights (value exactly 0/1,
    the shape of ``logits``) and the boolean mask of the chosen cells.
    Without ``training`` the top-k of the logits is taken.
    """
    flat = logits.flatten()
    perturbed = flat + _gumbel_like(flat) if training else flat
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[perturbed.detach().topk(k).indices] = True
    hard = mask.to(flat.dtype)
    if not training:
        return hard.view_as(logits), mask.view_as(logits)
    soft = (perturbed / tau).softmax(0)
    return straight_through(hard, soft).view_as(logits), mask.view_as(logits)


class StepStateMixin:
    """The one interface through which a search algorithm steers a searchable
    module step by step: the Gumbel temperature ``tau`` and whether the
    forward passes are the arch step's (``arch_pass``). The module sets both
    attributes in its ``__init__``."""

    def set_step_state(self, tau: Optional[float] = None,
                       arch_pass: Optional[bool] = None) -> None:
        """Set what is given; None leaves a value as it is."""
        if tau is not None:
            self.tau = check_tau(tau)
        if arch_pass is not None:
            self.arch_pass = bool(arch_pass)


@contextlib.contextmanager
def arch_pass(modules: Iterable[StepStateMixin]) -> Iterator[None]:
    """Mark the forward passes inside as the arch step's (``'proxyless'``
    draws two paths there)."""
    modules = list(modules)
    for m in modules:
        m.set_step_state(arch_pass=True)
    try:
        yield
    finally:
        for m in modules:
            m.set_step_state(arch_pass=False)


def searched_modes(model: nn.Module) -> Dict[str, str]:
    """``search_mode`` of every module of ``model`` that searches (holds
    alpha or beta), by module name."""
    return {name: m.search_mode for name, m in model.named_modules()
            if isinstance(m, StepStateMixin) and m.searching}


def check_arch_step(modes: Mapping[str, str], arch_step: bool,
                    what: str) -> bool:
    """Whether a search whose searched modules have ``modes`` (name ->
    search_mode, :func:`searched_modes`) makes arch steps.

    Refuses a ``'uniform'`` module beside one of another mode (the arch
    optimiser would move the uniform module's alpha/beta by weight decay
    alone), and a uniform search given ``arch_step`` (it has ``what``, an
    ArchUpdateHook or an arch optimiser, named in the message).
    """
    uniform = sorted(n for n, m in modes.items() if m in NO_ARCH_STEP_MODES)
    others = {n: m for n, m in modes.items() if m not in NO_ARCH_STEP_MODES}
    if uniform and others:
        raise ValueError(
            f'search_mode: {", ".join(uniform)} search in \'uniform\' mode '
            f'(no arch step) but {others} need arch steps; set '
            "search_mode='uniform' on every searched module or on none")
    if uniform and arch_step:
        raise ValueError(
            f"{what}: search_mode='uniform' ({', '.join(uniform)}) has no "
            'arch step: alpha/beta stay untrained and the architecture is '
            'found after training by evolutionary search '
            '(tools/search_subnet.py); remove it, as '
            'configs/demo/attnas-search-uniform_*.py do')
    return not uniform


def _draw(probs: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` distinct indices per row drawn from ``probs`` without
    replacement, (rows, n)."""
    return torch.multinomial(probs, n, replacement=False)


def block_weights(alpha: torch.Tensor, mode: str, tau: float, training: bool,
                  in_arch_pass: bool
                  ) -> Tuple[torch.Tensor, List[Optional[List[int]]]]:
    """Eq. (1)'s weights of every block in ``mode`` and the ops to run.

    Returns (weights (blocks, ops), per block the op indices to run, or None
    for all of them).
    """
    blocks = alpha.shape[0]
    if mode == 'darts':
        return alpha.softmax(-1), [None] * blocks
    if mode == 'uniform' and training:
        # alpha's values play no part: no gradient, and the draw ignores them
        drawn = torch.randint(alpha.shape[1], (blocks, 1), device=alpha.device)
        weights = torch.zeros_like(alpha, requires_grad=False)
        return weights.scatter_(1, drawn, 1.0), drawn.tolist()
    if mode == 'gumbel' and training and in_arch_pass:
        perturbed = alpha + _gumbel_like(alpha)
        drawn = perturbed.detach().topk(2, -1).indices  # sample, runner-up
        hard = torch.zeros_like(drawn, dtype=alpha.dtype)
        hard[:, 0] = 1.0
        soft = (perturbed.gather(1, drawn) / tau).softmax(-1)
        weights = torch.zeros_like(alpha).scatter(
            1, drawn, straight_through(hard, soft))
        return weights, drawn.tolist()
    if mode == 'gumbel' or not training:
        weights, index = gumbel_one_hot(alpha, tau, training)
        return weights, [[i] for i in index]
    drawn = _draw(alpha.detach().softmax(-1), 2 if in_arch_pass else 1)
    if not in_arch_pass:
        weights = torch.zeros_like(alpha).scatter_(1, drawn, 1.0)
        return weights, drawn.tolist()
    pair = alpha.gather(1, drawn).softmax(-1)
    weights = torch.zeros_like(alpha).scatter(1, drawn, pair)
    return weights, drawn.tolist()


def cell_weights(beta: torch.Tensor, mode: str, k: int, tau: float,
                 training: bool, in_arch_pass: bool
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sampled modes' attention cells, all the shape of ``beta`` (Eq. 2's
    grid): (weights, the cells to run, the cells of the sampled network).
    The last two differ only in a ``'gumbel'`` arch pass, whose runners-up
    run with weight 0 (module doc); ``'darts'`` is not sampled."""
    if mode == 'uniform' and training:
        cells = torch.randperm(beta.numel(), device=beta.device)[:k]
        mask = torch.zeros(beta.numel(), dtype=torch.bool,
                           device=beta.device)
        mask[cells] = True
        mask = mask.view_as(beta)
        return mask.to(beta.dtype), mask, mask
    if mode == 'gumbel' and training and in_arch_pass:
        flat = beta.flatten()
        perturbed = flat + _gumbel_like(flat)
        cells = perturbed.detach().topk(min(2 * k, flat.numel())).indices
        hard = torch.zeros(len(cells), dtype=flat.dtype, device=flat.device)
        hard[:k] = 1.0   # the sampled top-k; the rest are the runners-up
        soft = k * (perturbed[cells] / tau).softmax(0)
        weights = torch.zeros_like(flat).index_put(
            (cells, ), straight_through(hard, soft))
        run = torch.zeros_like(flat, dtype=torch.bool)
        run[cells] = True
        sampled = torch.zeros_like(run)
        sampled[cells[:k]] = True
        return weights.view_as(beta), run.view_as(beta), sampled.view_as(beta)
    if mode == 'gumbel' or not training:
        weights, mask = gumbel_top_k(beta, k, tau, training)
        return weights, mask, mask
    n = min(2 * k, beta.numel()) if in_arch_pass else k
    flat = beta.flatten()
    perturbed = flat.detach() + _gumbel_like(flat)
    cells = perturbed.topk(n).indices
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[cells] = True
    mask = mask.view_as(beta)
    if not in_arch_pass:
        return mask.to(flat.dtype), mask, mask
    weights = torch.zeros_like(flat).index_put(
        (cells, ), k * flat[cells].softmax(0))
    return weights.view_as(beta), mask, mask
