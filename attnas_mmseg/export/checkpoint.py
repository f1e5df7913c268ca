"""Reading a search checkpoint: its alpha/beta, checked, without executing it."""
import os.path as osp
import pickle
import re
from typing import Optional, Tuple

import torch

from ..search.space.arch_params import is_arch_param
from ..search.space.arch_spec import MAX_LAYERS
from ..search.space.candidates import NUM_ATTENTIONS, NUM_BLOCKS, NUM_OPS
from ..search.space.extra_candidates import ExtraCandidates


def arch_params_from_checkpoint(
        path: str, extra: Optional[ExtraCandidates] = None
) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """(alpha or None, beta) stored in a search checkpoint
    (:func:`load_search_checkpoint`)."""
    return load_search_checkpoint(path, extra)[1:]


def _shapes(extra: Optional[ExtraCandidates]) -> Tuple[str, str]:
    """The (alpha, beta) shapes expected, as text: the space's when
    ``extra`` is given, else any number of user candidates."""
    if extra is None:
        return (f'({NUM_BLOCKS}, {NUM_OPS} + user ops)',
                f'(L, {NUM_ATTENTIONS} + user attentions)')
    return (f'({NUM_BLOCKS}, {extra.num_ops})',
            f'(L, {extra.num_attentions})')


def load_search_checkpoint(
        path: str, extra: Optional[ExtraCandidates] = None
) -> Tuple[dict, Optional[torch.Tensor], torch.Tensor]:
    """(the checkpoint dict, alpha or None, beta) of a search checkpoint.

    ``path`` is a checkpoint of a search run (mmengine's dict whose
    ``state_dict`` holds the head's ``beta`` and, when the backbone was
    searched, its ``alpha``) or such a state dict alone. It is read with
    torch's ``weights_only`` loader (plus the allow-list of
    :mod:`attnas_mmseg.utils.checkpoint_compat`), so a file of any other
    kind is refused, not executed. A missing, empty, truncated or foreign file
    is a ValueError naming it and saying what was expected.

    The shapes are the space's: with ``extra`` (the search's user
    candidates, :mod:`attnas_mmseg.search.space.extra_candidates`) alpha must
    be (17, 6 + its ops) and beta (L, 13 + its attentions); without, any
    number of user candidates is accepted (at least the paper's 6 and 13).
    """
    alpha_shape, beta_shape = _shapes(extra)
    expected = ('expected a checkpoint of an AttNAS search (a dict whose '
                '"state_dict" holds the AttNASHead\'s beta, shape '
                f'{beta_shape}, and, when the backbone was searched, '
                f'alpha, shape {alpha_shape})')
    if not osp.exists(path):
        raise ValueError(f'checkpoint: {path} does not exist')
    if not osp.isfile(path):
        raise ValueError(f'checkpoint: {path} is not a file; {expected}')
    if osp.getsize(path) == 0:
        raise ValueError(f'checkpoint: {path} is empty (0 bytes); {expected}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f'checkpoint: {path} cannot be loaded '
                         f'({_load_failure(err)}); {expected}') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        held = type(ckpt if state is None else state).__name__
        raise ValueError(f'checkpoint: {path} holds a {held}; {expected}')
    arch = {k.replace('module.', '', 1) if k.startswith('module.') else k: v
            for k, v in state.items()
            if isinstance(k, str) and is_arch_param(k)}
    found = {}
    for name, shape in (('alpha', alpha_shape),
                        ('beta', f'{beta_shape}, L in 1..{MAX_LAYERS}')):
        keys = [k for k in arch if k.rsplit('.', 1)[-1] == name]
        if len(keys) > 1:
            raise ValueError(f'checkpoint: {path} holds several {name} '
                             f'parameters {keys}; {expected}')
        value = arch[keys[0]] if keys else None
        if value is None:
            found[name] = None
            continue
        good = isinstance(value, torch.Tensor) and \
            value.is_floating_point() and value.dim() == 2
        if good and name == 'alpha':
            good = value.shape[0] == NUM_BLOCKS and (
                value.shape[1] >= NUM_OPS if extra is None else
                value.shape[1] == extra.num_ops)
        elif good:
            good = 1 <= value.shape[0] <= MAX_LAYERS and (
                value.shape[1] >= NUM_ATTENTIONS if extra is None else
                value.shape[1] == extra.num_attentions)
        if not good:
            what = (f'a tensor of shape {tuple(value.shape)}'
                    if isinstance(value, torch.Tensor) else
                    f'a {type(value).__name__}')
            hint = '' if extra is None else (
                ' (a search with other user candidates? the config\'s '
                'extra_ops / extra_attentions give the space)')
            raise ValueError(f'checkpoint: {path}: {keys[0]} is {what}, not '
                             f'a float tensor of shape {shape}{hint}; '
                             f'{expected}')
        if not torch.isfinite(value).all():
            raise ValueError(f'checkpoint: {path}: {keys[0]} holds NaN or '
                             'infinite values (did the search diverge?)')
        found[name] = value
    if found['beta'] is None:
        raise ValueError(f'checkpoint: {path} holds no architecture '
                         'parameters (beta); was it saved by a search run '
                         '(an AttNASHead with arch=None)? ' + expected)
    return ckpt, found['alpha'], found['beta']


def _load_failure(err: Exception) -> str:
    """One line saying why ``torch.load`` failed (its messages are long)."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError):
        match = re.search(r'WeightsUnpickler error:\s*([^\n]*?)(?: Please|$)',
                          text, re.M)
        reason = match.group(1).strip() if match else 'unpickling failed'
        return ('not a weights-only torch file, refused by '
                f'torch.load(weights_only=True): {reason}')
    if isinstance(err, EOFError) or 'central directory' in text or (
            'zip archive' in text):
        return 'truncated or corrupt'
    first = text.strip().splitlines()[0][:200] if text.strip() else ''
    return f'{type(err).__name__}: {first}' if first else type(err).__name__
